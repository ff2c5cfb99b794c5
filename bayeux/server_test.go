package bayeux

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHandshakeReply(t *testing.T) {
	ts := newTestServer(t, Options{ConnectTimeout: 7 * time.Second, Interval: 250 * time.Millisecond, MaxInterval: 9 * time.Second})
	out := ts.post(map[string]any{"channel": "/meta/handshake", "version": "1.0", "id": "42",
		"supportedConnectionTypes": []string{"long-polling", "callback-polling"}})
	rep := ts.reply(out, "/meta/handshake")
	if !rep.ok() || rep.str("id") != "42" || rep.str("version") != "1.0" || len(rep.str("clientId")) != 32 {
		t.Fatalf("handshake reply: %v", rep)
	}
	types := rep["supportedConnectionTypes"].([]any)
	if !slices.Contains(types, any("long-polling")) || !slices.Contains(types, any("websocket")) {
		t.Fatalf("supportedConnectionTypes: %v", types)
	}
	adv := rep.obj("advice")
	if adv.str("reconnect") != "retry" || adv["timeout"] != 7000.0 || adv["interval"] != 250.0 || adv["maxInterval"] != 9000.0 {
		t.Fatalf("advice: %v", adv)
	}
	if ts.srv.ClientCount() != 1 || ts.srv.Client(rep.str("clientId")) == nil {
		t.Fatal("session not registered")
	}
	// A client offering no transport we serve is refused.
	rep = ts.reply(ts.post(map[string]any{"channel": "/meta/handshake", "supportedConnectionTypes": []string{"flash"}}), "/meta/handshake")
	if rep.ok() || !strings.HasPrefix(rep.str("error"), "400::") {
		t.Fatalf("unsupported types accepted: %v", rep)
	}
}

func TestConnectHeldUntilMessage(t *testing.T) {
	ts := newTestServer(t, Options{ConnectTimeout: 10 * time.Second})
	id := ts.handshake(nil)
	if rep := ts.subscribe(id, "/_genesys"); !rep.ok() {
		t.Fatal(rep)
	}
	// First connect with advice.timeout 0 (as CometD sends it) returns at once.
	start := time.Now()
	ts.reply(ts.connect(id, 0, -1), "/meta/connect")
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("timeout-0 connect held %v", d)
	}
	res := async(func() []msg { return ts.connect(id, -1, -1) })
	ts.waitHeld(id)
	select {
	case out := <-res:
		t.Fatalf("connect answered before any message: %v", out)
	case <-time.After(100 * time.Millisecond):
	}
	if n := ts.publish("/_genesys", map[string]any{"_id": "369-1"}, WithID("m1"), WithExt(json.RawMessage(`{"k":1}`))); n != 1 {
		t.Fatalf("delivered to %d", n)
	}
	out := recv(t, res, "connect reply")
	d := data(out)
	if len(d) != 1 || d[0].str("channel") != "/_genesys" || d[0].obj("data").str("_id") != "369-1" ||
		d[0].str("id") != "m1" || d[0].obj("ext")["k"] != 1.0 {
		t.Fatalf("delivered: %v", out)
	}
	if rep := ts.reply(out, "/meta/connect"); !rep.ok() {
		t.Fatal(rep)
	}
	// Messages come before the connect reply (total order for the ack extension).
	if out[len(out)-1].str("channel") != "/meta/connect" {
		t.Fatalf("connect reply not last: %v", out)
	}
}

func TestConnectTimeout(t *testing.T) {
	ts := newTestServer(t, Options{ConnectTimeout: 150 * time.Millisecond})
	id := ts.handshake(nil)
	start := time.Now()
	out := ts.connect(id, -1, -1)
	if d := time.Since(start); d < 140*time.Millisecond || d > 3*time.Second {
		t.Fatalf("connect returned after %v, want about 150ms", d)
	}
	if rep := ts.reply(out, "/meta/connect"); !rep.ok() || len(data(out)) != 0 {
		t.Fatalf("timeout reply: %v", out)
	}
	// A client's smaller advice.timeout wins: against a server timeout of
	// a minute, a 10 ms advice returns in far less.
	long := newTestServer(t, Options{ConnectTimeout: time.Minute})
	id = long.handshake(nil)
	start = time.Now()
	long.connect(id, 10, -1)
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("client advice.timeout ignored: %v", d)
	}
}

