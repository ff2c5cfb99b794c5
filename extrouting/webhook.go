package extrouting

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/omniroute/omniroute/clock"
	"github.com/omniroute/omniroute/natsstore"
)

// Webhook headers.
const (
	// HeaderSignature carries "sha256=" + hex(HMAC-SHA256(secret, body)).
	HeaderSignature = "X-Omniroute-Signature"
	// HeaderReplayID carries the event's replayId (decimal), as in the body.
	HeaderReplayID = "X-Omniroute-Replay-Id"
	// HeaderPartner carries the partner id the delivery is for.
	HeaderPartner = "X-Omniroute-Partner"
)

// Webhook defaults.
const (
	DefaultWebhookTimeout    = 10 * time.Second
	DefaultWebhookMinBackoff = 500 * time.Millisecond
	DefaultWebhookMaxBackoff = 30 * time.Second
	// DefaultWebhookAckWait is how long JetStream waits for a delivery's
	// acknowledgement before it hands the event out again: after a crash,
	// or after a restart of NATS itself (the embedded server restarts with
	// omniroute, and a nak sent just before it stopped is not kept), the
	// unacknowledged event is delivered again this long after the restart.
	// A Close with NATS staying up gives it back at once. Deliveries keep
	// it alive (in-progress acks) while they retry.
	DefaultWebhookAckWait = 30 * time.Second
)

// Webhook is one partner's webhook endpoint (config.PartnerSpec webhookUrl,
// webhookSecret).
type Webhook struct {
	Partner string
	URL     string
	// Secret is the HMAC-SHA256 key of the signature header.
	Secret string
}

// WebhookOptions configure StartWebhooks; zero values take the defaults.
type WebhookOptions struct {
	// Client posts the events (default: an http.Client with a
	// DefaultWebhookTimeout timeout).
	Client *http.Client
	// MinBackoff is the wait after the first failed attempt; each further
	// failure doubles it up to MaxBackoff (defaults 500 ms and 30 s).
	MinBackoff, MaxBackoff time.Duration
	// AckWait: see DefaultWebhookAckWait.
	AckWait time.Duration
	// Clock times the waits between attempts (default clock.Real).
	Clock clock.Clock
}

// Webhooks delivers PSR events to partners' webhooks; StartWebhooks makes
// one, Close stops it.
type Webhooks struct {
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// Sign returns the X-Omniroute-Signature value of body under secret:
// "sha256=" + lower-case hex of HMAC-SHA256(secret, body).
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature reports whether header is Sign(secret, body), in
// constant time (for partners' receivers and tests).
func VerifySignature(secret string, body []byte, header string) bool {
	return hmac.Equal([]byte(header), []byte(Sign(secret, body)))
}

// WebhookConsumer is the name of the durable JetStream consumer that is
// partner's webhook cursor on the event stream.
func WebhookConsumer(partner string) string {
	h := sha256.Sum256([]byte(partner))
	return "webhook_" + hex.EncodeToString(h[:10])
}

// StartWebhooks delivers every PSR event of the adapter's stream to each
// hook, at least once and in replayId order, until Close:
//
//	POST <URL>
//	Content-Type: application/json
//	X-Omniroute-Signature: sha256=<hex HMAC-SHA256(Secret, body)>
//	X-Omniroute-Replay-Id: <replayId>
//	X-Omniroute-Partner: <Partner>
//
//	{"event":{"type":"created|updated|deleted","createdDate":"...","replayId":7},"sobject":{...}}
//
// (the body is the CometD message's data, see the package doc). A 2xx
// answer acknowledges the event; anything else (status, transport error,
// time-out) is retried after MinBackoff, doubling up to MaxBackoff, for as
// long as the event is retained: an event is never skipped, so a partner
// that is down for a while receives the backlog in order afterwards.
//
// The cursor is a durable JetStream consumer per partner (WebhookConsumer)
// on the event stream (explicit ack, one event in flight): it survives
// restarts, so a restarted server resumes after the last acknowledged
// event. A partner's first start delivers the events published from then
// on (not the retained history). An event whose delivery was cut by Close
// is delivered again by the next start at once while NATS stayed up, else
// (crash, embedded NATS restarted) AckWait after the restart.
// Receivers should therefore de-duplicate on the replay id.
//
// Errors: creating a consumer (JetStream unavailable); hooks without URL
// or Secret are skipped.
func (a *Adapter) StartWebhooks(ctx context.Context, hooks []Webhook, o WebhookOptions) (*Webhooks, error) {
	o.Clock = clock.Or(o.Clock)
	if o.Client == nil {
		o.Client = &http.Client{Timeout: DefaultWebhookTimeout}
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultWebhookMinBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(DefaultWebhookMaxBackoff, o.MinBackoff)
	}
	if o.AckWait <= 0 {
		o.AckWait = DefaultWebhookAckWait
	}
	runCtx, stop := context.WithCancel(context.Background())
	w := &Webhooks{stop: stop}
	var started []*hookRunner
	for _, h := range hooks {
		if h.URL == "" || h.Secret == "" {
			continue
		}
		cur, err := a.elog.log.Cursor(ctx, natsstore.CursorSpec{
			Name:        WebhookConsumer(h.Partner),
			Description: "omniroute webhook cursor of partner " + h.Partner,
			AckWait:     o.AckWait,
		})
		if err != nil {
			stop()
			return nil, fmt.Errorf("extrouting: webhook cursor of partner %s: %w", h.Partner, err)
		}
		started = append(started, &hookRunner{hook: h, cur: cur, o: o,
			log: a.log.With("partner", h.Partner, "webhook", h.URL)})
	}
	for _, r := range started {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			r.run(runCtx)
		}()
	}
	return w, nil
}

