// Package cluster runs several omniroute nodes on one NATS JetStream
// cluster (DESIGN.md "Cluster mode"). It holds no consensus of its own:
//
//   - Leader by lease: the JetStream KV bucket LeaseBucket (TTL =
//     Options.LeaseTTL, default 3 s) holds one key per cluster. A node wins
//     with a Create (which fails while the key exists), renews every third
//     of the TTL with an Update at the revision it holds, and demotes its
//     node the moment a renewal fails. The term is the KV revision of the
//     Create that won: revisions only grow, so a later lease always has a
//     higher term, even after the key expired.
//   - The fence is the journal: the node appends with the expected last
//     sequence (natsjournal), so a deposed leader's append is refused and it
//     steps down (node.Replica.OnStepDown gives the lease up).
//   - Followers tail the journal (package node); commands from their
//     clients come to the leader as NATS requests on
//     "omniroute.<cluster>.cmd" carrying a command id, answered after the
//     append (Forward, and the leader's handler).
//   - Members: every node writes its status to the KV bucket MemberBucket
//     (TTL MemberTTL) every second; Members reads them (omniroute cluster
//     status).
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/omniroute/omniroute/natsstore"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// Buckets, timings and limits.
const (
	// LeaseBucket holds one lease key per cluster name.
	LeaseBucket = "omniroute-lease"
	// MemberBucket holds one status key per node, "<cluster>.<node>".
	MemberBucket = "omniroute-members"
	// DefaultLeaseTTL is how long a lease lives without renewal.
	DefaultLeaseTTL = 3 * time.Second
	// MemberTTL is how long a node's status stays listed after its last
	// heartbeat.
	MemberTTL = 10 * time.Second
	// ForwardTimeout bounds one forwarded command's round trip (the append
	// included); the node retries after it with the same command id.
	ForwardTimeout = 3 * time.Second
	// MaxForwardBytes bounds a forwarded request (one command).
	MaxForwardBytes = 1 << 20
)

