package presencesync

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/omniroute/omniroute/config"
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
// storage; key: base64url of the partner id; value: the partner's JSON,
// config.PresencePartnerSpec).
const KVBucket = "omniroute-presencesync"

// KVStore is a Store in a JetStream KV bucket (durable with the embedded
// server's sync_interval: always, replicated on a cluster).
type KVStore struct{ kv jetstream.KeyValue }

// OpenKV opens (creating when absent) the KVBucket on nc.
func OpenKV(ctx context.Context, nc *nats.Conn) (*KVStore, error) {
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("presencesync: jetstream: %w", err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: KVBucket, History: 5, Storage: jetstream.FileStorage,
		Description: "omniroute presence sync: partner status mappings (seeds 001, 002)"})
	if err != nil {
		return nil, fmt.Errorf("presencesync: kv bucket: %w", err)
	}
	return &KVStore{kv: kv}, nil
}

// Load implements Store.
func (s *KVStore) Load(ctx context.Context) (map[string]config.PresencePartnerSpec, error) {
	out := map[string]config.PresencePartnerSpec{}
	keys, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	for k := range keys.Keys() {
		e, err := s.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var p config.PresencePartnerSpec
		if err := json.Unmarshal(e.Value(), &p); err != nil {
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
	_, err = s.kv.Put(ctx, base64.RawURLEncoding.EncodeToString([]byte(p.ID)), b)
	return err
}
