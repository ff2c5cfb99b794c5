package gms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/omniroute/omniroute/bayeux"
	"github.com/omniroute/omniroute/clock"
	"github.com/omniroute/omniroute/clock/clocktest"
)

// lpClient is a minimal Bayeux long-polling client for the tests.
type lpClient struct {
	t        *testing.T
	url      string
	user     string
	clientID string
}

func (c *lpClient) send(msgs ...map[string]any) []map[string]any {
	c.t.Helper()
	for _, m := range msgs {
		if c.clientID != "" {
			m["clientId"] = c.clientID
		}
	}
	body, _ := json.Marshal(msgs)
	req, _ := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if c.user != "" {
		req.Header.Set(UserHeader, c.user)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		c.t.Fatalf("decode reply (HTTP %d): %v", resp.StatusCode, err)
	}
	return out
}

func (c *lpClient) handshake(ext map[string]any) map[string]any {
	c.t.Helper()
	m := map[string]any{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}}
	if ext != nil {
		m["ext"] = ext
	}
	r := c.send(m)[0]
	if ok, _ := r["successful"].(bool); ok {
		c.clientID = r["clientId"].(string)
	}
	return r
}

func (c *lpClient) subscribe(ch string) map[string]any {
	c.t.Helper()
	return c.send(map[string]any{"channel": "/meta/subscribe", "subscription": ch})[0]
}

// connect returns the data of the /_genesys messages of one connect reply.
func (c *lpClient) connect() []map[string]any {
	c.t.Helper()
	var got []map[string]any
	for _, m := range c.send(map[string]any{"channel": "/meta/connect", "connectionType": "long-polling"}) {
		if m["channel"] == CometChannel {
			got = append(got, m["data"].(map[string]any))
		}
	}
	return got
}

func newCometTest(t *testing.T, o CometOptions) (*CometPusher, string) {
	t.Helper()
	if o.Bayeux.ConnectTimeout == 0 {
		o.Bayeux.ConnectTimeout = 150 * time.Millisecond
	}
	p := NewCometPusher(o)
	mux := http.NewServeMux()
	mux.Handle("/genesys/cometd", p.Handler())
	mux.Handle("/genesys/cometd/", p.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); p.Close() })
	return p, srv.URL + "/genesys/cometd"
}

func agentAvailable(id string) Notification {
	return Notification{
		ID:      "01afcd60258a11e300006072543ed1ff",
		Message: map[string]any{"_action": ActionAgentAvailable, "_id": id},
		Tag:     TagAgentAvailable + id,
	}
}

func TestCometPushOnlyToItsUser(t *testing.T) {
	p, url := newCometTest(t, CometOptions{})
	a := &lpClient{t: t, url: url, user: "user-a"}
	b := &lpClient{t: t, url: url, user: "user-b"}
	for _, c := range []*lpClient{a, b} {
		if r := c.handshake(nil); r["successful"] != true {
			t.Fatalf("handshake: %v", r)
		}
		if r := c.subscribe(CometChannel); r["successful"] != true {
			t.Fatalf("subscribe: %v", r)
		}
		c.connect() // the first connect returns at once
	}
	n := agentAvailable("369-1")
	if err := p.Push(context.Background(), DeviceOSComet, "user-a", n); err != nil {
		t.Fatal(err)
	}
	got := a.connect()
	if len(got) != 1 {
		t.Fatalf("user-a got %v", got)
	}
	want, _ := json.Marshal(n)
	have, _ := json.Marshal(got[0])
	if !bytes.Equal(want, have) {
		t.Fatalf("data %s, want %s", have, want)
	}
	if got := b.connect(); len(got) != 0 {
		t.Fatalf("user-b got %v", got)
	}
	if p.Connected("user-a") != 1 || p.Connected("nobody") != 0 {
		t.Fatalf("Connected: %d %d", p.Connected("user-a"), p.Connected("nobody"))
	}
}