// Errors.
var (
	// ErrNoLeader: no node currently takes commands (an election is under way).
	ErrNoLeader = errors.New("cluster: no leader")
	// errBadName: cluster or node names are used in subjects and KV keys.
	errBadName = errors.New("cluster: names must match [A-Za-z0-9_-]{1,64}")
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Options configure a Cluster.
type Options struct {
	// Name is the cluster name: nodes with the same name share one journal
	// and one lease (required; [A-Za-z0-9_-], at most 64).
	Name string
	// NodeID names this node (required, same alphabet); two live nodes
	// must not share it.
	NodeID string
	// URL is this node's HTTP base URL, shown in Members.
	URL string
	// Replicas for the buckets when they are created (default 1).
	Replicas int
	// LeaseTTL is the lease's time to live (default DefaultLeaseTTL); it is
	// renewed every LeaseTTL/3. A leader that dies is replaced after at
	// most about LeaseTTL plus a catch-up.
	LeaseTTL time.Duration
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Lease is what the lease key holds.
type Lease struct {
	Cluster string `json:"cluster"`
	Node    string `json:"node"`
	URL     string `json:"url,omitempty"`
	// Term is the KV revision of the Create that won this lease.
	Term uint64 `json:"term"`
}

// Member is one node's last reported status.
type Member struct {
	Cluster string `json:"cluster"`
	Node    string `json:"node"`
	URL     string `json:"url,omitempty"`
	// Role is "leader" or "follower".
	Role string `json:"role"`
	// Term the node leads under (leader) or last saw (follower).
	Term uint64 `json:"term"`
	// LastSeq is the last journal entry the node applied; LagEntries how
	// many the journal held beyond it when it applied it.
	LastSeq    uint64    `json:"lastSeq"`
	LagEntries uint64    `json:"lagEntries"`
	Updated    time.Time `json:"updated"`
}

// Cluster is this node's membership: its lease campaign, the leader's
// command handler and the forwarder. Create with Open, attach the node
// with Run, stop with Close.
type Cluster struct {
	o      Options
	nc     *nats.Conn
	lease  jetstream.KeyValue
	member jetstream.KeyValue
	log    *slog.Logger
	subj   string

	mu     sync.Mutex
	n      *node.Node
	sub    *nats.Subscription
	held   uint64 // revision of our lease key, 0 when not leading
	term   uint64 // term we lead under
	leader Lease  // last lease seen (ours or another's)
	// renewedAt is when the last successful create or renewal was sent:
	// the server's lease lives at least until renewedAt+LeaseTTL.
	// expired is set by the watchdog when that time (less a margin) passed
	// without a renewal: the node was demoted without waiting for the
	// campaign goroutine, whose NATS call may hang on a frozen server.
	renewedAt time.Time
	expired   bool

	stepDown   chan struct{}
	quit       chan struct{}
	done       chan struct{}
	failovers  atomic.Uint64
	forwardIn  atomic.Uint64
	leaseLosts atomic.Uint64
	closeOnce  sync.Once
}

// Open creates or binds the lease and member buckets on nc. Errors: bad
// names, JetStream errors.
func Open(ctx context.Context, nc *nats.Conn, o Options) (*Cluster, error) {
	if !nameRE.MatchString(o.Name) || !nameRE.MatchString(o.NodeID) {
		return nil, errBadName
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	js, err := natsstore.JetStream(nc, apiTimeout)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	lease, err := openBucket(ctx, js, natsstore.Spec{Name: LeaseBucket, TTL: o.LeaseTTL,
		Replicas: o.Replicas, Description: "omniroute cluster leases"})
	if err != nil {
		return nil, err
	}
	member, err := openBucket(ctx, js, natsstore.Spec{Name: MemberBucket, TTL: MemberTTL,
		Memory: true, Replicas: o.Replicas, Description: "omniroute cluster members"})
	if err != nil {
		return nil, err
	}
	return &Cluster{o: o, nc: nc, lease: lease, member: member, log: o.Logger.With("cluster", o.Name, "node", o.NodeID),
		subj: "omniroute." + o.Name + ".cmd", stepDown: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{})}, nil
}

// openBucket binds an existing bucket as it is (another node created it,
// maybe with other replicas), or creates it.
func openBucket(ctx context.Context, js jetstream.JetStream, spec natsstore.Spec) (jetstream.KeyValue, error) {
	spec.Bind = true
	kv, err := natsstore.KeyValue(ctx, js, spec)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return kv, nil
}

// apiTimeout bounds each JetStream API call of the cluster's buckets and
// claims (JetStream's own default).
const apiTimeout = 5 * time.Second

// Name is the cluster's name (Options.Name).
func (c *Cluster) Name() string { return c.o.Name }

// NodeID is this node's name (Options.NodeID).
func (c *Cluster) NodeID() string { return c.o.NodeID }

// OnStepDown is the node's callback (node.Replica.OnStepDown): the node's
// append was refused or failed, so it is no longer the leader; the lease is
// given up on the campaign goroutine.
func (c *Cluster) OnStepDown(error) {
	select {
	case c.stepDown <- struct{}{}:
	default:
	}
}

// Run attaches the node (opened with a node.Replica whose Forward is
// c.Forward and OnStepDown c.OnStepDown) and starts campaigning.
func (c *Cluster) Run(n *node.Node) {
	c.mu.Lock()
	c.n = n
	c.mu.Unlock()
	go c.campaign()
	go c.watchdog()
}

// watchdog demotes the node when the lease may be about to expire without
// a renewal: a leader stops writing before anyone else can win the lease,
// even when its NATS connection hangs (a partition) and the renewal call
// never returns.
func (c *Cluster) watchdog() {
	limit := c.o.LeaseTTL * 5 / 6
	t := time.NewTicker(c.o.LeaseTTL / 30)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
		}
		c.mu.Lock()
		late := c.held != 0 && !c.expired && time.Since(c.renewedAt) > limit
		if late {
			c.expired = true
		}
		n := c.n
		c.mu.Unlock()
		if late {
			c.log.Warn("cluster: no longer leader", "why", "lease not renewed within "+limit.String()+"; stopped writing")
			n.Demote()
		}
	}
}