func TestSecondConnectReleasesFirst(t *testing.T) {
	ts := newTestServer(t, Options{ConnectTimeout: 10 * time.Second})
	id := ts.handshake(nil)
	ts.subscribe(id, "/a")
	first := async(func() []msg { return ts.connect(id, -1, -1) })
	ts.waitHeld(id)
	second := async(func() []msg { return ts.connect(id, -1, -1) })
	out := recv(t, first, "released first connect")
	if rep := ts.reply(out, "/meta/connect"); !rep.ok() || len(data(out)) != 0 {
		t.Fatalf("released connect: %v", out)
	}
	ts.waitHeld(id)
	ts.publish("/a", 1)
	out = recv(t, second, "second connect")
	if len(data(out)) != 1 {
		t.Fatalf("second connect: %v", out)
	}
}

func TestUnknownClient(t *testing.T) {
	ts := newTestServer(t, Options{})
	for _, m := range []map[string]any{
		{"channel": "/meta/connect", "clientId": "nope", "connectionType": "long-polling"},
		{"channel": "/meta/subscribe", "clientId": "nope", "subscription": "/a"},
		{"channel": "/meta/unsubscribe", "clientId": "nope", "subscription": "/a"},
		{"channel": "/meta/disconnect", "clientId": "nope"},
		{"channel": "/a", "clientId": "nope", "data": 1},
	} {
		out := ts.post(m)
		if len(out) != 1 || out[0].ok() || out[0].str("error") != "402::Unknown client" ||
			out[0].obj("advice").str("reconnect") != "handshake" {
			t.Fatalf("%v: %v", m["channel"], out)
		}
	}
}

func TestSessionExpiry(t *testing.T) {
	var ended atomic.Value
	ts := newTestServer(t, Options{MaxInterval: 80 * time.Millisecond, ConnectTimeout: 400 * time.Millisecond,
		OnSessionEnd: func(c *Client, reason string) { ended.Store(reason) }})
	idle := ts.handshake(nil)
	busy := ts.handshake(nil)
	// busy stays in a held connect longer than MaxInterval: still alive.
	res := async(func() []msg { return ts.connect(busy, -1, -1) })
	waitUntil(t, "idle session expiry", func() bool { return ts.srv.Client(idle) == nil })
	if ended.Load() != "expired" {
		t.Fatalf("OnSessionEnd reason %v", ended.Load())
	}
	out := recv(t, res, "busy connect")
	if !ts.reply(out, "/meta/connect").ok() {
		t.Fatalf("held session expired: %v", out)
	}
	if rep := ts.reply(ts.connect(idle, 0, -1), "/meta/connect"); rep.str("error") != "402::Unknown client" {
		t.Fatalf("expired session still answers: %v", rep)
	}
	// After its connect returns, busy expires too when it stops connecting.
	waitUntil(t, "busy session expiry", func() bool { return ts.srv.ClientCount() == 0 })
}

func TestWildcardSubscriptions(t *testing.T) {
	ts := newTestServer(t, Options{})
	exact, one, all := ts.handshake(nil), ts.handshake(nil), ts.handshake(nil)
	ts.subscribe(exact, "/q/chat")
	ts.subscribe(one, "/q/*")
	ts.subscribe(all, "/q/**")
	ts.subscribe(all, "/q/chat") // matched twice, delivered once
	if n := ts.publish("/q/chat", "a"); n != 3 {
		t.Fatalf("/q/chat delivered to %d, want 3", n)
	}
	if n := ts.publish("/q/chat/pos", "b"); n != 1 {
		t.Fatalf("/q/chat/pos delivered to %d, want 1 (only /q/**)", n)
	}
	if n := ts.publish("/q", "c"); n != 0 {
		t.Fatalf("/q delivered to %d, want 0", n)
	}
	if n := ts.publish("/other", "d"); n != 0 {
		t.Fatalf("/other delivered to %d", n)
	}
	got := func(id string) []string {
		var s []string
		for _, m := range data(ts.connect(id, 0, -1)) {
			s = append(s, m.str("channel")+"="+fmt.Sprint(m["data"]))
		}
		return s
	}
	if g := got(exact); !slices.Equal(g, []string{"/q/chat=a"}) {
		t.Fatalf("exact got %v", g)
	}
	if g := got(one); !slices.Equal(g, []string{"/q/chat=a"}) {
		t.Fatalf("/q/* got %v", g)
	}
	if g := got(all); !slices.Equal(g, []string{"/q/chat=a", "/q/chat/pos=b"}) {
		t.Fatalf("/q/** got %v", g)
	}
	// Subscribing to meta channels or the root wildcard is refused.
	for _, ch := range []string{"/meta/connect", "/meta/*", "/**", "/*"} {
		if rep := ts.subscribe(exact, ch); rep.ok() || !strings.HasPrefix(rep.str("error"), "403::") {
			t.Fatalf("subscribe %s: %v", ch, rep)
		}
	}
}
