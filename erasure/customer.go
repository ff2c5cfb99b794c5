package erasure

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/omniroute/omniroute/routing"
)

// IDFields are the customer object's fields that name the customer, in
// the order they are tried: the caller's own id, then the contact
// identifiers channels carry (GMS _customer_number arrives as phoneNumber).
var IDFields = []string{"id", "customerId", "phoneNumber", "email"}

// MaxCustomerBytes is the largest customer object that still fits
// routing.MaxCustomerBytes once sealed.
var MaxCustomerBytes = (routing.MaxCustomerBytes-64)/4*3 - 28

// CustomerID returns the id of a customer object: the first of IDFields
// holding a non-empty string or a number; "" when there is none.
func CustomerID(customer json.RawMessage) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(customer, &obj) != nil {
		return ""
	}
	for _, f := range IDFields {
		v, ok := obj[f]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) == nil && s != "" {
			return s
		}
		var n json.Number
		d := json.NewDecoder(bytes.NewReader(v))
		d.UseNumber()
		if d.Decode(&n) == nil && n != "" {
			return n.String()
		}
	}
	return ""
}

// RoutingID returns the id under which the routing engine remembers the
// customer named id for last-agent routing
// (routing.CreateConversation.CustomerID): with a keyring, the
// customer's ref, a pseudonym, so no plaintext id reaches the journal or
// the snapshot; without one (customer fields stored as given), id itself.
// "" when id is empty or not usable as a ref.
func (k *Keyring) RoutingID(id string) string {
	if k == nil || id == "" {
		return id
	}
	ref, err := k.Ref(id)
	if err != nil {
		return ""
	}
	return ref
}

// SealCustomer seals a conversation's customer object under the key of
// its customer (CustomerID; fallbackID, typically "conversation:<id>",
// when the object names none). An empty or null customer, or a nil
// Keyring, is returned unchanged, as is a customer that is not a JSON
// object (the engine refuses it with its own error). Errors: a
// *routing.Error LIMIT_EXCEEDED over MaxCustomerBytes; the key could not
// be recorded.
func (k *Keyring) SealCustomer(customer json.RawMessage, fallbackID string) (json.RawMessage, error) {
	t := bytes.TrimSpace(customer)
	if k == nil || len(t) == 0 || bytes.Equal(t, []byte("null")) || t[0] != '{' || !json.Valid(t) {
		return customer, nil
	}
	if len(t) > MaxCustomerBytes {
		return nil, &routing.Error{Code: routing.CodeLimitExceeded,
			Message: "customer is over " + strconv.Itoa(MaxCustomerBytes) + " bytes (sealed with its customer key, dataAtRest.customerKeys)"}
	}
	id := CustomerID(t)
	if id == "" {
		id = fallbackID
	}
	ref, err := k.Ref(id)
	if err != nil {
		return customer, nil // no usable id: stored as given
	}
	return k.Seal(ref, t)
}