// campaign is the lease loop: try to win when nobody holds the lease,
// renew while holding it, report the member status.
func (c *Cluster) campaign() {
	defer close(c.done)
	renew := c.o.LeaseTTL / 3
	poll := min(renew, 250*time.Millisecond)
	var lastMember time.Time
	for {
		wait := poll
		if c.leading() {
			wait = renew
		}
		select {
		case <-c.quit:
			c.resign()
			return
		case <-c.stepDown:
			c.lost("append refused or failed")
			continue
		case <-time.After(wait):
		}
		if c.leading() {
			c.renew()
		} else {
			c.tryWin()
		}
		if time.Since(lastMember) >= time.Second {
			c.heartbeat()
			lastMember = time.Now()
		}
	}
}

func (c *Cluster) leading() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held != 0
}

func (c *Cluster) key() string { return c.o.Name }

func (c *Cluster) tryWin() {
	ctx, cancel := context.WithTimeout(context.Background(), c.o.LeaseTTL/3)
	defer cancel()
	e, err := c.lease.Get(ctx, c.key())
	if err == nil {
		var l Lease
		if json.Unmarshal(e.Value(), &l) == nil {
			c.mu.Lock()
			c.leader = l
			c.mu.Unlock()
			if l.Node == c.o.NodeID {
				// Our own lease from before a failed renewal or a restart:
				// give it up so the cluster does not wait for its TTL.
				_ = c.lease.Delete(ctx, c.key(), jetstream.LastRevision(e.Revision()))
			}
		}
		return
	}
	if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return
	}
	val, _ := json.Marshal(Lease{Cluster: c.o.Name, Node: c.o.NodeID, URL: c.o.URL})
	sent := time.Now()
	rev, err := c.lease.Create(ctx, c.key(), val)
	if err != nil {
		return // someone else won, or NATS is unreachable
	}
	// The term is the create's revision; store it in the value too.
	l := Lease{Cluster: c.o.Name, Node: c.o.NodeID, URL: c.o.URL, Term: rev}
	val, _ = json.Marshal(l)
	if rev2, err := c.lease.Update(ctx, c.key(), val, rev); err == nil {
		rev = rev2
	} else {
		return
	}
	c.mu.Lock()
	c.held, c.term, c.leader, c.renewedAt, c.expired = rev, l.Term, l, sent, false
	n := c.n
	c.mu.Unlock()
	start := time.Now()
	// Catching up may take longer than a renewal interval: renew while it
	// runs. A lease lost meanwhile is caught by the fence.
	promoted := make(chan error, 1)
	go func() { promoted <- n.Promote(context.Background(), l.Term) }()
	tick := time.NewTicker(c.o.LeaseTTL / 3)
	defer tick.Stop()
	for {
		select {
		case err := <-promoted:
			if err != nil {
				c.log.Warn("cluster: won the lease but could not catch up; giving it up", "err", err)
				c.lost("catch-up failed")
				return
			}
			if err := c.serve(); err != nil {
				c.log.Warn("cluster: cannot take commands; giving the lease up", "err", err)
				c.lost("subscribe failed")
				return
			}
			c.failovers.Add(1)
			c.log.Info("cluster: leader", "term", l.Term, "promotion", time.Since(start).Round(time.Millisecond))
			return
		case <-tick.C:
			if !c.renew() {
				return
			}
		case <-c.quit:
			return
		}
	}
}

