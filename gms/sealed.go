package gms

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/omniroute/omniroute/erasure"
)

// plainAttributes are the callback form fields kept as given in the
// conversation's attributes with customer keys on: protocol fields and
// ours, which name no customer. Every other field a device sends
// (_customer_number, usr_*, the chat form's names, email, subject, any
// other) is sealed with the customer's key (erasure.SealAttributes); the
// routing engine stores attributes without reading them, and the readers
// (the desk, REST, usr_subject here) unseal them.
var plainAttributes = map[string]bool{"_device_os": true, "_desired_time": true, "notify_by": true,
	"_verbose": true, "gms_service": true, "gms_virtual_queue": true}

func personalAttribute(key string) bool { return !plainAttributes[key] }

// customerOf is the customer id a callback's customer fields are sealed
// under: as for its chat customer object (erasure.CustomerID of
// chatCustomer: _customer_number as phoneNumber, else the chat's email),
// else "conversation:<callback id>".
func customerOf(id, number string, chat Form) string {
	customer, _ := chatCustomer(chat, number)
	if c := erasure.CustomerID(customer); c != "" {
		return c
	}
	return "conversation:" + id
}

// personalFields are a Record's customer fields, sealed together into
// Record.Sealed when customer keys are on.
type personalFields struct {
	CustomerNumber string           `json:"customerNumber,omitempty"`
	Chat           Form             `json:"chat,omitempty"`
	ToDevice       []map[string]any `json:"toDevice,omitempty"`
	ToAgent        []AgentNote      `json:"toAgent,omitempty"`
}

// sealedStore is a Store whose records hold their customer fields sealed
// with the customer's key (Options.CustomerKeys): Put seals them into
// Record.Sealed, Load and Watch give them back unsealed, and once the
// customer is erased they read as absent (no number, no chat form, no
// pending notifications). A sealed part that does not open for another
// reason (damaged) reads as absent too, so one bad record does not keep
// the server from starting.
type sealedStore struct {
	inner Store
	keys  *erasure.Keyring
}

// sealedWatcher is a sealedStore over a Watcher.
type sealedWatcher struct {
	sealedStore
	w Watcher
}

// sealStore wraps st when keys is set.
func sealStore(st Store, keys *erasure.Keyring) Store {
	if st == nil || keys == nil {
		return st
	}
	s := sealedStore{inner: st, keys: keys}
	if w, ok := st.(Watcher); ok {
		return &sealedWatcher{sealedStore: s, w: w}
	}
	return &s
}

func (s *sealedStore) seal(r Record) (Record, error) {
	p := personalFields{CustomerNumber: r.CustomerNumber, Chat: r.Chat, ToDevice: r.ToDevice, ToAgent: r.ToAgent}
	if p.CustomerNumber == "" && len(p.Chat) == 0 && len(p.ToDevice) == 0 && len(p.ToAgent) == 0 {
		return r, nil
	}
	ref, err := s.keys.Ref(customerOf(r.ID, r.CustomerNumber, r.Chat))
	if err != nil {
		if ref, err = s.keys.Ref("conversation:" + r.ID); err != nil {
			return r, err
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return r, err
	}
	sealed, err := s.keys.Seal(ref, b)
	if err != nil {
		return r, err
	}
	r.CustomerNumber, r.Chat, r.ToDevice, r.ToAgent, r.Sealed = "", nil, nil, nil, sealed
	return r, nil
}

func (s *sealedStore) unseal(r Record) Record {
	if len(r.Sealed) == 0 {
		return r
	}
	b, err := s.keys.Unseal(r.Sealed)
	r.Sealed = nil
	var p personalFields
	if err == nil && json.Unmarshal(b, &p) == nil {
		r.CustomerNumber, r.Chat, r.ToDevice, r.ToAgent = p.CustomerNumber, p.Chat, p.ToDevice, p.ToAgent
	}
	return r
}

// Load implements Store.
func (s *sealedStore) Load(ctx context.Context) ([]Record, error) {
	recs, err := s.inner.Load(ctx)
	for i := range recs {
		recs[i] = s.unseal(recs[i])
	}
	return recs, err
}

// Put implements Store.
func (s *sealedStore) Put(ctx context.Context, r Record) error {
	r, err := s.seal(r)
	if err != nil {
		return errors.Join(errors.New("gms: callback record not sealed"), err)
	}
	return s.inner.Put(ctx, r)
}

// Delete implements Store.
func (s *sealedStore) Delete(ctx context.Context, id string) error { return s.inner.Delete(ctx, id) }

// Watch implements Watcher.
func (s *sealedWatcher) Watch(ctx context.Context, fn func(Record)) error {
	return s.w.Watch(ctx, func(r Record) { fn(s.unseal(r)) })
}
