// Package node owns the routing state on one goroutine: the single writer
// (DESIGN.md "Principles" 2 and 3).
//
// Callers submit commands into a bounded inbox. The writer takes as many as
// are waiting (group commit), stamps the time, applies each to the
// routing.State, appends every accepted command to the journal as ONE entry
// (one fsync for the batch), and only then publishes the events and answers
// the callers. Deadlines (RONA, wrap-up, TTL) become Tick commands journaled
// like any other, so recovery (latest snapshot + replay of the rest)
// rebuilds the exact state; State.Digest proves it.
//
// An adapter that needs the state a command leaves (the task it accepted,
// the object it stored) reads it with SubmitWith in the same writer turn
// as the command, never with a View after Submit: between two round trips
// other commands and deadlines may run. A condition that decides whether
// a command may run belongs in the command, for the engine to check when
// it applies it (a follower forwards the command to the leader, whose
// state is the one that counts).
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omniroute/omniroute/journal"
	"github.com/omniroute/omniroute/routing"
)

// Config configures a Node. The zero value of every field but Journal works.
type Config struct {
	// Journal is where accepted commands go before anyone is answered.
	Journal journal.Journal
	// Now returns the current time; default Clock.Now (time.Now when Clock
	// is nil). Tests inject a clock.
	Now func() time.Time
	// Clock, when set, is a scaled clock (live replays): the deadline timer
	// waits Clock.Wall of each virtual wait. Nil: real time.
	Clock *Clock
	// InboxSize bounds waiting submissions (default DefaultInboxSize);
	// Submit blocks while it is full, until its context ends.
	InboxSize int
	// MaxBatch bounds the commands in one journal entry (default DefaultMaxBatch).
	MaxBatch int
	// SnapshotEvery takes a snapshot after this many journaled commands
	// (default DefaultSnapshotEvery; negative: never).
	SnapshotEvery int
	// CompactJournal drops the journal entries a snapshot covers once it
	// is saved (journal.Compactor; the journal must allow it), so the
	// journal holds at most about SnapshotEvery commands. Single-node mode
	// only: a follower may still need the entries. Failures are logged.
	CompactJournal bool
	// SubscriberBuffer is each subscriber's channel size (default 65536).
	SubscriberBuffer int
	// Logger receives recovery, snapshot and failure lines (default slog.Default()).
	Logger *slog.Logger
	// Replica, when set, makes this node one of several sharing Journal
	// (cluster mode); it starts as a follower. Nil: single-node mode, the
	// node is the only writer from the start.
	Replica *Replica
}

// Defaults and limits.
const (
	DefaultInboxSize     = 8192
	DefaultMaxBatch      = 4096
	DefaultSnapshotEvery = 50_000
	// maxEntryFill leaves room under journal.MaxEntryBytes for the array.
	maxEntryFill = journal.MaxEntryBytes - 1024
)

// Errors.
var (
	// ErrClosed: the node is closed or failed; nothing was applied.
	ErrClosed = errors.New("node: closed")
	// ErrJournal wraps a journal failure; the node stops serving, since its
	// state may be ahead of what is durable. Restart to recover.
	ErrJournal = errors.New("node: journal failed")
	// ErrCommandTooLarge: the command does not fit in a journal entry.
	ErrCommandTooLarge = errors.New("node: command too large for the journal")
)

// Published is one event after its command became durable.
type Published struct {
	// Seq is the journal entry that holds the command.
	Seq uint64
	// Cmd numbers the command within its entry (0 for a deadline Tick that
	// opens the batch): events with equal (Seq, Cmd) came from one command.
	Cmd int
	// At is the command's time.
	At time.Time
	// Arrived is when the command reached this node (wall clock, with its
	// monotonic reading: Submit was called), for latency figures such as
	// the time until an offer is on the agent's socket; for a deadline
	// Tick, when its batch began. Zero for entries a follower applies
	// from the leader.
	Arrived time.Time
	Event   routing.Event
}

type op struct {
	cmd     routing.Command
	arrived time.Time // when Submit was called
	id      string    // cluster mode: the command id, journaled with it
	read    func(*routing.State)
	reads   *reads // SubmitWith's, run around the command's Apply
	done    chan result
}

type result struct {
	events []routing.Event
	seq    uint64
	err    error
	dup    bool // the command id was applied before; not applied again
}

// Node is the single writer. Create with Open; stop with Close.
type Node struct {
	cfg   Config
	st    *routing.State
	inbox chan *op
	quit  chan struct{}
	done  chan struct{}
	log   *slog.Logger

	lastAt    time.Time
	lastSeq   uint64
	sinceSnap int
	closeOnce sync.Once
	failed    atomic.Pointer[error]
	mu        sync.Mutex // guards subs
	subs      map[*subscriber]struct{}
	stats     Stats
	statsMu   sync.Mutex

	// rep is the cluster-mode state, nil in single-node mode; dedup the
	// command ids applied (writer goroutine only).
	rep   *replicaState
	dedup *dedupTable
}

