// Package natsjournal is a journal.Journal stored in NATS JetStream, either in
// an embedded server (StartEmbedded) or an external one (Connect).
//
// Layout:
//
//   - Entries live in one stream (Options.Stream, default "OMNIROUTE_JOURNAL")
//     with the single subject "<lowercased stream name>.entries". Each entry is
//     one message and entry N is stream sequence N. The journal is the only
//     writer of that stream; every Append carries the
//     Nats-Expected-Last-Sequence header, so a second writer (or a message
//     that was stored although its acknowledgement was lost) makes the next
//     Append fail instead of silently shifting the numbering.
//   - The snapshot is one object in a JetStream Object Store bucket
//     (Options.SnapshotBucket, default "OMNIROUTE_SNAPSHOTS", backed by the
//     stream "OBJ_<bucket>"). The object is named after the journal stream, so
//     several journals may share one bucket. The snapshot's Seq is kept in the
//     object's metadata under the key "omniroute-seq".
//
// Durability depends on the server: the entry is acknowledged once the server
// has stored it, and only a server running with sync_always (SyncAlways in
// server.Options; StartEmbedded always sets it) has fsynced it by then. With
// the lazy default an acknowledged write can be lost on power failure or
// kernel crash. An external server must be configured accordingly, and with
// max_payload of at least RequiredMaxPayload. Note that nats-server relaxes
// sync_always for streams with more than one replica (it fsyncs on Raft
// snapshots instead and relies on the quorum), so with Replicas > 1 a write
// is as safe as a majority of servers not losing power together.
package natsjournal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/omniroute/omniroute/journal"
	"github.com/omniroute/omniroute/natsstore"
)

const (
	// DefaultStream is the stream name used when Options.Stream is empty.
	DefaultStream = "OMNIROUTE_JOURNAL"
	// DefaultSnapshotBucket is the Object Store bucket used when
	// Options.SnapshotBucket is empty.
	DefaultSnapshotBucket = "OMNIROUTE_SNAPSHOTS"

	// RequiredMaxPayload is the smallest max_payload (bytes) a server must
	// allow, and the MaxMsgSize given to the journal stream: the largest
	// entry plus room for the headers JetStream publishing adds.
	RequiredMaxPayload = journal.MaxEntryBytes + 64<<10

	// snapshotSeqKey is the object metadata key holding Snapshot.Seq.
	snapshotSeqKey = "omniroute-seq"

	// readBufferBytes bounds what one Read buffers client side (default
	// would be 500 messages, up to 2 GiB of entries). A pull request smaller
	// than the next message stalls, and the client pulls again once under
	// half of this is buffered, asking for the rest; at 4 maximum messages
	// every pull has room for at least one more.
	readBufferBytes = 4 * RequiredMaxPayload

	// readConsumerIdle is how long the server keeps a Read's consumer after
	// the reader vanished without deleting it (for example a crash).
	readConsumerIdle = 30 * time.Second

	// maxPrealloc caps the buffer LoadSnapshot allocates before reading.
	maxPrealloc = 64 << 20

	// readResetAttempts is how many times one Read recreates its consumer
	// (after missed heartbeats or a reconnect) before giving up; the client
	// backs off 1 s, 2 s, 4 s, 8 s, 10 s between attempts.
	readResetAttempts = 5

	// cleanupTimeout bounds the best-effort deletion of a Read's consumer.
	cleanupTimeout = 2 * time.Second
)

// ErrNotContiguous is returned by Open, LastSeq and Read when the stream does
// not hold exactly the messages 1..LastSeq, for example after a purge or a
// message deletion. The journal never renumbers entries to hide that.
var ErrNotContiguous = errors.New("natsjournal: stream does not hold entries 1..last contiguously")

// Options selects the JetStream resources a Journal uses. The zero value is
// valid and means the defaults.
type Options struct {
	// Stream is the JetStream stream holding the entries (default
	// DefaultStream). Its subject is strings.ToLower(Stream)+".entries". It
	// also names the snapshot object inside SnapshotBucket.
	Stream string
	// Replicas is the replica count used when Open creates the stream and
	// the bucket (default 1). Existing ones keep their replica count.
	Replicas int
	// SnapshotBucket is the Object Store bucket holding the snapshot
	// (default DefaultSnapshotBucket; the backing stream is "OBJ_"+bucket).
	SnapshotBucket string
	// AllowCompact creates a new entry stream that permits purges, so that
	// Compact can drop the entries the snapshot covers. Without it (and
	// for a stream created without it, a flag JetStream cannot change) the
	// stream refuses purges and Compact fails. Entry N stays sequence N
	// either way; a compacted stream starts later.
	AllowCompact bool
}

