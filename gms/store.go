package gms

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/omniroute/omniroute/natsstore"
)

// Record is a callback's GMS-side state as a Store keeps it (JSON). The
// conversation itself lives in the engine; a Record holds what the engine
// does not: the owner, the device, the flags and the pending notifications.
type Record struct {
	ID             string    `json:"id"`
	Service        string    `json:"service"`
	Owner          string    `json:"owner"` // hex of the gms_user's SHA-256
	DeviceOS       string    `json:"deviceOS,omitempty"`
	DeviceID       string    `json:"deviceID,omitempty"`
	CustomerNumber string    `json:"customerNumber,omitempty"`
	Queue          string    `json:"queue"`
	CreatedAt      time.Time `json:"createdAt"`
	// DesiredAt is _desired_time, ExpiresAt _expiration_time (zero in
	// records written before they were kept: CreatedAt and no expiry).
	DesiredAt   time.Time        `json:"desiredAt,omitzero"`
	ExpiresAt   time.Time        `json:"expiresAt,omitzero"`
	State       string           `json:"state"`
	Reason      string           `json:"reason,omitempty"`
	CompletedAt time.Time        `json:"completedAt,omitzero"`
	Agent       string           `json:"agent,omitempty"`
	Notified    bool             `json:"notified,omitempty"`
	ChatStarted bool             `json:"chatStarted,omitempty"`
	Dialogs     int              `json:"dialogs,omitempty"`
	Chat        Form             `json:"chat,omitempty"`
	ToDevice    []map[string]any `json:"toDevice,omitempty"`
	ToAgent     []AgentNote      `json:"toAgent,omitempty"`
	Estimate    time.Duration    `json:"estimate,omitempty"`
	EstPos      int              `json:"estPos,omitempty"`
	EstAt       time.Time        `json:"estAt,omitzero"`
	// Node is the cluster node that wrote the record ("" single-node).
	Node string `json:"node,omitempty"`
	// Source is SourceEvent when an engine event alone caused the write
	// (every node applies those itself), else "" (a device's or agent's
	// request, or a push that failed: changes only the writing node saw).
	Source string `json:"source,omitempty"`
	// Sealed, with customer keys on (Options.CustomerKeys), holds
	// CustomerNumber, Chat, ToDevice and ToAgent sealed with the
	// customer's key ({"omnirouteSealed":1,...}, package erasure), those
	// fields then empty; a Store's Load and Watch give the record unsealed.
	Sealed json.RawMessage `json:"sealed,omitempty"`
}

// SourceEvent marks a Record written because of an engine event.
const SourceEvent = "event"

// AgentNote is one device -> agent notification waiting for
// retrieve-agent-notifications.
type AgentNote struct {
	Message string `json:"message"`
	Tag     string `json:"tag"`
}

// Store keeps the callbacks' records durably, so that a restarted server
// re-adopts its callbacks.
type Store interface {
	// Load returns every stored record.
	Load(ctx context.Context) ([]Record, error)
	// Put stores a record (by ID); it returns once the write is durable.
	Put(ctx context.Context, r Record) error
	// Delete forgets a record (no error when absent).
	Delete(ctx context.Context, id string) error
}

// Watcher is a Store that other servers write too (cluster mode, the
// shared KV bucket). Watch calls fn, one call at a time, with every record
// stored after the call started (its own writes included) until ctx ends;
// deletions are not reported. Errors: the watch could not start.
type Watcher interface {
	Watch(ctx context.Context, fn func(Record)) error
}

// MemStore is a Store in memory, for tests.
type MemStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

