package gms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/omniroute/omniroute/clock"
)

// DeviceOSCustomHTTP is the "_device_os" value served by HTTPPusher
// (GMS push type "customhttp").
const DeviceOSCustomHTTP = "customhttp"

// Defaults of HTTPOptions, used for every zero field.
const (
	DefaultHTTPTimeout     = 10 * time.Second
	DefaultHTTPMaxAttempts = 5
	DefaultHTTPBackoff     = 500 * time.Millisecond
	DefaultHTTPMaxBackoff  = 30 * time.Second
	DefaultHTTPQueueSize   = 1000
	DefaultHTTPWorkers     = 2
)

// ErrPushQueueFull is returned by HTTPPusher.Push when its queue is full;
// the notification is not sent.
var ErrPushQueueFull = errors.New("push queue full")

// HTTPTarget is where one notification is posted: a URL and extra headers
// (e.g. Authorization). It overrides HTTPOptions.URL/Headers for one Push
// through WithHTTPTarget, so a GMS service can have its own endpoint.
type HTTPTarget struct {
	URL     string
	Headers http.Header
}

type httpTargetKey struct{}

// WithHTTPTarget returns a context that makes HTTPPusher.Push post to t
// instead of the pusher's global URL (per-service configuration). A t with
// an empty URL keeps the global URL; t.Headers are added to the global ones
// and win on conflict.
func WithHTTPTarget(ctx context.Context, t HTTPTarget) context.Context {
	return context.WithValue(ctx, httpTargetKey{}, t)
}

// HTTPOptions configures an HTTPPusher. Zero fields take the defaults.
type HTTPOptions struct {
	// URL receives the POSTs (GMS option push/customhttp.url). It may be
	// empty when every Push names a target with WithHTTPTarget.
	URL string
	// Headers are added to every POST.
	Headers http.Header
	// Timeout bounds one attempt (connect, request, response headers and
	// body read).
	Timeout time.Duration
	// MaxAttempts bounds the attempts of one notification, first included.
	MaxAttempts int
	// Backoff is the wait before the second attempt; it doubles for each
	// further attempt up to MaxBackoff. A Retry-After header (seconds) of a
	// 429 or 503 reply is honoured up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// QueueSize bounds the notifications waiting for a worker.
	QueueSize int
	// Workers is the number of goroutines posting.
	Workers int
	// Client is the HTTP client; nil uses a client of its own.
	Client *http.Client
	// Clock times the waits between attempts (default clock.Real).
	Clock clock.Clock
	// Logger receives give-ups and retries; nil uses slog.Default().
	Logger *slog.Logger
	// OnResult, if set, is called by a worker after the last attempt of
	// each notification: err is nil on success (2xx).
	OnResult func(deviceID string, n Notification, attempts int, err error)
}

