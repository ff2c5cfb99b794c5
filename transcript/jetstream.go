package transcript

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/omniroute/omniroute/natsstore"
)

// DefaultStream is the JetStream stream of JSOptions.Stream when empty.
const DefaultStream = "OMNIROUTE_TRANSCRIPTS"

// Message headers of a transcript entry in the earlier layout (one entry
// per message); read, never written.
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
// conversation, and one stream message per (conversation, append): the
// records of one conversation in one AppendBatch go into ONE message (see
// layout.go), so the server stores and, with sync_always (the embedded
// server of natsjournal), fsyncs once for them, not once per record. An
// entry's Seq is its message's stream sequence shifted left by EntryBits,
// plus its index in the message.
//
// Each message carries the conversation's entry count after it, and is
// published with the conversation's expected last subject sequence, so the
// per-conversation limit holds exactly whatever the number of writers: a
// writer whose view is stale is refused by the server, reloads the last
// message and tries again.
type JetStream struct {
	js      jetstream.JetStream
	stream  jetstream.Stream
	prefix  string
	limits  Limits
	closed  atomic.Bool
	timeout time.Duration

	// stripes serialize the appends of one conversation within this
	// process (a conversation hashes to one), so this store's own writers
	// never conflict with each other.
	stripes [appendStripes]sync.Mutex
	mu      sync.Mutex
	heads   map[string]head // conversation -> its last message, when known
}

// head is what a writer needs of a conversation's last message.
type head struct {
	last  uint64 // stream sequence of the conversation's last message (0: none)
	count int    // entries the conversation holds
}

// Store tuning.
const (
	// appendStripes is the number of per-conversation append locks.
	appendStripes = 64
	// maxHeads bounds the conversations whose head is cached; past it an
	// arbitrary one is dropped and reloaded from the server when needed.
	maxHeads = 20_000
	// maxConflicts bounds the retries of one conversation's append after
	// another writer moved its head.
	maxConflicts = 16
)

var _ BatchStore = (*JetStream)(nil)

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
	js, err := natsstore.JetStream(nc, 0)
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
		MaxMsgSize:           int32(messageBudget(o.Limits) + jsHeaderSlack),
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
	return &JetStream{js: js, stream: st, prefix: prefix, limits: o.Limits, timeout: 10 * time.Second,
		heads: map[string]head{}}, nil
}

// subject is the conversation's subject.
func (j *JetStream) subject(conversation string) string {
	return j.prefix + base64.RawURLEncoding.EncodeToString([]byte(conversation))
}

// Append implements Store: a batch of one.
func (j *JetStream) Append(ctx context.Context, rec Record) (Entry, error) {
	entries, errs := j.AppendBatch(ctx, []Record{rec})
	return entries[0], errs[0]
}

// appendError maps a publish failure.
func appendError(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && strings.Contains(strings.ToLower(apiErr.Description), "maximum messages per subject") {
		return ErrConversationFull
	}
	return fmt.Errorf("transcript: append: %w", err)
}

// conflict says whether err is the server refusing a publish because the
// conversation's last message is not the one expected (another writer).
func conflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// pending is one conversation's share of an AppendBatch.
type pending struct {
	conv      string
	idx       []int // indices into recs not yet settled, in order
	conflicts int
	load      bool // a publish was refused: load the head from the server
	// In flight this round:
	n    int // records of idx in the message
	h    head
	fut  jetstream.PubAckFuture
	sent bool
}

// AppendBatch implements BatchStore. The records of each conversation go
// into one stream message (more when they exceed MaxEntriesPerMessage or
// the message budget); the messages of every conversation are published
// before any acknowledgement is awaited, so the batch costs one round trip
// and one stored message per conversation. Seq rises in recs' order within
// a conversation; entries of different conversations are not ordered by
// Seq among themselves.
func (j *JetStream) AppendBatch(ctx context.Context, recs []Record) ([]Entry, []error) {
	entries, errs := make([]Entry, len(recs)), make([]error, len(recs))
	var convs []*pending
	byConv := map[string]*pending{}
	for i, rec := range recs {
		if j.closed.Load() {
			errs[i] = ErrClosed
			continue
		}
		if errs[i] = Check(rec, j.limits); errs[i] != nil {
			continue
		}
		p := byConv[rec.Conversation]
		if p == nil {
			p = &pending{conv: rec.Conversation}
			byConv[rec.Conversation] = p
			convs = append(convs, p)
		}
		p.idx = append(p.idx, i)
	}
	if len(convs) == 0 {
		return entries, errs
	}
	unlock := j.lockStripes(convs)
	defer unlock()
	fail := func(p *pending, idx []int, err error) {
		for _, i := range idx {
			errs[i] = err
		}
	}
	for len(convs) > 0 {
		// Send the next message of every conversation with records left.
		for _, p := range convs {
			p.sent = false
			h, err := j.head(ctx, p.conv, p.load)
			if err != nil {
				fail(p, p.idx, err)
				p.idx = nil
				continue
			}
			room := j.limits.MaxEntriesPerConversation - h.count
			if room <= 0 {
				fail(p, p.idx, ErrConversationFull)
				p.idx = nil
				continue
			}
			n := chunk(recs, p.idx, min(room, MaxEntriesPerMessage), messageBudget(j.limits))
			msg := nats.NewMsg(j.subject(p.conv))
			msg.Data = encodeMessage(h.count+n, recs, p.idx[:n])
			fut, err := j.js.PublishMsgAsync(msg, jetstream.WithExpectLastSequencePerSubject(h.last))
			if err != nil {
				fail(p, p.idx[:n], appendError(err))
				p.idx = p.idx[n:]
				continue
			}
			p.n, p.h, p.fut, p.sent = n, h, fut, true
		}
		// Await them, in the order sent.
		next := convs[:0]
		for _, p := range convs {
			if p.sent {
				select {
				case ack := <-p.fut.Ok():
					now := time.Now().UTC()
					for k, i := range p.idx[:p.n] {
						entries[i] = Entry{Record: recs[i], Seq: EntrySeq(ack.Sequence, k), Time: now}
					}
					j.setHead(p.conv, head{last: ack.Sequence, count: p.h.count + p.n})
					p.idx = p.idx[p.n:]
				case err := <-p.fut.Err():
					j.dropHead(p.conv)
					if conflict(err) && p.conflicts < maxConflicts {
						// Another writer moved the head, or a conversation
						// assumed new was not: load it, send again.
						p.conflicts++
						p.load = true
						break
					}
					fail(p, p.idx[:p.n], appendError(err))
					p.idx = p.idx[p.n:]
				case <-ctx.Done():
					// Unknown whether it was stored: the next append reloads.
					j.dropHead(p.conv)
					fail(p, p.idx, ctx.Err())
					p.idx = nil
				}
			}
			if len(p.idx) > 0 {
				next = append(next, p)
			}
		}
		convs = next
	}
	return entries, errs
}

