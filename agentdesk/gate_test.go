package agentdesk

import (
	"bufio"
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