func TestCometRefusals(t *testing.T) {
	_, url := newCometTest(t, CometOptions{})
	anon := &lpClient{t: t, url: url}
	if r := anon.handshake(nil); r["successful"] != true {
		t.Fatalf("anonymous handshake: %v", r)
	}
	if r := anon.subscribe(CometChannel); r["successful"] != false || !strings.HasPrefix(r["error"].(string), "401::") {
		t.Fatalf("anonymous subscribe: %v", r)
	}
	extOnly := &lpClient{t: t, url: url}
	if r := extOnly.handshake(map[string]any{"gms_user": "u"}); r["successful"] != false || !strings.HasPrefix(r["error"].(string), "401::") {
		t.Fatalf("long-polling ext-only handshake: %v", r)
	}
	mismatch := &lpClient{t: t, url: url, user: "u"}
	if r := mismatch.handshake(map[string]any{"gms_user": "v"}); r["successful"] != false || !strings.HasPrefix(r["error"].(string), "401::") {
		t.Fatalf("mismatched handshake: %v", r)
	}
	c := &lpClient{t: t, url: url, user: "u"}
	c.handshake(nil)
	if r := c.subscribe("/other"); r["successful"] != false || !strings.HasPrefix(r["error"].(string), "403::") {
		t.Fatalf("subscribe /other: %v", r)
	}
	r := c.send(map[string]any{"channel": CometChannel, "data": map[string]any{"x": 1}})[0]
	if r["successful"] != false || !strings.HasPrefix(r["error"].(string), "403::") {
		t.Fatalf("client publish: %v", r)
	}
}

func TestCometKeepsUntilSubscribe(t *testing.T) {
	p, url := newCometTest(t, CometOptions{MaxPendingPerUser: 2})
	ctx := context.Background()
	for i, id := range []string{"1", "2", "3"} {
		err := p.Push(ctx, DeviceOSComet, "late", agentAvailable(id))
		if !errors.Is(err, ErrPushPending) {
			t.Fatalf("push %d: %v, want ErrPushPending", i, err)
		}
	}
	c := &lpClient{t: t, url: url, user: "late"}
	c.handshake(nil)
	c.subscribe(CometChannel)
	var got []string
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < 2 && time.Now().Before(deadline) {
		for _, d := range c.connect() {
			got = append(got, d["tag"].(string))
		}
	}
	// The bound keeps the newest MaxPendingPerUser, in push order.
	if strings.Join(got, ",") != TagAgentAvailable+"2,"+TagAgentAvailable+"3" {
		t.Fatalf("kept notifications: %v", got)
	}
	// With a subscriber connected, a push is delivered live.
	if err := p.Push(ctx, DeviceOSComet, "late", agentAvailable("4")); err != nil {
		t.Fatalf("live push: %v", err)
	}
}

