package bayeux

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
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