// renew extends the lease; on failure the node stops writing at once.
func (c *Cluster) renew() bool {
	c.mu.Lock()
	rev, l, expired := c.held, c.leader, c.expired
	c.mu.Unlock()
	if rev == 0 {
		return false
	}
	if expired {
		// The watchdog demoted the node: give the lease up and campaign
		// again rather than hold a lease nobody writes under.
		c.lost("lease not renewed in time")
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.o.LeaseTTL/3)
	defer cancel()
	val, _ := json.Marshal(l)
	sent := time.Now()
	rev, err := c.lease.Update(ctx, c.key(), val, rev)
	if err != nil {
		c.lost("renewal failed: " + err.Error())
		return false
	}
	c.mu.Lock()
	if c.held != 0 && !c.expired {
		c.held, c.renewedAt = rev, sent
	}
	expired = c.expired
	c.mu.Unlock()
	if expired {
		c.lost("lease not renewed in time")
		return false
	}
	return true
}

// lost demotes the node and stops taking commands.
func (c *Cluster) lost(why string) {
	c.mu.Lock()
	was := c.held
	c.held = 0
	n, sub := c.n, c.sub
	c.sub = nil
	c.mu.Unlock()
	if sub != nil {
		_ = sub.Unsubscribe()
	}
	if n != nil {
		n.Demote()
	}
	if was != 0 {
		c.leaseLosts.Add(1)
		c.log.Warn("cluster: no longer leader", "why", why)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = c.lease.Delete(ctx, c.key(), jetstream.LastRevision(was))
		cancel()
	}
}

// resign hands the lease over on a clean shutdown, so a follower need not
// wait for the TTL.
func (c *Cluster) resign() {
	c.lost("shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = c.member.Delete(ctx, c.o.Name+"."+c.o.NodeID)
}

// request and reply are the forwarding wire format (JSON).
//
//	request: {"id":"n2.1a2b3c4d.7f","n":"CreateConversation","c":{...}}
//	reply:   {"seq":42} | {"error":{"code":"QUEUE_NOT_FOUND","message":"..."}} | {"retry":"not the leader"}
type request struct {
	ID   string          `json:"id"`
	Name string          `json:"n"`
	Cmd  json.RawMessage `json:"c"`
}

type reply struct {
	Seq   uint64     `json:"seq,omitempty"`
	Error *errorBody `json:"error,omitempty"`
	Retry string     `json:"retry,omitempty"`
}

// errorBody is a refusal (routing.Error) on the wire.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// serve subscribes the leader to forwarded commands.
func (c *Cluster) serve() error {
	sub, err := c.nc.Subscribe(c.subj, func(m *nats.Msg) { go c.handle(m) })
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.held == 0 { // lost meanwhile
		c.mu.Unlock()
		_ = sub.Unsubscribe()
		return errors.New("lease lost during promotion")
	}
	c.sub = sub
	c.mu.Unlock()
	return c.nc.Flush()
}

func (c *Cluster) handle(m *nats.Msg) {
	var rp reply
	var rq request
	cmd, err := decodeRequest(m.Data, &rq)
	if err != nil {
		rp.Error = &errorBody{Code: routing.CodeInvalidArgument, Message: err.Error()}
	} else {
		c.mu.Lock()
		n := c.n
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), ForwardTimeout)
		seq, err := n.SubmitForwarded(ctx, rq.ID, cmd)
		cancel()
		var re *routing.Error
		switch {
		case err == nil:
			rp.Seq = seq
			c.forwardIn.Add(1)
		case errors.As(err, &re):
			rp.Error = &errorBody{Code: re.Code, Message: re.Message}
		default:
			rp.Retry = err.Error()
		}
	}
	b, _ := json.Marshal(rp)
	_ = m.Respond(b)
}

func decodeRequest(data []byte, rq *request) (routing.Command, error) {
	if len(data) > MaxForwardBytes {
		return nil, fmt.Errorf("forwarded command over %d bytes", MaxForwardBytes)
	}
	if err := json.Unmarshal(data, rq); err != nil {
		return nil, fmt.Errorf("forwarded command: %w", err)
	}
	if rq.ID == "" {
		return nil, errors.New("forwarded command without id")
	}
	return routing.DecodeCommand(rq.Name, rq.Cmd)
}

