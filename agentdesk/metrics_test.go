package agentdesk_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omniroute/omniroute/agentdesk"
	"github.com/omniroute/omniroute/clock/clocktest"
)

// TestDisconnectGracesGauge: omniroute_agentdesk_disconnect_graces counts
// the agents whose grace runs: 1 once a1's last socket is gone, 0 again
// once the grace has passed.
func TestDisconnectGracesGauge(t *testing.T) {
	clk := clocktest.New(t0)
	reg := prometheus.NewRegistry()
	const grace = time.Minute
	e := newEnv(t, agentdesk.Options{DisconnectGrace: grace, Clock: clk, Registry: reg})
	gauge := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "omniroute_agentdesk_disconnect_graces" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no omniroute_agentdesk_disconnect_graces gathered")
		return 0
	}
	c, _ := e.connect("a1")
	if g := gauge(); g != 0 {
		t.Fatalf("gauge %v with a1 connected", g)
	}
	_ = c.Close()
	waitUntil(t, "the grace timer", func() bool { return e.srv.Graces() == 1 })
	if g := gauge(); g != 1 {
		t.Fatalf("gauge %v during a1's grace", g)
	}
	clk.Advance(grace)
	if g := gauge(); g != 0 {
		t.Fatalf("gauge %v after the grace", g)
	}
}
