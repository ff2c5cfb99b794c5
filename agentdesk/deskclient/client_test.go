package deskclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/omniroute/omniroute/agentdesk"
	"github.com/omniroute/omniroute/agentdesk/deskclient"
	"github.com/omniroute/omniroute/agentdesk/internal/fixture"
)

const timeout = 5 * time.Second

// server starts the agentdesk server on the fixture.
func server(t *testing.T, opts agentdesk.Options) (*agentdesk.Server, string) {
	t.Helper()
	n, err := fixture.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	opts.Logger = slog.New(slog.DiscardHandler)
	srv, err := agentdesk.New(n, fixture.Verify, opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv.Handler())
	ts := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); ts.Close(); _ = n.Close() })
	return srv, ts.URL
}

func auth(agent string) map[string]any {
	return map[string]any{"agent": agent, "fcm": "", "token": "token-" + agent}
}

// events returns a handler that forwards payloads to a channel.
func events() (chan json.RawMessage, deskclient.Handler) {
	ch := make(chan json.RawMessage, 64)
	return ch, func(p json.RawMessage) { ch <- p }
}

func recv(t *testing.T, ch chan json.RawMessage, what string) json.RawMessage {
	t.Helper()
	select {
	case p := <-ch:
		return p
	case <-time.After(timeout):
		t.Fatalf("no %s within %v", what, timeout)
		return nil
	}
}

func TestDialEmitOn(t *testing.T) {
	_, url := server(t, agentdesk.Options{})
	presence, h := events()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := deskclient.Dial(ctx, url, "/socket.io/", auth("a1"), deskclient.WithHandler(agentdesk.EventAgentPresence, h))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.ID() == "" {
		t.Error("no socket id")
	}
	var p agentdesk.AgentPresence
	if err := json.Unmarshal(recv(t, presence, "agentPresence on connect"), &p); err != nil || p.Agent.ID != "a1" || p.State.Name != "LOGOUT" {
		t.Fatalf("presence %+v, %v", p, err)
	}

	// A handler added after Dial sees later events, after the first one.
	later, h2 := events()
	c.On(agentdesk.EventAgentPresence, h2)
	args, err := c.EmitWithAck(ctx, agentdesk.EventChangeAgentState, map[string]any{"agentId": "a1", "action": "agentState", "state": map[string]any{"name": "READY"}})
	if err != nil || len(args) != 1 || string(args[0]) != `{"ok":true}` {
		t.Fatalf("ack %s, %v", args, err)
	}
	for _, ch := range []chan json.RawMessage{presence, later} {
		if err := json.Unmarshal(recv(t, ch, "agentPresence READY"), &p); err != nil || p.State.Name != "READY" {
			t.Fatalf("presence %+v, %v", p, err)
		}
	}

	// Plain Emit.
	if err := c.Emit(agentdesk.EventChangeAgentState, map[string]any{"action": "agentState", "state": map[string]any{"name": "NOT_READY"}}); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(recv(t, later, "agentPresence NOT_READY"), &p); err != nil || p.State.Name != "NOT_READY" {
		t.Fatalf("presence %+v, %v", p, err)
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(timeout):
		t.Fatal("Done not closed after Close")
	}
	if !errors.Is(c.Err(), deskclient.ErrClosed) {
		t.Fatalf("Err = %v", c.Err())
	}
	if err := c.Emit("x", 1); err == nil {
		t.Fatal("Emit after Close succeeded")
	}
	if _, err := c.EmitWithAck(ctx, "x", 1); err == nil {
		t.Fatal("EmitWithAck after Close succeeded")
	}
	_ = c.Close() // twice is fine
}

func TestDialErrors(t *testing.T) {
	_, url := server(t, agentdesk.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	_, err := deskclient.Dial(ctx, url, "", map[string]any{"agent": "a1", "token": "wrong"})
	var ce *deskclient.ConnectError
	if !errors.As(err, &ce) || ce.Code != agentdesk.CodeUnauthorized || ce.Message == "" || !strings.Contains(string(ce.Data), `"code":"UNAUTHORIZED"`) {
		t.Fatalf("bad token: %v", err)
	}

	_, err = deskclient.Dial(ctx, url, "/elsewhere", auth("a1"))
	var he *deskclient.HandshakeError
	if !errors.As(err, &he) || he.StatusCode != http.StatusNotFound {
		t.Fatalf("wrong path: %v", err)
	}

	if _, err := deskclient.Dial(ctx, "ftp://x", "", nil); err == nil {
		t.Fatal("ftp url accepted")
	}
}

func TestDialContext(t *testing.T) {
	// A WebSocket server that never sends the Engine.IO open packet.
	up := websocket.Upgrader{}
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		<-release
	}))
	defer ts.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := deskclient.Dial(ctx, ts.URL, "", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Dial took %v", d)
	}
}

