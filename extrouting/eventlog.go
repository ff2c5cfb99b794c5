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

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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

// eventLog is the durable PSR event stream on JetStream: one subject,
// file storage, MaxAge retention. Sequence numbers are replay ids.
type eventLog struct {
	stream  jetstream.Stream
	js      jetstream.JetStream
	subject string
}

func openEventLog(ctx context.Context, nc *nats.Conn, name string, retention time.Duration, replicas int) (*eventLog, error) {
	if replicas <= 0 {
		replicas = 1
	}
	if nc == nil {
		return nil, errors.New("extrouting: nil NATS connection")
	}
	js, err := natsstore.JetStream(nc, 0)
	if err != nil {
		return nil, fmt.Errorf("extrouting: %w", err)
	}
	subject := strings.ToLower(name) + ".psr"
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        name,
		Description: "omniroute PendingServiceRouting events (Salesforce PushTopic replay), sequence = replayId",
		Subjects:    []string{subject},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		MaxAge:      retention,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		Discard:     jetstream.DiscardOld,
		AllowDirect: true,
	})
	if err != nil {
		return nil, fmt.Errorf("extrouting: stream %s: %w", name, err)
	}
	return &eventLog{stream: st, js: js, subject: subject}, nil
}

// append stores data; origin (see emission) makes the message id, so the
// same event appended by several nodes is stored once and every node gets
// the one sequence back.
func (l *eventLog) append(ctx context.Context, data []byte, origin string) (uint64, error) {
	var opts []jetstream.PublishOpt
	if origin != "" {
		sum := sha256.Sum256(data)
		opts = append(opts, jetstream.WithMsgID(origin+"."+hex.EncodeToString(sum[:12])))
	}
	ack, err := l.js.Publish(ctx, l.subject, data, opts...)
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// bounds returns the first retained and the last sequence (first = last+1
// when nothing is retained).
func (l *eventLog) bounds(ctx context.Context) (first, last uint64, err error) {
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

type logEntry struct {
	seq  uint64
	at   time.Time
	data []byte
}

// read returns the entries with from <= seq <= to, at most max of them
// (more is an error).
func (l *eventLog) read(ctx context.Context, from, to uint64, max int) ([]logEntry, error) {
	if to < from {
		return nil, nil
	}
	if to-from+1 > uint64(max) {
		return nil, fmt.Errorf("replay backlog of %d events is over the limit of %d", to-from+1, max)
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
	var out []logEntry
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
			out = append(out, logEntry{seq: md.Sequence.Stream, at: md.Timestamp, data: m.Data()})
			if md.Sequence.Stream == to {
				return out, nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, err
		}
		if got == 0 {
			// Messages aged out meanwhile: what is left is all there is.
			return out, ctx.Err()
		}
	}
}