// Forward sends cmd to the leader with its id and returns once the leader
// journaled it (nil), refused it (the *routing.Error), or could not be
// reached (any other error: the node tries again). It is the node's
// node.Replica.Forward.
func (c *Cluster) Forward(ctx context.Context, id string, cmd routing.Command) error {
	body, err := routing.EncodeCommand(cmd)
	if err != nil {
		return &routing.Error{Code: routing.CodeInvalidArgument, Message: err.Error()}
	}
	data, _ := json.Marshal(request{ID: id, Name: cmd.CommandName(), Cmd: body})
	if len(data) > MaxForwardBytes {
		return node.ErrCommandTooLarge
	}
	rctx, cancel := context.WithTimeout(ctx, ForwardTimeout)
	defer cancel()
	m, err := c.nc.RequestWithContext(rctx, c.subj, data)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, nats.ErrNoResponders) {
			return ErrNoLeader
		}
		return fmt.Errorf("cluster: forward: %w", err)
	}
	var rp reply
	if err := json.Unmarshal(m.Data, &rp); err != nil {
		return fmt.Errorf("cluster: forward reply: %w", err)
	}
	switch {
	case rp.Error != nil:
		return &routing.Error{Code: rp.Error.Code, Message: rp.Error.Message}
	case rp.Retry != "":
		return fmt.Errorf("cluster: leader: %s", rp.Retry)
	}
	return nil
}

func (c *Cluster) heartbeat() {
	c.mu.Lock()
	n, l := c.n, c.leader
	c.mu.Unlock()
	if n == nil {
		return
	}
	st := n.Stats()
	m := Member{Cluster: c.o.Name, Node: c.o.NodeID, URL: c.o.URL, Role: string(n.Role()), Term: l.Term,
		LastSeq: st.LastSeq, LagEntries: st.LagEntries, Updated: time.Now().UTC()}
	b, _ := json.Marshal(m)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, _ = c.member.Put(ctx, c.o.Name+"."+c.o.NodeID, b)
}

// Status is this node's view of the cluster, for /readyz and metrics.
type Status struct {
	Cluster string `json:"cluster"`
	Node    string `json:"node"`
	// Leader is the node holding the lease as last seen, "" if unknown.
	Leader    string `json:"leader,omitempty"`
	LeaderURL string `json:"leaderUrl,omitempty"`
	Term      uint64 `json:"term"`
	// Failovers counts the times this node won the lease and took over;
	// LeaseLost the times it lost it; ForwardedIn the commands it applied
	// for followers.
	Failovers, LeaseLost, ForwardedIn uint64
}

// Status returns this node's view.
func (c *Cluster) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Status{Cluster: c.o.Name, Node: c.o.NodeID, Leader: c.leader.Node, LeaderURL: c.leader.URL, Term: c.leader.Term,
		Failovers: c.failovers.Load(), LeaseLost: c.leaseLosts.Load(), ForwardedIn: c.forwardIn.Load()}
}

// Close stops campaigning and, when leading, hands the lease over. It does
// not close the node or the connection.
func (c *Cluster) Close() {
	c.closeOnce.Do(func() { close(c.quit) })
	c.mu.Lock()
	running := c.n != nil
	c.mu.Unlock()
	if running {
		<-c.done
	}
}

