// Package memjournal is an in-memory journal.Journal for tests and for
// running a node without persistence. Nothing survives the process: "durable"
// in the journal contract means only "visible to every later call on the same
// Journal".
package memjournal

import (
	"context"
	"sync"

	"github.com/omniroute/omniroute/journal"
)

// Journal is an in-memory journal.Journal. The zero value is not usable; call
// New. It is safe for one writer and any number of concurrent readers (in fact
// for concurrent writers too, since every mutation holds the lock). All data is
// copied on the way in and on the way out, so callers may reuse or modify
// their slices freely.
type Journal struct {
	mu sync.RWMutex
	// entries[i] is the data of entry i+1. Elements are never modified after
	// they are appended, which lets Read walk a snapshot of the slice header
	// without holding the lock while it calls fn.
	entries [][]byte
	snap    journal.Snapshot
	hasSnap bool
	closed  bool
}

var _ journal.Journal = (*Journal)(nil)

// New returns an empty, open Journal.
func New() *Journal {
	return &Journal{}
}

// Append stores a copy of data as the next entry and returns its sequence
// number (1 for the first entry). Errors: journal.ErrClosed after Close;
// journal.ErrTooLarge when len(data) > journal.MaxEntryBytes; ctx.Err() when
// ctx is already done. In every error case nothing is appended.
func (j *Journal) Append(ctx context.Context, data []byte) (uint64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return 0, journal.ErrClosed
	}
	if len(data) > journal.MaxEntryBytes {
		return 0, journal.ErrTooLarge
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	j.entries = append(j.entries, clone(data))
	return uint64(len(j.entries)), nil
}

// Read calls fn with a copy of every entry whose Seq >= from (from 0 is
// treated as 1), in order, up to the last entry present when Read was called.
// fn runs without any lock held, so it may call other methods, including
// Append (entries appended that way are not visited). Errors: journal.ErrClosed
// after Close; ctx.Err() if ctx is done before or between entries; otherwise
// the first error fn returns, unchanged.
func (j *Journal) Read(ctx context.Context, from uint64, fn func(journal.Entry) error) error {
	j.mu.RLock()
	closed, entries := j.closed, j.entries
	j.mu.RUnlock()
	if closed {
		return journal.ErrClosed
	}
	if from == 0 {
		from = 1
	}
	for seq := from; seq <= uint64(len(entries)); seq++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(journal.Entry{Seq: seq, Data: clone(entries[seq-1])}); err != nil {
			return err
		}
	}
	return nil
}

// LastSeq returns the sequence number of the last entry, 0 when empty.
// Errors: journal.ErrClosed after Close.
func (j *Journal) LastSeq(ctx context.Context) (uint64, error) {
	j.mu.RLock()
	defer j.mu.RUnlock()
	if j.closed {
		return 0, journal.ErrClosed
	}
	return uint64(len(j.entries)), nil
}

// SaveSnapshot stores a copy of s, replacing any earlier snapshot. Errors:
// journal.ErrClosed after Close; ctx.Err() when ctx is already done (the
// earlier snapshot is then kept).
func (j *Journal) SaveSnapshot(ctx context.Context, s journal.Snapshot) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return journal.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	j.snap = journal.Snapshot{Seq: s.Seq, Data: clone(s.Data)}
	j.hasSnap = true
	return nil
}

// LoadSnapshot returns a copy of the latest snapshot. Errors:
// journal.ErrClosed after Close; journal.ErrNoSnapshot when none was saved.
func (j *Journal) LoadSnapshot(ctx context.Context) (journal.Snapshot, error) {
	j.mu.RLock()
	defer j.mu.RUnlock()
	if j.closed {
		return journal.Snapshot{}, journal.ErrClosed
	}
	if !j.hasSnap {
		return journal.Snapshot{}, journal.ErrNoSnapshot
	}
	return journal.Snapshot{Seq: j.snap.Seq, Data: clone(j.snap.Data)}, nil
}

// Close marks the journal closed and drops its contents; every later call,
// including a second Close, returns journal.ErrClosed. A Read already in
// progress finishes its walk over the entries it captured.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return journal.ErrClosed
	}
	j.closed = true
	// Readers in flight hold their own slice header, so releasing ours only
	// lets the memory go once they finish.
	j.entries, j.snap, j.hasSnap = nil, journal.Snapshot{}, false
	return nil
}

// clone returns a copy of b that never aliases it; nil and empty both become
// a non-nil empty slice so that callers see the same value either way.
func clone(b []byte) []byte {
	out := make([]byte, len(b))
	copy(out, b)
	return out
}