func TestCometPendingExpires(t *testing.T) {
	clk := clocktest.New(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	// The fake clock expires the kept notification; the held connect below
	// ends on the wall clock (newCometTest's 150 ms ConnectTimeout).
	p, url := newCometTest(t, CometOptions{PendingTTL: 30 * time.Second, Clock: clk, Bayeux: bayeux.Options{Clock: clock.Real}})
	_ = p.Push(context.Background(), DeviceOSComet, "u", agentAvailable("1"))
	clk.Advance(time.Minute)
	c := &lpClient{t: t, url: url, user: "u"}
	c.handshake(nil)
	c.subscribe(CometChannel)
	c.connect()
	if got := c.connect(); len(got) != 0 {
		t.Fatalf("expired notification delivered: %v", got)
	}
}

func TestCometPushErrors(t *testing.T) {
	p, _ := newCometTest(t, CometOptions{})
	if err := p.Push(context.Background(), "ios", "u", Notification{}); !errors.Is(err, ErrUnsupportedDeviceOS) {
		t.Fatalf("ios: %v", err)
	}
	if err := p.Push(context.Background(), DeviceOSComet, "", Notification{}); err == nil {
		t.Fatal("empty device id accepted")
	}
	p.Close()
	if err := p.Push(context.Background(), DeviceOSComet, "u", Notification{}); err == nil {
		t.Fatal("push after Close accepted")
	}
}

// A websocket without gms_user header names the user in ext.gms_user and
// is bound to it.
func TestCometWebSocketExtUser(t *testing.T) {
	p, url := newCometTest(t, CometOptions{})
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	rt := func(msgs ...map[string]any) []map[string]any {
		t.Helper()
		if err := ws.WriteJSON(msgs); err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		var out []map[string]any
		if err := ws.ReadJSON(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	hs := rt(map[string]any{"channel": "/meta/handshake", "version": "1.0",
		"supportedConnectionTypes": []string{"websocket"}, "ext": map[string]any{"gms_user": "wsuser"}})[0]
	if hs["successful"] != true {
		t.Fatalf("handshake: %v", hs)
	}
	id := hs["clientId"].(string)
	again := rt(map[string]any{"channel": "/meta/handshake", "version": "1.0",
		"supportedConnectionTypes": []string{"websocket"}, "ext": map[string]any{"gms_user": "other"}})[0]
	if again["successful"] != false || !strings.HasPrefix(again["error"].(string), "401::") {
		t.Fatalf("second user on the same socket: %v", again)
	}
	if r := rt(map[string]any{"channel": "/meta/subscribe", "clientId": id, "subscription": CometChannel})[0]; r["successful"] != true {
		t.Fatalf("subscribe: %v", r)
	}
	rt(map[string]any{"channel": "/meta/connect", "clientId": id, "connectionType": "websocket", "advice": map[string]any{"timeout": 0}})
	if err := p.Push(context.Background(), DeviceOSComet, "other", agentAvailable("x")); !errors.Is(err, ErrPushPending) {
		t.Fatalf("push to other: %v", err)
	}
	if err := p.Push(context.Background(), DeviceOSComet, "wsuser", agentAvailable("1")); err != nil {
		t.Fatal(err)
	}
	out := rt(map[string]any{"channel": "/meta/connect", "clientId": id, "connectionType": "websocket"})
	if len(out) != 2 || out[0]["channel"] != CometChannel || out[0]["data"].(map[string]any)["tag"] != TagAgentAvailable+"1" {
		t.Fatalf("connect reply: %v", out)
	}
}

// One Bayeux server for all users: MaxSessionsPerUser bounds each user's
// sessions, Bayeux.MaxClients all of them, and an ended session frees its
// place.
func TestCometSessionLimits(t *testing.T) {
	p, url := newCometTest(t, CometOptions{MaxSessionsPerUser: 1, Bayeux: bayeux.Options{MaxClients: 2}})
	a := &lpClient{t: t, url: url, user: "a"}
	if r := a.handshake(nil); r["successful"] != true {
		t.Fatalf("a: %v", r)
	}
	a2 := &lpClient{t: t, url: url, user: "a"}
	if r := a2.handshake(nil); r["successful"] != false || !strings.HasPrefix(r["error"].(string), "503::") {
		t.Fatalf("second session of a: %v", r)
	}
	b := &lpClient{t: t, url: url, user: "b"}
	if r := b.handshake(nil); r["successful"] != true {
		t.Fatalf("b: %v", r)
	}
	anon := &lpClient{t: t, url: url}
	if r := anon.handshake(nil); r["successful"] != false || !strings.HasPrefix(r["error"].(string), "503::") {
		t.Fatalf("third session over MaxClients 2: %v", r)
	}
	if p.Connected("a") != 1 || p.Connected("b") != 1 {
		t.Fatalf("Connected a=%d b=%d", p.Connected("a"), p.Connected("b"))
	}
	if r := a.send(map[string]any{"channel": "/meta/disconnect"})[0]; r["successful"] != true {
		t.Fatalf("disconnect: %v", r)
	}
	if p.Connected("a") != 0 {
		t.Fatalf("Connected(a) after disconnect: %d", p.Connected("a"))
	}
	if r := a2.handshake(nil); r["successful"] != true {
		t.Fatalf("a after its first session ended: %v", r)
	}
	// Too long a gms_user header is refused before Bayeux.
	body := strings.NewReader(`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]`)
	req, _ := http.NewRequest(http.MethodPost, url, body)
	req.Header.Set(UserHeader, strings.Repeat("x", MaxUserHeaderBytes+1))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("long gms_user: HTTP %d", resp.StatusCode)
	}
}

// A kept notification goes to the subscribing session only, even when
// another session of the same user is connected but not subscribed.
func TestCometKeptGoesToSubscriber(t *testing.T) {
	p, url := newCometTest(t, CometOptions{})
	idle := &lpClient{t: t, url: url, user: "u"}
	idle.handshake(nil)
	if err := p.Push(context.Background(), DeviceOSComet, "u", agentAvailable("1")); !errors.Is(err, ErrPushPending) {
		t.Fatalf("push without subscriber: %v", err)
	}
	sub := &lpClient{t: t, url: url, user: "u"}
	sub.handshake(nil)
	sub.subscribe(CometChannel)
	if got := sub.connect(); len(got) != 1 || got[0]["tag"] != TagAgentAvailable+"1" {
		t.Fatalf("subscriber got %v", got)
	}
	if got := idle.connect(); len(got) != 0 {
		t.Fatalf("unsubscribed session got %v", got)
	}
}
