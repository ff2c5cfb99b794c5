package presencesync

import (
	"strconv"
	"testing"
)

// TestDecisionRing: an agent's history keeps its last
// MaxDecisionsPerAgent decisions, oldest first, however many came before.
func TestDecisionRing(t *testing.T) {
	var nilRing *decisionRing
	if l := nilRing.list(); l != nil {
		t.Fatalf("an agent without decisions: %v", l)
	}
	for _, n := range []int{1, MaxDecisionsPerAgent - 1, MaxDecisionsPerAgent, MaxDecisionsPerAgent + 1, 3*MaxDecisionsPerAgent + 7} {
		r := &decisionRing{}
		for i := range n {
			r.add(Decision{Change: strconv.Itoa(i)})
		}
		l := r.list()
		want := min(n, MaxDecisionsPerAgent)
		if len(l) != want {
			t.Fatalf("%d added: %d kept, want %d", n, len(l), want)
		}
		for i, d := range l {
			if w := strconv.Itoa(n - want + i); d.Change != w {
				t.Fatalf("%d added: decision %d is %s, want %s", n, i, d.Change, w)
			}
		}
		l[0].Change = "changed"
		if r.list()[0].Change == "changed" {
			t.Fatalf("list shares the ring's storage")
		}
	}
}
