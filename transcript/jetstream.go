package transcript

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultStream is the JetStream stream of JSOptions.Stream when empty.
const DefaultStream = "OMNIROUTE_TRANSCRIPTS"

// Message headers of a transcript entry in JetStream.
const (
	headerID         = "Omniroute-Id"
	headerAgentsOnly = "Omniroute-Agents-Only"
)

// jsHeaderSlack is room for the headers in a stream message over
// MaxEntryBytes of data.
const jsHeaderSlack = 1024

// JSOptions configures OpenJetStream.
type JSOptions struct {
	// Stream names the stream (default DefaultStream). Its subjects are
	// "<lowercased stream>.<conversation>", the conversation id encoded as
	// unpadded base64url (so any id is one subject token).
	Stream string
	// Replicas for a new stream (default 1).
	Replicas int
	// MaxAge drops transcripts older than this (0: kept forever).
	MaxAge time.Duration
	// Limits bound entries; MaxEntriesPerConversation is also the stream's
	// max_msgs_per_subject with discard_new_per_subject, so the server
	// itself refuses the entry over the limit, whatever the number of
	// writers.
	Limits Limits
}

// JetStream is a Store on a NATS JetStream stream: one subject per
// conversation; entry Seq is the stream sequence. An append is a
// synchronous publish: it returns once the server stored the message (with
// sync_always, as the embedded server of natsjournal runs, after fsync).
type JetStream struct {
	js      jetstream.JetStream
	stream  jetstream.Stream
	prefix  string
	limits  Limits
	closed  atomic.Bool
	timeout time.Duration
}

var _ Store = (*JetStream)(nil)

// OpenJetStream binds a JetStream store to nc, creating the stream when
// missing or updating its limits when they differ. It does not own nc.
// Errors: a JetStream API error (JetStream not enabled, a stream with that
// name but other subjects).
func OpenJetStream(ctx context.Context, nc *nats.Conn, o JSOptions) (*JetStream, error) {
	if nc == nil {
		return nil, errors.New("transcript: nil NATS connection")
	}
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	o.Limits = o.Limits.WithDefaults()
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("transcript: %w", err)
	}
	prefix := strings.ToLower(o.Stream) + "."
	cfg := jetstream.StreamConfig{
		Name:                 o.Stream,
		Description:          "omniroute conversation transcripts (CIM messages and events), one subject per conversation",
		Subjects:             []string{prefix + "*"},
		Retention:            jetstream.LimitsPolicy,
		Storage:              jetstream.FileStorage,
		Replicas:             o.Replicas,
		MaxMsgSize:           int32(o.Limits.MaxEntryBytes + jsHeaderSlack),
		MaxMsgs:              -1,
		MaxBytes:             -1,
		MaxAge:               o.MaxAge,
		MaxMsgsPerSubject:    int64(o.Limits.MaxEntriesPerConversation),
		Discard:              jetstream.DiscardNew,
		DiscardNewPerSubject: true,
		AllowDirect:          true,
	}
	st, err := js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("transcript: stream %s: %w", o.Stream, err)
	}
	return &JetStream{js: js, stream: st, prefix: prefix, limits: o.Limits, timeout: 10 * time.Second}, nil
}

// subject is the conversation's subject.
func (j *JetStream) subject(conversation string) string {
	return j.prefix + base64.RawURLEncoding.EncodeToString([]byte(conversation))
}

// Append implements Store.
func (j *JetStream) Append(ctx context.Context, rec Record) (Entry, error) {
	if j.closed.Load() {
		return Entry{}, ErrClosed
	}
	if err := Check(rec, j.limits); err != nil {
		return Entry{}, err
	}
	msg := nats.NewMsg(j.subject(rec.Conversation))
	msg.Header.Set(headerID, rec.ID)
	if rec.AgentsOnly {
		msg.Header.Set(headerAgentsOnly, "1")
	}
	msg.Data = rec.Data
	ack, err := j.js.PublishMsg(ctx, msg)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && strings.Contains(strings.ToLower(apiErr.Description), "maximum messages per subject") {
			return Entry{}, ErrConversationFull
		}
		return Entry{}, fmt.Errorf("transcript: append: %w", err)
	}
	// The acknowledgement carries no time; the entry's stored timestamp is
	// read back with the entry. Now is within the publish round trip.
	return Entry{Record: rec, Seq: ack.Sequence, Time: time.Now().UTC()}, nil
}

// Read implements Store. It learns the conversation's last sequence, then
// streams the entries after `after` with an ordered consumer filtered on the
// conversation's subject, stopping at that sequence.
func (j *JetStream) Read(ctx context.Context, conversation string, after uint64, limit int) ([]Entry, error) {
	if j.closed.Load() {
		return nil, ErrClosed
	}
	subj := j.subject(conversation)
	last, err := j.stream.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return []Entry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("transcript: read %s: %w", conversation, err)
	}
	if last.Sequence <= after {
		return []Entry{}, nil
	}
	if limit <= 0 || limit > j.limits.MaxEntriesPerConversation {
		limit = j.limits.MaxEntriesPerConversation
	}
	cons, err := j.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subj},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    after + 1,
	})
	if err != nil {
		return nil, fmt.Errorf("transcript: read %s: %w", conversation, err)
	}
	defer func() {
		// Best effort: an ordered consumer is ephemeral and expires anyway.
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = j.stream.DeleteConsumer(dctx, cons.CachedInfo().Name)
	}()
	out := []Entry{}
	for len(out) < limit {
		wait := 5 * time.Second
		if d, ok := ctx.Deadline(); ok {
			wait = min(wait, max(time.Until(d), 10*time.Millisecond))
		}
		batch, err := cons.Fetch(min(limit-len(out), 256), jetstream.FetchMaxWait(wait))
		if err != nil {
			return nil, fmt.Errorf("transcript: read %s: %w", conversation, err)
		}
		got := 0
		done := false
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				return nil, fmt.Errorf("transcript: read %s: %w", conversation, err)
			}
			out = append(out, Entry{
				Record: Record{Conversation: conversation, ID: m.Headers().Get(headerID),
					AgentsOnly: m.Headers().Get(headerAgentsOnly) == "1", Data: m.Data()},
				Seq:  md.Sequence.Stream,
				Time: md.Timestamp.UTC(),
			})
			if md.Sequence.Stream >= last.Sequence || len(out) >= limit {
				done = true
				break
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("transcript: read %s: %w", conversation, err)
		}
		if done {
			break
		}
		if got == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("transcript: read %s: no entries up to sequence %d within %v", conversation, last.Sequence, wait)
		}
	}
	return out, nil
}

// Close implements Store; it leaves the connection open.
func (j *JetStream) Close() error {
	j.closed.Store(true)
	return nil
}
