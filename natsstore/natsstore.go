// Package natsstore is the one place that opens JetStream contexts and
// key-value buckets for the server's stores, so that the API timeout, the
// storage kind, the replica count and what happens to a bucket that already
// exists are decided once. It also gives the adapters' stores (gms
// callbacks, presencesync mappings, webui history) a Bucket of bytes, and
// extrouting's PSR event stream a Log of byte entries with durable Cursors
// (its partners' webhook positions), so that an adapter keeps its records'
// encoding and nothing of NATS: only the storage packages import NATS
// (internal/reporules TestNATSImports).
//
// A Bucket's keys are JetStream KV keys (letters, digits, '-', '_', '=',
// '.', '/'); a store of ids a client chose encodes them first (Key).
package natsstore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Conn is a NATS connection, as the server opens it (server.New: the
// embedded server's or the cluster's). Stores take a Conn rather than
// import NATS themselves.
type Conn = *nats.Conn

// DefaultTimeout bounds each JetStream API call of a context JetStream
// returns when its timeout is 0 (a stalled NATS server fails the call
// instead of hanging the request).
const DefaultTimeout = 10 * time.Second

// JetStream returns nc's JetStream context whose API calls time out after
// timeout (0: DefaultTimeout). Errors: nc is nil or closed.
func JetStream(nc Conn, timeout time.Duration) (jetstream.JetStream, error) {
	if nc == nil {
		return nil, errors.New("natsstore: nil NATS connection")
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(timeout))
	if err != nil {
		return nil, fmt.Errorf("natsstore: jetstream: %w", err)
	}
	return js, nil
}

// Spec says which bucket to open and how to create it.
type Spec struct {
	// Name is the bucket's name (omniroute-...); Description its
	// description in `nats kv ls`.
	Name, Description string
	// History is how many values a key keeps (0: 1).
	History uint8
	// TTL drops values older than it (0: kept until deleted).
	TTL time.Duration
	// Memory keeps the bucket in memory instead of files (state that
	// is rebuilt after a NATS restart, like cluster members).
	Memory bool
	// Replicas is the bucket's copies (0: 1; cluster mode uses 3 on a
	// three-server NATS cluster).
	Replicas int
	// Bind uses a bucket that exists as it is (another node of a
	// cluster created it, maybe with other replicas); without Bind an
	// existing bucket's configuration is updated to this one.
	Bind bool
}

// KeyValue opens, creating when absent, the bucket spec names on js.
// Storage packages that need more than a Bucket (revisions, filtered
// keys) use it. Errors: JetStream's, naming the bucket.
func KeyValue(ctx context.Context, js jetstream.JetStream, spec Spec) (jetstream.KeyValue, error) {
	if spec.Replicas <= 0 {
		spec.Replicas = 1
	}
	if spec.History == 0 {
		spec.History = 1
	}
	cfg := jetstream.KeyValueConfig{Bucket: spec.Name, Description: spec.Description, History: spec.History,
		TTL: spec.TTL, Storage: jetstream.FileStorage, Replicas: spec.Replicas}
	if spec.Memory {
		cfg.Storage = jetstream.MemoryStorage
	}
	var kv jetstream.KeyValue
	var err error
	if spec.Bind {
		kv, err = js.KeyValue(ctx, cfg.Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			kv, err = js.CreateKeyValue(ctx, cfg)
			if errors.Is(err, jetstream.ErrBucketExists) {
				kv, err = js.KeyValue(ctx, cfg.Bucket)
			}
		}
	} else {
		kv, err = js.CreateOrUpdateKeyValue(ctx, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("natsstore: bucket %s: %w", spec.Name, err)
	}
	return kv, nil
}

// Bucket is a JetStream KV bucket of byte values, for the adapters' stores.
// Its methods are safe for concurrent use.
type Bucket struct{ kv jetstream.KeyValue }

// Open opens, creating when absent, the bucket spec names on nc (API
// calls time out after DefaultTimeout). Errors: JetStream's.
func Open(ctx context.Context, nc Conn, spec Spec) (*Bucket, error) {
	js, err := JetStream(nc, 0)
	if err != nil {
		return nil, err
	}
	kv, err := KeyValue(ctx, js, spec)
	if err != nil {
		return nil, err
	}
	return &Bucket{kv: kv}, nil
}

// Key is id as a bucket key: base64url without padding, so any id (a
// client's, with spaces, '*' or '>') is a valid key.
func Key(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

// Put stores value under key; it returns once the write is durable (the
// bucket's replicas acknowledged it).
func (b *Bucket) Put(ctx context.Context, key string, value []byte) error {
	_, err := b.kv.Put(ctx, key, value)
	return err
}

// Delete forgets key and its history (no error when absent).
func (b *Bucket) Delete(ctx context.Context, key string) error {
	err := b.kv.Purge(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	return err
}

// All returns the latest value of every key (deleted keys left out).
// Errors: JetStream's, or ctx's when it ends first.
func (b *Bucket) All(ctx context.Context) (map[string][]byte, error) {
	return b.Matching(ctx, []string{">"})
}

// Matching is All of the keys that match one of filters, NATS subject
// patterns of keys ("q.>", "g.1740819600.*"), read in one pass that
// delivers only those keys' values (not the bucket's). Errors: no filter;
// JetStream's, or ctx's when it ends first.
func (b *Bucket) Matching(ctx context.Context, filters []string) (map[string][]byte, error) {
	if len(filters) == 0 {
		return nil, errors.New("natsstore: no key filter")
	}
	w, err := b.kv.WatchFiltered(ctx, filters, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer func() { _ = w.Stop() }()
	out := map[string][]byte{}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok || e == nil { // nil: every stored value was delivered
				return out, nil
			}
			out[e.Key()] = e.Value()
		}
	}
}

// Watch calls fn, one call at a time from one goroutine, with every value
// put after Watch started (any writer's, this process's included) until
// ctx ends; deletions are not reported. Errors: the watch could not start.
func (b *Bucket) Watch(ctx context.Context, fn func(key string, value []byte)) error {
	w, err := b.kv.WatchAll(ctx, jetstream.UpdatesOnly(), jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("natsstore: watch: %w", err)
	}
	go func() {
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e != nil && e.Operation() == jetstream.KeyValuePut {
					fn(e.Key(), e.Value())
				}
			}
		}
	}()
	return nil
}

// ErrRevision is Swap's refusal: the key's latest revision is not the one
// the caller read (another writer changed it in between).
var ErrRevision = errors.New("natsstore: the key changed since it was read")

// Get returns key's latest value and its revision (a bucket-wide sequence,
// growing with every write); an absent or deleted key is (nil, 0, nil).
// Errors: JetStream's.
func (b *Bucket) Get(ctx context.Context, key string) ([]byte, uint64, error) {
	e, err := b.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	return e.Value(), e.Revision(), nil
}

// Swap stores value under key only if the key's latest revision is still
// revision (0: the key is absent), so that a read-modify-write of several
// writers loses none of them: on ErrRevision, Get again and retry. Errors:
// ErrRevision, JetStream's.
func (b *Bucket) Swap(ctx context.Context, key string, value []byte, revision uint64) error {
	var err error
	if revision == 0 {
		_, err = b.kv.Create(ctx, key, value)
	} else {
		_, err = b.kv.Update(ctx, key, value, revision)
	}
	var apiErr *jetstream.APIError
	if errors.Is(err, jetstream.ErrKeyExists) || (errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence) {
		return ErrRevision
	}
	return err
}