// Journal is a journal.Journal on JetStream. It is safe for concurrent use;
// appends are serialized. It does not own the *nats.Conn given to Open: Close
// leaves the connection open.
type Journal struct {
	js      jetstream.JetStream
	stream  jetstream.Stream
	obs     jetstream.ObjectStore
	name    string // stream name
	subject string // entry subject
	object  string // snapshot object name

	// mu serializes Append and guards last and failed. Readers never take
	// it, so they do not wait for an append's fsync.
	mu sync.Mutex
	// last is the stream sequence of the newest entry, as acknowledged.
	last uint64
	// failed is the error that made an Append's outcome unknown; once set,
	// Append refuses to continue because the stream may hold an entry the
	// caller was told failed. Reopen the journal to recover.
	failed error
	// closed is set by Close while holding mu, so that Close waits for an
	// Append in flight; everything else only loads it.
	closed atomic.Bool

	// snapMu serializes snapshot saves: two concurrent Puts of one object
	// would each purge the other's predecessor and leak or lose chunks.
	snapMu sync.Mutex
}

var _ journal.Shared = (*Journal)(nil)

// Open binds a Journal to the stream and bucket named in opts on nc, creating
// them when missing, and checks that the stream holds entries 1..LastSeq with
// no gaps. ctx bounds the set-up calls.
//
// Errors: the server's max_payload is below RequiredMaxPayload; an existing
// stream or bucket has a configuration that could lose or reorder entries
// (memory storage, limits, asynchronous persistence, other subjects);
// ErrNotContiguous (wrapped) when the stream does not start at sequence 1 or
// has gaps; any JetStream API error.
func Open(ctx context.Context, nc *nats.Conn, opts Options) (*Journal, error) {
	if nc == nil {
		return nil, errors.New("natsjournal: nil connection")
	}
	if opts.Stream == "" {
		opts.Stream = DefaultStream
	}
	if opts.SnapshotBucket == "" {
		opts.SnapshotBucket = DefaultSnapshotBucket
	}
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	if opts.Replicas < 0 {
		return nil, fmt.Errorf("natsjournal: replicas %d < 0", opts.Replicas)
	}
	// Checked up front so that a misconfigured external server fails here,
	// not on the first large entry in production.
	if mp := nc.MaxPayload(); mp < RequiredMaxPayload {
		return nil, fmt.Errorf("natsjournal: server max_payload is %d bytes, need at least %d", mp, RequiredMaxPayload)
	}
	js, err := natsstore.JetStream(nc, publishTimeout)
	if err != nil {
		return nil, fmt.Errorf("natsjournal: %w", err)
	}
	j := &Journal{
		js:      js,
		name:    opts.Stream,
		subject: strings.ToLower(opts.Stream) + ".entries",
		object:  opts.Stream,
	}
	if j.stream, err = j.openStream(ctx, opts.Replicas, opts.AllowCompact); err != nil {
		return nil, err
	}
	if j.obs, err = openBucket(ctx, js, opts.SnapshotBucket, opts.Replicas); err != nil {
		return nil, err
	}
	if j.last, err = j.lastSeq(ctx); err != nil {
		return nil, err
	}
	if err := j.checkCompacted(ctx); err != nil {
		return nil, err
	}
	return j, nil
}

// checkCompacted accepts a stream that does not start at entry 1 only
// when the snapshot covers every entry before its start (what Compact
// leaves); anything else lost entries.
func (j *Journal) checkCompacted(ctx context.Context) error {
	first, err := j.firstSeq(ctx)
	if err != nil || first <= 1 {
		return err
	}
	info, err := j.obs.GetInfo(ctx, j.object)
	if err != nil {
		return fmt.Errorf("%w: stream %s starts at %d and no snapshot covers the entries before (%v)", ErrNotContiguous, j.name, first, err)
	}
	seq, err := strconv.ParseUint(info.Metadata[snapshotSeqKey], 10, 64)
	if err != nil || seq+1 < first {
		return fmt.Errorf("%w: stream %s starts at %d, the snapshot covers up to %d", ErrNotContiguous, j.name, first, seq)
	}
	return nil
}

