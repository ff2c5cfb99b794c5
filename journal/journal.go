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
)