func TestServerCloseEndsConnection(t *testing.T) {
	srv, url := server(t, agentdesk.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := deskclient.Dial(ctx, url, "", auth("a1"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	select {
	case <-c.Done():
	case <-time.After(timeout):
		t.Fatal("connection still open after the server closed")
	}
	if c.Err() == nil || errors.Is(c.Err(), deskclient.ErrClosed) {
		t.Fatalf("Err = %v", c.Err())
	}
}

func TestFrameLimits(t *testing.T) {
	_, url := server(t, agentdesk.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// agentPresence (~700 bytes) is over 300 bytes: the client drops the
	// connection rather than read it.
	c, err := deskclient.Dial(ctx, url, "", auth("a1"), deskclient.WithMaxFrameBytes(300))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(timeout):
		t.Fatal("connection kept after an oversize frame")
	}
	if c.Err() == nil || !strings.Contains(c.Err().Error(), "read limit") {
		t.Fatalf("Err = %v", c.Err())
	}

	c2, err := deskclient.Dial(ctx, url, "", auth("a2"), deskclient.WithMaxFrameBytes(4096))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Emit("big", strings.Repeat("x", 5000)); !errors.Is(err, deskclient.ErrFrameTooLarge) {
		t.Fatalf("Emit big = %v", err)
	}
}

func TestPingKeepsConnection(t *testing.T) {
	// A client that never answered would be dropped 2.1 s in (the first
	// ping's timeout); the waits leave room for a loaded 2-core CI
	// machine, where a goroutine may not run for hundreds of milliseconds.
	_, url := server(t, agentdesk.Options{PingInterval: 100 * time.Millisecond, PingTimeout: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := deskclient.Dial(ctx, url, "", auth("a1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Several ping periods: a client that did not answer would be dropped.
	select {
	case <-c.Done():
		t.Fatalf("dropped: %v", c.Err())
	case <-time.After(3 * time.Second):
	}
	if _, err := c.EmitWithAck(ctx, agentdesk.EventChangeAgentState, map[string]any{"action": "agentState", "state": map[string]any{"name": "READY"}}); err != nil {
		t.Fatal(err)
	}
}

// TestProtocol drives the client with a scripted Engine.IO server.
func TestProtocol(t *testing.T) {
	up := websocket.Upgrader{}
	type step struct {
		send   string
		expect string // what the client must answer, "" for nothing
	}
	script := []step{
		{`0{"sid":"e1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000}`, `40{"token":"t"}`},
		{`2`, `3`},
		{`40{"sid":"s1"}`, ""},
		{`42["hello",{"a":1}]`, ""},
		{`42["bare"]`, ""},
		{`4212["needsAck",1]`, `4312[]`},
		{`42/admin,["hello",{"a":2}]`, ""},
		{`41`, ""},
	}
	failed := make(chan string, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/socket.io/" || r.URL.Query().Get("EIO") != "4" || r.URL.Query().Get("transport") != "websocket" || r.URL.Query().Get("token") != "q" {
			failed <- "bad request " + r.URL.String()
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for _, s := range script {
			if err := c.WriteMessage(websocket.TextMessage, []byte(s.send)); err != nil {
				failed <- err.Error()
				return
			}
			if s.expect == "" {
				continue
			}
			_, got, err := c.ReadMessage()
			if err != nil || string(got) != s.expect {
				failed <- "after " + s.send + " got " + string(got) + ", want " + s.expect
				return
			}
		}
		_, _, _ = c.ReadMessage() // until the client closes
	}))
	defer ts.Close()

	hello, h := events()
	bare, hb := events()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := deskclient.Dial(ctx, strings.Replace(ts.URL, "http", "ws", 1)+"?token=q", "", map[string]any{"token": "t"},
		deskclient.WithHandler("hello", h), deskclient.WithHandler("bare", hb))
	if err != nil {
		t.Fatal(err)
	}
	if c.ID() != "s1" {
		t.Errorf("ID = %q", c.ID())
	}
	if p := recv(t, hello, "hello"); string(p) != `{"a":1}` {
		t.Errorf("hello payload %s", p)
	}
	if p := recv(t, bare, "bare"); string(p) != "null" {
		t.Errorf("bare payload %s", p)
	}
	if p := recv(t, hello, "hello from a namespace"); string(p) != `{"a":2}` {
		t.Errorf("second hello payload %s", p)
	}
	select {
	case <-c.Done():
	case msg := <-failed:
		t.Fatal(msg)
	case <-time.After(timeout):
		t.Fatal("no disconnect")
	}
	if !errors.Is(c.Err(), deskclient.ErrDisconnected) {
		t.Fatalf("Err = %v", c.Err())
	}
	select {
	case msg := <-failed:
		t.Fatal(msg)
	default:
	}
}