// Close stops delivering; an event being retried is released for the next
// start. Close is idempotent.
func (w *Webhooks) Close() {
	if w == nil {
		return
	}
	w.stop()
	w.wg.Wait()
}

type hookRunner struct {
	hook Webhook
	cur  *natsstore.Cursor
	o    WebhookOptions
	log  *slog.Logger
}

func (h *hookRunner) run(ctx context.Context) {
	wait := h.o.MinBackoff
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		d, err := h.cur.Next(fctx)
		if err != nil {
			cancel()
			if ctx.Err() == nil {
				h.log.Warn("extrouting: webhook fetch", "err", err)
				_ = clock.Sleep(ctx, h.o.Clock, wait)
				wait = min(2*wait, h.o.MaxBackoff)
			}
			continue
		}
		wait = h.o.MinBackoff
		if d != nil {
			h.deliver(ctx, d)
		}
		cancel()
	}
}

// deliver posts m until a 2xx answer (then acks) or ctx ends (then naks,
// so the next start delivers it at once).
func (h *hookRunner) deliver(ctx context.Context, m *natsstore.Delivery) {
	seq := m.Seq
	body := render(seq, m.Data)
	if body == nil { // undecodable: nothing to send, ever
		h.log.Error("extrouting: webhook: undecodable event skipped", "replayId", seq)
		_ = m.Ack()
		return
	}
	sig := Sign(h.hook.Secret, body)
	wait := h.o.MinBackoff
	for attempt := 1; ; attempt++ {
		err := h.post(ctx, seq, body, sig)
		if err == nil {
			if err := m.Ack(); err != nil {
				h.log.Warn("extrouting: webhook ack", "replayId", seq, "err", err)
			}
			return
		}
		if ctx.Err() != nil {
			// Give the event back now (not after AckWait), and make sure the
			// nak leaves before the connection may close.
			_ = m.Nak()
			_ = h.cur.Flush()
			return
		}
		h.log.Warn("extrouting: webhook delivery failed; retrying", "replayId", seq, "attempt", attempt, "retryIn", wait, "err", err)
		_ = m.InProgress()
		_ = clock.Sleep(ctx, h.o.Clock, wait)
		_ = m.InProgress() // the next attempt may take the client's timeout
		wait = min(2*wait, h.o.MaxBackoff)
	}
}

func (h *hookRunner) post(ctx context.Context, seq uint64, body []byte, sig string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.hook.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "omniroute-webhook/1")
	req.Header.Set(HeaderSignature, sig)
	req.Header.Set(HeaderReplayID, strconv.FormatUint(seq, 10))
	req.Header.Set(HeaderPartner, h.hook.Partner)
	resp, err := h.o.Client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errors.New("status " + resp.Status)
	}
	return nil
}
