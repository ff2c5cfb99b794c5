package bayeux

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestUnsubscribeAndDisconnect(t *testing.T) {
	var reasons []string
	var mu sync.Mutex
	ts := newTestServer(t, Options{ConnectTimeout: 10 * time.Second, OnSessionEnd: func(c *Client, r string) {
		mu.Lock()
		reasons = append(reasons, r)
		mu.Unlock()
	}})
	id := ts.handshake(nil)
	ts.subscribe(id, "/a")
	rep := ts.reply(ts.post(map[string]any{"channel": "/meta/unsubscribe", "clientId": id, "subscription": "/a", "id": "u"}), "/meta/unsubscribe")
	if !rep.ok() || rep.str("subscription") != "/a" || rep.str("id") != "u" {
		t.Fatalf("unsubscribe: %v", rep)
	}
	if n := ts.publish("/a", 1); n != 0 {
		t.Fatalf("delivered after unsubscribe: %d", n)
	}
	// Subscribe with an array (Bayeux 1.0 allows it), then disconnect while
	// a connect is held: the held connect ends successfully with reconnect
	// none (a failed one makes the CometD client abort its disconnect when
	// it arrives first).
	rep = ts.reply(ts.post(map[string]any{"channel": "/meta/subscribe", "clientId": id, "subscription": []string{"/b", "/c"}}), "/meta/subscribe")
	if !rep.ok() {
		t.Fatal(rep)
	}
	held := async(func() []msg { return ts.connect(id, -1, -1) })
	ts.waitHeld(id)
	rep = ts.reply(ts.post(map[string]any{"channel": "/meta/disconnect", "clientId": id}), "/meta/disconnect")
	if !rep.ok() {
		t.Fatal(rep)
	}
	out := recv(t, held, "held connect after disconnect")
	if r := ts.reply(out, "/meta/connect"); !r.ok() || r.obj("advice").str("reconnect") != "none" {
		t.Fatalf("held connect after disconnect: %v", r)
	}
	if ts.srv.ClientCount() != 0 || ts.publish("/b", 1) != 0 {
		t.Fatal("session survived disconnect")
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(reasons, []string{"disconnect"}) {
		t.Fatalf("OnSessionEnd reasons %v", reasons)
	}
}

func TestAckExtensionResendsUnacknowledged(t *testing.T) {
	ts := newTestServer(t, Options{ConnectTimeout: 10 * time.Second})
	rep := ts.reply(ts.post(map[string]any{"channel": "/meta/handshake", "ext": map[string]any{"ack": true}}), "/meta/handshake")
	if rep.obj("ext")["ack"] != true {
		t.Fatalf("handshake ext: %v", rep)
	}
	id := rep.str("clientId")
	ts.subscribe(id, "/a")
	ack := func(out []msg) int {
		t.Helper()
		n, ok := ts.reply(out, "/meta/connect").obj("ext")["ack"].(float64)
		if !ok {
			t.Fatalf("connect reply without ext.ack: %v", out)
		}
		return int(n)
	}
	ns := func(out []msg) []float64 {
		var v []float64
		for _, m := range data(out) {
			v = append(v, m["data"].(float64))
		}
		return v
	}
	b0 := ack(ts.connect(id, 0, 0))
	ts.publish("/a", 1)
	out := ts.connect(id, 0, b0)
	b1 := ack(out)
	if !slices.Equal(ns(out), []float64{1}) || b1 <= b0 {
		t.Fatalf("batch %d: %v", b1, out)
	}
	// The reply with batch b1 is "lost": the client connects again still
	// acknowledging b0, and gets message 1 again, before message 2.
	ts.publish("/a", 2)
	out = ts.connect(id, 0, b0)
	b2 := ack(out)
	if !slices.Equal(ns(out), []float64{1, 2}) || b2 <= b1 {
		t.Fatalf("resend batch %d: %v", b2, out)
	}
	// Acknowledging b2 ends the resends.
	ts.publish("/a", 3)
	out = ts.connect(id, 0, b2)
	if !slices.Equal(ns(out), []float64{3}) {
		t.Fatalf("after ack: %v", out)
	}
	// Without the extension nothing is kept: a plain client sees each once.
	plain := ts.handshake(nil)
	ts.subscribe(plain, "/a")
	ts.publish("/a", 4)
	if out := ts.connect(plain, 0, -1); len(data(out)) != 1 || ts.reply(out, "/meta/connect")["ext"] != nil {
		t.Fatalf("plain connect: %v", out)
	}
	if out := ts.connect(plain, 0, -1); len(data(out)) != 0 {
		t.Fatalf("plain client got a resend: %v", out)
	}
}

func TestAckReleasedConnectCarriesNoBatch(t *testing.T) {
	ts := newTestServer(t, Options{ConnectTimeout: 10 * time.Second})
	id := ts.reply(ts.post(map[string]any{"channel": "/meta/handshake", "ext": map[string]any{"ack": true}}), "/meta/handshake").str("clientId")
	first := async(func() []msg { return ts.connect(id, -1, 0) })
	ts.waitHeld(id)
	second := async(func() []msg { return ts.connect(id, -1, 0) })
	out := recv(t, first, "released connect")
	if ext := ts.reply(out, "/meta/connect")["ext"]; ext != nil {
		t.Fatalf("released connect carries ext %v: the client would acknowledge a batch it never saw", ext)
	}
	ts.waitHeld(id)
	ts.srv.Close()
	recv(t, second, "connect released by Close")
}

func TestReplayHook(t *testing.T) {
	type call struct {
		channel string
		id      int64
	}
	var calls []call
	var callsMu sync.Mutex // Replay runs on the HTTP handler's goroutine
	getCalls := func() []call {
		callsMu.Lock()
		defer callsMu.Unlock()
		return slices.Clone(calls)
	}
	resetCalls := func() {
		callsMu.Lock()
		calls = nil
		callsMu.Unlock()
	}
	var ts *testServer
	replayer := ReplayerFunc(func(c *Client, channel string, id int64) ([]Delivery, error) {
		callsMu.Lock()
		calls = append(calls, call{channel, id})
		callsMu.Unlock()
		if id == 99 {
			return nil, &Error{Code: 400, Message: "The replayId 99 you provided was invalid."}
		}
		if id == -1 {
			return nil, nil
		}
		// Live messages published while the backlog is fetched: seq 2 is
		// in the backlog and must not be delivered twice; seq 3 is new.
		ts.publish(channel, "live-2", WithSeq(2))
		ts.publish(channel, "live-3", WithSeq(3))
		return []Delivery{
			{Channel: channel, Data: json.RawMessage(`"old-1"`), Seq: 1},
			{Channel: channel, Data: json.RawMessage(`"old-2"`), Seq: 2},
		}, nil
	})
	ts = newTestServer(t, Options{Replayer: replayer})
	rep := ts.reply(ts.post(map[string]any{"channel": "/meta/handshake", "ext": map[string]any{"replay": true}}), "/meta/handshake")
	if rep.obj("ext")["replay"] != true {
		t.Fatalf("handshake ext: %v", rep)
	}
	id := rep.str("clientId")
	rep = ts.reply(ts.post(map[string]any{"channel": "/meta/subscribe", "clientId": id, "subscription": "/topic/psr",
		"ext": map[string]any{"replay": map[string]any{"/topic/psr": 0, "/topic/other": 5}}}), "/meta/subscribe")
	if !rep.ok() {
		t.Fatal(rep)
	}
	if calls := getCalls(); !slices.Equal(calls, []call{{"/topic/psr", 0}}) {
		t.Fatalf("replayer calls %v", calls)
	}
	var got []string
	for _, m := range data(ts.connect(id, 0, -1)) {
		got = append(got, m.str("data"))
	}
	if !slices.Equal(got, []string{"old-1", "old-2", "live-3"}) {
		t.Fatalf("delivered %v", got)
	}
	// An invalid replay id refuses the subscription with the hook's code
	// and leaves no subscription behind.
	rep = ts.reply(ts.post(map[string]any{"channel": "/meta/subscribe", "clientId": id, "subscription": "/topic/bad",
		"ext": map[string]any{"replay": map[string]any{"/topic/bad": 99}}}), "/meta/subscribe")
	if rep.ok() || rep.str("error") != "400::The replayId 99 you provided was invalid." {
		t.Fatalf("bad replay id: %v", rep)
	}
	if n := ts.publish("/topic/bad", 1); n != 0 {
		t.Fatal("refused subscription still delivers")
	}
	// jsforce style: the replay map on the handshake is the default.
	id2 := ts.handshake(map[string]any{"replay": map[string]any{"/topic/x": -1}})
	resetCalls()
	if rep := ts.subscribe(id2, "/topic/x"); !rep.ok() {
		t.Fatal(rep)
	}
	if calls := getCalls(); !slices.Equal(calls, []call{{"/topic/x", -1}}) {
		t.Fatalf("handshake replay default not used: %v", calls)
	}
	// Without a replay id the hook is not called.
	resetCalls()
	ts.subscribe(id2, "/topic/y")
	if calls := getCalls(); len(calls) != 0 {
		t.Fatalf("replayer called without id: %v", calls)
	}
}

func TestLimits(t *testing.T) {
	t.Run("message bytes", func(t *testing.T) {
		ts := newTestServer(t, Options{MaxMessageBytes: 200})
		status, out := ts.postRaw(`[{"channel":"/meta/handshake","pad":"`+strings.Repeat("x", 300)+`"}]`, nil)
		if status != http.StatusRequestEntityTooLarge || len(out) != 1 || !strings.HasPrefix(out[0].str("error"), "400::") {
			t.Fatalf("status %d %v", status, out)
		}
	})
	t.Run("messages per request", func(t *testing.T) {
		ts := newTestServer(t, Options{MaxMessagesPerRequest: 2})
		status, out := ts.postRaw(`[{"channel":"/meta/handshake"},{"channel":"/meta/handshake"},{"channel":"/meta/handshake"}]`, nil)
		if status != http.StatusBadRequest || !strings.Contains(out[0].str("error"), "too many messages") || ts.srv.ClientCount() != 0 {
			t.Fatalf("status %d %v", status, out)
		}
	})
	t.Run("clients", func(t *testing.T) {
		ts := newTestServer(t, Options{MaxClients: 2})
		ts.handshake(nil)
		ts.handshake(nil)
		rep := ts.reply(ts.post(map[string]any{"channel": "/meta/handshake"}), "/meta/handshake")
		if rep.ok() || rep.str("error") != "503::Too many clients" || rep.obj("advice").str("reconnect") != "handshake" {
			t.Fatal(rep)
		}
	})
	t.Run("subscriptions per client", func(t *testing.T) {
		ts := newTestServer(t, Options{MaxSubscriptionsPerClient: 2})
		id := ts.handshake(nil)
		ts.subscribe(id, "/a")
		ts.subscribe(id, "/b")
		if rep := ts.subscribe(id, "/b"); !rep.ok() {
			t.Fatalf("re-subscribing counts twice: %v", rep)
		}
		if rep := ts.subscribe(id, "/c"); rep.ok() || !strings.HasPrefix(rep.str("error"), "403::Too many subscriptions") {
			t.Fatal(rep)
		}
	})
	t.Run("queued messages", func(t *testing.T) {
		var reason atomic.Value
		ts := newTestServer(t, Options{MaxQueuedMessages: 3, OnSessionEnd: func(c *Client, r string) { reason.Store(r) }})
		slow, fast := ts.handshake(nil), ts.handshake(nil)
		ts.subscribe(slow, "/a")
		ts.subscribe(fast, "/a")
		for i := range 3 {
			ts.publish("/a", i)
			ts.connect(fast, 0, -1) // fast keeps reading
		}
		if ts.srv.Client(slow) == nil {
			t.Fatal("dropped at the limit, not beyond it")
		}
		ts.publish("/a", 3)
		if ts.srv.Client(slow) != nil || reason.Load() != "queue overflow" {
			t.Fatalf("overflowing session kept (reason %v)", reason.Load())
		}
		if ts.srv.Client(fast) == nil {
			t.Fatal("reading session dropped")
		}
	})
}

func TestAuthorizer(t *testing.T) {
	var published []string
	var mu sync.Mutex
	auth := AuthorizerFuncs{
		HandshakeFunc: func(r *http.Request, m *Message) (any, error) {
			user := r.Header.Get("gms_user")
			if user == "" {
				return nil, &Error{Code: 401, Message: "gms_user required"}
			}
			var token string
			_ = json.Unmarshal(m.Ext["token"], &token)
			if token == "boom" {
				return nil, errors.New("token rejected")
			}
			return user, nil
		},
		SubscribeFunc: func(c *Client, channel string) error {
			if channel != "/_genesys" {
				return errors.New("not your channel")
			}
			return nil
		},
		PublishFunc: func(c *Client, m *Message) error {
			mu.Lock()
			published = append(published, c.Identity().(string)+":"+m.Channel+":"+string(m.Data))
			mu.Unlock()
			if m.Channel == "/_genesys" || strings.HasPrefix(m.Channel, "/service/") {
				return nil
			}
			return &Error{Code: 403, Message: "Publish denied"}
		},
	}
	ts := newTestServer(t, Options{Authorizer: auth})
	// Handshake: no header, an error from the hook, then accepted.
	_, out := ts.postRaw(`[{"channel":"/meta/handshake"}]`, nil)
	if out[0].ok() || out[0].str("error") != "401::gms_user required" || out[0].obj("advice").str("reconnect") != "none" {
		t.Fatalf("handshake without gms_user: %v", out)
	}
	hdr := http.Header{"Gms_user": {"b164"}}
	_, out = ts.postRaw(`[{"channel":"/meta/handshake","ext":{"token":"boom"}}]`, hdr)
	if out[0].ok() || out[0].str("error") != "403::token rejected" {
		t.Fatalf("ext refused: %v", out)
	}
	_, out = ts.postRaw(`[{"channel":"/meta/handshake"}]`, hdr)
	id := out[0].str("clientId")
	c := ts.srv.Client(id)
	if c == nil || c.Identity() != "b164" || c.Header().Get("gms_user") != "b164" {
		t.Fatalf("identity not kept: %v", out)
	}
	// Subscribe.
	if rep := ts.subscribe(id, "/other"); rep.ok() || rep.str("error") != "403::not your channel" {
		t.Fatal(rep)
	}
	if rep := ts.subscribe(id, "/_genesys"); !rep.ok() {
		t.Fatal(rep)
	}
	// Publish: allowed on /_genesys (delivered, also to the publisher),
	// allowed on /service/ (hook only), refused elsewhere.
	pub := func(ch string) msg {
		return ts.reply(ts.post(map[string]any{"channel": ch, "clientId": id, "data": map[string]any{"x": 1}, "id": "p"}), ch)
	}
	if rep := pub("/_genesys"); !rep.ok() || rep.str("id") != "p" {
		t.Fatal(rep)
	}
	if rep := pub("/service/echo"); !rep.ok() {
		t.Fatal(rep)
	}
	if rep := pub("/elsewhere"); rep.ok() || rep.str("error") != "403::Publish denied" {
		t.Fatal(rep)
	}
	d := data(ts.connect(id, 0, -1))
	if len(d) != 1 || d[0].str("channel") != "/_genesys" {
		t.Fatalf("delivered %v", d)
	}
	mu.Lock()
	if len(published) != 3 {
		t.Fatalf("hook saw %v", published)
	}
	mu.Unlock()

	// Without an Authorizer, client publishes are refused.
	ts2 := newTestServer(t, Options{})
	id2 := ts2.handshake(nil)
	rep := ts2.reply(ts2.post(map[string]any{"channel": "/x", "clientId": id2, "data": 1}), "/x")
	if rep.ok() || rep.str("error") != "403::Publish denied" {
		t.Fatal(rep)
	}
}

func TestBadInput(t *testing.T) {
	ts := newTestServer(t, Options{})
	id := ts.handshake(nil)
	cases := []struct {
		body       string
		wantStatus int
		wantErr    string
	}{
		{``, 400, "400::empty request"},
		{`{`, 400, "400::malformed JSON"},
		{`[{"channel":"/meta/handshake"}`, 400, "400::malformed JSON"},
		{`42`, 400, "400::request must be"},
		{`[42]`, 200, "400::bad message"},
		{`[{}]`, 200, "400::bad message: missing channel"},
		{`[{"channel":5}]`, 200, "400::bad message"},
		{`[{"channel":"/meta/handshake","ext":[1]}]`, 200, "400::bad message"},
		{`[{"channel":"/meta/handshake","supportedConnectionTypes":"long-polling"}]`, 200, "400::bad message"},
		{`[{"channel":"/meta/subscribe","clientId":"` + id + `","subscription":5}]`, 200, "400::bad message"},
		{`[{"channel":"/meta/subscribe","clientId":"` + id + `"}]`, 200, "400::Missing subscription"},
		{`[{"channel":"/meta/subscribe","clientId":"` + id + `","subscription":"/a/**/b"}]`, 200, "400::Bad subscription"},
		{`[{"channel":"/meta/subscribe","clientId":"` + id + `","subscription":"no-slash"}]`, 200, "400::Bad subscription"},
		{`[{"channel":"/meta/connect","clientId":"` + id + `","advice":{"timeout":"x"}}]`, 200, "400::bad message"},
		{`[{"channel":"/meta/nope","clientId":"` + id + `"}]`, 200, "400::Unknown meta channel"},
		{`[{"channel":"/a/*","clientId":"` + id + `","data":1}]`, 200, "400::bad channel"},
		{`[{"channel":"/a b","clientId":"` + id + `","data":1}]`, 200, "400::bad channel"},
		{`[{"channel":"/meta/handshake","id":{"x":1}}]`, 200, "400::bad message"},
	}
	for _, tc := range cases {
		status, out := ts.postRaw(tc.body, nil)
		if status != tc.wantStatus || len(out) != 1 || out[0].ok() || !strings.HasPrefix(out[0].str("error"), tc.wantErr) {
			t.Errorf("%s: status %d, %v; want %d %q", tc.body, status, out, tc.wantStatus, tc.wantErr)
		}
	}
	// A bad message does not hide the good ones in the same request.
	_, out := ts.postRaw(`[{"channel":5,"id":"1"},{"channel":"/meta/subscribe","clientId":"`+id+`","subscription":"/ok","id":"2"}]`, nil)
	if len(out) != 2 || out[0].ok() || out[0].str("id") != "1" || !out[1].ok() || out[1].str("id") != "2" {
		t.Fatalf("mixed batch: %v", out)
	}
	// GET is not a transport here.
	res, err := http.Get(ts.hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", res.StatusCode)
	}
	// Form-encoded bodies carry the array in "message" (older clients).
	req, _ := http.NewRequest(http.MethodPost, ts.hs.URL, strings.NewReader(`message=`+`%5B%7B%22channel%22%3A%22%2Fmeta%2Fhandshake%22%7D%5D`))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var formOut []msg
	_ = json.NewDecoder(res.Body).Decode(&formOut)
	res.Body.Close()
	if len(formOut) != 1 || !formOut[0].ok() {
		t.Fatalf("form handshake: %v", formOut)
	}
	// Publish rejects bad arguments.
	for _, bad := range []func() error{
		func() error { _, err := ts.srv.Publish("/meta/x", nil); return err },
		func() error { _, err := ts.srv.Publish("/a/*", nil); return err },
		func() error { _, err := ts.srv.Publish("/a", json.RawMessage(`{`)); return err },
		func() error { _, err := ts.srv.Publish("/a", nil, WithExt(json.RawMessage(`[1]`))); return err },
	} {
		if bad() == nil {
			t.Error("Publish accepted bad input")
		}
	}
}

func TestMatchPatterns(t *testing.T) {
	got := matchPatterns("/a/b/c", nil)
	want := []string{"/a/b/c", "/a/b/*", "/a/b/**", "/a/**", "/**"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if got := matchPatterns("/a", nil); !slices.Equal(got, []string{"/a", "/*", "/**"}) {
		t.Fatalf("got %v", got)
	}
}

func TestConcurrentPublish(t *testing.T) {
	ts := newTestServer(t, Options{ConnectTimeout: 50 * time.Millisecond, MaxQueuedMessages: 100000})
	const clients, publishers, each = 4, 4, 200
	ids := make([]string, clients)
	for i := range ids {
		ids[i] = ts.handshake(nil)
		ts.subscribe(ids[i], "/load/**")
	}
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				if _, err := ts.srv.Publish(fmt.Sprintf("/load/%d", p), json.RawMessage(fmt.Sprint(i))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	counts := make([]int, clients)
	var rg sync.WaitGroup
	for i, id := range ids {
		rg.Go(func() {
			deadline := time.Now().Add(10 * time.Second)
			for counts[i] < publishers*each && time.Now().Before(deadline) {
				counts[i] += len(data(ts.connect(id, -1, -1)))
			}
		})
	}
	wg.Wait()
	rg.Wait()
	for i, n := range counts {
		if n != publishers*each {
			t.Errorf("client %d got %d messages, want %d", i, n, publishers*each)
		}
	}
}

func TestCloseReleasesAndRefuses(t *testing.T) {
	ts := newTestServer(t, Options{ConnectTimeout: 30 * time.Second})
	id := ts.handshake(nil)
	held := async(func() []msg { return ts.connect(id, -1, -1) })
	ts.waitHeld(id)
	done := async(func() bool { ts.srv.Close(); return true })
	out := recv(t, held, "held connect on Close")
	if r := ts.reply(out, "/meta/connect"); r.str("error") != "402::Unknown client" {
		t.Fatalf("held connect on Close: %v", r)
	}
	recv(t, done, "Close")
	status, _ := ts.postRaw(`[{"channel":"/meta/handshake"}]`, nil)
	if status != http.StatusServiceUnavailable {
		t.Fatalf("after Close: %d", status)
	}
	ts.srv.Close() // idempotent
}
