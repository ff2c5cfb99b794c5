package agentdesk

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestGateHoldsWebSocketReads: reads of a connection hijacked during a
// WebSocket handshake wait until the library's handler returned.
func TestGateHoldsWebSocketReads(t *testing.T) {
	g := newGate()
	returning := make(chan struct{})
	result := make(chan bool, 1) // did the read complete after the handler returned?
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		_, _ = brw.WriteString("ready\n")
		_ = brw.Flush()
		go func() {
			defer c.Close()
			buf := make([]byte, 1)
			if _, err := c.Read(buf); err != nil {
				t.Error(err)
			}
			select {
			case <-returning:
				result <- true
			default:
				result <- false
			}
		}()
		// The client writes as soon as it reads "ready"; a read that is not
		// held back completes within this window.
		select {
		case ok := <-result:
			result <- ok
		case <-time.After(200 * time.Millisecond):
		}
		close(returning)
	})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { g.serve(nil, inner, w, r) }))
	defer ts.Close()

	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = conn.Write([]byte("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("read %q, %v", line, err)
	}
	_, _ = conn.Write([]byte("x"))
	select {
	case after := <-result:
		if !after {
			t.Fatal("the hijacked connection was read before the handler returned")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the read never completed")
	}
}

// TestGateWaitBound: a long-polling request for a sid not yet bound waits
// for the bind.
func TestGateWaitBound(t *testing.T) {
	g := newGate()
	g.bind("other")
	done := make(chan struct{})
	go func() { g.waitBound("s1"); close(done) }()
	select {
	case <-done:
		t.Fatal("waitBound returned before s1 was bound")
	case <-time.After(100 * time.Millisecond):
	}
	g.bind("s1")
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("waitBound did not return after the bind")
	}
	g.unbind("s1")
	if _, ok := g.bound["s1"]; ok {
		t.Fatal("unbind kept s1")
	}
}

// hijackRecorder is a ResponseWriter that can be hijacked.
type hijackRecorder struct {
	http.ResponseWriter
	conn net.Conn
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, bufio.NewReadWriter(bufio.NewReader(h.conn), bufio.NewWriter(h.conn)), nil
}

// TestUpgradeWriterDropsResponse: once hijacked, the upgradeWriter keeps no
// reference to net/http's response (the library keeps the writer for the
// connection's life) and answers like a hijacked response.
func TestUpgradeWriterDropsResponse(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	w := &upgradeWriter{w: &hijackRecorder{ResponseWriter: httptest.NewRecorder(), conn: a}}
	w.Header().Set("X-Before", "1")
	c, _, err := w.Hijack()
	if err != nil || c != a {
		t.Fatalf("hijack: %v %v", c, err)
	}
	if w.w != nil {
		t.Fatal("the response is still referenced after the hijack")
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrHijacked) {
		t.Fatalf("write after hijack: %v", err)
	}
	w.WriteHeader(http.StatusOK) // no panic
	w.Header().Set("X-After", "1")
	if _, _, err := w.Hijack(); !errors.Is(err, http.ErrHijacked) {
		t.Fatalf("second hijack: %v", err)
	}
	// Gated: the connection is wrapped.
	g := &upgradeWriter{w: &hijackRecorder{ResponseWriter: httptest.NewRecorder(), conn: a}, release: make(chan struct{})}
	if c, _, _ := g.Hijack(); c == a {
		t.Fatal("gated hijack returned the raw connection")
	}
}
