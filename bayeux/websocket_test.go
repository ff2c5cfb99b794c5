package bayeux

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsClient is a minimal websocket Bayeux client for tests.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

func (ts *testServer) dialWS(header http.Header) *wsClient {
	ts.t.Helper()
	url := "ws" + strings.TrimPrefix(ts.hs.URL, "http") + "/cometd"
	conn, _, err := websocket.DefaultDialer.Dial(url, header)
	if err != nil {
		ts.t.Fatalf("dial: %v", err)
	}
	ts.t.Cleanup(func() { conn.Close() })
	return &wsClient{t: ts.t, conn: conn}
}

func (w *wsClient) send(msgs ...any) {
	w.t.Helper()
	if err := w.conn.WriteJSON(msgs); err != nil {
		w.t.Fatal(err)
	}
}

// read returns the next frame's messages.
func (w *wsClient) read() []msg {
	w.t.Helper()
	_ = w.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var out []msg
	if err := w.conn.ReadJSON(&out); err != nil {
		w.t.Fatalf("read: %v", err)
	}
	return out
}

func TestWebSocketTransport(t *testing.T) {
	ts := newTestServer(t, Options{ConnectTimeout: 10 * time.Second, MaxInterval: 100 * time.Millisecond})
	ws := ts.dialWS(http.Header{"gms_user": {"u1"}})
	ws.send(map[string]any{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"websocket"}, "id": "1"})
	out := ws.read()
	if len(out) != 1 || !out[0].ok() || out[0].str("id") != "1" {
		t.Fatalf("handshake: %v", out)
	}
	id := out[0].str("clientId")
	if ts.srv.Client(id).Header().Get("gms_user") != "u1" {
		t.Fatal("upgrade request headers not kept")
	}
	ws.send(map[string]any{"channel": "/meta/subscribe", "clientId": id, "subscription": "/_genesys", "id": "2"})
	if out := ws.read(); !out[0].ok() || out[0].str("id") != "2" {
		t.Fatalf("subscribe: %v", out)
	}
	// A held connect does not block other messages on the same socket.
	ws.send(map[string]any{"channel": "/meta/connect", "clientId": id, "connectionType": "websocket", "id": "3"})
	ts.waitHeld(id)
	ws.send(map[string]any{"channel": "/meta/unsubscribe", "clientId": id, "subscription": "/nothing", "id": "4"})
	if out := ws.read(); out[0].str("id") != "4" {
		t.Fatalf("unsubscribe while connect held: %v", out)
	}
	ts.publish("/_genesys", map[string]any{"n": 1})
	out = ws.read()
	if len(out) != 2 || out[0].str("channel") != "/_genesys" || out[1].str("id") != "3" || !out[1].ok() {
		t.Fatalf("connect reply: %v", out)
	}
	// Bad input on a socket gets a 400 reply, and the socket stays usable.
	if err := ws.conn.WriteMessage(websocket.TextMessage, []byte(`{nope`)); err != nil {
		t.Fatal(err)
	}
	if out := ws.read(); out[0].ok() || !strings.HasPrefix(out[0].str("error"), "400::") {
		t.Fatalf("bad frame: %v", out)
	}
	// Closing the socket during a held connect lets the session expire.
	ws.send(map[string]any{"channel": "/meta/connect", "clientId": id, "connectionType": "websocket", "id": "5"})
	ts.waitHeld(id)
	ws.conn.Close()
	waitUntil(t, "session expiry after socket close", func() bool { return ts.srv.Client(id) == nil })
}

func TestWebSocketFrameLimitAndClose(t *testing.T) {
	ts := newTestServer(t, Options{MaxMessageBytes: 128})
	ws := ts.dialWS(nil)
	big, _ := json.Marshal([]any{map[string]any{"channel": "/meta/handshake", "pad": strings.Repeat("x", 500)}})
	if err := ws.conn.WriteMessage(websocket.TextMessage, big); err != nil {
		t.Fatal(err)
	}
	_ = ws.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := ws.conn.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("oversized frame: %v, want close 1009", err)
	}
	// Close ends open sockets.
	ws2 := ts.dialWS(nil)
	ts.srv.Close()
	_ = ws2.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := ws2.conn.ReadMessage(); err == nil {
		t.Fatal("socket open after Close")
	}
}
