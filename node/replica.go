package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omniroute/omniroute/journal"
	"github.com/omniroute/omniroute/routing"
)

// Replica makes a Node one of several that share one journal (cluster mode,
// DESIGN.md "Cluster mode"). Exactly one of them, the leader, writes; the
// others are followers: they tail the journal and apply every entry to their
// own state, so they publish the same events in the same order to their own
// subscribers, and answer View locally. The node does not elect itself:
// whoever holds the lease (package cluster) calls Promote and Demote. The
// fence is the journal's expected-last-sequence append: an Append refused
// because another node appended first makes this node step down at once.
//
// In cluster mode every command gets an id that is journaled with it, and
// every node remembers the last DedupSize ids applied (in log order, so
// every node remembers the same ones; the table is in the snapshot). Submit
// on a follower sends the command to the leader through Forward and, after
// a failure or a failover, sends it again with the same id: it is applied
// once.
type Replica struct {
	// Journal is the shared journal; Config.Journal must be the same value.
	Journal journal.Shared
	// NodeID names this node in command ids and logs (required).
	NodeID string
	// Forward sends a command to the current leader and returns once the
	// leader has journaled it (or refused it: a *routing.Error, returned
	// unchanged). Any other error means "try again": no leader, a timeout,
	// a deposed leader. Required.
	Forward func(ctx context.Context, id string, cmd routing.Command) error
	// OnStepDown, if set, is called on the writer goroutine when the node
	// stops being the leader by itself (an append refused by the fence, or
	// failed), so that the lease holder can give the lease up. It must not
	// block or call the node.
	OnStepDown func(cause error)
	// DedupSize bounds the command-id table (default DefaultDedupSize).
	DedupSize int
	// RetryFor bounds how long Submit keeps trying when there is no leader
	// to take a command (default DefaultRetryFor); then it returns
	// ErrNoLeader.
	RetryFor time.Duration
}

// Cluster-mode defaults.
const (
	// DefaultDedupSize is how many command ids every node remembers: at
	// 1,000 commands/s, 100 s of retries, far more than a failover takes.
	DefaultDedupSize = 100_000
	// DefaultRetryFor covers a lease TTL (3 s), the election and a catch-up.
	DefaultRetryFor = 15 * time.Second
)

// Cluster-mode errors.
var (
	// ErrNotLeader: this node is a follower (or stepped down while the
	// command waited); nothing was applied by it.
	ErrNotLeader = errors.New("node: not the leader")
	// ErrNoLeader: no leader took the command within Replica.RetryFor. The
	// command may still be applied if a leader got it late.
	ErrNoLeader = errors.New("node: no leader answered")
)

// Role is a node's part in a cluster.
type Role string

const (
	RoleStandalone Role = "standalone" // single-node mode
	RoleFollower   Role = "follower"
	RoleLeader     Role = "leader"
)

type tailed struct {
	e       journal.Entry
	pending uint64
}

type roleReq struct {
	term uint64
	done chan error
}

// replicaState is the cluster-mode part of a Node; nil in single-node mode.
type replicaState struct {
	cfg    Replica
	leader atomic.Bool
	term   atomic.Uint64
	roleCh chan roleReq
	// demoteCh wakes the writer after Demote (capacity 1: Demote never
	// blocks, even while the writer waits on a stuck append).
	demoteCh chan struct{}
	prefix   string
	nextID   atomic.Uint64

	// Owned by the writer goroutine.
	tailCh     chan tailed
	tailCancel context.CancelFunc
	tailDone   chan struct{}

	waitMu  sync.Mutex
	waiters map[string]waiter
}

// waiter is a Submit waiting for its command id to be applied on this node.
type waiter struct {
	ch    chan result
	reads *reads // SubmitWith's, else nil
}

// dedupTable remembers the journal entry of the last size command ids, in
// the order they were applied.
type dedupTable struct {
	size  int
	bySeq map[string]uint64
	fifo  []string // ring of ids, oldest at head
	head  int
}

