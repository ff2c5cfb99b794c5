package natsstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// LogSpec says which event log to open and how to create it.
type LogSpec struct {
	// Name is the JetStream stream's name (OMNIROUTE_...); Description
	// its description in `nats stream ls`.
	Name, Description string
	// Subject is the one subject the log's entries are published on.
	Subject string
	// Retention drops entries older than it (MaxAge; 0: kept until the
	// stream is deleted). There is no count or size limit.
	Retention time.Duration
	// Replicas is the stream's copies (0: 1; cluster mode uses 3).
	Replicas int
}

// Log is a durable, append-only log of byte entries on one JetStream
// stream (file storage, entries dropped when older than the retention):
// each entry's sequence (1, 2, ...; never reused) is its id, an adapter's
// replay id. Its methods are safe for concurrent use.
type Log struct {
	stream  jetstream.Stream
	js      jetstream.JetStream
	subject string
}

// LogEntry is one entry of a Log: its sequence, when it was appended (the
// NATS server's clock) and its bytes.
type LogEntry struct {
	Seq  uint64
	At   time.Time
	Data []byte
}

// OpenLog opens, creating when absent or updating to spec, the log spec
// names on nc (API calls time out after DefaultTimeout). Errors: nc is nil
// or closed; JetStream's, naming the stream.
func OpenLog(ctx context.Context, nc Conn, spec LogSpec) (*Log, error) {
	if spec.Replicas <= 0 {
		spec.Replicas = 1
	}
	js, err := JetStream(nc, 0)
	if err != nil {
		return nil, err
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        spec.Name,
		Description: spec.Description,
		Subjects:    []string{spec.Subject},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    spec.Replicas,
		MaxAge:      spec.Retention,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		Discard:     jetstream.DiscardOld,
		AllowDirect: true,
	})
	if err != nil {
		return nil, fmt.Errorf("natsstore: stream %s: %w", spec.Name, err)
	}
	return &Log{stream: st, js: js, subject: spec.Subject}, nil
}

// Append stores data and returns its sequence once it is durable. A
// non-empty id is the entry's de-duplication id (Nats-Msg-Id): appending
// the same id again within the stream's duplicate window (2 minutes) stores
// nothing and returns the first append's sequence, so several writers of
// one entry store it once. Errors: JetStream's.
func (l *Log) Append(ctx context.Context, data []byte, id string) (uint64, error) {
	var opts []jetstream.PublishOpt
	if id != "" {
		opts = append(opts, jetstream.WithMsgID(id))
	}
	ack, err := l.js.Publish(ctx, l.subject, data, opts...)
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// Bounds returns the first retained and the last sequence (first = last+1
// when nothing is retained). Errors: JetStream's.
func (l *Log) Bounds(ctx context.Context) (first, last uint64, err error) {
	info, err := l.stream.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	first, last = info.State.FirstSeq, info.State.LastSeq
	if info.State.Msgs == 0 {
		first = last + 1
	}
	return first, last, nil
}

// Read returns the retained entries with from <= Seq <= to, in sequence
// order (entries that aged out meanwhile are left out). Callers bound
// to-from first: Read holds every entry in memory. Errors: JetStream's,
// or ctx's when it ended before to was reached.
func (l *Log) Read(ctx context.Context, from, to uint64) ([]LogEntry, error) {
	if to < from {
		return nil, nil
	}
	cons, err := l.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   from,
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = l.stream.DeleteConsumer(dctx, cons.CachedInfo().Name)
	}()
	var out []LogEntry
	for {
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, err
		}
		got := 0
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				return nil, err
			}
			if md.Sequence.Stream > to {
				return out, nil
			}
			out = append(out, LogEntry{Seq: md.Sequence.Stream, At: md.Timestamp, Data: m.Data()})
			if md.Sequence.Stream == to {
				return out, nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, err
		}
		if got == 0 {
			// Entries aged out meanwhile: what is left is all there is.
			return out, ctx.Err()
		}
	}
}

// CursorSpec says which durable cursor of a Log to open.
type CursorSpec struct {
	// Name is the durable consumer's name (letters, digits, '_', '-');
	// Description its description in `nats consumer ls`.
	Name, Description string
	// AckWait is how long an entry handed out and neither acknowledged
	// nor kept in progress waits before it is handed out again (after a
	// crash; 0: JetStream's default of 30 s).
	AckWait time.Duration
}

// Cursor is a durable position in a Log, kept by the NATS server: it
// hands out one entry at a time, in sequence order, and moves past an
// entry once it is acknowledged, so that it survives restarts. A new
// cursor starts at the entries appended from then on (not the retained
// history). Its methods are safe for concurrent use.
type Cursor struct {
	cons jetstream.Consumer
	nc   Conn
}

// Delivery is one entry a Cursor handed out: Ack, Nak or InProgress it.
type Delivery struct {
	LogEntry
	m jetstream.Msg
}

// Cursor opens, creating when absent or updating to spec, the durable
// cursor spec names on l. Errors: JetStream's.
func (l *Log) Cursor(ctx context.Context, spec CursorSpec) (*Cursor, error) {
	cons, err := l.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       spec.Name,
		Description:   spec.Description,
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       spec.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: 1,
		FilterSubject: l.subject,
	})
	if err != nil {
		return nil, err
	}
	return &Cursor{cons: cons, nc: l.js.Conn()}, nil
}

// Next waits until ctx ends for the cursor's next entry: the one after
// the last acknowledged, or an unacknowledged one again. It returns nil
// (and no error) when none came before ctx ended. An entry whose metadata
// does not decode is given back and not returned. Errors: JetStream's.
func (c *Cursor) Next(ctx context.Context) (*Delivery, error) {
	batch, err := c.cons.Fetch(1, jetstream.FetchContext(ctx))
	if err != nil {
		return nil, err
	}
	var d *Delivery
	for m := range batch.Messages() {
		md, err := m.Metadata()
		if err != nil {
			_ = m.Nak()
			continue
		}
		d = &Delivery{LogEntry: LogEntry{Seq: md.Sequence.Stream, At: md.Timestamp, Data: m.Data()}, m: m}
	}
	return d, nil
}

// Flush returns once everything sent on the cursor's connection (a Nak
// before a shutdown) reached the NATS server. Errors: the connection's.
func (c *Cursor) Flush() error { return c.nc.Flush() }

// Ack moves the cursor past d.
func (d *Delivery) Ack() error { return d.m.Ack() }

// Nak gives d back: the cursor hands it out again at once.
func (d *Delivery) Nak() error { return d.m.Nak() }

// InProgress restarts d's AckWait (a delivery that is still being tried).
func (d *Delivery) InProgress() error { return d.m.InProgress() }