// lockStripes locks the append stripes of convs in ascending order (so two
// batches never wait on each other) and returns the unlock.
func (j *JetStream) lockStripes(convs []*pending) func() {
	var set [appendStripes]bool
	for _, p := range convs {
		set[stripe(p.conv)] = true
	}
	for i := range set {
		if set[i] {
			j.stripes[i].Lock()
		}
	}
	return func() {
		for i := len(set) - 1; i >= 0; i-- {
			if set[i] {
				j.stripes[i].Unlock()
			}
		}
	}
}

// stripe hashes a conversation to its append lock (FNV-1a).
func stripe(conv string) int {
	h := uint32(2166136261)
	for i := 0; i < len(conv); i++ {
		h = (h ^ uint32(conv[i])) * 16777619
	}
	return int(h % appendStripes)
}

// head returns the conversation's last message and entry count: cached;
// else, unless load, assumed new (no message: the usual case of a first
// append, and the server refuses the publish if it is wrong); else loaded
// from the server (the last message on its subject).
func (j *JetStream) head(ctx context.Context, conv string, load bool) (head, error) {
	j.mu.Lock()
	h, ok := j.heads[conv]
	j.mu.Unlock()
	if ok || !load {
		return h, nil
	}
	subj := j.subject(conv)
	last, err := j.stream.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return head{}, nil
	}
	if err != nil {
		return head{}, fmt.Errorf("transcript: append %s: %w", conv, err)
	}
	h.last = last.Sequence
	if count, ok := messageCount(last.Data); ok {
		h.count = count
	} else {
		// A message of the earlier layout, one entry each: count them.
		info, err := j.stream.Info(ctx, jetstream.WithSubjectFilter(subj))
		if err != nil {
			return head{}, fmt.Errorf("transcript: append %s: %w", conv, err)
		}
		h.count = int(info.State.Subjects[subj])
	}
	j.setHead(conv, h)
	return h, nil
}

func (j *JetStream) setHead(conv string, h head) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.heads[conv]; !ok && len(j.heads) >= maxHeads {
		for k := range j.heads {
			delete(j.heads, k)
			break
		}
	}
	j.heads[conv] = h
}

func (j *JetStream) dropHead(conv string) {
	j.mu.Lock()
	delete(j.heads, conv)
	j.mu.Unlock()
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
	from := max(after>>EntryBits, 1) // the message holding the entry after `after`
	if last.Sequence < from || (last.Sequence == from && after >= EntrySeq(from, MaxEntriesPerMessage-1)) {
		return []Entry{}, nil
	}
	if limit <= 0 || limit > j.limits.MaxEntriesPerConversation {
		limit = j.limits.MaxEntriesPerConversation
	}
	cons, err := j.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subj},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    from,
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
			at := md.Timestamp.UTC()
			add := func(i int, id string, agentsOnly bool, data []byte) {
				if seq := EntrySeq(md.Sequence.Stream, i); seq > after && len(out) < limit {
					out = append(out, Entry{Record: Record{Conversation: conversation, ID: id, AgentsOnly: agentsOnly, Data: data},
						Seq: seq, Time: at})
				}
			}
			if data := m.Data(); len(data) > 0 && data[0] == '{' {
				// The earlier layout: one entry, its id in a header.
				add(0, m.Headers().Get(headerID), m.Headers().Get(headerAgentsOnly) == "1", data)
			} else if err := decodeMessage(data, add); err != nil {
				return nil, fmt.Errorf("transcript: read %s: message %d: %w", conversation, md.Sequence.Stream, err)
			}
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
