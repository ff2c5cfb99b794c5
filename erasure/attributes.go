package erasure

import (
	"maps"
	"strconv"

	"github.com/omniroute/omniroute/routing"
)

// SealAttributes returns attrs with the value of every key personal
// selects sealed under the key of customer id (a string holding the
// sealed value's JSON, {"omnirouteSealed":1,...}), the other values as
// given. The routing engine stores attribute values without reading them
// (it checks their sizes and merges them at ConfirmHold), so sealed values
// route the same. A nil Keyring, no attribute to seal, or an id that is
// not usable as a ref returns attrs unchanged. Errors: a *routing.Error
// LIMIT_EXCEEDED when a sealed key and value are over
// routing.MaxAttributeBytes; the key could not be recorded.
func (k *Keyring) SealAttributes(attrs map[string]string, id string, personal func(key string) bool) (map[string]string, error) {
	if k == nil || len(attrs) == 0 {
		return attrs, nil
	}
	ref, err := k.Ref(id)
	if err != nil {
		return attrs, nil
	}
	var out map[string]string
	for key, v := range attrs {
		if v == "" || !personal(key) {
			continue
		}
		sealed, err := k.Seal(ref, []byte(v))
		if err != nil {
			return nil, err
		}
		if len(key)+len(sealed) > routing.MaxAttributeBytes {
			return nil, &routing.Error{Code: routing.CodeLimitExceeded,
				Message: "attribute " + strconv.Quote(key) + " is over " + strconv.Itoa(routing.MaxAttributeBytes) +
					" bytes once sealed with its customer key (dataAtRest.customerKeys)"}
		}
		if out == nil {
			out = maps.Clone(attrs)
		}
		out[key] = string(sealed)
	}
	if out == nil {
		return attrs, nil
	}
	return out, nil
}

// ShowAttributes returns attrs with its sealed values unsealed for
// display; the attribute of an erased (or damaged) value is left out.
// attrs itself is returned when nothing in it is sealed, or for a nil
// Keyring.
func (k *Keyring) ShowAttributes(attrs map[string]string) map[string]string {
	if k == nil {
		return attrs
	}
	var out map[string]string
	for key, v := range attrs {
		if RefOf([]byte(v)) == "" {
			continue
		}
		if out == nil {
			out = maps.Clone(attrs)
		}
		p, err := k.Unseal([]byte(v))
		if err != nil {
			delete(out, key)
			continue
		}
		out[key] = string(p)
	}
	if out == nil {
		return attrs
	}
	return out
}
