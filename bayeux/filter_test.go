package bayeux

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// WithFilter delivers only to the subscribers it selects; the others get
// nothing, and acknowledged delivery and replay work as without it.
func TestPublishWithFilter(t *testing.T) {
	replayer := ReplayerFunc(func(c *Client, channel string, id int64) ([]Delivery, error) {
		return []Delivery{{Channel: channel, Data: []byte(`"backlog"`), Seq: 1}}, nil
	})
	ts := newTestServer(t, Options{ConnectTimeout: 10 * time.Second, Replayer: replayer,
		Authorizer: AuthorizerFuncs{HandshakeFunc: func(r *http.Request, m *Message) (any, error) {
			return r.Header.Get("user"), nil
		}}})
	hs := func(user string, ext map[string]any) string {
		t.Helper()
		m := map[string]any{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}}
		if ext != nil {
			m["ext"] = ext
		}
		_, out := ts.postRaw(string(mustJSON(t, []any{m})), http.Header{"User": {user}})
		rep := ts.reply(out, "/meta/handshake")
		if !rep.ok() {
			t.Fatal(rep)
		}
		return rep.str("clientId")
	}
	a := hs("a", map[string]any{"ack": true})
	b := hs("b", nil)
	for _, id := range []string{a, b} {
		ts.subscribe(id, "/_genesys")
	}
	// c subscribes through a wildcard too: still one delivery.
	c := hs("a", nil)
	ts.subscribe(c, "/_genesys")
	ts.subscribe(c, "/*")
	ts.connect(a, 0, -1)
	ts.connect(b, 0, -1)
	ts.connect(c, 0, -1)

	isA := WithFilter(func(cl *Client) bool { return cl.Identity() == "a" })
	if n := ts.publish("/_genesys", "for-a", isA); n != 2 {
		t.Fatalf("filtered publish reached %d sessions, want 2", n)
	}
	if n := ts.publish("/_genesys", "nobody", WithFilter(func(*Client) bool { return false })); n != 0 {
		t.Fatalf("publish matching nobody reached %d", n)
	}
	if n := ts.publish("/_genesys", "all", WithFilter(nil)); n != 3 {
		t.Fatalf("nil filter reached %d, want 3", n)
	}
	payloads := func(out []msg) []string {
		var v []string
		for _, m := range data(out) {
			v = append(v, m["data"].(string))
		}
		return v
	}
	outA := ts.connect(a, 0, 1)
	if got := payloads(outA); !slices.Equal(got, []string{"for-a", "all"}) {
		t.Fatalf("a got %v", got)
	}
	if got := payloads(ts.connect(c, 0, -1)); !slices.Equal(got, []string{"for-a", "all"}) {
		t.Fatalf("c got %v", got)
	}
	if got := payloads(ts.connect(b, 0, -1)); !slices.Equal(got, []string{"all"}) {
		t.Fatalf("b got %v (a filtered message leaked)", got)
	}
	// Ack unchanged: a's batch not acknowledged (ack 1 was before it) is sent again.
	if got := payloads(ts.connect(a, 0, 1)); !slices.Equal(got, []string{"for-a", "all"}) {
		t.Fatalf("a's unacknowledged batch resent as %v", got)
	}

	// Replay unchanged: the backlog first, then a filtered live message
	// whose Seq the backlog covers is dropped, a newer one delivered.
	d := hs("a", nil)
	rep := ts.reply(ts.post(map[string]any{"channel": "/meta/subscribe", "clientId": d, "subscription": "/topic/x",
		"ext": map[string]any{"replay": map[string]any{"/topic/x": -2}}}), "/meta/subscribe")
	if !rep.ok() {
		t.Fatal(rep)
	}
	ts.publish("/topic/x", "old", isA, WithSeq(1))
	ts.publish("/topic/x", "new", isA, WithSeq(2))
	if got := payloads(ts.connect(d, 0, -1)); !slices.Equal(got, []string{"backlog", "new"}) {
		t.Fatalf("replay with filter: %v", got)
	}
}

// OnSubscribe runs after the subscription is registered: a message it
// publishes to the new subscriber alone is delivered.
func TestOnSubscribe(t *testing.T) {
	var (
		mu    sync.Mutex
		calls [][]string
	)
	var srv *Server
	ts := newTestServer(t, Options{ConnectTimeout: 10 * time.Second, OnSubscribe: func(c *Client, chs []string) {
		mu.Lock()
		calls = append(calls, chs)
		mu.Unlock()
		if slices.Contains(chs, "/a") {
			_, _ = srv.Publish("/a", []byte(`"welcome"`), WithFilter(func(x *Client) bool { return x == c }))
		}
	}})
	srv = ts.srv
	first := ts.handshake(nil)
	ts.subscribe(first, "/a")
	ts.connect(first, 0, -1) // "welcome" for first
	second := ts.handshake(nil)
	ts.subscribe(second, "/a")
	if rep := ts.subscribe(second, "/meta/connect"); rep.ok() {
		t.Fatalf("meta subscribe accepted: %v", rep)
	}
	out := data(ts.connect(second, 0, -1))
	if len(out) != 1 || out[0]["data"] != "welcome" {
		t.Fatalf("second got %v", out)
	}
	if out := data(ts.connect(first, 0, -1)); len(out) != 0 {
		t.Fatalf("first got the second's welcome: %v", out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 || !slices.Equal(calls[0], []string{"/a"}) {
		t.Fatalf("OnSubscribe calls %v (a refused subscribe must not call it)", calls)
	}
}
