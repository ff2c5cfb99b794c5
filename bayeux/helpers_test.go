package bayeux

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// msg is a decoded reply or delivered message, loosely typed for tests.
type msg map[string]any

func (m msg) str(k string) string { s, _ := m[k].(string); return s }
func (m msg) ok() bool            { b, _ := m["successful"].(bool); return b }
func (m msg) obj(k string) msg    { o, _ := m[k].(map[string]any); return msg(o) }

// testServer is a Server behind httptest with a small long-polling client.
type testServer struct {
	t   *testing.T
	srv *Server
	hs  *httptest.Server
}

func newTestServer(t *testing.T, opts Options) *testServer {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := NewServer(opts)
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.Close()
		hs.Close()
	})
	return &testServer{t: t, srv: s, hs: hs}
}

// postRaw posts body and returns the status and decoded reply array.
func (ts *testServer) postRaw(body string, header http.Header) (int, []msg) {
	ts.t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.hs.URL+"/connect", strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := ts.hs.Client().Do(req)
	if err != nil {
		ts.t.Fatalf("post: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out []msg
	if err := json.Unmarshal(b, &out); err != nil {
		ts.t.Fatalf("reply is not a JSON array of objects: %v: %s", err, b)
	}
	return res.StatusCode, out
}

// post sends messages and expects HTTP 200.
func (ts *testServer) post(msgs ...any) []msg {
	ts.t.Helper()
	b, _ := json.Marshal(msgs)
	status, out := ts.postRaw(string(b), nil)
	if status != http.StatusOK {
		ts.t.Fatalf("status %d: %v", status, out)
	}
	return out
}

// reply returns the reply on channel from out (fails when absent).
func (ts *testServer) reply(out []msg, channel string) msg {
	ts.t.Helper()
	for _, m := range out {
		if m.str("channel") == channel && m["successful"] != nil {
			return m
		}
	}
	ts.t.Fatalf("no %s reply in %v", channel, out)
	return nil
}

// data returns the delivered (non-meta) messages of out.
func data(out []msg) []msg {
	var d []msg
	for _, m := range out {
		if !strings.HasPrefix(m.str("channel"), "/meta/") && m["successful"] == nil {
			d = append(d, m)
		}
	}
	return d
}

func (ts *testServer) handshake(ext map[string]any) string {
	ts.t.Helper()
	m := map[string]any{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}, "id": "h"}
	if ext != nil {
		m["ext"] = ext
	}
	rep := ts.reply(ts.post(m), "/meta/handshake")
	if !rep.ok() {
		ts.t.Fatalf("handshake failed: %v", rep)
	}
	return rep.str("clientId")
}

func (ts *testServer) subscribe(id string, channel string) msg {
	ts.t.Helper()
	return ts.reply(ts.post(map[string]any{"channel": "/meta/subscribe", "clientId": id, "subscription": channel}), "/meta/subscribe")
}

// connect sends a /meta/connect with the given advice timeout in ms (-1:
// none) and ack (-1: none) and returns the whole reply array.
func (ts *testServer) connect(id string, timeoutMs int, ack int) []msg {
	ts.t.Helper()
	m := map[string]any{"channel": "/meta/connect", "clientId": id, "connectionType": "long-polling"}
	if timeoutMs >= 0 {
		m["advice"] = map[string]any{"timeout": timeoutMs}
	}
	if ack >= 0 {
		m["ext"] = map[string]any{"ack": ack}
	}
	return ts.post(m)
}

// publish publishes from the server side.
func (ts *testServer) publish(channel string, data any, opts ...PublishOption) int {
	ts.t.Helper()
	b, _ := json.Marshal(data)
	n, err := ts.srv.Publish(channel, b, opts...)
	if err != nil {
		ts.t.Fatal(err)
	}
	return n
}

// waitHeld waits until client id has a held connect.
func (ts *testServer) waitHeld(id string) {
	ts.t.Helper()
	waitUntil(ts.t, "held connect", func() bool {
		c := ts.srv.Client(id)
		if c == nil {
			return false
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.cur != nil
	})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// async runs f in a goroutine and returns a channel with its result.
func async[T any](f func() T) <-chan T {
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	return ch
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