// Load implements Store.
func (s *MemStore) Load(context.Context) ([]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Record, 0, len(s.m))
	for id, b := range s.m {
		var r Record
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("gms: stored callback %q: %w", id, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Put implements Store.
func (s *MemStore) Put(_ context.Context, r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[r.ID] = b
	return nil
}

// Delete implements Store.
func (s *MemStore) Delete(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
	return nil
}

// KVBucket is the JetStream key-value bucket of the callbacks (file
// storage, history 1; key: natsstore.Key of the callback id; value: the
// Record's JSON).
const KVBucket = "omniroute-gms-callbacks"

// KVStore is a Store in a JetStream KV bucket (package natsstore).
type KVStore struct{ b *natsstore.Bucket }

// OpenKV opens (creating when absent) the KVBucket on nc with replicas
// copies (0 means 1; cluster mode uses 3 on a 3-server NATS cluster).
func OpenKV(ctx context.Context, nc natsstore.Conn, replicas int) (*KVStore, error) {
	b, err := natsstore.Open(ctx, nc, natsstore.Spec{Name: KVBucket, Replicas: replicas,
		Description: "omniroute GMS: callback records (seed 003)"})
	if err != nil {
		return nil, fmt.Errorf("gms: %w", err)
	}
	return &KVStore{b: b}, nil
}

// Load implements Store.
func (s *KVStore) Load(ctx context.Context) ([]Record, error) {
	all, err := s.b.All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Record, 0, len(all))
	for k, v := range all {
		var r Record
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("gms: stored callback %q: %w", k, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Put implements Store.
func (s *KVStore) Put(ctx context.Context, r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.b.Put(ctx, natsstore.Key(r.ID), b)
}

// Watch implements Watcher with a watch of the bucket (updates only).
func (s *KVStore) Watch(ctx context.Context, fn func(Record)) error {
	err := s.b.Watch(ctx, func(_ string, v []byte) {
		var r Record
		if json.Unmarshal(v, &r) == nil && r.ID != "" {
			fn(r)
		}
	})
	if err != nil {
		return fmt.Errorf("gms: %w", err)
	}
	return nil
}

// Delete implements Store.
func (s *KVStore) Delete(ctx context.Context, id string) error {
	return s.b.Delete(ctx, natsstore.Key(id))
}

// recordLocked snapshots cb (s.mu held).
func recordLocked(cb *callback) Record {
	r := Record{ID: cb.id, Service: cb.service, Owner: hex.EncodeToString([]byte(cb.owner)), DeviceOS: cb.deviceOS,
		DeviceID: cb.deviceID, CustomerNumber: cb.customerNumber, Queue: cb.queue, CreatedAt: cb.createdAt,
		DesiredAt: cb.desiredAt, ExpiresAt: cb.expiresAt,
		State: cb.state, Reason: cb.reason, CompletedAt: cb.completedAt, Agent: cb.agent, Notified: cb.notified,
		ChatStarted: cb.chatStarted, Dialogs: cb.dialogs, Chat: maps.Clone(cb.chat), Estimate: cb.estimate,
		EstPos: cb.estPos, EstAt: cb.estAt}
	for _, m := range cb.toDevice {
		r.ToDevice = append(r.ToDevice, maps.Clone(m))
	}
	for _, n := range cb.toAgent {
		r.ToAgent = append(r.ToAgent, AgentNote(n))
	}
	return r
}

func fromRecord(r Record) (*callback, error) {
	owner, err := hex.DecodeString(r.Owner)
	if err != nil || r.ID == "" {
		return nil, fmt.Errorf("gms: stored callback %q: bad id or owner", r.ID)
	}
	cb := &callback{id: r.ID, service: r.Service, owner: string(owner), deviceOS: r.DeviceOS, deviceID: r.DeviceID,
		customerNumber: r.CustomerNumber, queue: r.Queue, createdAt: r.CreatedAt, desiredAt: r.DesiredAt, expiresAt: r.ExpiresAt,
		state: r.State, reason: r.Reason,
		completedAt: r.CompletedAt, agent: r.Agent, notified: r.Notified, chatStarted: r.ChatStarted, dialogs: r.Dialogs,
		chat: r.Chat, toDevice: r.ToDevice, estimate: r.Estimate, estPos: r.EstPos, estAt: r.EstAt}
	for _, n := range r.ToAgent {
		cb.toAgent = append(cb.toAgent, agentNote(n))
	}
	return cb, nil
}

// save writes cb's current record to the Store (or deletes it once cb was
// forgotten). Writes of one callback are serialized and each snapshots the
// state when it runs, so the last write holds the latest state.
func (s *Server) save(ctx context.Context, cb *callback) error {
	return s.saveFrom(ctx, cb, "")
}

// saveFrom is save with the Record's Source.
func (s *Server) saveFrom(ctx context.Context, cb *callback, source string) error {
	if s.o.Store == nil || cb == nil {
		return nil
	}
	cb.saveMu.Lock()
	defer cb.saveMu.Unlock()
	s.mu.Lock()
	gone := cb.forgotten
	r := recordLocked(cb)
	s.mu.Unlock()
	r.Node, r.Source = s.o.NodeID, source
	if gone {
		return s.o.Store.Delete(ctx, cb.id)
	}
	return s.o.Store.Put(ctx, r)
}

// saveLogged saves outside a request (the event follower, pushes): a
// failure is logged; the next change writes the record again.
func (s *Server) saveLogged(source string, cbs ...*callback) {
	for _, cb := range cbs {
		if err := s.saveFrom(s.ctx, cb, source); err != nil {
			s.log.Warn("gms: callback record not stored", "callback", cb.id, "err", err)
		}
	}
}