// Stats are counters for metrics.
type Stats struct {
	// Commands applied and journaled; Rejected refused by the engine.
	Commands, Rejected uint64
	// Entries appended, and the total seconds spent in Append.
	Entries           uint64
	AppendSeconds     float64
	LastAppendSeconds float64
	Snapshots         uint64
	// DroppedSubscribers were too slow and were cut off.
	DroppedSubscribers uint64
	// LastSeq is the last journal entry.
	LastSeq uint64

	// Cluster mode. LagEntries: entries the journal held beyond the last
	// one this follower applied, when it applied it. Forwarded: commands
	// this node sent to the leader. Duplicates: commands not applied again
	// because their id was (retries). Promotions and StepDowns count role
	// changes.
	LagEntries, Forwarded, Duplicates, Promotions, StepDowns uint64
}

type subscriber struct {
	ch chan Published
}

// Open recovers the state from cfg.Journal (latest snapshot, then every
// later entry) and starts the writer. Errors: a journal read error, or a
// replay that diverges (a journaled command refused on replay: a bug, never
// silently skipped).
func Open(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Journal == nil && cfg.Replica != nil && cfg.Replica.Journal != nil {
		cfg.Journal = cfg.Replica.Journal
	}
	if cfg.Journal == nil {
		return nil, errors.New("node: no journal")
	}
	if cfg.Now == nil {
		cfg.Now = cfg.Clock.Now
	}
	if cfg.InboxSize <= 0 {
		cfg.InboxSize = DefaultInboxSize
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.MaxBatch > MaxRecordsPerEntry {
		cfg.MaxBatch = MaxRecordsPerEntry
	}
	if cfg.SnapshotEvery == 0 {
		cfg.SnapshotEvery = DefaultSnapshotEvery
	}
	if cfg.SubscriberBuffer <= 0 {
		cfg.SubscriberBuffer = 65536
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := &Node{cfg: cfg, inbox: make(chan *op, cfg.InboxSize), quit: make(chan struct{}), done: make(chan struct{}),
		log: cfg.Logger, subs: map[*subscriber]struct{}{}}
	if cfg.Replica != nil {
		var err error
		if n.rep, err = newReplicaState(*cfg.Replica); err != nil {
			return nil, err
		}
		n.dedup = &dedupTable{size: n.rep.cfg.DedupSize}
	}
	if err := n.recover(ctx); err != nil {
		return nil, err
	}
	if n.rep != nil {
		go n.runReplica()
	} else {
		go n.run()
	}
	return n, nil
}

func (n *Node) recover(ctx context.Context) error {
	n.st = routing.New()
	from := uint64(1)
	snap, err := n.cfg.Journal.LoadSnapshot(ctx)
	switch {
	case err == nil:
		st, ids, err := unmarshalSnapshot(snap.Data)
		if err != nil {
			return fmt.Errorf("node: recover snapshot at %d: %w", snap.Seq, err)
		}
		n.st = st
		for _, d := range ids {
			n.dedup.add(d.ID, d.Seq)
		}
		from = snap.Seq + 1
		n.lastSeq = snap.Seq
	case errors.Is(err, journal.ErrNoSnapshot):
	default:
		return fmt.Errorf("node: load snapshot: %w", err)
	}
	replayed := 0
	err = n.cfg.Journal.Read(ctx, from, func(e journal.Entry) error {
		recs, err := DecodeEntry(e.Data)
		if err != nil {
			return fmt.Errorf("entry %d: %w", e.Seq, err)
		}
		for i, r := range recs {
			if _, err := n.st.Apply(r.At, r.Cmd); err != nil {
				return fmt.Errorf("entry %d record %d (%s): replay diverged: %w", e.Seq, i, r.Cmd.CommandName(), err)
			}
			if r.At.After(n.lastAt) {
				n.lastAt = r.At
			}
			n.dedup.add(r.ID, e.Seq)
			replayed++
		}
		n.lastSeq = e.Seq
		return nil
	})
	if err != nil {
		return fmt.Errorf("node: recover: %w", err)
	}
	n.stats.LastSeq = n.lastSeq
	n.log.Info("node recovered", "snapshotSeq", from-1, "lastSeq", n.lastSeq, "replayedCommands", replayed)
	return nil
}

// Submit applies cmd durably and returns its events. It returns after the
// journal holds the command (or the engine refused it: a *routing.Error,
// nothing changed and nothing journaled). Other errors: ErrClosed,
// ErrJournal, ErrCommandTooLarge, or ctx's error if it ends first (the
// command may still be applied later in that case).
//
// In cluster mode Submit on a follower forwards the command to the leader
// (see Replica) and returns once this node has applied it too; after a
// failover it retries with the same command id, and returns ErrNoLeader
// when no leader took the command within Replica.RetryFor.
func (n *Node) Submit(ctx context.Context, cmd routing.Command) ([]routing.Event, error) {
	return n.submit(ctx, cmd, nil)
}

// Reads are the reads SubmitWith runs on the writer goroutine in the same
// turn as its command: no other command and no deadline is applied between
// Before, the command and After. Each gets the state's read-only face; it
// must not keep it, block, or call the node.
type Reads struct {
	// Before, when not nil, runs right before the engine applies the
	// command, on the state the command is applied to (it may also run
	// for a command the engine then refuses).
	Before func(st routing.View)
	// After, when not nil, runs right after the engine applied the
	// command, with the command's events; not when it was refused.
	After func(st routing.View, events []routing.Event)
}

// SubmitWith is Submit with reads in the command's writer turn: the answer
// to a command (a task as the command left it, a closed task as it was)
// comes back in one round trip and cannot be stale. What the reads write
// is good only when SubmitWith returns nil; they never run after
// SubmitWith returned. After a journal failure they may have run on a
// state that is then lost.
//
// In cluster mode the reads run where this node applies the command: on
// the leader as it writes, on a follower as it applies the journaled
// record (the same state the leader applied it to); after a failover they
// may run once more, before SubmitWith returns.
func (n *Node) SubmitWith(ctx context.Context, cmd routing.Command, r Reads) ([]routing.Event, error) {
	rd := &reads{Reads: r}
	defer rd.end()
	return n.submit(ctx, cmd, rd)
}

func (n *Node) submit(ctx context.Context, cmd routing.Command, rd *reads) ([]routing.Event, error) {
	if n.rep != nil {
		if e := n.failed.Load(); e != nil {
			return nil, *e
		}
		return n.submitReplica(ctx, cmd, rd)
	}
	r, err := n.do(ctx, &op{cmd: cmd, reads: rd, done: make(chan result, 1)})
	return r.events, err
}

// reads guards a SubmitWith's Reads: they run on the writer goroutine
// while the caller waits, and never after it stopped waiting (its context
// ended), when it may be reading what they write.
type reads struct {
	Reads
	mu  sync.Mutex
	off bool // the caller returned
}

func (r *reads) before(st *routing.State) {
	if r == nil || r.Before == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.off {
		r.Before(st)
	}
}

func (r *reads) after(st *routing.State, events []routing.Event) {
	if r == nil || r.After == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.off {
		r.After(st, events)
	}
}

// end keeps the reads from running again; a read running now finishes
// first.
func (r *reads) end() {
	r.mu.Lock()
	r.off = true
	r.mu.Unlock()
}

// View runs fn on the writer goroutine, between batches, so fn sees a state
// in which everything acknowledged is applied. fn gets the state's
// read-only face (routing.View: no Apply); it must not keep it or call the
// node. What fn writes is good only when View returns nil; fn never runs
// after View returned (an op given up on when ctx ends may still be in the
// inbox: it is guarded like SubmitWith's reads).
func (n *Node) View(ctx context.Context, fn func(routing.View)) error {
	rd := &reads{Reads: Reads{Before: fn}}
	defer rd.end()
	_, err := n.do(ctx, &op{read: rd.before, done: make(chan result, 1)})
	return err
}

// Digest returns the state digest (routing.State.Digest).
func (n *Node) Digest(ctx context.Context) (string, error) {
	var d string
	err := n.View(ctx, func(s routing.View) { d = s.Digest() })
	return d, err
}

func (n *Node) do(ctx context.Context, o *op) (result, error) {
	if o.cmd != nil && o.arrived.IsZero() {
		o.arrived = time.Now()
	}
	if e := n.failed.Load(); e != nil {
		return result{}, *e
	}
	select {
	case n.inbox <- o:
	case <-n.quit:
		return result{}, ErrClosed
	case <-ctx.Done():
		return result{}, ctx.Err()
	}
	select {
	case r := <-o.done:
		return r, r.err
	case <-n.done:
		select {
		case r := <-o.done:
			return r, r.err
		default:
			return result{}, ErrClosed
		}
	case <-ctx.Done():
		return result{}, ctx.Err()
	}
}

// Subscribe returns a channel of every event published from now on, in
// order, and a cancel function. A subscriber whose buffer fills is cut off:
// its channel is closed (Stats.DroppedSubscribers counts it), so a slow
// reader can never stall the writer.
func (n *Node) Subscribe() (<-chan Published, func()) {
	s := &subscriber{ch: make(chan Published, n.cfg.SubscriberBuffer)}
	n.mu.Lock()
	n.subs[s] = struct{}{}
	n.mu.Unlock()
	return s.ch, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		if _, ok := n.subs[s]; ok {
			delete(n.subs, s)
			close(s.ch)
		}
	}
}

// Stats returns a copy of the counters.
func (n *Node) Stats() Stats {
	n.statsMu.Lock()
	defer n.statsMu.Unlock()
	return n.stats
}

// Close stops the writer after the batch in flight. It does not close the
// journal (the caller opened it).
func (n *Node) Close() error {
	n.closeOnce.Do(func() { close(n.quit) })
	<-n.done
	n.mu.Lock()
	for s := range n.subs {
		delete(n.subs, s)
		close(s.ch)
	}
	n.mu.Unlock()
	return nil
}

// Done is closed when the writer has stopped (Close, or a journal failure).
func (n *Node) Done() <-chan struct{} { return n.done }

// Err returns the failure that stopped the node, if any.
func (n *Node) Err() error {
	if e := n.failed.Load(); e != nil {
		return *e
	}
	return nil
}
