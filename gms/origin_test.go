package gms

import (
	"fmt"
	"testing"
)

// TestEventOriginKey: the ClaimPush key of an event is "<entry>.<command>"
// (as fmt's %d.%d writes it, so keys claimed by an older node still match),
// and "" outside follow.
func TestEventOriginKey(t *testing.T) {
	if got := (eventOrigin{}).key(); got != "" {
		t.Fatalf("unset origin key = %q, want empty", got)
	}
	for _, o := range []eventOrigin{{seq: 0, cmd: 0}, {seq: 42, cmd: 3}, {seq: 1<<64 - 1, cmd: 1 << 20}} {
		o.set = true
		if got, want := o.key(), fmt.Sprintf("%d.%d", o.seq, o.cmd); got != want {
			t.Errorf("key of %+v = %q, want %q", o, got, want)
		}
	}
}
