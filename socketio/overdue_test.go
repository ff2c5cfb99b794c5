package socketio

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/omniroute/omniroute/clock/clocktest"
)

// TestOverduePongClosesOnRequest: a polling request of a session whose
// pong is overdue by the clock finds it closed "ping timeout" (400), even
// though the heartbeat has not come to the deadline: here its timer never
// fires, as the fake clock is not advanced past it.
func TestOverduePongClosesOnRequest(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		clk := clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		s := NewServer(Options{Clock: clk, PingInterval: time.Hour, PingTimeout: time.Hour})
		t.Cleanup(s.Close)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/socket.io/?EIO=4&transport=polling", nil))
		var open struct{ Sid string }
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes()[1:], &open) != nil {
			t.Fatalf("handshake %d %q", rec.Code, rec.Body)
		}
		s.mu.Lock()
		ss := s.sessions[open.Sid]
		s.mu.Unlock()
		ss.mu.Lock()
		ss.awaitPong, ss.pongDue = true, clk.Now().UnixNano() // due now: overdue
		ss.mu.Unlock()

		// Without the check the poll would be held until the heartbeat
		// closes the session, which it never does here: bound the wait.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		rec = httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, method, "/socket.io/?EIO=4&transport=polling&sid="+open.Sid, nil))
		cancel()
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s after the pong deadline: %d %q, want 400", method, rec.Code, rec.Body)
		}
		ss.mu.Lock()
		closed, reason := ss.closed, ss.closeReason
		ss.mu.Unlock()
		if !closed || reason != "ping timeout" {
			t.Errorf("%s: closed %v reason %q, want ping timeout", method, closed, reason)
		}
	}
}
