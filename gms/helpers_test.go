package gms_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroute/omniroute/clock/clocktest"
	"github.com/omniroute/omniroute/gms"
	"github.com/omniroute/omniroute/journal/memjournal"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// The seed's gms_user (seed 003).
const seedUser = "b16416334828b1d26ef14f329628b55b5a8c631d8928a371a5584722dd7fb673"

// recorder is an in-process Pusher that records what it is given.
type recorder struct {
	mu   sync.Mutex
	got  []pushed
	fail bool
}

type pushed struct {
	os, id string
	n      gms.Notification
}

func (r *recorder) Push(_ context.Context, os, id string, n gms.Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return io.ErrUnexpectedEOF
	}
	r.got = append(r.got, pushed{os, id, n})
	return nil
}

func (r *recorder) all() []pushed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]pushed(nil), r.got...)
}

type env struct {
	t     *testing.T
	clock *clocktest.Clock
	node  *node.Node
	gms   *gms.Server
	hs    *httptest.Server
	push  *recorder
	// deskNotes receives what the AgentNotifier would hand the agent desk.
	deskNotes chan deskNote
	store     gms.Store
	specs     []gms.ServiceSpec
	// claim is the GMS servers' ClaimPush (nil: none).
	claim func(context.Context, string) (bool, error)
	// nodeID is the GMS servers' NodeID (cluster mode; "" single node).
	nodeID string
}

type deskNote struct {
	conversation string
	data         map[string]string
}

const adminToken = "test-admin-token"

// chatDelay is the seed's chat-delay service on queue chat-support.
func chatDelay() gms.ServiceSpec {
	return gms.ServiceSpec{Name: "chat-delay", Options: map[string]string{
		"_media_type": "chat", "_wait_for_agent": "true", "_wait_for_user_confirm": "true",
		"_target": "chat-support@StatServer.Q", "_urs_server_url": "http://urs:7304",
		"_urs_virtual_queue": "VQ_chat", "_urs_prioritization_strategy": "WaitForTarget",
		"_urs_strategy_update_sub_routine": "SetRouteDelay"},
		ConfirmationSeconds: 60, HoldAttempts: 1}
}

func newEnv(t *testing.T, specs ...gms.ServiceSpec) *env {
	t.Helper()
	return newEnvStore(t, nil, specs...)
}