// openStream returns the entry stream, creating it if missing. An existing
// stream is checked, never updated: Open must not, say, scale down a stream
// an operator set up with three replicas.
func (j *Journal) openStream(ctx context.Context, replicas int, compact bool) (jetstream.Stream, error) {
	st, err := j.js.Stream(ctx, j.name)
	if err == nil {
		if err := j.checkStreamConfig(st.CachedInfo().Config); err != nil {
			return nil, err
		}
		return st, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("natsjournal: look up stream %s: %w", j.name, err)
	}
	st, err = j.js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        j.name,
		Description: "omniroute journal: entry N is stream sequence N",
		Subjects:    []string{j.subject},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		MaxMsgSize:  RequiredMaxPayload,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		// Deleting messages would break "entry N is stream sequence N";
		// purging a prefix (Compact) does not. These flags cannot be
		// cleared later, only the stream deleted.
		DenyDelete: true,
		DenyPurge:  !compact,
	})
	if err != nil {
		return nil, fmt.Errorf("natsjournal: create stream %s: %w", j.name, err)
	}
	return st, nil
}

// checkStreamConfig rejects a pre-existing stream that could drop, expire or
// interleave entries, or that cannot hold the largest entry.
func (j *Journal) checkStreamConfig(c jetstream.StreamConfig) error {
	var problems []string
	if len(c.Subjects) != 1 || c.Subjects[0] != j.subject {
		problems = append(problems, fmt.Sprintf("subjects %q, want [%q]", c.Subjects, j.subject))
	}
	if c.Storage != jetstream.FileStorage {
		problems = append(problems, "storage is not file")
	}
	if c.Retention != jetstream.LimitsPolicy {
		problems = append(problems, "retention is not limits")
	}
	if c.MaxMsgs > 0 || c.MaxBytes > 0 || c.MaxAge > 0 || c.MaxMsgsPerSubject > 0 {
		problems = append(problems, "has message, byte or age limits")
	}
	if c.MaxMsgSize > 0 && c.MaxMsgSize < RequiredMaxPayload {
		problems = append(problems, fmt.Sprintf("max_msg_size %d < %d", c.MaxMsgSize, RequiredMaxPayload))
	}
	if c.PersistMode != jetstream.DefaultPersistMode {
		problems = append(problems, "persist mode is asynchronous")
	}
	if c.Sealed {
		problems = append(problems, "sealed")
	}
	if c.Mirror != nil || len(c.Sources) > 0 {
		problems = append(problems, "is a mirror or has sources")
	}
	if len(problems) > 0 {
		return fmt.Errorf("natsjournal: existing stream %s unusable: %s", j.name, strings.Join(problems, "; "))
	}
	return nil
}

// openBucket returns the snapshot bucket, creating it if missing, and rejects
// an existing bucket whose objects could expire or vanish on restart.
func openBucket(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (jetstream.ObjectStore, error) {
	obs, err := js.ObjectStore(ctx, bucket)
	switch {
	case err == nil:
		st, err := obs.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("natsjournal: bucket %s status: %w", bucket, err)
		}
		if st.Storage() != jetstream.FileStorage || st.TTL() > 0 || st.Sealed() {
			return nil, fmt.Errorf("natsjournal: existing bucket %s unusable: want file storage, no TTL, not sealed", bucket)
		}
		return obs, nil
	case errors.Is(err, jetstream.ErrBucketNotFound):
		obs, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      bucket,
			Description: "omniroute journal snapshots",
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
		})
		if err != nil {
			return nil, fmt.Errorf("natsjournal: create bucket %s: %w", bucket, err)
		}
		return obs, nil
	default:
		return nil, fmt.Errorf("natsjournal: look up bucket %s: %w", bucket, err)
	}
}

// lastSeq asks the server for the stream state and returns its last
// sequence, or ErrNotContiguous when the stream is not exactly 1..last.
func (j *Journal) lastSeq(ctx context.Context) (uint64, error) {
	info, err := j.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("natsjournal: stream %s info: %w", j.name, err)
	}
	s := info.State
	// An empty stream that once held messages has LastSeq > 0 and
	// FirstSeq = LastSeq+1; a non-empty one must hold FirstSeq..LastSeq
	// with no holes, FirstSeq being 1 unless Compact dropped a prefix.
	if s.Msgs > 0 && s.Msgs != s.LastSeq-s.FirstSeq+1 || s.Msgs == 0 && s.FirstSeq > s.LastSeq+1 {
		return 0, fmt.Errorf("%w: stream %s has %d messages, first %d, last %d",
			ErrNotContiguous, j.name, s.Msgs, s.FirstSeq, s.LastSeq)
	}
	return s.LastSeq, nil
}