func (d *dedupTable) seq(id string) (uint64, bool) {
	if d == nil || d.bySeq == nil {
		return 0, false
	}
	s, ok := d.bySeq[id]
	return s, ok
}

func (d *dedupTable) add(id string, seq uint64) {
	if d == nil || id == "" {
		return
	}
	if d.bySeq == nil {
		d.bySeq = map[string]uint64{}
	}
	if _, ok := d.bySeq[id]; ok {
		return
	}
	d.bySeq[id] = seq
	if len(d.fifo) < d.size {
		d.fifo = append(d.fifo, id)
		return
	}
	delete(d.bySeq, d.fifo[d.head])
	d.fifo[d.head] = id
	d.head = (d.head + 1) % len(d.fifo)
}

// dedupEntry is one remembered command id in the snapshot envelope.
type dedupEntry struct {
	ID  string `json:"id"`
	Seq uint64 `json:"seq"`
}

func (d *dedupTable) entries() []dedupEntry {
	out := make([]dedupEntry, 0, len(d.fifo))
	for i := range d.fifo {
		id := d.fifo[(d.head+i)%len(d.fifo)]
		out = append(out, dedupEntry{ID: id, Seq: d.bySeq[id]})
	}
	return out
}

// snapshotEnvelope is the snapshot of a cluster-mode node: the routing
// state plus the command-id table, which belongs to the node, not to the
// engine. A single-node snapshot is the bare state (routing.State's
// canonical JSON), and recovery reads both.
//
//	{"omnirouteNode":1,"state":{...},"dedup":[{"id":"n1.ab12.7","seq":42},...]}
type snapshotEnvelope struct {
	Version int             `json:"omnirouteNode"`
	State   json.RawMessage `json:"state"`
	Dedup   []dedupEntry    `json:"dedup"`
}

func (n *Node) marshalSnapshot() ([]byte, error) {
	data, err := n.st.MarshalSnapshot()
	if err != nil || n.rep == nil {
		return data, err
	}
	return json.Marshal(snapshotEnvelope{Version: 1, State: data, Dedup: n.dedup.entries()})
}

// unmarshalSnapshot reads either form and returns the state and the id
// table's entries.
func unmarshalSnapshot(data []byte) (*routing.State, []dedupEntry, error) {
	var env struct {
		Version int             `json:"omnirouteNode"`
		State   json.RawMessage `json:"state"`
		Dedup   []dedupEntry    `json:"dedup"`
	}
	if err := json.Unmarshal(data, &env); err == nil && env.Version == 1 {
		st, err := routing.UnmarshalSnapshot(env.State)
		return st, env.Dedup, err
	}
	st, err := routing.UnmarshalSnapshot(data)
	return st, nil, err
}

// Role returns the node's current role.
func (n *Node) Role() Role {
	if n.rep == nil {
		return RoleStandalone
	}
	if n.rep.leader.Load() {
		return RoleLeader
	}
	return RoleFollower
}

// Term returns the lease term under which this node leads, 0 if it never
// led.
func (n *Node) Term() uint64 {
	if n.rep == nil {
		return 0
	}
	return n.rep.term.Load()
}

// Promote makes a follower the leader for term: it stops tailing, reads the
// journal to its end, and from then on writes (and generates deadline
// Ticks). Call it only while holding the lease. It returns once the node
// leads, or with the error that kept it from catching up (it stays a
// follower). Promoting the leader only updates the term.
func (n *Node) Promote(ctx context.Context, term uint64) error {
	if n.rep == nil {
		return errors.New("node: Promote in single-node mode")
	}
	req := roleReq{term: term, done: make(chan error, 1)}
	select {
	case n.rep.roleCh <- req:
	case <-n.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-n.done:
		return ErrClosed
	}
}

// Demote makes the leader a follower at once (the lease was lost or could
// not be renewed in time): no batch starts after it; an append already in
// flight either lands (the lease holder appends before anyone else) or is
// refused by the fence. The node then tails the journal from its last
// entry. Demote never blocks.
func (n *Node) Demote() {
	if n.rep == nil {
		return
	}
	n.rep.leader.Store(false) // Submit stops sending to the inbox right away
	select {
	case n.rep.demoteCh <- struct{}{}:
	default:
	}
}

