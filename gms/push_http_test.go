package gms

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type httpResult struct {
	attempts int
	err      error
}

func newHTTPTest(t *testing.T, o HTTPOptions) (*HTTPPusher, chan httpResult) {
	t.Helper()
	results := make(chan httpResult, 16)
	o.OnResult = func(_ string, _ Notification, attempts int, err error) { results <- httpResult{attempts, err} }
	if o.Backoff == 0 {
		o.Backoff = time.Millisecond
	}
	p := NewHTTPPusher(o)
	t.Cleanup(p.Close)
	return p, results
}

func waitResult(t *testing.T, ch chan httpResult) httpResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(15 * time.Second):
		t.Fatal("no result")
		return httpResult{}
	}
}

func TestHTTPPushRequestShape(t *testing.T) {
	type seen struct {
		method, ctype, auth, svc string
		body                     HTTPBody
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var s seen
		s.method, s.ctype, s.auth, s.svc = r.Method, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), r.Header.Get("X-Service")
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &s.body); err != nil {
			t.Errorf("body %s: %v", b, err)
		}
		got <- s
	}))
	defer srv.Close()
	p, results := newHTTPTest(t, HTTPOptions{URL: srv.URL, Headers: http.Header{"Authorization": {"Basic ZGVtbzo="}}})
	n := agentAvailable("369-1")
	if err := p.Push(context.Background(), DeviceOSCustomHTTP, "dev-1", n); err != nil {
		t.Fatal(err)
	}
	s := <-got
	if s.method != http.MethodPost || s.ctype != "application/json" || s.auth != "Basic ZGVtbzo=" {
		t.Fatalf("request %+v", s)
	}
	if s.body.DeviceID != "dev-1" || s.body.Message.Tag != n.Tag || s.body.Message.ID != n.ID ||
		s.body.Message.Message["_id"] != "369-1" || s.body.Message.Message["_action"] != ActionAgentAvailable {
		t.Fatalf("body %+v", s.body)
	}
	if r := waitResult(t, results); r.err != nil || r.attempts != 1 {
		t.Fatalf("result %+v", r)
	}

	// Per-service target: another URL, an added header.
	other := make(chan string, 1)
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other <- r.Header.Get("X-Service") + "|" + r.Header.Get("Authorization")
	}))
	defer srv2.Close()
	ctx := WithHTTPTarget(context.Background(), HTTPTarget{URL: srv2.URL, Headers: http.Header{"X-Service": {"chat-delay"}}})
	if err := p.Push(ctx, DeviceOSCustomHTTP, "dev-1", n); err != nil {
		t.Fatal(err)
	}
	if h := <-other; h != "chat-delay|Basic ZGVtbzo=" {
		t.Fatalf("per-service headers %q", h)
	}
	waitResult(t, results)
}

func TestHTTPPushRetries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	p, results := newHTTPTest(t, HTTPOptions{URL: srv.URL, MaxAttempts: 5})
	if err := p.Push(context.Background(), DeviceOSCustomHTTP, "d", agentAvailable("1")); err != nil {
		t.Fatal(err)
	}
	if r := waitResult(t, results); r.err != nil || r.attempts != 3 {
		t.Fatalf("result %+v", r)
	}
}

func TestHTTPPushNetworkErrorRetried(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	url := srv.URL
	srv.Close() // connection refused
	p, results := newHTTPTest(t, HTTPOptions{URL: url, MaxAttempts: 3})
	_ = p.Push(context.Background(), DeviceOSCustomHTTP, "d", agentAvailable("1"))
	if r := waitResult(t, results); r.err == nil || r.attempts != 3 {
		t.Fatalf("result %+v", r)
	}
}

func TestHTTPPushGivesUp(t *testing.T) {
	var calls atomic.Int32
	status := http.StatusInternalServerError
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
	}))
	defer srv.Close()
	p, results := newHTTPTest(t, HTTPOptions{URL: srv.URL, MaxAttempts: 4})
	_ = p.Push(context.Background(), DeviceOSCustomHTTP, "d", agentAvailable("1"))
	if r := waitResult(t, results); r.err == nil || r.attempts != 4 || calls.Load() != 4 {
		t.Fatalf("result %+v after %d calls", r, calls.Load())
	}
	// A 4xx other than 429 is final.
	mu.Lock()
	status = http.StatusBadRequest
	mu.Unlock()
	calls.Store(0)
	_ = p.Push(context.Background(), DeviceOSCustomHTTP, "d", agentAvailable("1"))
	if r := waitResult(t, results); r.err == nil || r.attempts != 1 || calls.Load() != 1 {
		t.Fatalf("400: result %+v after %d calls", r, calls.Load())
	}
}

func TestHTTPPushTimeoutRetried(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	defer close(release)
	// Only the first call hangs; a later one answers at once, but on a
	// loaded machine even that may miss a short timeout, so a few attempts
	// are allowed: what must hold is that a timed-out push is retried and
	// then delivered.
	p, results := newHTTPTest(t, HTTPOptions{URL: srv.URL, Timeout: 200 * time.Millisecond, MaxAttempts: 5})
	_ = p.Push(context.Background(), DeviceOSCustomHTTP, "d", agentAvailable("1"))
	if r := waitResult(t, results); r.err != nil || r.attempts < 2 {
		t.Fatalf("result %+v, want delivered after a retry", r)
	}
}

func TestHTTPPushQueueBoundAndErrors(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	p, _ := newHTTPTest(t, HTTPOptions{URL: srv.URL, Workers: 1, QueueSize: 1})
	ctx := context.Background()
	var full error
	start := time.Now()
	for i := 0; i < 3 && full == nil; i++ {
		full = p.Push(ctx, DeviceOSCustomHTTP, "d", agentAvailable("1"))
	}
	if !errors.Is(full, ErrPushQueueFull) {
		t.Fatalf("third push: %v", full)
	}
	// The blocked endpoint never answers, so a Push that waited for room
	// would never return; the bound only has to beat that.
	if time.Since(start) > 10*time.Second {
		t.Fatal("Push blocked")
	}
	close(block)
	if err := p.Push(ctx, "comet", "d", Notification{}); !errors.Is(err, ErrUnsupportedDeviceOS) {
		t.Fatalf("comet: %v", err)
	}
	noURL := NewHTTPPusher(HTTPOptions{})
	defer noURL.Close()
	if err := noURL.Push(ctx, DeviceOSCustomHTTP, "d", Notification{}); err == nil {
		t.Fatal("push without URL accepted")
	}
	p.Close()
	if err := p.Push(ctx, DeviceOSCustomHTTP, "d", Notification{}); err == nil {
		t.Fatal("push after Close accepted")
	}
}