// firstSeq is the first entry the stream holds (1 unless compacted).
func (j *Journal) firstSeq(ctx context.Context) (uint64, error) {
	info, err := j.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("natsjournal: stream %s info: %w", j.name, err)
	}
	return max(info.State.FirstSeq, 1), nil
}

// Compact implements journal.Compactor: it purges the entries 1..upTo
// (a JetStream purge up to sequence upTo+1; their message blocks are
// deleted from disk). upTo must not pass the last entry. Errors:
// journal.ErrClosed; a stream created without Options.AllowCompact (the
// server refuses the purge); JetStream errors.
func (j *Journal) Compact(ctx context.Context, upTo uint64) error {
	if j.isClosed() {
		return journal.ErrClosed
	}
	j.mu.Lock()
	last := j.last
	j.mu.Unlock()
	if upTo > last {
		return fmt.Errorf("natsjournal: compact up to %d past the last entry %d", upTo, last)
	}
	if upTo == 0 {
		return nil
	}
	if err := j.stream.Purge(ctx, jetstream.WithPurgeSequence(upTo+1)); err != nil {
		return fmt.Errorf("natsjournal: compact %s up to %d: %w", j.name, upTo, err)
	}
	return nil
}

// Append publishes data as one message and waits for the server's
// acknowledgement; the returned sequence is the stream sequence from it.
// Errors: journal.ErrClosed after Close; journal.ErrTooLarge when
// len(data) > journal.MaxEntryBytes; ctx.Err() when ctx is done before the
// publish (nothing sent). Any other error (timeout, wrong last sequence,
// server failure) leaves it unknown whether the entry was stored, so the
// Journal refuses further Appends with that error wrapped; Open a new
// Journal, which reads the real state from the server.
func (j *Journal) Append(ctx context.Context, data []byte) (uint64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed.Load() {
		return 0, journal.ErrClosed
	}
	if len(data) > journal.MaxEntryBytes {
		return 0, journal.ErrTooLarge
	}
	if j.failed != nil {
		return 0, fmt.Errorf("natsjournal: journal failed earlier: %w", j.failed)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var err error
	for attempt := 1; ; attempt++ {
		var ack *jetstream.PubAck
		ack, err = j.js.Publish(ctx, j.subject, data,
			jetstream.WithExpectStream(j.name),
			jetstream.WithExpectLastSequence(j.last))
		if err == nil && (ack.Stream != j.name || ack.Sequence != j.last+1) {
			err = fmt.Errorf("acknowledged as %s sequence %d, want %s sequence %d",
				ack.Stream, ack.Sequence, j.name, j.last+1)
		}
		if err == nil {
			j.last = ack.Sequence
			return ack.Sequence, nil
		}
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoStreamResponse) {
			break
		}
		// No acknowledgement in time (a slow fsync on a loaded machine):
		// ask the server whether the entry was stored. Stored -> done; not
		// stored -> publish again (the expected last sequence makes a
		// duplicate impossible); anything else stays a failure.
		stored, rerr := j.storedAfter(ctx, data)
		if rerr == nil && stored {
			j.last++
			return j.last, nil
		}
		if rerr != nil || attempt >= appendAttempts || ctx.Err() != nil {
			if rerr != nil {
				err = fmt.Errorf("%w (resolving: %v)", err, rerr)
			}
			break
		}
	}
	j.failed = err
	return 0, fmt.Errorf("natsjournal: append: %w", err)
}

// publishTimeout bounds one publish when the caller's context has no
// deadline: long enough for an fsync on a loaded machine, short enough
// that a dead server is noticed.
const publishTimeout = 15 * time.Second

// appendAttempts bounds how often Append publishes one entry whose
// acknowledgement timed out and which the server says it does not hold.
const appendAttempts = 5

// storedAfter says whether the stream's next entry after j.last exists
// and holds data: the answer to an unacknowledged publish.
func (j *Journal) storedAfter(ctx context.Context, data []byte) (bool, error) {
	last, err := j.lastSeq(ctx)
	if err != nil {
		return false, err
	}
	switch last {
	case j.last:
		return false, nil
	case j.last + 1:
		m, err := j.stream.GetMsg(ctx, last)
		if err != nil {
			return false, err
		}
		if !bytes.Equal(m.Data, data) {
			return false, fmt.Errorf("sequence %d holds another entry", last)
		}
		return true, nil
	}
	return false, fmt.Errorf("stream last sequence %d, expected %d or %d", last, j.last, j.last+1)
}