// SubmitForwarded applies a command a follower forwarded, with the
// follower's command id. It returns the journal entry that holds it; a
// command whose id was applied before is not applied again and its first
// entry is returned. Errors: ErrNotLeader on a follower (the caller tries
// the next leader), a *routing.Error when the engine refused it, the other
// errors of Submit.
func (n *Node) SubmitForwarded(ctx context.Context, id string, cmd routing.Command) (uint64, error) {
	if n.rep == nil || !n.rep.leader.Load() {
		return 0, ErrNotLeader
	}
	if id == "" {
		return 0, errors.New("node: forwarded command without id")
	}
	r, err := n.do(ctx, &op{cmd: cmd, id: id, done: make(chan result, 1)})
	return r.seq, err
}

func (n *Node) newCommandID() string {
	return n.rep.prefix + strconv.FormatUint(n.rep.nextID.Add(1), 36)
}

func (n *Node) addWaiter(id string, rd *reads) chan result {
	ch := make(chan result, 1)
	n.rep.waitMu.Lock()
	n.rep.waiters[id] = waiter{ch: ch, reads: rd}
	n.rep.waitMu.Unlock()
	return ch
}

func (n *Node) dropWaiter(id string) {
	n.rep.waitMu.Lock()
	delete(n.rep.waiters, id)
	n.rep.waitMu.Unlock()
}

// waiterReads returns the reads of the SubmitWith waiting for id on this
// node, if any.
func (n *Node) waiterReads(id string) *reads {
	if n.rep == nil || id == "" {
		return nil
	}
	n.rep.waitMu.Lock()
	defer n.rep.waitMu.Unlock()
	return n.rep.waiters[id].reads
}

// resolve hands a command's events to the Submit waiting for them on this
// node, if any.
func (n *Node) resolve(id string, r result) {
	if n.rep == nil {
		return
	}
	n.rep.waitMu.Lock()
	w, ok := n.rep.waiters[id]
	delete(n.rep.waiters, id)
	n.rep.waitMu.Unlock()
	if ok {
		w.ch <- r
	}
}

// finalErr reports whether a failed attempt must be returned to the caller
// rather than tried again with the same command id. Timeouts of one
// attempt are not final: only the caller's own context ends the retries.
func finalErr(err error) bool {
	var re *routing.Error
	return errors.As(err, &re) || errors.Is(err, ErrCommandTooLarge) || errors.Is(err, ErrClosed)
}

// submitReplica is Submit in cluster mode: on the leader, through the
// inbox; on a follower, forwarded. The events come from this node's own
// application of the journaled record, so a caller on a follower sees its
// command's effects in every later View (read your writes).
func (n *Node) submitReplica(ctx context.Context, cmd routing.Command, rd *reads) ([]routing.Event, error) {
	id := n.newCommandID()
	w := n.addWaiter(id, rd)
	defer n.dropWaiter(id)
	deadline := time.Now().Add(n.rep.cfg.RetryFor)
	backoff := 20 * time.Millisecond
	for {
		var err error
		if n.rep.leader.Load() {
			var r result
			r, err = n.do(ctx, &op{cmd: cmd, id: id, reads: rd, done: make(chan result, 1)})
			if err == nil && !r.dup {
				return r.events, nil
			}
		} else {
			err = n.rep.cfg.Forward(ctx, id, cmd)
			if err == nil {
				n.statsMu.Lock()
				n.stats.Forwarded++
				n.statsMu.Unlock()
			}
		}
		if err == nil {
			return n.awaitApplied(ctx, w)
		}
		if finalErr(err) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: %v", ErrNoLeader, err)
		}
		t := time.NewTimer(backoff)
		select {
		case r := <-w: // applied after all (an answer was lost)
			t.Stop()
			return r.events, nil
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-n.done:
			t.Stop()
			return nil, ErrClosed
		}
		backoff = min(backoff*2, 500*time.Millisecond)
	}
}

