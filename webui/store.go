package webui

import (
	"context"
	"fmt"
	"strings"

	"github.com/omniroute/omniroute/natsstore"
)

// KVBucket is the JetStream KV bucket of the history: one key per queue
// interval or group of agent intervals (Store), file storage, entries
// older than Retention dropped by the bucket's TTL.
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

// Scan implements Store: one filtered read of the bucket, each prefix
// "x.y." as the key pattern "x.y.>".
func (s *KVStore) Scan(ctx context.Context, prefixes []string) (map[string][]byte, error) {
	filters := make([]string, len(prefixes))
	for i, p := range prefixes {
		if p == "" || !strings.HasSuffix(p, ".") {
			return nil, fmt.Errorf("webui: store prefix %q does not end in '.'", p)
		}
		filters[i] = p + ">"
	}
	return s.b.Matching(ctx, filters)
}

// Get implements Store.
func (s *KVStore) Get(ctx context.Context, key string) ([]byte, error) {
	v, _, err := s.b.Get(ctx, key)
	return v, err
}
