package socketio_test

import (
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/omniroute/omniroute/clock/clocktest"
	"github.com/omniroute/omniroute/socketio"
)

// TestFakeClockPingTimeout: on a clocktest.Clock, the ping is sent once
// PingInterval has passed on the clock, and a session that does not answer
// it is closed "ping timeout" once PingTimeout has passed too, and not a
// moment before: no wall-clock wait decides.
func TestFakeClockPingTimeout(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := clocktest.New(t0)
	const interval, timeout = 10 * time.Second, 5 * time.Second
	s, url := start(t, socketio.Options{Clock: clk, PingInterval: interval, PingTimeout: timeout, ConnectTimeout: time.Minute})
	reasons := make(chan string, 1)
	joined := make(chan struct{})
	s.Of("/").OnConnection(func(sk *socketio.Socket) {
		sk.OnDisconnect(func(r string) { reasons <- r })
		close(joined)
	})
	c := dialWS(t, url)
	c.send("40")
	c.read()
	<-joined

	clk.Advance(interval)
	_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if mt, b, err := c.c.ReadMessage(); err != nil || mt != websocket.TextMessage || string(b) != "2" {
		t.Fatalf("after PingInterval: %d %q %v, want the ping", mt, b, err)
	}
	// The pong's deadline is scheduled after the ping is queued: wait until
	// the heartbeat's timer is set to it.
	pongDue := t0.Add(interval + timeout)
	for deadline := time.Now().Add(5 * time.Second); !slices.Contains(clk.Deadlines(), pongDue); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the heartbeat's timer is not set to the pong deadline: %v", clk.Deadlines())
		}
	}
	clk.Advance(timeout - time.Millisecond)
	select {
	case r := <-reasons:
		t.Fatalf("closed %q before PingTimeout", r)
	default:
	}
	clk.Advance(time.Millisecond)
	select {
	case r := <-reasons:
		if r != "ping timeout" {
			t.Fatalf("reason %q, want ping timeout", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the session whose pong is overdue was not closed")
	}
	c.waitClosed()
}

// TestPollAfterPongDeadline: a poll that comes once the pong is overdue by
// the clock is refused 400, the session closed "ping timeout", whether or
// not the heartbeat goroutine has come to the deadline yet (on a busy
// machine it comes late; the official suite polls right at the deadline).
func TestPollAfterPongDeadline(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := clocktest.New(t0)
	const interval, timeout = 10 * time.Second, 5 * time.Second
	_, url := start(t, socketio.Options{Clock: clk, PingInterval: interval, PingTimeout: timeout, ConnectTimeout: time.Minute})
	for i := range 20 {
		sid := pollHandshake(t, url)
		// The heartbeat sets its timer on its own goroutine: advance only
		// once it is set to this session's ping.
		pingDue := clk.Now().Add(interval)
		for deadline := time.Now().Add(5 * time.Second); !slices.Contains(clk.Deadlines(), pingDue); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("session %d: the heartbeat's timer is not set to the ping: %v", i, clk.Deadlines())
			}
		}
		clk.Advance(interval)
		if got := poll(t, url, sid); got != "2" {
			t.Fatalf("session %d: poll after PingInterval %q, want the ping", i, got)
		}
		clk.Advance(timeout)
		resp, err := http.Get(url + "/socket.io/?EIO=4&transport=polling&sid=" + sid)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("session %d: poll after the pong deadline: %d %q, want 400", i, resp.StatusCode, b)
		}
	}
}
