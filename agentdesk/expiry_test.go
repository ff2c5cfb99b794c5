package agentdesk_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/agentdesk"
	"github.com/omniroute/omniroute/agentdesk/internal/fixture"
	"github.com/omniroute/omniroute/clock/clocktest"
)

// expiringVerify accepts "exp-<agent>-<minutes>", a token of agent that
// expires that many minutes after t0, and the fixture's tokens (no expiry).
func expiringVerify(tok string) (string, time.Time, error) {
	if p := strings.Split(tok, "-"); len(p) == 3 && p[0] == "exp" {
		m, err := strconv.Atoi(p[2])
		if err != nil {
			return "", time.Time{}, err
		}
		return p[1], t0.Add(time.Duration(m) * time.Minute), nil
	}
	a, err := fixture.Verify(tok)
	return a, time.Time{}, err
}

// TestTokenExpiry (issue 13 item 1): a socket is told a minute before its
// token expires, a refreshToken with a new token of the same agent moves
// the expiry (another agent's or a bad token changes nothing), the old
// expiry then passes without effect, and at the new one the socket gets
// tokenExpired and is closed. All on the fake clock: no waiting on time.
func TestTokenExpiry(t *testing.T) {
	clk := clocktest.New(t0)
	e := newEnv(t, agentdesk.Options{Clock: clk, VerifyExpiring: expiringVerify})
	c, r, err := e.dial(map[string]any{"agent": "a1", "fcm": "", "token": "exp-a1-10"})
	if err != nil {
		t.Fatal(err)
	}
	next[agentdesk.AgentPresence](t, r, agentdesk.EventAgentPresence, nil)
	roundTrip := func() {
		t.Helper()
		if a := setState(t, c, "a1", "NOT_READY", nil); a.Code != "" && a.Code != agentdesk.CodeStateUnchanged {
			t.Fatalf("round trip: %+v", a)
		}
	}
	clk.Advance(9*time.Minute - time.Second)
	roundTrip()
	none(t, r, agentdesk.EventTokenExpiring, 0)
	clk.Advance(time.Second)
	if w := next[agentdesk.TokenExpiring](t, r, agentdesk.EventTokenExpiring, nil); w.ExpiresInSeconds != 60 || w.ExpiresAt != "2025-03-01T09:10:00Z" {
		t.Fatalf("tokenExpiring: %+v", w)
	}

	for tok, code := range map[string]string{"exp-a2-60": agentdesk.CodeAgentMismatch, "bogus": agentdesk.CodeUnauthorized, "": agentdesk.CodeMissingField} {
		if a := ack(t, c, agentdesk.EventRefreshToken, map[string]any{"token": tok}); a.OK || a.Code != code {
			t.Fatalf("refresh with %q: %+v, want %s", tok, a, code)
		}
	}
	if a := ack(t, c, agentdesk.EventRefreshToken, map[string]any{"token": "exp-a1-30"}); !a.OK {
		t.Fatalf("refresh: %+v", a)
	}
	// The old expiry passes: the socket stays.
	clk.Advance(5 * time.Minute)
	roundTrip()
	none(t, r, agentdesk.EventTokenExpired, 0)
	select {
	case <-c.Done():
		t.Fatal("closed at the old expiry after a refresh")
	default:
	}
	clk.Set(t0.Add(29 * time.Minute))
	if w := next[agentdesk.TokenExpiring](t, r, agentdesk.EventTokenExpiring, nil); w.ExpiresAt != "2025-03-01T09:30:00Z" {
		t.Fatalf("second tokenExpiring: %+v", w)
	}
	clk.Advance(time.Minute)
	if x := next[agentdesk.ErrorEvent](t, r, agentdesk.EventTokenExpired, nil); x.Code != agentdesk.CodeTokenExpired {
		t.Fatalf("tokenExpired: %+v", x)
	}
	select {
	case <-c.Done():
	case <-time.After(waitTimeout):
		t.Fatal("the socket was not closed at expiry")
	}

	// A token that expires in less than the warning is told at once (at
	// the next instant of the clock); a token without expiry never is.
	c2, r2, err := e.dial(map[string]any{"agent": "a2", "fcm": "", "token": "exp-a2-30"})
	if err != nil {
		t.Fatal(err)
	}
	next[agentdesk.AgentPresence](t, r2, agentdesk.EventAgentPresence, nil)
	clk.Advance(0)
	if w := next[agentdesk.TokenExpiring](t, r2, agentdesk.EventTokenExpiring, nil); w.ExpiresInSeconds != 0 {
		t.Fatalf("late tokenExpiring: %+v", w)
	}
	_ = c2
	c3, r3, err := e.dial(auth("a3"))
	if err != nil {
		t.Fatal(err)
	}
	next[agentdesk.AgentPresence](t, r3, agentdesk.EventAgentPresence, nil)
	clk.Advance(24 * time.Hour)
	if a := setState(t, c3, "a3", "NOT_READY", nil); a.Code != "" && a.Code != agentdesk.CodeStateUnchanged {
		t.Fatalf("a3: %+v", a)
	}
	none(t, r3, agentdesk.EventTokenExpiring, 0)
	none(t, r3, agentdesk.EventTokenExpired, 0)
}