// Members returns the status of every node of cluster name that reported
// within MemberTTL, sorted by node id, read from nc's JetStream.
func Members(ctx context.Context, nc *nats.Conn, name string) ([]Member, Lease, error) {
	js, err := natsstore.JetStream(nc, apiTimeout)
	if err != nil {
		return nil, Lease{}, err
	}
	var lease Lease
	if kv, err := js.KeyValue(ctx, LeaseBucket); err == nil {
		if e, err := kv.Get(ctx, name); err == nil {
			_ = json.Unmarshal(e.Value(), &lease)
		}
	}
	kv, err := js.KeyValue(ctx, MemberBucket)
	if err != nil {
		return nil, lease, fmt.Errorf("cluster: members: %w", err)
	}
	keys, err := kv.ListKeysFiltered(ctx, name+".*")
	if err != nil {
		return nil, lease, fmt.Errorf("cluster: members: %w", err)
	}
	var out []Member
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue // expired between list and get
		}
		var m Member
		if json.Unmarshal(e.Value(), &m) == nil && strings.HasPrefix(k, name+".") {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out, lease, nil
}

// SecretBucket holds one token-signing secret per cluster, so that an
// agent token issued by one node is valid on every node (a desk reconnects
// to another node after a failover).
const SecretBucket = "omniroute-secrets"

// SharedSecret returns cluster name's token-signing secret (32 random
// bytes), creating it on first use; every node of the cluster gets the same
// one. Errors: JetStream errors, a stored secret of the wrong size.
func SharedSecret(ctx context.Context, nc *nats.Conn, name string, replicas int) ([]byte, error) {
	if !nameRE.MatchString(name) {
		return nil, errBadName
	}
	js, err := natsstore.JetStream(nc, apiTimeout)
	if err != nil {
		return nil, err
	}
	if replicas <= 0 {
		replicas = 1
	}
	kv, err := openBucket(ctx, js, natsstore.Spec{Name: SecretBucket,
		Replicas: replicas, Description: "omniroute cluster token secrets"})
	if err != nil {
		return nil, err
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	if _, err := kv.Create(ctx, name, fresh); err == nil {
		return fresh, nil
	} else if !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("cluster: secret: %w", err)
	}
	e, err := kv.Get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("cluster: secret: %w", err)
	}
	if len(e.Value()) != 32 {
		return nil, fmt.Errorf("cluster: secret of %d bytes, want 32", len(e.Value()))
	}
	return e.Value(), nil
}

// ClaimStream holds the claims of side effects that exactly one node of a
// cluster must carry out (a GMS push): each claim is a message whose
// Nats-Msg-Id is the effect's key, and JetStream keeps the first of equal
// ids within the duplicate window (ClaimWindow), so the first node to
// claim a key wins and the others learn they lost from the duplicate flag
// of their acknowledgement.
const (
	ClaimStream = "OMNIROUTE_CLAIMS"
	ClaimWindow = 2 * time.Minute
)

// Claims decides which node carries out a side effect. Create with
// OpenClaims.
type Claims struct {
	js      jetstream.JetStream
	subject string
}

// OpenClaims creates or binds the claim stream (file storage, messages
// kept 10 minutes) for cluster name.
func OpenClaims(ctx context.Context, nc *nats.Conn, name string, replicas int) (*Claims, error) {
	if !nameRE.MatchString(name) {
		return nil, errBadName
	}
	js, err := natsstore.JetStream(nc, apiTimeout)
	if err != nil {
		return nil, err
	}
	if replicas <= 0 {
		replicas = 1
	}
	_, err = js.Stream(ctx, ClaimStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: ClaimStream, Subjects: []string{"omniroute.claims.>"},
			Storage: jetstream.FileStorage, Replicas: replicas, MaxAge: 10 * time.Minute, Duplicates: ClaimWindow,
			Description: "omniroute: which node carries out a once-only side effect"})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: claims: %w", err)
	}
	return &Claims{js: js, subject: "omniroute.claims." + name}, nil
}

// Claim reports whether this node is the first to claim key (then it
// carries the effect out). Errors: JetStream errors (the caller decides
// whether to act anyway).
func (c *Claims) Claim(ctx context.Context, key string) (bool, error) {
	ack, err := c.js.Publish(ctx, c.subject, nil, jetstream.WithMsgID(key))
	if err != nil {
		return false, fmt.Errorf("cluster: claim: %w", err)
	}
	return !ack.Duplicate, nil
}
