package agentdesk

import (
	"testing"
	"time"

	"github.com/omniroute/omniroute/clock/clocktest"
)

// TestExpiriesHeap: the shared expiry heap holds one entry per armed
// socket, ordered by the step due; a re-arm moves a socket's entry, a
// disconnect or a token without expiry takes it out, so nothing of a gone
// desk stays referenced until its old token's time.
func TestExpiriesHeap(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	clk := clocktest.New(t0)
	s := &Server{opts: Options{Clock: clk, TokenExpiryWarning: time.Minute}, exps: &expiries{clk: clk}}
	cs := make([]*client, 5)
	for i := range cs {
		cs[i] = &client{srv: s, agent: string(rune('a' + i)), expiry: expiry{idx: -1}}
		cs[i].armExpiry(t0.Add(time.Duration(10-i) * time.Minute))
	}
	check := func(want ...*client) {
		t.Helper()
		e := s.exps
		if len(e.h) != len(want) {
			t.Fatalf("heap holds %d sockets, want %d", len(e.h), len(want))
		}
		for i, c := range e.h {
			if int(c.expiry.idx) != i {
				t.Fatalf("entry %d says index %d", i, c.expiry.idx)
			}
		}
		if len(want) > 0 && e.h[0] != want[0] {
			t.Fatalf("earliest is %s, want %s", e.h[0].agent, want[0].agent)
		}
		if (e.t != nil) != (len(want) > 0) {
			t.Fatalf("timer armed %v with %d entries", e.t != nil, len(want))
		}
	}
	check(cs[4], cs[0], cs[1], cs[2], cs[3])
	cs[0].armExpiry(t0.Add(time.Minute)) // refreshed to expire first: warned at once
	check(cs[0], cs[1], cs[2], cs[3], cs[4])
	if cs[0].expiry.at != t0.UnixNano() {
		t.Fatalf("a token with less than the warning left is warned at %v, want now", time.Unix(0, cs[0].expiry.at))
	}
	cs[0].closeExpiry()
	cs[4].armExpiry(time.Time{})
	check(cs[3], cs[1], cs[2])
	cs[0].armExpiry(t0.Add(time.Hour)) // closed: never armed again
	for _, c := range cs[1:4] {
		c.closeExpiry()
	}
	check()
}
