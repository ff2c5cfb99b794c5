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
	// Now returns the current time; default time.Now. Tests inject a clock.
	Now func() time.Time
	// InboxSize bounds waiting submissions (default DefaultInboxSize);
	// Submit blocks while it is full, until its context ends.
	InboxSize int
	// MaxBatch bounds the commands in one journal entry (default DefaultMaxBatch).
	MaxBatch int
	// SnapshotEvery takes a snapshot after this many journaled commands
	// (default DefaultSnapshotEvery; negative: never).
	SnapshotEvery int
	// SubscriberBuffer is each subscriber's channel size (default 65536).
	SubscriberBuffer int
	// Logger receives recovery, snapshot and failure lines (default slog.Default()).
	Logger *slog.Logger
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
	At    time.Time
	Event routing.Event
}

type op struct {
	cmd   routing.Command
	read  func(*routing.State)
	done  chan result
	isTck bool
}

type result struct {
	events []routing.Event
	seq    uint64
	err    error
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
}

type subscriber struct {
	ch     chan Published
	closed bool
}

// Open recovers the state from cfg.Journal (latest snapshot, then every
// later entry) and starts the writer. Errors: a journal read error, or a
// replay that diverges (a journaled command refused on replay: a bug, never
// silently skipped).
func Open(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Journal == nil {
		return nil, errors.New("node: no journal")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
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
	if err := n.recover(ctx); err != nil {
		return nil, err
	}
	go n.run()
	return n, nil
}

func (n *Node) recover(ctx context.Context) error {
	n.st = routing.New()
	from := uint64(1)
	snap, err := n.cfg.Journal.LoadSnapshot(ctx)
	switch {
	case err == nil:
		st, err := routing.UnmarshalSnapshot(snap.Data)
		if err != nil {
			return fmt.Errorf("node: recover snapshot at %d: %w", snap.Seq, err)
		}
		n.st = st
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
func (n *Node) Submit(ctx context.Context, cmd routing.Command) ([]routing.Event, error) {
	r, err := n.do(ctx, &op{cmd: cmd, done: make(chan result, 1)})
	return r.events, err
}

// View runs fn on the writer goroutine, between batches, so fn sees a state
// in which everything acknowledged is applied. fn must not keep the state
// or call the node.
func (n *Node) View(ctx context.Context, fn func(*routing.State)) error {
	_, err := n.do(ctx, &op{read: fn, done: make(chan result, 1)})
	return err
}

// Digest returns the state digest (routing.State.Digest).
func (n *Node) Digest(ctx context.Context) (string, error) {
	var d string
	err := n.View(ctx, func(s *routing.State) { d = s.Digest() })
	return d, err
}

func (n *Node) do(ctx context.Context, o *op) (result, error) {
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
