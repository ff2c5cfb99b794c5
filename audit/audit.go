// Package audit keeps who changed what on the server: definition upserts
// through REST, agent tokens minted or revoked, agents forced NOT_READY or
// LOGOUT by a supervisor or an admin, and presence-sync partner mappings
// (issue 13 item 8). Entries are durable in their own JetStream stream
// (StreamName, file storage, the journal's replica count) and read back in
// sequence order, a page at a time.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/omniroute/omniroute/natsstore"
)

// StreamName is the JetStream stream of the audit entries; Subject is the
// one subject it holds.
const (
	StreamName = "OMNIROUTE_AUDIT"
	Subject    = "omniroute.audit"
)

// MaxPage is the most entries one List returns (a larger limit is cut to
// it); DefaultPage is the page size when none is asked for.
const (
	MaxPage     = 500
	DefaultPage = 100
)

// Entry is one change. Seq is the stream sequence (the paging cursor),
// Time the wall-clock time the server took the change (RFC 3339, UTC),
// Actor who made it ("admin" for an admin bearer token, else the agent id
// of the token), Action the route pattern ("PUT /v1/queues/{id}"),
// Target the request path ("/v1/queues/chat-sales"), Status the HTTP
// status answered, Detail the request body (at most MaxDetail bytes; it
// never holds a token: minting answers with the token, it is not sent in).
type Entry struct {
	Seq    uint64          `json:"seq"`
	Time   time.Time       `json:"time"`
	Actor  string          `json:"actor"`
	Action string          `json:"action"`
	Target string          `json:"target"`
	Status int             `json:"status"`
	Detail json.RawMessage `json:"detail,omitempty"`
}

// MaxDetail is the most request-body bytes an entry keeps; a longer or
// non-JSON body is kept as a JSON string cut to this length.
const MaxDetail = 4096

// Log appends to and reads the audit stream.
type Log struct {
	js     jetstream.JetStream
	stream jetstream.Stream
}

// Open creates or updates the stream on nc with replicas copies (at
// least 1).
func Open(ctx context.Context, nc *nats.Conn, replicas int) (*Log, error) {
	if nc == nil {
		return nil, errors.New("audit: nil NATS connection")
	}
	if replicas <= 0 {
		replicas = 1
	}
	js, err := natsstore.JetStream(nc, 0)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "omniroute audit: who changed what",
		Subjects:    []string{Subject},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		AllowDirect: true,
	})
	if err != nil {
		return nil, fmt.Errorf("audit: stream %s: %w", StreamName, err)
	}
	return &Log{js: js, stream: st}, nil
}

// Append stores e (its Seq is ignored) and returns its sequence once the
// stream has acknowledged it.
func (l *Log) Append(ctx context.Context, e Entry) (uint64, error) {
	e.Seq = 0
	b, err := json.Marshal(e)
	if err != nil {
		return 0, fmt.Errorf("audit: %w", err)
	}
	ack, err := l.js.Publish(ctx, Subject, b)
	if err != nil {
		return 0, fmt.Errorf("audit: %w", err)
	}
	return ack.Sequence, nil
}

// List returns up to limit entries with a sequence above after, oldest
// first, and the cursor of the next page (the last entry's Seq; 0 when
// there is nothing more).
func (l *Log) List(ctx context.Context, after uint64, limit int) ([]Entry, uint64, error) {
	if limit <= 0 {
		limit = DefaultPage
	}
	limit = min(limit, MaxPage)
	info, err := l.stream.Info(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("audit: %w", err)
	}
	last := info.State.LastSeq
	var out []Entry
	for seq := max(after+1, info.State.FirstSeq); seq <= last && len(out) < limit; seq++ {
		m, err := l.stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("audit: entry %d: %w", seq, err)
		}
		var e Entry
		if err := json.Unmarshal(m.Data, &e); err != nil {
			return nil, 0, fmt.Errorf("audit: entry %d: %w", seq, err)
		}
		e.Seq = seq
		out = append(out, e)
	}
	var next uint64
	if len(out) > 0 && out[len(out)-1].Seq < last {
		next = out[len(out)-1].Seq
	}
	return out, next, nil
}

// DetailOf turns a request body into an Entry's Detail: JSON as it is when
// it fits MaxDetail, otherwise a JSON string of its first MaxDetail bytes.
func DetailOf(body []byte) json.RawMessage {
	if len(body) == 0 {
		return nil
	}
	if len(body) <= MaxDetail && json.Valid(body) {
		return json.RawMessage(body)
	}
	b, _ := json.Marshal(string(body[:min(len(body), MaxDetail)]))
	return b
}