// Read delivers entries from seq max(from,1) up to the stream's last sequence
// at the time of the call, through an ordered (ephemeral, flow-controlled,
// self-healing) consumer. Entry.Data belongs to fn. Errors: journal.ErrClosed
// after Close; ErrNotContiguous (wrapped) when the stream or the delivered
// messages have a gap; ctx errors; JetStream errors; otherwise the first error
// fn returns, unchanged.
func (j *Journal) Read(ctx context.Context, from uint64, fn func(journal.Entry) error) error {
	if j.isClosed() {
		return journal.ErrClosed
	}
	if from == 0 {
		from = 1
	}
	last, err := j.lastSeq(ctx)
	if err != nil {
		return err
	}
	if from > last {
		return nil
	}
	if first, err := j.firstSeq(ctx); err != nil {
		return err
	} else if from < first {
		return fmt.Errorf("%w: read from %d, the stream starts at %d", journal.ErrCompacted, from, first)
	}
	cons, err := j.js.OrderedConsumer(ctx, j.name, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{j.subject},
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       from,
		InactiveThreshold: readConsumerIdle,
		// Without a limit a Read whose ctx has no deadline would retry
		// forever against a server that is gone.
		MaxResetAttempts: readResetAttempts,
	})
	if err != nil {
		return fmt.Errorf("natsjournal: read consumer: %w", err)
	}
	defer j.dropConsumer(ctx, cons)
	it, err := cons.Messages(jetstream.PullMaxBytes(readBufferBytes))
	if err != nil {
		return fmt.Errorf("natsjournal: read: %w", err)
	}
	defer it.Stop()
	for want := from; want <= last; want++ {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return fmt.Errorf("natsjournal: read entry %d: %w", want, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("natsjournal: read entry %d: %w", want, err)
		}
		if got := md.Sequence.Stream; got != want {
			return fmt.Errorf("%w: read entry %d, got stream sequence %d", ErrNotContiguous, want, got)
		}
		if err := fn(journal.Entry{Seq: want, Data: msg.Data()}); err != nil {
			return err
		}
	}
	return nil
}

// Tail delivers entries from seq max(from,1) on, including every entry
// appended later by any writer, through an ordered consumer that recreates
// itself after a reconnect or a server failover (without a limit on
// attempts: a follower has no substitute for its journal). pending is the
// consumer's count of entries still to deliver after e. Errors: ctx.Err()
// when ctx ends; journal.ErrClosed after Close; ErrNotContiguous (wrapped)
// on a gap; JetStream errors; otherwise the first error fn returns.
func (j *Journal) Tail(ctx context.Context, from uint64, fn func(e journal.Entry, pending uint64) error) error {
	if j.isClosed() {
		return journal.ErrClosed
	}
	if from == 0 {
		from = 1
	}
	cons, err := j.js.OrderedConsumer(ctx, j.name, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{j.subject},
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       from,
		InactiveThreshold: readConsumerIdle,
	})
	if err != nil {
		return fmt.Errorf("natsjournal: tail consumer: %w", err)
	}
	defer j.dropConsumer(ctx, cons)
	it, err := cons.Messages(jetstream.PullMaxBytes(readBufferBytes))
	if err != nil {
		return fmt.Errorf("natsjournal: tail: %w", err)
	}
	defer it.Stop()
	for want := from; ; want++ {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("natsjournal: tail entry %d: %w", want, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("natsjournal: tail entry %d: %w", want, err)
		}
		if got := md.Sequence.Stream; got != want {
			return fmt.Errorf("%w: tail entry %d, got stream sequence %d", ErrNotContiguous, want, got)
		}
		if err := fn(journal.Entry{Seq: want, Data: msg.Data()}, md.NumPending); err != nil {
			return err
		}
	}
}

// Resync clears the failure an earlier Append left (its outcome was
// unknown) and sets the expected last sequence to the stream's last
// sequence as the server reports it now, which it returns. The caller must
// have applied every entry up to that sequence before it appends: that is
// what makes the expected-last-sequence check a fence. Errors:
// journal.ErrClosed after Close; ErrNotContiguous (wrapped); JetStream
// errors (the journal stays as it was).
func (j *Journal) Resync(ctx context.Context) (uint64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed.Load() {
		return 0, journal.ErrClosed
	}
	last, err := j.lastSeq(ctx)
	if err != nil {
		return 0, err
	}
	j.last, j.failed = last, nil
	return last, nil
}

