package whatif

import (
	"testing"
	"time"

	"github.com/omniroute/omniroute/replay"
)

// omniroute simulate --what-if: the scenario's queue changes reach the
// simulated queue "q" (a 1 s TTL sheds every call that would wait longer,
// so the service level the simulator measures moves far from the
// baseline's); steps and aging run.
func TestSimulateWhatIf(t *testing.T) {
	o := replay.SimOptions{Agents: 10, ArrivalsPerHour: 180, AHT: 3 * time.Minute, Hours: 20, Seed: 1}
	base, err := replay.Simulate(o)
	if err != nil {
		t.Fatal(err)
	}
	run := func(yaml string) *replay.SimReport {
		t.Helper()
		sc, err := Parse([]byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		o := o
		o.Adjust = func(s *replay.Setup) error { return sc.Apply("", s) }
		rep, err := replay.Simulate(o)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	ttl := run("queues: [{id: q, ttlSeconds: 1}]")
	if d := ttl.ServiceLvl.Value - base.ServiceLvl.Value; d < 0.05 && d > -0.05 {
		t.Fatalf("a 1 s TTL: service level %.3f, base %.3f", ttl.ServiceLvl.Value, base.ServiceLvl.Value)
	}
	pol := run("queues: [{id: q, priorityAgingSeconds: 30, maxPriority: 3, steps: [{afterSeconds: 20, priority: 1}]}]")
	if pol.Calls != base.Calls {
		t.Fatalf("policies changed the arrivals: %d calls, base %d", pol.Calls, base.Calls)
	}
}
