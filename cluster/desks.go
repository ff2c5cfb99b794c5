package cluster

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

	"github.com/omniroute/omniroute/natsstore"
)

// An agent's desk connects to one node, and may move to another (the load
// balancer, a node that died). Desks is the cluster's shared record of
// where each agent's desk is and of its FCM token: the
// agentdesk.DeskDirectory of a cluster node (agentdesk/desks.go says what
// the Agent Desk server does with it).

// DeskBucket is the JetStream KV bucket of the agents' desks (history 1,
// file storage; key: base64url of the agent id; value: a DeskRecord's
// JSON).
const DeskBucket = "omniroute-agent-desks"

// deskWriteTimeout bounds one write of a desk record.
const deskWriteTimeout = 5 * time.Second

// DeskRecord is one agent's desk as the cluster knows it.
type DeskRecord struct {
	Agent string `json:"agent"`
	// Node is the node its desk last connected to; Connected says whether
	// it still has a socket there.
	Node      string `json:"node"`
	Connected bool   `json:"connected"`
	// FCM is the registration token its desk gave (auth.fcm), "" none.
	FCM string `json:"fcm,omitempty"`
}

// Desks is the shared desk directory of a cluster node. Create with
// OpenDesks, stop with Close.
type Desks struct {
	kv    jetstream.KeyValue
	node  string
	alive func(node string) bool
	stop  context.CancelFunc

	mu   sync.Mutex
	recs map[string]DeskRecord
}

// OpenDesks opens (creating when absent) the DeskBucket on nc with
// replicas copies, as node. alive reports whether a node is a live member
// of the cluster (nil: every node is). It returns once the bucket's
// current records are read. Errors: JetStream errors.
func OpenDesks(ctx context.Context, nc *nats.Conn, replicas int, node string, alive func(string) bool) (*Desks, error) {
	if replicas <= 0 {
		replicas = 1
	}
	if alive == nil {
		alive = func(string) bool { return true }
	}
	js, err := natsstore.JetStream(nc, deskWriteTimeout)
	if err != nil {
		return nil, fmt.Errorf("cluster: desks: %w", err)
	}
	kv, err := natsstore.KeyValue(ctx, js, natsstore.Spec{Name: DeskBucket, Replicas: replicas,
		Description: "omniroute: where each agent's desk is connected, its FCM token"})
	if err != nil {
		return nil, fmt.Errorf("cluster: desks bucket: %w", err)
	}
	wctx, stop := context.WithCancel(context.Background())
	w, err := kv.WatchAll(wctx)
	if err != nil {
		stop()
		return nil, fmt.Errorf("cluster: desks watch: %w", err)
	}
	d := &Desks{kv: kv, node: node, alive: alive, stop: stop, recs: map[string]DeskRecord{}}
	loaded := make(chan struct{})
	go d.follow(wctx, w, loaded)
	select {
	case <-loaded:
		return d, nil
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	}
}

// follow keeps recs equal to the bucket; loaded closes after the initial
// records.
func (d *Desks) follow(ctx context.Context, w jetstream.KeyWatcher, loaded chan struct{}) {
	defer func() { _ = w.Stop() }()
	once := sync.OnceFunc(func() { close(loaded) })
	defer once()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				once()
				continue
			}
			key, err := base64.RawURLEncoding.DecodeString(e.Key())
			if err != nil {
				continue
			}
			d.mu.Lock()
			var r DeskRecord
			if e.Operation() == jetstream.KeyValuePut && json.Unmarshal(e.Value(), &r) == nil {
				d.recs[string(key)] = r
			} else {
				delete(d.recs, string(key))
			}
			d.mu.Unlock()
		}
	}
}

// Close stops following the bucket.
func (d *Desks) Close() { d.stop() }

func deskKey(agent string) string { return natsstore.Key(agent) }

// Record returns the agent's desk record.
func (d *Desks) Record(agent string) (DeskRecord, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.recs[agent]
	return r, ok
}

// Token is the agent's FCM token as the cluster knows it.
func (d *Desks) Token(agent string) string {
	r, _ := d.Record(agent)
	return r.FCM
}

// Elsewhere reports whether the agent's desk is connected to another live
// node.
func (d *Desks) Elsewhere(agent string) bool {
	r, ok := d.Record(agent)
	return ok && r.Connected && r.Node != d.node && d.alive(r.Node)
}

// Connected records that agent has a socket here; token "" keeps the
// token known.
func (d *Desks) Connected(ctx context.Context, agent, token string) error {
	return d.update(ctx, agent, func(r *DeskRecord) bool {
		r.Node, r.Connected = d.node, true
		if token != "" {
			r.FCM = token
		}
		return true
	})
}

// Gone records that agent's last socket here went, unless its desk
// connected to another node since.
func (d *Desks) Gone(ctx context.Context, agent string) error {
	return d.update(ctx, agent, func(r *DeskRecord) bool {
		if r.Node != d.node {
			return false
		}
		r.Connected = false
		return true
	})
}

// Forget drops a token FCM refused as unregistered.
func (d *Desks) Forget(ctx context.Context, agent, token string) error {
	return d.update(ctx, agent, func(r *DeskRecord) bool {
		if r.FCM != token {
			return false
		}
		r.FCM = ""
		return true
	})
}

// update changes the agent's record with a compare-and-set on its
// revision, so two nodes writing at once do not undo each other; change
// returns false to write nothing.
func (d *Desks) update(ctx context.Context, agent string, change func(*DeskRecord) bool) error {
	key := deskKey(agent)
	for attempt := 0; attempt < 5; attempt++ {
		r := DeskRecord{Agent: agent}
		var rev uint64
		e, err := d.kv.Get(ctx, key)
		switch {
		case err == nil:
			if json.Unmarshal(e.Value(), &r) != nil {
				r = DeskRecord{Agent: agent}
			}
			rev = e.Revision()
		case errors.Is(err, jetstream.ErrKeyNotFound):
		default:
			return err
		}
		if !change(&r) {
			return nil
		}
		b, _ := json.Marshal(r)
		if rev == 0 {
			_, err = d.kv.Create(ctx, key, b)
		} else {
			_, err = d.kv.Update(ctx, key, b, rev)
		}
		if err == nil {
			d.mu.Lock()
			d.recs[agent] = r
			d.mu.Unlock()
			return nil
		}
		var apiErr *jetstream.APIError
		if !errors.Is(err, jetstream.ErrKeyExists) && !(errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence) {
			return err
		}
	}
	return errors.New("cluster: desk record changed too often; not written")
}
