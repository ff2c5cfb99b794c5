package extrouting

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/omniroute/omniroute/clock/clocktest"
	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/journal/memjournal"
	"github.com/omniroute/omniroute/journal/natsjournal"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

const partnerToken = "partner-token-0123456789"

const fixture = `
mrds:
  - {id: chat, name: Chat, interruptible: true, maxRequests: 2}
queues:
  - {id: ext, name: External, mrd: chat, mode: external, ronaTimeoutSeconds: 20}
  - {id: ext2, name: External 2, mrd: chat, mode: external}
  - {id: internal, name: Internal, mrd: chat}
agents:
  - {id: alice, name: Alice}
  - {id: bob, name: Bob}
`

type env struct {
	t     *testing.T
	dir   string
	ns    *natsjournal.EmbeddedServer
	nc    *nats.Conn
	j     *memjournal.Journal
	node  *node.Node
	ad    *Adapter
	hs    *httptest.Server
	clock *clocktest.Clock
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Admin tokens of the tests (Options.Admin): adminToken (v1_test.go) does
// not expire, one is valid an hour, one expired a minute ago.
const (
	hourAdminToken    = "hour-admin-token-hour-admin"
	expiredAdminToken = "expired-admin-token-expired"
)

func testAdmin(token string) (time.Time, bool) {
	switch token {
	case adminToken:
		return time.Time{}, true
	case hourAdminToken:
		return time.Now().Add(time.Hour), true
	case expiredAdminToken:
		return time.Now().Add(-time.Minute), true
	}
	return time.Time{}, false
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), j: memjournal.New(), clock: clocktest.New(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))}
	e.start(true)
	t.Cleanup(e.stop)
	return e
}

// start opens NATS on e.dir, the node on e.j and the adapter.
func (e *env) start(configure bool) {
	t := e.t
	t.Helper()
	var err error
	e.ns, err = natsjournal.StartEmbedded(natsjournal.EmbeddedOptions{DataDir: e.dir})
	if err != nil {
		t.Fatal(err)
	}
	if e.nc, err = e.ns.Conn(); err != nil {
		t.Fatal(err)
	}
	e.node, err = node.Open(context.Background(), node.Config{Journal: e.j, Now: e.clock.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if configure {
		cfg, err := config.Parse([]byte(fixture))
		if err != nil {
			t.Fatal(err)
		}
		for _, cmd := range cfg.Commands() {
			e.submit(cmd)
		}
	}
	e.ad, err = New(context.Background(), e.node, e.nc, Options{Partners: []Partner{{ID: "p1", Token: partnerToken}, {ID: "p2", Token: otherPartnerToken}},
		ConnectTimeout: 300 * time.Millisecond, Logger: quiet, Admin: testAdmin})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/cometd/", e.ad.Handler())
	mux.Handle("/services/data/", e.ad.Handler())
	e.hs = httptest.NewServer(mux)
}

func (e *env) stop() {
	if e.hs == nil {
		return
	}
	e.hs.Close()
	e.ad.Close()
	e.node.Close()
	e.nc.Close()
	e.ns.Shutdown()
	e.hs = nil
}

func (e *env) restart() {
	e.stop()
	e.start(false)
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

// do sends a REST request with the partner token (token "" for none).
func (e *env) do(method, path, token, body string) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.hs.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := e.hs.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

const base = "/services/data/v60.0/sobjects/"

func (e *env) createWork(psr, conv, agent string) (int, []byte) {
	b, _ := json.Marshal(map[string]string{"ServiceChannelId": "chat", "WorkItemId": conv, "UserId": agent, "PendingServiceRoutingId": psr})
	return e.do("POST", base+"AgentWork", partnerToken, string(b))
}

func (e *env) work(id string) map[string]any {
	e.t.Helper()
	st, b := e.do("GET", base+"AgentWork/"+id, partnerToken, "")
	if st != 200 {
		e.t.Fatalf("GET AgentWork %s: %d %s", id, st, b)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// waitWork polls until the AgentWork has status.
func (e *env) waitWork(id, status string) map[string]any {
	e.t.Helper()
	var m map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if m = e.work(id); m["Status"] == status {
			return m
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatalf("AgentWork %s: status %v, want %s", id, m["Status"], status)
	return nil
}

// cometd is a minimal long-polling CometD client.
type cometd struct {
	e        *env
	path     string
	clientID string
	got      []map[string]any
}

func (e *env) post(path, token string, msgs ...any) (int, []map[string]any) {
	e.t.Helper()
	b, _ := json.Marshal(msgs)
	req, _ := http.NewRequest("POST", e.hs.URL+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.hs.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var out []map[string]any
	_ = json.Unmarshal(body, &out)
	return res.StatusCode, out
}

func find(out []map[string]any, channel string) map[string]any {
	for _, m := range out {
		if m["channel"] == channel && m["successful"] != nil {
			return m
		}
	}
	return nil
}

// subscribe handshakes and subscribes to topic with ext.replay id (nil: none).
func (e *env) subscribe(topic string, replay *int64) *cometd {
	e.t.Helper()
	c := &cometd{e: e, path: "/cometd/60.0"}
	hs := map[string]any{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"},
		"ext": map[string]any{"replay": true}}
	_, out := e.post(c.path, partnerToken, hs)
	rep := find(out, "/meta/handshake")
	if rep == nil || rep["successful"] != true {
		e.t.Fatalf("handshake: %v", out)
	}
	c.clientID = rep["clientId"].(string)
	sub := map[string]any{"channel": "/meta/subscribe", "clientId": c.clientID, "subscription": "/topic/" + topic}
	if replay != nil {
		sub["ext"] = map[string]any{"replay": map[string]int64{"/topic/" + topic: *replay}}
	}
	_, out = e.post(c.path, partnerToken, sub)
	if rep := find(out, "/meta/subscribe"); rep == nil || rep["successful"] != true {
		e.t.Fatalf("subscribe: %v", out)
	}
	return c
}

// next returns the next n delivered messages' data (fails after 5 s).
func (c *cometd) next(n int) []map[string]any {
	c.e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(c.got) < n && time.Now().Before(deadline) {
		_, out := c.e.post(c.path, partnerToken, map[string]any{"channel": "/meta/connect", "clientId": c.clientID,
			"connectionType": "long-polling", "advice": map[string]any{"timeout": 100}})
		for _, m := range out {
			if ch, _ := m["channel"].(string); strings.HasPrefix(ch, "/topic/") {
				c.got = append(c.got, m["data"].(map[string]any))
			}
		}
	}
	if len(c.got) < n {
		c.e.t.Fatalf("got %d messages, want %d: %v", len(c.got), n, c.got)
	}
	out := c.got[:n]
	c.got = c.got[n:]
	return out
}

// none checks that nothing more arrives within a connect.
func (c *cometd) none() {
	c.e.t.Helper()
	_, out := c.e.post(c.path, partnerToken, map[string]any{"channel": "/meta/connect", "clientId": c.clientID,
		"connectionType": "long-polling", "advice": map[string]any{"timeout": 200}})
	for _, m := range out {
		if ch, _ := m["channel"].(string); strings.HasPrefix(ch, "/topic/") {
			c.e.t.Fatalf("unexpected message %v", m)
		}
	}
	if len(c.got) > 0 {
		c.e.t.Fatalf("unexpected messages %v", c.got)
	}
}

func evType(d map[string]any) string { return d["event"].(map[string]any)["type"].(string) }
func replayID(d map[string]any) int64 {
	return int64(d["event"].(map[string]any)["replayId"].(float64))
}
func sobj(d map[string]any) map[string]any { return d["sobject"].(map[string]any) }