// newEnvStore is newEnv with a callback Store (nil: memory only).
func newEnvStore(t *testing.T, store gms.Store, specs ...gms.ServiceSpec) *env {
	t.Helper()
	e := &env{t: t, clock: clocktest.New(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)), push: &recorder{},
		deskNotes: make(chan deskNote, 16)}
	var err error
	e.node, err = node.Open(context.Background(), node.Config{Journal: memjournal.New(), Now: e.clock.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []routing.Command{
		routing.UpsertMRD{MRD: routing.MRD{ID: "chat", Name: "Chat", Interruptible: true, MaxRequests: 3}},
		routing.UpsertAgent{Agent: routing.Agent{ID: "alice", Name: "Alice", Skills: map[string]int{"support": 50, "English": 30}}},
		routing.UpsertAgent{Agent: routing.Agent{ID: "bob", Name: "Bob", Skills: map[string]int{"support": 50}}},
		routing.UpsertQueue{Queue: routing.Queue{ID: "chat-support", Name: "Support", MRD: "chat", Skills: map[string]int{"support": 10}}},
		routing.UpsertQueue{Queue: routing.Queue{ID: "chat-english", Name: "English", MRD: "chat", Skills: map[string]int{"English": 20}}},
	} {
		e.submit(cmd)
	}
	if len(specs) == 0 {
		specs = []gms.ServiceSpec{chatDelay()}
	}
	e.store, e.specs = store, specs
	e.gms, err = e.newGMS()
	if err != nil {
		t.Fatal(err)
	}
	e.hs = httptest.NewServer(e.gms.Handler())
	t.Cleanup(func() {
		e.hs.Close()
		e.gms.Close()
		e.node.Close()
	})
	return e
}

// restartGMS replaces the GMS server (same node and Store), as a restart
// of the process would.
func (e *env) restartGMS() {
	e.t.Helper()
	e.hs.Close()
	e.gms.Close()
	g, err := e.newGMS()
	if err != nil {
		e.t.Fatal(err)
	}
	e.gms = g
	e.hs = httptest.NewServer(g.Handler())
}

func (e *env) newGMS() (*gms.Server, error) {
	return gms.New(e.node, gms.Options{Services: e.specs, Logger: quiet, Now: e.clock.Now, Store: e.store,
		Pushers: map[string]gms.Pusher{"comet": e.push}, ClaimPush: e.claim, NodeID: e.nodeID,
		AdminAuth: func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer "+adminToken },
		// "Bearer <adminToken>": an admin; "Bearer agent:<id>": agent id.
		AgentAuth: func(r *http.Request) (string, bool, bool) {
			tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			switch {
			case tok == adminToken:
				return "", true, true
			case strings.HasPrefix(tok, "agent:"):
				return strings.TrimPrefix(tok, "agent:"), false, true
			}
			return "", false, false
		},
		AgentNotifier: func(_ context.Context, conversation string, data map[string]string) error {
			e.deskNotes <- deskNote{conversation, data}
			return nil
		},
	})
}

func (e *env) submit(cmd routing.Command) []routing.Event {
	e.t.Helper()
	ev, err := e.node.Submit(context.Background(), cmd)
	if err != nil {
		e.t.Fatalf("%s: %v", cmd.CommandName(), err)
	}
	return ev
}

func (e *env) ready(agent string) {
	e.t.Helper()
	e.submit(routing.SetAgentState{Agent: agent, State: routing.AgentReady})
}

func (e *env) digest() string {
	e.t.Helper()
	d, err := e.node.Digest(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// multipart builds a curl/WebKit-shaped multipart body with CRLF lines.
func multipart(boundary string, kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + kv[i] + "\"\r\n\r\n" + kv[i+1] + "\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.String()
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d body %q: %v", r.status, r.body, err)
	}
	return m
}

func (e *env) do(method, path, contentType, body string, hdr ...string) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.hs.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

// post sends an empty seed-style multipart body (only the closing boundary).
func (e *env) post(path, user string) resp {
	e.t.Helper()
	const bd = "----WebKitFormBoundary2gBrAJX9qPSafKwk"
	return e.do("POST", path, "multipart/form-data; boundary="+bd, "--"+bd+"--\r\n", "gms_user", user)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 400 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// create posts the seed's Create request and returns the callback id.
func (e *env) create(user, os string) string {
	e.t.Helper()
	const bd = "----WebKitFormBoundary0WnE36LruxJ4S5nu"
	body := multipart(bd, "_customer_number", "4082652649", "usr_customer_name", "Bob Markel", "usr_reason", "billing question",
		"_device_notification_id", user, "_device_os", os)
	r := e.do("POST", "/genesys/1/service/callback/chat-delay", "multipart/form-data; boundary="+bd, body, "gms_user", user)
	if r.status != 200 {
		e.t.Fatalf("create: %d %s", r.status, r.body)
	}
	m := r.json(e.t)
	id, _ := m["_id"].(string)
	if len(m) != 2 || id == "" || m["_text"] != "We will notify you when agent is available" {
		e.t.Fatalf("create answer %s", r.body)
	}
	return id
}

func (e *env) state(id, user string) (string, string) {
	e.t.Helper()
	r := e.do("GET", "/genesys/1/service/callback/chat-delay/"+id, "", "", "gms_user", user)
	if r.status != 200 {
		e.t.Fatalf("get: %d %s", r.status, r.body)
	}
	m := r.json(e.t)
	reason, _ := m["_callback_reason"].(string)
	return m["_callback_state"].(string), reason
}
