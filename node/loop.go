package node

import (
	"context"
	"fmt"
	"github.com/omniroute/omniroute/journal"
	"time"

	"github.com/omniroute/omniroute/routing"
)

type accepted struct {
	o      *op
	events []routing.Event
}

func (n *Node) run() {
	defer close(n.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var pending []*op
	for {
		n.armTimer(timer)
		batch := pending
		pending = nil
		if len(batch) == 0 {
			select {
			case o := <-n.inbox:
				batch = append(batch, o)
			case <-timer.C:
			case <-n.quit:
				n.drain(ErrClosed)
				return
			}
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
		var err error
		pending, err = n.process(batch)
		if err != nil {
			n.failed.Store(&err)
			n.log.Error("node stopped: journal append failed; restart to recover", "err", err)
			n.closeOnce.Do(func() { close(n.quit) })
			for _, o := range pending {
				o.done <- result{err: err}
			}
			n.drain(err)
			return
		}
	}
}

// drain answers everything still in the inbox with err.
func (n *Node) drain(err error) {
	for {
		select {
		case o := <-n.inbox:
			o.done <- result{err: err}
		default:
			return
		}
	}
}

func (n *Node) armTimer(t *time.Timer) {
	d, ok := n.st.NextDeadline()
	if !ok {
		t.Stop()
		return
	}
	// A scaled clock's virtual wait takes 1/speed of it in wall time.
	wait := n.cfg.Clock.Wall(d.Sub(n.cfg.Now()))
	if wait < 0 {
		wait = 0
	}
	t.Reset(wait)
}

// process applies one batch and journals it as one entry. It returns the
// operations that did not fit in the entry, for the next round. A non-nil
// error is a journal failure: every accepted operation has been answered
// with it.
func (n *Node) process(batch []*op) ([]*op, error) {
	began := time.Now()
	now := n.cfg.Now().Round(0).UTC()
	if now.Before(n.lastAt) {
		now = n.lastAt // the state's clock never runs backwards
	}
	n.lastAt = now
	var (
		recs     [][]byte
		size     = 2
		acc      []accepted
		reads    []*op
		leftover []*op
		rejected uint64
		tickEv   []routing.Event
	)
	if d, ok := n.st.NextDeadline(); ok && !d.After(now) {
		ev, err := n.st.Apply(now, routing.Tick{})
		if err == nil && len(ev) > 0 {
			enc, err := encodeRecord(routing.Tick{}, now, "")
			if err != nil {
				return batch, fmt.Errorf("%w: encode tick: %v", ErrJournal, err)
			}
			recs = append(recs, enc)
			size += len(enc) + 1
			tickEv = ev
		}
	}
	var batchIDs map[string]bool
	for i, o := range batch {
		if o.read != nil {
			reads = append(reads, o)
			continue
		}
		if o.id != "" {
			// A command retried after a lost answer or a failover: applied
			// once, answered with the entry that holds it.
			if s, ok := n.dedup.seq(o.id); ok || batchIDs[o.id] {
				if !ok {
					s = 0 // in this very batch; the caller waits for it anyway
				}
				n.statsMu.Lock()
				n.stats.Duplicates++
				n.statsMu.Unlock()
				o.done <- result{seq: s, dup: true}
				continue
			}
		}
		enc, err := encodeRecord(o.cmd, now, o.id)
		if err != nil {
			o.done <- result{err: fmt.Errorf("node: encode %s: %w", o.cmd.CommandName(), err)}
			continue
		}
		if len(enc)+3 > maxEntryFill {
			o.done <- result{err: ErrCommandTooLarge}
			continue
		}
		if size+len(enc)+1 > maxEntryFill {
			leftover = batch[i:]
			break
		}
		o.reads.before(n.st)
		ev, err := n.st.Apply(now, o.cmd)
		if err != nil {
			// Refused: nothing changed, so it may be answered before the
			// journal write.
			rejected++
			o.done <- result{err: err}
			continue
		}
		o.reads.after(n.st, ev)
		recs = append(recs, enc)
		size += len(enc) + 1
		acc = append(acc, accepted{o: o, events: ev})
		if o.id != "" {
			if batchIDs == nil {
				batchIDs = map[string]bool{}
			}
			batchIDs[o.id] = true
		}
	}
	var seq uint64
	if len(recs) > 0 {
		entry := appendEntry(make([]byte, 0, size), recs)
		start := time.Now()
		s, err := n.cfg.Journal.Append(context.Background(), entry)
		took := time.Since(start).Seconds()
		if err != nil {
			err = fmt.Errorf("%w: %v", ErrJournal, err)
			for _, a := range acc {
				a.o.done <- result{err: err}
			}
			for _, o := range reads {
				o.done <- result{err: err}
			}
			return leftover, err
		}
		seq = s
		n.lastSeq = s
		n.statsMu.Lock()
		n.stats.Entries++
		n.stats.AppendSeconds += took
		n.stats.LastAppendSeconds = took
		n.statsMu.Unlock()
	}
	// Counted before anyone is answered: a caller reading Stats after its
	// Submit returned sees its batch.
	n.statsMu.Lock()
	n.stats.Commands += uint64(len(recs))
	n.stats.Rejected += rejected
	n.stats.LastSeq = n.lastSeq
	n.statsMu.Unlock()
	n.publish(seq, 0, now, began, tickEv)
	for i, a := range acc {
		n.publish(seq, i+1, now, a.o.arrived, a.events)
		if a.o.id != "" {
			n.dedup.add(a.o.id, seq)
			n.resolve(a.o.id, result{events: a.events, seq: seq})
		}
		a.o.done <- result{events: a.events, seq: seq}
	}
	for _, o := range reads {
		o.read(n.st)
		o.done <- result{seq: n.lastSeq}
	}
	n.sinceSnap += len(recs)
	if n.cfg.SnapshotEvery > 0 && n.sinceSnap >= n.cfg.SnapshotEvery {
		n.snapshot()
	}
	return leftover, nil
}

func (n *Node) publish(seq uint64, cmd int, at, arrived time.Time, events []routing.Event) {
	if len(events) == 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for s := range n.subs {
		for _, e := range events {
			select {
			case s.ch <- Published{Seq: seq, Cmd: cmd, At: at, Arrived: arrived, Event: e}:
				continue
			default:
			}
			delete(n.subs, s)
			close(s.ch)
			n.statsMu.Lock()
			n.stats.DroppedSubscribers++
			n.statsMu.Unlock()
			n.log.Warn("event subscriber too slow; cut off")
			break
		}
	}
}

// snapshot saves the state covering every entry up to lastSeq. A failure
// is logged, not fatal: the journal still holds everything.
func (n *Node) snapshot() {
	data, err := n.marshalSnapshot()
	if err == nil {
		err = n.cfg.Journal.SaveSnapshot(context.Background(), journalSnapshot(n.lastSeq, data))
	}
	if err != nil {
		n.log.Error("snapshot failed", "seq", n.lastSeq, "err", err)
		return
	}
	n.sinceSnap = 0
	n.statsMu.Lock()
	n.stats.Snapshots++
	n.statsMu.Unlock()
	if c, ok := n.cfg.Journal.(journal.Compactor); ok && n.cfg.CompactJournal && n.cfg.Replica == nil {
		if err := c.Compact(context.Background(), n.lastSeq); err != nil {
			n.log.Error("journal compaction failed", "upTo", n.lastSeq, "err", err)
		}
	}
}
