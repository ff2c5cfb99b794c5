package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/omniroute/omniroute/natsstore"
)

// RevocationsBucket is the JetStream KV bucket of KVRevocations.
const RevocationsBucket = "omniroute-revocations"

// KVRevocations is the RevocationStore of cluster mode: one key per agent
// (natsstore.Key of its id) in RevocationsBucket, replicated as the
// cluster's other buckets, its value
//
//	{"agent":"alice","before":1764662400123,"logout":812}
//
// (before: Unix milliseconds; logout: a journal entry, omitted when 0).
type KVRevocations struct{ b *natsstore.Bucket }

// OpenKVRevocations opens, creating when absent, RevocationsBucket on nc
// with replicas copies. Errors: JetStream's.
func OpenKVRevocations(ctx context.Context, nc natsstore.Conn, replicas int) (*KVRevocations, error) {
	b, err := natsstore.Open(ctx, nc, natsstore.Spec{Name: RevocationsBucket, Replicas: replicas,
		Description: "omniroute: agent token revocations, shared by a cluster's nodes"})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return &KVRevocations{b: b}, nil
}

// revocationValue is a KVRevocations value.
type revocationValue struct {
	Agent string `json:"agent"`
	Revocation
}

// decodeRevocation reads a KVRevocations value. Errors: not that JSON
// object, an empty agent, a negative time.
func decodeRevocation(b []byte) (revocationValue, error) {
	var v revocationValue
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("auth: revocation value: %w", err)
	}
	if v.Agent == "" || v.Before < 0 {
		return v, errors.New("auth: revocation value: no agent or a negative time")
	}
	return v, nil
}

// Record implements RevocationStore: a read, then a write at the revision
// read, again while another writer got in between. Errors: JetStream's, a
// stored value that does not decode, ctx's.
func (s *KVRevocations) Record(ctx context.Context, agent string, r Revocation) (Revocation, error) {
	key := natsstore.Key(agent)
	for {
		b, rev, err := s.b.Get(ctx, key)
		if err != nil {
			return Revocation{}, err
		}
		var stored Revocation
		if b != nil {
			v, err := decodeRevocation(b)
			if err != nil {
				return Revocation{}, err
			}
			stored = v.Revocation
		}
		next := stored.Merge(r)
		if next == stored && b != nil {
			return stored, nil
		}
		value, _ := json.Marshal(revocationValue{Agent: agent, Revocation: next})
		err = s.b.Swap(ctx, key, value, rev)
		if errors.Is(err, natsstore.ErrRevision) {
			if ctx.Err() != nil {
				return Revocation{}, ctx.Err()
			}
			continue
		}
		if err != nil {
			return Revocation{}, err
		}
		return next, nil
	}
}

// Watch implements RevocationStore. A value that does not decode is
// skipped (no writer but Record writes this bucket).
func (s *KVRevocations) Watch(ctx context.Context, fn func(agent string, r Revocation)) error {
	deliver := func(_ string, b []byte) {
		if v, err := decodeRevocation(b); err == nil {
			fn(v.Agent, v.Revocation)
		}
	}
	// The watch starts first, so no record falls between the two reads;
	// one delivered twice is harmless (revocations only rise).
	if err := s.b.Watch(ctx, deliver); err != nil {
		return err
	}
	all, err := s.b.All(ctx)
	if err != nil {
		return err
	}
	for k, b := range all {
		deliver(k, b)
	}
	return nil
}
