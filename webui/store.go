package webui

import (
	"context"
	"fmt"

	"github.com/omniroute/omniroute/natsstore"
)

// KVBucket is the JetStream KV bucket of the history: one key per queue or
// agent interval (storeKey), file storage, entries older than Retention
// dropped by the bucket's TTL.
const KVBucket = "omniroute-history"

// KVStore is a Store in a JetStream KV bucket (package natsstore).
type KVStore struct{ b *natsstore.Bucket }

// OpenKV opens (or creates) the history bucket on nc.
func OpenKV(ctx context.Context, nc natsstore.Conn) (*KVStore, error) {
	b, err := natsstore.Open(ctx, nc, natsstore.Spec{Name: KVBucket, TTL: Retention,
		Description: "omniroute history: 15-minute queue and agent intervals"})
	if err != nil {
		return nil, fmt.Errorf("webui: %w", err)
	}
	return &KVStore{b: b}, nil
}

// Put implements Store.
func (s *KVStore) Put(ctx context.Context, key string, value []byte) error {
	return s.b.Put(ctx, key, value)
}

// All implements Store: the latest value of every key.
func (s *KVStore) All(ctx context.Context) (map[string][]byte, error) { return s.b.All(ctx) }