func (o HTTPOptions) withDefaults() HTTPOptions {
	o.Clock = clock.Or(o.Clock)
	if o.Timeout <= 0 {
		o.Timeout = DefaultHTTPTimeout
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultHTTPMaxAttempts
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultHTTPBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultHTTPMaxBackoff
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = o.Backoff
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultHTTPQueueSize
	}
	if o.Workers <= 0 {
		o.Workers = DefaultHTTPWorkers
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// HTTPBody is the JSON body of each POST, as GMS's customhttp provider
// sends it ("a JSON object that contains two properties: the deviceId ...
// and the message", GMS 8.5 API Reference, Push Notification Service,
// option customhttp.url). Message is the whole notification in the seed 003
// "Push Notification Data" shape {id, message:{...}, tag}.
type HTTPBody struct {
	DeviceID string       `json:"deviceId"`
	Message  Notification `json:"message"`
}

// HTTPPusher is the Pusher for device OS "customhttp": each Push is queued
// and a worker POSTs HTTPBody as application/json to the target URL,
// retrying with exponential backoff on network errors, 5xx and 429 (other
// statuses, e.g. 400, are final failures), up to MaxAttempts. Success is
// any 2xx. Push never waits for the network.
type HTTPPusher struct {
	opts  HTTPOptions
	queue chan httpJob
	stop  chan struct{}
	wg    sync.WaitGroup

	mu     sync.RWMutex
	closed bool
}

type httpJob struct {
	target   HTTPTarget
	deviceID string
	n        Notification
	body     []byte
}

// NewHTTPPusher returns a running HTTPPusher; call Close to stop it.
func NewHTTPPusher(opts HTTPOptions) *HTTPPusher {
	opts = opts.withDefaults()
	p := &HTTPPusher{
		opts:  opts,
		queue: make(chan httpJob, opts.QueueSize),
		stop:  make(chan struct{}),
	}
	for range opts.Workers {
		p.wg.Add(1)
		go p.worker()
	}
	return p
}

// Push implements Pusher for deviceOS "customhttp": it validates and
// encodes n and queues it, returning at once. Errors: ErrUnsupportedDeviceOS,
// no URL configured, ctx already done, ErrPushQueueFull, pusher closed.
// Delivery results arrive later through HTTPOptions.OnResult and the log.
func (p *HTTPPusher) Push(ctx context.Context, deviceOS, deviceID string, n Notification) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if deviceOS != DeviceOSCustomHTTP {
		return fmt.Errorf("gms http push: %w: %q", ErrUnsupportedDeviceOS, deviceOS)
	}
	t := HTTPTarget{URL: p.opts.URL, Headers: p.opts.Headers}
	if o, ok := ctx.Value(httpTargetKey{}).(HTTPTarget); ok {
		if o.URL != "" {
			t.URL = o.URL
		}
		if len(o.Headers) > 0 {
			h := p.opts.Headers.Clone()
			if h == nil {
				h = http.Header{}
			}
			for k, v := range o.Headers {
				h[k] = v
			}
			t.Headers = h
		}
	}
	if t.URL == "" {
		return errors.New("gms http push: no URL configured")
	}
	body, err := json.Marshal(HTTPBody{DeviceID: deviceID, Message: n})
	if err != nil {
		return fmt.Errorf("gms http push: encode notification: %w", err)
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return errors.New("gms http push: pusher closed")
	}
	select {
	case p.queue <- httpJob{target: t, deviceID: deviceID, n: n, body: body}:
		return nil
	default:
		return fmt.Errorf("gms http push (queue of %d): %w", p.opts.QueueSize, ErrPushQueueFull)
	}
}

// Close stops accepting pushes, lets the workers finish the queue (an
// attempt in progress completes; waits between retries are cut short and
// the remaining jobs are given up) and waits for them.
func (p *HTTPPusher) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.stop)
	close(p.queue)
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *HTTPPusher) worker() {
	defer p.wg.Done()
	for job := range p.queue {
		attempts, err := p.send(job)
		if err != nil {
			p.opts.Logger.Warn("gms http push: giving up", "url", job.target.URL, "device", deviceRef(job.deviceID),
				"id", job.n.ID, "attempts", attempts, "err", err)
		}
		if p.opts.OnResult != nil {
			p.opts.OnResult(job.deviceID, job.n, attempts, err)
		}
	}
}

// retryable is an attempt's failure worth another attempt after wait (0:
// the computed backoff).
type retryable struct {
	err  error
	wait time.Duration
}

func (r *retryable) Error() string { return r.err.Error() }

// send makes up to MaxAttempts attempts; it returns the attempts made and
// the last error (nil on success).
func (p *HTTPPusher) send(job httpJob) (int, error) {
	backoff := p.opts.Backoff
	var err error
	for attempt := 1; ; attempt++ {
		err = p.attempt(job)
		if err == nil {
			return attempt, nil
		}
		var r *retryable
		if !errors.As(err, &r) {
			return attempt, err
		}
		if attempt >= p.opts.MaxAttempts {
			return attempt, r.err
		}
		wait := backoff
		if r.wait > 0 {
			wait = min(r.wait, p.opts.MaxBackoff)
		}
		backoff = min(backoff*2, p.opts.MaxBackoff)
		p.opts.Logger.Debug("gms http push: retrying", "url", job.target.URL, "attempt", attempt, "wait", wait, "err", r.err)
		t := p.opts.Clock.NewTimer(wait)
		select {
		case <-p.stop:
			t.Stop()
			return attempt, fmt.Errorf("pusher closed before retry: %w", r.err)
		case <-t.C():
		}
	}
}

func (p *HTTPPusher) attempt(job httpJob) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, job.target.URL, bytes.NewReader(job.body))
	if err != nil {
		return err // bad URL: final
	}
	for k, v := range job.target.Headers {
		req.Header[k] = append([]string(nil), v...)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.opts.Client.Do(req)
	if err != nil {
		return &retryable{err: err}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		r := &retryable{err: fmt.Errorf("HTTP %d", resp.StatusCode)}
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			r.wait = time.Duration(secs) * time.Second
		}
		return r
	default:
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
}
