package bayeux

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestMaxClientsPerAddress: one address gets MaxClientsPerAddress
// sessions, then "503::Too many clients from this address"; another
// address still handshakes, and a session ending frees its slot.
func TestMaxClientsPerAddress(t *testing.T) {
	s := NewServer(Options{MaxClientsPerAddress: 3, Logger: slog.New(slog.DiscardHandler)})
	defer s.Close()
	hs := func(addr string) msg {
		t.Helper()
		r := httptest.NewRequest("POST", "/cometd", strings.NewReader(`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]`))
		r.RemoteAddr = addr
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		var out []msg
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || len(out) != 1 {
			t.Fatalf("reply %s: %v", w.Body, err)
		}
		return out[0]
	}
	var ids []string
	for i := range 3 {
		m := hs(fmt.Sprintf("192.0.2.1:%d", 1000+i))
		if !m.ok() {
			t.Fatalf("handshake %d refused: %v", i, m)
		}
		ids = append(ids, m.str("clientId"))
	}
	if m := hs("192.0.2.1:4000"); m.ok() || m.str("error") != "503::Too many clients from this address" {
		t.Fatalf("fourth handshake from one address: %v", m)
	}
	if m := hs("192.0.2.2:1000"); !m.ok() {
		t.Fatalf("another address refused: %v", m)
	}
	s.removeClient(s.Client(ids[0]), "disconnect")
	if m := hs("192.0.2.1:5000"); !m.ok() {
		t.Fatalf("after a session ended: %v", m)
	}
}

// TestUnconnectedSessionExpires: a session that never sends /meta/connect
// is gone after UnconnectedTimeout, one that connects stays (MaxInterval is
// long).
func TestUnconnectedSessionExpires(t *testing.T) {
	ts := newTestServer(t, Options{UnconnectedTimeout: 100 * time.Millisecond, MaxInterval: time.Minute, ConnectTimeout: time.Minute})
	bare := ts.reply(ts.post(map[string]any{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}}), "/meta/handshake").str("clientId")
	live := ts.reply(ts.post(map[string]any{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}}), "/meta/handshake").str("clientId")
	if r := ts.reply(ts.post(map[string]any{"channel": "/meta/connect", "clientId": live, "connectionType": "long-polling", "advice": map[string]any{"timeout": 0}}), "/meta/connect"); !r.ok() {
		t.Fatalf("connect: %v", r)
	}
	deadline := time.Now().Add(5 * time.Second)
	for ts.srv.Client(bare) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the unconnected session was not removed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ts.srv.Client(live) == nil {
		t.Fatal("the connected session was removed too")
	}
}

// expiringIdentity is a handshake identity whose credentials end at at.
type expiringIdentity struct{ at time.Time }

func (e expiringIdentity) Expiry() time.Time { return e.at }

// TestExpiringIdentityEndsSession: a session whose identity is Expiring
// ends once its expiry has passed (its held connect answered, then 402
// with advice handshake), while one with a zero expiry lives on.
func TestExpiringIdentityEndsSession(t *testing.T) {
	var ended atomic.Value
	ts := newTestServer(t, Options{MaxInterval: time.Minute, UnconnectedTimeout: time.Minute, ConnectTimeout: time.Minute,
		OnSessionEnd: func(_ *Client, reason string) { ended.Store(reason) },
		Authorizer: AuthorizerFuncs{HandshakeFunc: func(_ *http.Request, m *Message) (any, error) {
			if _, short := m.Ext["short"]; short {
				return expiringIdentity{time.Now().Add(300 * time.Millisecond)}, nil
			}
			return expiringIdentity{}, nil
		}}})
	short := ts.handshake(map[string]any{"short": true})
	forever := ts.handshake(nil)
	for _, id := range []string{short, forever} {
		if r := ts.reply(ts.connect(id, 0, -1), "/meta/connect"); !r.ok() {
			t.Fatalf("first connect: %v", r)
		}
	}
	held := async(func() []msg { return ts.connect(short, -1, -1) })
	recv(t, held, "the held connect of the expired session")
	waitUntil(t, "the expired session to end", func() bool { return ts.srv.Client(short) == nil })
	if r, _ := ended.Load().(string); r != "credentials expired" {
		t.Fatalf("OnSessionEnd reason %q", r)
	}
	r := ts.reply(ts.connect(short, 0, -1), "/meta/connect")
	if r.ok() || !strings.HasPrefix(r.str("error"), "402") || r.obj("advice").str("reconnect") != "handshake" {
		t.Fatalf("connect after expiry: %v", r)
	}
	if ts.srv.Client(forever) == nil {
		t.Fatal("the session with a zero expiry ended too")
	}
}