// IsWrongLastSequence reports whether err is JetStream's refusal of an
// Append whose expected last sequence no longer matched the stream: another
// writer appended first. In cluster mode that is the fence that deposes a
// stale leader.
func IsWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// dropConsumer deletes a Read's consumer right away instead of leaving it to
// the server's inactivity timer. Failure is harmless (the timer still runs),
// so the error is deliberately dropped.
func (j *Journal) dropConsumer(ctx context.Context, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_ = j.js.DeleteConsumer(ctx, j.name, info.Name)
}

// LastSeq returns the stream's last sequence as the server reports it now,
// 0 when empty. Errors: journal.ErrClosed after Close; ErrNotContiguous
// (wrapped); JetStream errors.
func (j *Journal) LastSeq(ctx context.Context) (uint64, error) {
	if j.isClosed() {
		return 0, journal.ErrClosed
	}
	return j.lastSeq(ctx)
}

// SaveSnapshot uploads s.Data as the snapshot object (chunked, so size is
// bounded only by the bucket) with s.Seq in its metadata. The object store
// writes all chunks, then the metadata message that points at them, then
// purges the old chunks; a crash part-way leaves the previous snapshot
// readable. Give ctx a deadline for very large snapshots: without one each
// chunk publish gets the JetStream default timeout (5 s). Errors:
// journal.ErrClosed after Close; JetStream errors. After a failed save the
// previous snapshot is normally intact, but a server-side rejection of a chunk
// (for example a full disk) after the metadata was accepted can leave no
// readable snapshot; LoadSnapshot then fails on the digest or a timeout and
// never returns wrong data.
func (j *Journal) SaveSnapshot(ctx context.Context, s journal.Snapshot) error {
	if j.isClosed() {
		return journal.ErrClosed
	}
	j.snapMu.Lock()
	defer j.snapMu.Unlock()
	_, err := j.obs.Put(ctx, jetstream.ObjectMeta{
		Name:     j.object,
		Metadata: map[string]string{snapshotSeqKey: strconv.FormatUint(s.Seq, 10)},
	}, bytes.NewReader(s.Data))
	if err != nil {
		return fmt.Errorf("natsjournal: save snapshot: %w", err)
	}
	return nil
}

// LoadSnapshot downloads the snapshot object; its SHA-256 digest is verified
// by the object store. Without a deadline on ctx the whole download gets the
// JetStream default timeout (5 s). Errors: journal.ErrClosed after Close;
// journal.ErrNoSnapshot when none was saved; a wrapped error for a digest or
// size mismatch or missing sequence metadata; JetStream errors.
func (j *Journal) LoadSnapshot(ctx context.Context) (journal.Snapshot, error) {
	if j.isClosed() {
		return journal.Snapshot{}, journal.ErrClosed
	}
	res, err := j.obs.Get(ctx, j.object)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return journal.Snapshot{}, journal.ErrNoSnapshot
	}
	if err != nil {
		return journal.Snapshot{}, fmt.Errorf("natsjournal: load snapshot: %w", err)
	}
	// Closing only releases the subscription; a read error was already seen.
	defer func() { _ = res.Close() }()
	info, err := res.Info()
	if err != nil {
		return journal.Snapshot{}, fmt.Errorf("natsjournal: load snapshot: %w", err)
	}
	seq, err := strconv.ParseUint(info.Metadata[snapshotSeqKey], 10, 64)
	if err != nil {
		return journal.Snapshot{}, fmt.Errorf("natsjournal: load snapshot: bad %s metadata: %w", snapshotSeqKey, err)
	}
	// The size comes from the server; cap the up-front allocation so a
	// corrupt value cannot exhaust memory before the digest check runs.
	buf := bytes.NewBuffer(make([]byte, 0, min(info.Size, maxPrealloc)))
	if _, err := io.Copy(buf, res); err != nil {
		return journal.Snapshot{}, fmt.Errorf("natsjournal: load snapshot: %w", err)
	}
	if uint64(buf.Len()) != info.Size {
		return journal.Snapshot{}, fmt.Errorf("natsjournal: load snapshot: got %d bytes, object size %d", buf.Len(), info.Size)
	}
	return journal.Snapshot{Seq: seq, Data: buf.Bytes()}, nil
}

// Close marks the journal closed, waiting for an Append in flight. Everything
// acknowledged stays in the stream; the connection is left open for its
// owner to close. Every later call, including a second Close, returns
// journal.ErrClosed. A Read or snapshot transfer already in progress runs to
// completion.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed.Swap(true) {
		return journal.ErrClosed
	}
	return nil
}

func (j *Journal) isClosed() bool { return j.closed.Load() }
