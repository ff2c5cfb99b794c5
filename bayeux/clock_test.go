package bayeux

import (
	"testing"
	"time"

	"github.com/omniroute/omniroute/clock/clocktest"
)

// TestFakeClockDrivesExpiry: on a clocktest.Clock, nothing expires until
// the test advances the clock; then a session that never connected is
// removed after UnconnectedTimeout, a held connect is answered after
// ConnectTimeout, and a session with no connect in progress is removed
// after MaxInterval, each once its time has passed and not before.
func TestFakeClockDrivesExpiry(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	ends := make(chan string, 4)
	ts := newTestServer(t, Options{Clock: clk, UnconnectedTimeout: 5 * time.Second, MaxInterval: 10 * time.Second, ConnectTimeout: 30 * time.Second,
		OnSessionEnd: func(c *Client, reason string) { ends <- c.ID() + " " + reason }})
	if !clk.WaitArmed(1, 5*time.Second) {
		t.Fatal("the sweep's ticker was not armed on the clock")
	}
	sweep := time.Second // min(MaxInterval, UnconnectedTimeout)/4, at most 1 s
	bare := ts.handshake(nil)
	live := ts.handshake(nil)
	if r := ts.reply(ts.connect(live, 0, -1), "/meta/connect"); !r.ok() {
		t.Fatalf("connect: %v", r)
	}

	clk.Advance(5*time.Second - sweep) // one sweep short of UnconnectedTimeout
	if ts.srv.Client(bare) == nil {
		t.Fatal("the unconnected session was removed before its UnconnectedTimeout")
	}
	clk.Advance(2 * sweep)
	if got := recv(t, ends, "the unconnected session to expire"); got != bare+" expired" {
		t.Fatalf("ended: %q, want %q", got, bare+" expired")
	}
	if ts.srv.Client(live) == nil {
		t.Fatal("the connected session was removed with the unconnected one")
	}

	held := async(func() []msg { return ts.connect(live, -1, -1) })
	ts.waitHeld(live)
	if !clk.WaitArmed(2, 5*time.Second) {
		t.Fatal("the held connect's timer was not armed on the clock")
	}
	clk.Advance(30*time.Second - sweep) // longer than MaxInterval: a held connect keeps the session
	select {
	case out := <-held:
		t.Fatalf("the connect was answered before its ConnectTimeout: %v", out)
	default:
	}
	clk.Advance(sweep)
	if r := ts.reply(recv(t, held, "the held connect's reply"), "/meta/connect"); !r.ok() {
		t.Fatalf("held connect: %v", r)
	}
	if ts.srv.Client(live) == nil {
		t.Fatal("the session was removed while its connect was held")
	}
	clk.Advance(10*time.Second + 2*sweep) // MaxInterval with no connect in progress
	if got := recv(t, ends, "the idle session to expire"); got != live+" expired" {
		t.Fatalf("ended: %q, want %q", got, live+" expired")
	}
}
