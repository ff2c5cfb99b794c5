package presencesync

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/natsstore"
)

// Store keeps the partners' mapping changes made over REST, durably. The
// configuration file gives the initial partners; a stored partner wins.
type Store interface {
	// Load returns every stored partner, by id.
	Load(ctx context.Context) (map[string]config.PresencePartnerSpec, error)
	// Put stores a partner; it returns once the write is durable.
	Put(ctx context.Context, p config.PresencePartnerSpec) error
}

// MemStore is a Store in memory, for tests.
type MemStore struct {
	mu sync.Mutex
	m  map[string]config.PresencePartnerSpec
}

// Load implements Store.
func (s *MemStore) Load(context.Context) (map[string]config.PresencePartnerSpec, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]config.PresencePartnerSpec{}
	for k, v := range s.m {
		out[k] = v
	}
	return out, nil
}

// Put implements Store.
func (s *MemStore) Put(_ context.Context, p config.PresencePartnerSpec) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]config.PresencePartnerSpec{}
	}
	s.m[p.ID] = p
	return nil
}

// KVBucket is the JetStream key-value bucket of the mapping table (file
// storage, history 5; key: natsstore.Key of the partner id; value: the
// partner's JSON, config.PresencePartnerSpec).
const KVBucket = "omniroute-presencesync"

// KVStore is a Store in a JetStream KV bucket (package natsstore; durable
// with the embedded server's sync_interval: always, replicated on a
// cluster).
type KVStore struct{ b *natsstore.Bucket }

// OpenKV opens (creating when absent) the KVBucket on nc.
// replicas is the bucket's copies (0 means 1; cluster mode uses 3).
func OpenKV(ctx context.Context, nc natsstore.Conn, replicas int) (*KVStore, error) {
	b, err := natsstore.Open(ctx, nc, natsstore.Spec{Name: KVBucket, History: 5, Replicas: replicas,
		Description: "omniroute presence sync: partner status mappings (seeds 001, 002)"})
	if err != nil {
		return nil, fmt.Errorf("presencesync: %w", err)
	}
	return &KVStore{b: b}, nil
}

// Load implements Store.
func (s *KVStore) Load(ctx context.Context) (map[string]config.PresencePartnerSpec, error) {
	all, err := s.b.All(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]config.PresencePartnerSpec{}
	for k, v := range all {
		var p config.PresencePartnerSpec
		if err := json.Unmarshal(v, &p); err != nil {
			return nil, fmt.Errorf("presencesync: stored partner %q: %w", k, err)
		}
		out[p.ID] = p
	}
	return out, nil
}

// Put implements Store.
func (s *KVStore) Put(ctx context.Context, p config.PresencePartnerSpec) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return s.b.Put(ctx, natsstore.Key(p.ID), b)
}