// awaitApplied waits until this node has applied the journaled command.
func (n *Node) awaitApplied(ctx context.Context, w chan result) ([]routing.Event, error) {
	t := time.NewTimer(n.rep.cfg.RetryFor)
	defer t.Stop()
	select {
	case r := <-w:
		return r.events, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-n.done:
		return nil, ErrClosed
	case <-t.C:
		return nil, fmt.Errorf("node: command journaled by the leader but not applied here within %s (follower lagging)", n.rep.cfg.RetryFor)
	}
}

func newReplicaState(cfg Replica) (*replicaState, error) {
	if cfg.Journal == nil || cfg.NodeID == "" || cfg.Forward == nil {
		return nil, errors.New("node: Replica needs Journal, NodeID and Forward")
	}
	if cfg.DedupSize <= 0 {
		cfg.DedupSize = DefaultDedupSize
	}
	if cfg.RetryFor <= 0 {
		cfg.RetryFor = DefaultRetryFor
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	return &replicaState{cfg: cfg, roleCh: make(chan roleReq), demoteCh: make(chan struct{}, 1),
		waiters: map[string]waiter{}, prefix: cfg.NodeID + "." + hex.EncodeToString(b[:]) + "."}, nil
}

// runReplica is the writer loop of a cluster-mode node.
func (n *Node) runReplica() {
	defer close(n.done)
	defer n.stopTail()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	n.startTail()
	for {
		leader := n.rep.leader.Load()
		if leader {
			n.armTimer(timer)
		} else {
			timer.Stop()
		}
		var batch []*op
		select {
		case o := <-n.inbox:
			batch = append(batch, o)
		case <-timer.C:
			if !leader {
				continue
			}
		case t := <-n.rep.tailCh:
			if err := n.applyTailed(t); err != nil {
				n.fail(err)
				return
			}
			continue
		case req := <-n.rep.roleCh:
			req.done <- n.promote(req.term)
			continue
		case <-n.rep.demoteCh:
			if !n.rep.leader.Load() && n.tailCh() == nil {
				n.log.Warn("cluster: lease lost; following", "lastSeq", n.lastSeq)
				n.statsMu.Lock()
				n.stats.StepDowns++
				n.statsMu.Unlock()
				n.startTail()
			}
			continue
		case <-n.quit:
			n.drain(ErrClosed)
			return
		}
	gather:
		for len(batch) < n.cfg.MaxBatch {
			select {
			case o := <-n.inbox:
				batch = append(batch, o)
			default:
				break gather
			}
		}
		if !n.rep.leader.Load() {
			n.follow(batch)
			continue
		}
		for first := true; first || len(batch) > 0; first = false {
			if !n.rep.leader.Load() { // demoted while this batch gathered
				n.follow(batch)
				break
			}
			pending, err := n.process(batch)
			if err != nil {
				for _, o := range pending {
					o.done <- result{err: ErrNotLeader}
				}
				if err := n.stepDown(err); err != nil {
					n.fail(err)
					return
				}
				break
			}
			batch = pending
		}
	}
}

// follow serves a batch on a follower: reads run, commands are refused
// (Submit forwards them; these raced with a step-down).
func (n *Node) follow(batch []*op) {
	for _, o := range batch {
		if o.read != nil {
			o.read(n.st)
			o.done <- result{seq: n.lastSeq}
			continue
		}
		o.done <- result{err: ErrNotLeader}
	}
}

func (n *Node) fail(err error) {
	n.failed.Store(&err)
	n.log.Error("node stopped", "err", err)
	n.closeOnce.Do(func() { close(n.quit) })
	n.drain(err)
}

func (n *Node) tailCh() chan tailed { return n.rep.tailCh }

// startTail follows the journal from the entry after lastSeq.
func (n *Node) startTail() {
	n.rep.leader.Store(false)
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan tailed, 256)
	done := make(chan struct{})
	n.rep.tailCh, n.rep.tailCancel, n.rep.tailDone = ch, cancel, done
	from := n.lastSeq + 1
	go func() {
		defer close(done)
		for {
			err := n.rep.cfg.Journal.Tail(ctx, from, func(e journal.Entry, pending uint64) error {
				select {
				case ch <- tailed{e: e, pending: pending}:
					from = e.Seq + 1
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
			if ctx.Err() != nil {
				return
			}
			n.log.Warn("cluster: journal tail failed; retrying", "from", from, "err", err)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return
			}
		}
	}()
}

func (n *Node) stopTail() {
	if n.rep.tailCancel == nil {
		return
	}
	n.rep.tailCancel()
	<-n.rep.tailDone
	n.rep.tailCh, n.rep.tailCancel, n.rep.tailDone = nil, nil, nil
}

// applyTailed applies one entry a follower received. Entries it already
// has are skipped; a gap restarts the tail where the state stands.
func (n *Node) applyTailed(t tailed) error {
	switch {
	case t.e.Seq <= n.lastSeq:
		return nil
	case t.e.Seq > n.lastSeq+1:
		n.log.Warn("cluster: tail skipped entries; restarting it", "have", n.lastSeq, "got", t.e.Seq)
		n.stopTail()
		n.startTail()
		return nil
	}
	if err := n.applyEntry(t.e, true); err != nil {
		return err
	}
	n.statsMu.Lock()
	n.stats.LagEntries = t.pending
	n.statsMu.Unlock()
	return nil
}

// applyEntry applies a journaled entry written by another node, publishing
// its events numbered as the leader numbered them (a Tick that opens the
// batch is command 0). A record the engine refuses means the nodes'
// states diverged: a bug, and fatal.
func (n *Node) applyEntry(e journal.Entry, publish bool) error {
	recs, err := DecodeEntry(e.Data)
	if err != nil {
		return fmt.Errorf("node: entry %d: %w", e.Seq, err)
	}
	cmdNo := 1
	for i, r := range recs {
		rd := n.waiterReads(r.ID) // a SubmitWith of this node, forwarded
		rd.before(n.st)
		ev, err := n.st.Apply(r.At, r.Cmd)
		if err != nil {
			return fmt.Errorf("node: entry %d record %d (%s): follower diverged: %w", e.Seq, i, r.Cmd.CommandName(), err)
		}
		rd.after(n.st, ev)
		if r.At.After(n.lastAt) {
			n.lastAt = r.At
		}
		no := cmdNo
		if _, tick := r.Cmd.(routing.Tick); tick && i == 0 {
			no = 0
		} else {
			cmdNo++
		}
		if publish {
			n.publish(e.Seq, no, r.At, time.Time{}, ev)
		}
		if r.ID != "" {
			n.dedup.add(r.ID, e.Seq)
			n.resolve(r.ID, result{events: ev, seq: e.Seq})
		}
	}
	n.lastSeq = e.Seq
	n.statsMu.Lock()
	n.stats.Commands += uint64(len(recs))
	n.stats.LastSeq = e.Seq
	n.statsMu.Unlock()
	return nil
}

// promote catches up with the journal and starts writing.
func (n *Node) promote(term uint64) error {
	if n.rep.tailCh == nil { // already leading
		n.rep.term.Store(term)
		n.rep.leader.Store(true)
		return nil
	}
	n.stopTail()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := n.catchUp(ctx)
	if err != nil {
		n.startTail()
		return fmt.Errorf("node: promote: %w", err)
	}
	n.rep.term.Store(term)
	n.rep.leader.Store(true)
	n.sinceSnap = 0
	n.statsMu.Lock()
	n.stats.Promotions++
	n.stats.LagEntries = 0
	n.statsMu.Unlock()
	n.log.Info("cluster: leading", "term", term, "lastSeq", n.lastSeq)
	return nil
}

// catchUp applies every entry up to the journal's last sequence as the
// store reports it now, and sets the journal's fence to it.
func (n *Node) catchUp(ctx context.Context) error {
	last, err := n.rep.cfg.Journal.Resync(ctx)
	if err != nil {
		return err
	}
	errEnough := errors.New("enough")
	if last > n.lastSeq {
		err = n.rep.cfg.Journal.Read(ctx, n.lastSeq+1, func(e journal.Entry) error {
			if e.Seq > last {
				return errEnough
			}
			if e.Seq != n.lastSeq+1 {
				return fmt.Errorf("read entry %d after %d", e.Seq, n.lastSeq)
			}
			return n.applyEntry(e, true)
		})
		if err != nil && !errors.Is(err, errEnough) {
			return err
		}
	}
	if n.lastSeq != last {
		return fmt.Errorf("caught up to %d, journal at %d", n.lastSeq, last)
	}
	return nil
}

// stepDown makes a leader whose append failed a follower. The failed batch
// was applied to the state but may not be in the journal (a refused or
// unknown append), so the state is rebuilt from the journal up to the last
// entry this node published; the tail then delivers whatever came next,
// that batch included if it landed after all.
func (n *Node) stepDown(cause error) error {
	n.rep.leader.Store(false)
	n.log.Warn("cluster: append failed; stepping down", "lastSeq", n.lastSeq, "err", cause)
	n.statsMu.Lock()
	n.stats.StepDowns++
	n.statsMu.Unlock()
	if n.rep.cfg.OnStepDown != nil {
		n.rep.cfg.OnStepDown(cause)
	}
	upTo := n.lastSeq
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := n.rebuild(ctx, upTo)
		cancel()
		if err == nil {
			break
		}
		if errors.Is(err, errDiverged) {
			return err
		}
		n.log.Warn("cluster: rebuilding the state from the journal failed; retrying", "attempt", attempt, "err", err)
		select {
		case <-time.After(time.Second):
		case <-n.quit:
			return ErrClosed
		}
	}
	n.startTail()
	return nil
}

var errDiverged = errors.New("replay diverged")

// rebuild recovers the state as of entry upTo: from the snapshot when it is
// not newer than upTo, else from the first entry.
func (n *Node) rebuild(ctx context.Context, upTo uint64) error {
	st := routing.New()
	dedup := &dedupTable{size: n.rep.cfg.DedupSize}
	from := uint64(1)
	var lastAt time.Time
	snap, err := n.cfg.Journal.LoadSnapshot(ctx)
	switch {
	case err == nil && snap.Seq <= upTo:
		s, ids, err := unmarshalSnapshot(snap.Data)
		if err != nil {
			return fmt.Errorf("snapshot at %d: %w", snap.Seq, err)
		}
		st, from = s, snap.Seq+1
		for _, d := range ids {
			dedup.add(d.ID, d.Seq)
		}
	case err == nil, errors.Is(err, journal.ErrNoSnapshot):
	default:
		return err
	}
	errEnough := errors.New("enough")
	if from <= upTo {
		err = n.cfg.Journal.Read(ctx, from, func(e journal.Entry) error {
			if e.Seq > upTo {
				return errEnough
			}
			recs, err := DecodeEntry(e.Data)
			if err != nil {
				return fmt.Errorf("%w: entry %d: %v", errDiverged, e.Seq, err)
			}
			for i, r := range recs {
				if _, err := st.Apply(r.At, r.Cmd); err != nil {
					return fmt.Errorf("%w: entry %d record %d: %v", errDiverged, e.Seq, i, err)
				}
				if r.At.After(lastAt) {
					lastAt = r.At
				}
				dedup.add(r.ID, e.Seq)
			}
			return nil
		})
		if err != nil && !errors.Is(err, errEnough) {
			return err
		}
	}
	n.st, n.dedup = st, dedup
	if lastAt.After(n.lastAt) {
		n.lastAt = lastAt
	}
	n.lastSeq = upTo
	n.statsMu.Lock()
	n.stats.LastSeq = upTo
	n.statsMu.Unlock()
	return nil
}
