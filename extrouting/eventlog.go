package extrouting

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/omniroute/omniroute/natsstore"
)

// Defaults of the event stream.
const (
	DefaultStream    = "OMNIROUTE_PSR_EVENTS"
	DefaultRetention = 72 * time.Hour
	// DefaultMaxReplay bounds one replay backlog (events).
	DefaultMaxReplay = 10000
)

// storedEvent is one PSR event as kept in the stream; the replayId is the
// stream sequence, added when it is sent.
type storedEvent struct {
	Type        string          `json:"type"`
	CreatedDate string          `json:"createdDate"`
	SObject     json.RawMessage `json:"sobject"`
}

// eventLog is the durable PSR event stream (a natsstore.Log: one subject,
// file storage, MaxAge retention). Sequence numbers are replay ids.
type eventLog struct{ log *natsstore.Log }

func openEventLog(ctx context.Context, nc natsstore.Conn, name string, retention time.Duration, replicas int) (*eventLog, error) {
	if nc == nil {
		return nil, errors.New("extrouting: nil NATS connection")
	}
	l, err := natsstore.OpenLog(ctx, nc, natsstore.LogSpec{
		Name:        name,
		Description: "omniroute PendingServiceRouting events (Salesforce PushTopic replay), sequence = replayId",
		Subject:     strings.ToLower(name) + ".psr",
		Retention:   retention,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("extrouting: %w", err)
	}
	return &eventLog{log: l}, nil
}

// append stores data; origin (see emission) makes the message id, so the
// same event appended by several nodes is stored once and every node gets
// the one sequence back.
func (l *eventLog) append(ctx context.Context, data []byte, origin string) (uint64, error) {
	id := ""
	if origin != "" {
		sum := sha256.Sum256(data)
		id = origin + "." + hex.EncodeToString(sum[:12])
	}
	return l.log.Append(ctx, data, id)
}

// bounds returns the first retained and the last sequence (first = last+1
// when nothing is retained).
func (l *eventLog) bounds(ctx context.Context) (first, last uint64, err error) {
	return l.log.Bounds(ctx)
}

// read returns the entries with from <= seq <= to, at most max of them
// (more is an error).
func (l *eventLog) read(ctx context.Context, from, to uint64, max int) ([]natsstore.LogEntry, error) {
	if to < from {
		return nil, nil
	}
	if to-from+1 > uint64(max) {
		return nil, fmt.Errorf("replay backlog of %d events is over the limit of %d", to-from+1, max)
	}
	return l.log.Read(ctx, from, to)
}
