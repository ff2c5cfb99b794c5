package agentdesk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroute/omniroute/agentdesk"
	"github.com/omniroute/omniroute/agentdesk/deskclient"
	"github.com/omniroute/omniroute/agentdesk/internal/fixture"
	"github.com/omniroute/omniroute/conversation"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// waitTimeout bounds every wait for an event.
const waitTimeout = 10 * time.Second

// env is a node with the fixture, an agentdesk server and an HTTP server.
type env struct {
	t    testing.TB
	n    *node.Node
	conv *conversation.Conversations
	srv  *agentdesk.Server
	ts   *httptest.Server
}

// waitUntil polls cond until it holds, failing after waitTimeout: a
// condition wait, never a sleep that hopes the server is done.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// t0 is where the tests' fake clocks start.
var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newEnv(t testing.TB, opts agentdesk.Options) *env {
	return newEnvConv(t, opts, conversation.Options{})
}

// newEnvConv is newEnv with the conversation layer's options.
func newEnvConv(t testing.TB, opts agentdesk.Options, copts conversation.Options) *env {
	t.Helper()
	ctx := context.Background()
	n, err := fixture.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	if copts.Logger == nil {
		copts.Logger = opts.Logger
	}
	conv, err := conversation.New(n, copts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Conversations = conv
	srv, err := agentdesk.New(n, fixture.Verify, opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(srv.Path()+"/", srv.Handler())
	ts := httptest.NewServer(mux)
	e := &env{t: t, n: n, conv: conv, srv: srv, ts: ts}
	t.Cleanup(func() {
		srv.Close()
		conv.Close()
		ts.Close()
		_ = n.Close()
	})
	return e
}

// submit applies a command and fails the test on error.
func (e *env) submit(cmd routing.Command) []routing.Event {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	ev, err := e.n.Submit(ctx, cmd)
	if err != nil {
		e.t.Fatalf("submit %s: %v", cmd.CommandName(), err)
	}
	return ev
}

// view runs fn on the state.
func (e *env) view(fn func(routing.View)) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.n.View(ctx, fn); err != nil {
		e.t.Fatal(err)
	}
}

// serverEvents are every event the server sends; the recorder registers
// them all before connecting.
var serverEvents = []string{
	agentdesk.EventAgentPresence, agentdesk.EventTaskRequest, agentdesk.EventRevokeTask,
	agentdesk.EventOnTopicData, agentdesk.EventTopicUnsubscription, agentdesk.EventErrors,
	agentdesk.EventOnCimEvent, agentdesk.EventTokenExpiring, agentdesk.EventTokenExpired,
}

// recorder keeps what one connection received, for waits with a predicate.
type recorder struct {
	mu      sync.Mutex
	got     []received
	changed chan struct{}
}

type received struct {
	event    string
	payload  json.RawMessage
	consumed bool
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) options() []deskclient.Option {
	var opts []deskclient.Option
	for _, ev := range serverEvents {
		opts = append(opts, deskclient.WithHandler(ev, func(p json.RawMessage) {
			r.mu.Lock()
			r.got = append(r.got, received{event: ev, payload: p})
			close(r.changed)
			r.changed = make(chan struct{})
			r.mu.Unlock()
		}))
	}
	return opts
}

// next returns the first not yet consumed event named ev whose payload,
// decoded into a fresh T, satisfies pred; it fails the test after
// waitTimeout.
func next[T any](t testing.TB, r *recorder, ev string, pred func(T) bool) T {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		r.mu.Lock()
		for i := range r.got {
			g := &r.got[i]
			if g.consumed || g.event != ev {
				continue
			}
			var v T
			if err := json.Unmarshal(g.payload, &v); err != nil {
				r.mu.Unlock()
				t.Fatalf("%s: cannot decode %s: %v", ev, g.payload, err)
			}
			if pred == nil || pred(v) {
				g.consumed = true
				r.mu.Unlock()
				return v
			}
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no matching %q within %v; received: %s", ev, waitTimeout, r.dump())
		}
	}
}

// nextRaw is next for the raw JSON object (to check field presence).
func nextRaw(t testing.TB, r *recorder, ev string, pred func(map[string]any) bool) map[string]any {
	t.Helper()
	return next(t, r, ev, pred)
}

// none fails if an event named ev arrives within d (after the events
// already consumed).
func none(t testing.TB, r *recorder, ev string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		r.mu.Lock()
		for _, g := range r.got {
			if !g.consumed && g.event == ev {
				r.mu.Unlock()
				t.Fatalf("unexpected %s: %s", ev, g.payload)
			}
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			return
		}
	}
}

func (r *recorder) dump() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, g := range r.got {
		fmt.Fprintf(&b, "\n  %s consumed=%t %s", g.event, g.consumed, g.payload)
	}
	return b.String()
}

// auth is the handshake auth of agent with its fixture token.
func auth(agent string) map[string]any {
	return map[string]any{"agent": agent, "fcm": "", "token": "token-" + agent}
}

// dial connects with auth and records every server event.
func (e *env) dial(a map[string]any, opts ...deskclient.Option) (*deskclient.Conn, *recorder, error) {
	r := newRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := deskclient.Dial(ctx, e.ts.URL, "", a, append(r.options(), opts...)...)
	if err == nil {
		e.t.Cleanup(func() { _ = c.Close() })
	}
	return c, r, err
}

// connect dials agent and waits for its connect-time agentPresence.
func (e *env) connect(agent string) (*deskclient.Conn, *recorder) {
	e.t.Helper()
	c, r, err := e.dial(auth(agent))
	if err != nil {
		e.t.Fatalf("dial %s: %v", agent, err)
	}
	next(e.t, r, agentdesk.EventAgentPresence, func(p agentdesk.AgentPresence) bool { return p.Agent.ID == agent })
	return c, r
}

// ack emits with an acknowledgement and decodes it.
func ack(t testing.TB, c *deskclient.Conn, ev string, payload any) agentdesk.Ack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	args, err := c.EmitWithAck(ctx, ev, payload)
	if err != nil {
		t.Fatalf("%s: %v", ev, err)
	}
	if len(args) != 1 {
		t.Fatalf("%s: ack with %d arguments", ev, len(args))
	}
	var a agentdesk.Ack
	if err := json.Unmarshal(args[0], &a); err != nil {
		t.Fatalf("%s: ack %s: %v", ev, args[0], err)
	}
	return a
}

// setState sends changeAgentState agentState and waits for the ack.
func setState(t testing.TB, c *deskclient.Conn, agent, state string, reason any) agentdesk.Ack {
	t.Helper()
	return ack(t, c, agentdesk.EventChangeAgentState, map[string]any{
		"agentId": agent, "action": "agentState", "state": map[string]any{"name": state, "reasonCode": reason}})
}

func isState(name string) func(agentdesk.AgentPresence) bool {
	return func(p agentdesk.AgentPresence) bool { return p.State.Name == name }
}
