// Package journal defines the durable, append-only log that the node writes
// every accepted command batch to before it answers a caller, and the snapshot
// store that bounds recovery time.
//
// An entry is an opaque byte slice (the node encodes one batch of commands per
// entry, so one append costs one fsync however many commands it carries).
// Entries are numbered from 1 with no gaps. Implementations: memjournal (tests)
// and natsjournal (JetStream, embedded or external). journaltest holds the one
// acceptance suite that both must pass.
package journal

import (
	"context"
	"errors"
)

// Entry is one appended record.
type Entry struct {
	// Seq is the entry's position, 1 for the first entry, with no gaps.
	Seq uint64
	// Data is the bytes given to Append, unchanged.
	Data []byte
}

// Snapshot is a serialized state covering every entry up to and including Seq.
type Snapshot struct {
	// Seq is the last entry the snapshot covers; recovery replays entries
	// from Seq+1.
	Seq uint64
	// Data is the serialized state, opaque to the journal.
	Data []byte
}

// Journal is an append-only, durable log of entries plus a snapshot slot.
//
// Implementations must be safe for use by one writer and concurrent readers.
type Journal interface {
	// Append stores data as the next entry and returns its sequence number.
	// When Append returns nil the entry is durable: a process crash right
	// after it loses nothing. Errors: ErrTooLarge when len(data) exceeds
	// MaxEntryBytes; ErrClosed after Close; otherwise a storage error, after
	// which the journal must be considered failed.
	Append(ctx context.Context, data []byte) (seq uint64, err error)

	// Read calls fn for every entry with Seq >= from, in order, and returns
	// when the last entry present at the time of the call has been passed to
	// fn, or fn returns an error (which Read returns).
	Read(ctx context.Context, from uint64, fn func(Entry) error) error

	// LastSeq returns the sequence number of the last entry, 0 when empty.
	LastSeq(ctx context.Context) (uint64, error)

	// SaveSnapshot durably stores s, replacing any earlier snapshot.
	SaveSnapshot(ctx context.Context, s Snapshot) error

	// LoadSnapshot returns the latest snapshot, or ErrNoSnapshot.
	LoadSnapshot(ctx context.Context) (Snapshot, error)

	// Close releases resources. Entries appended before Close stay durable.
	Close() error
}

// Compactor is a Journal that can drop the entries a snapshot covers
// (retention of the journal, docs/SECURITY.md "Data at rest").
type Compactor interface {
	// Compact deletes every entry with Seq <= upTo; upTo must be covered by
	// the saved snapshot. Later entries keep their numbers; Read from a
	// deleted Seq fails with ErrCompacted.
	Compact(ctx context.Context, upTo uint64) error
}

// MaxEntryBytes is the largest entry any implementation must accept (4 MiB).
// The node keeps its batches under it.
const MaxEntryBytes = 4 << 20

var (
	// ErrTooLarge is returned by Append for an entry over MaxEntryBytes.
	ErrTooLarge = errors.New("journal: entry too large")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("journal: closed")
	// ErrNoSnapshot is returned by LoadSnapshot when none was saved.
	ErrNoSnapshot = errors.New("journal: no snapshot")
	// ErrCompacted is returned by Read from an entry Compact deleted.
	ErrCompacted = errors.New("journal: entries compacted away")
)

// Shared is a journal several nodes use at once (cluster mode, DESIGN.md
// "Cluster mode"): one of them, the leader, appends; the others tail it.
// Append must state the expected last sequence (the fence), so that an
// Append by a node whose view of the log is stale fails instead of landing.
type Shared interface {
	Journal

	// Tail calls fn for every entry with Seq >= from, in order, including
	// entries appended after the call, until ctx ends (Tail returns
	// ctx.Err()) or fn returns an error (which Tail returns). pending is
	// how many more entries the journal held when e was delivered, the
	// follower's lag in entries.
	Tail(ctx context.Context, from uint64, fn func(e Entry, pending uint64) error) error

	// Resync forgets an earlier failed Append and reads the last sequence
	// from the store, so the next Append expects what the store holds now.
	// A node calls it when it becomes leader. It returns that sequence.
	Resync(ctx context.Context) (uint64, error)
}
