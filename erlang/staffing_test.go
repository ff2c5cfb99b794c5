package erlang

import (
	"errors"
	"math"
	"testing"
)

// Staffing against published Erlang C tables.
//
// (1) The worked example of Call Centre Helper, "Erlang C formula - made
// simple": 100 calls per half hour, AHT 180 s (10 Erlangs), target 80% in
// 20 s. Its table: 11 agents P(wait) 68.21%, 12: 44.94%, 13: 28.53% (ASA
// 17.1 s, service level 79.56%: short of 80%), 14: 17.41% (service level
// 88.84%, ASA 7.8 s): 14 agents.
//
// (2) The Erlang C step-by-step example of Westbay Engineers (kooltoolz):
// 360 calls per half hour, 240 s calls (48 Erlangs), 55 agents, 15 s
// target: occupancy 0.8727, P(wait) 0.2387, ASA 8.2 s, service level 84.6%.
func TestStaffingAgainstPublishedErlangCTables(t *testing.T) {
	lambda, mu := 200.0/3600, 1.0/180
	for _, row := range []struct {
		n           int
		pWait, sl20 float64
	}{{11, 0.6821, 0.3896}, {12, 0.4494, 0.6402}, {13, 0.2853, 0.7956}, {14, 0.1741, 0.8884}, {15, 0.1020, 0.9415}} {
		m, err := C(row.n, lambda, mu)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(m.PWait-row.pWait) > 5e-5 || math.Abs(m.ServiceLevel(20)-row.sl20) > 5e-5 {
			t.Errorf("%d agents: P(wait) %.4f SL %.4f, table %.4f %.4f", row.n, m.PWait, m.ServiceLevel(20), row.pWait, row.sl20)
		}
	}
	n, m, err := StaffC(lambda, mu, 0.8, 20)
	if err != nil || n != 14 || math.Abs(m.ASA-7.84) > 0.01 {
		t.Fatalf("80/20 at 10 Erlangs: %d agents (ASA %.2f), %v; table: 14 (7.8 s)", n, m.ASA, err)
	}
	// Just below 13 agents' service level, 13 suffice.
	if n, _, _ := StaffC(lambda, mu, 0.795, 20); n != 13 {
		t.Errorf("79.5/20: %d agents, want 13", n)
	}

	m, err = C(55, 360.0/1800, 1.0/240)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(m.Occupancy-0.8727) > 5e-5 || math.Abs(m.PWait-0.2387) > 5e-5 || math.Abs(m.ASA-8.2) > 0.05 || math.Abs(m.ServiceLevel(15)-0.846) > 5e-4 {
		t.Errorf("48 Erlangs, 55 agents: occupancy %.4f P(wait) %.4f ASA %.2f SL15 %.4f", m.Occupancy, m.PWait, m.ASA, m.ServiceLevel(15))
	}
	if n, _, _ := StaffC(360.0/1800, 1.0/240, 0.845, 15); n != 55 {
		t.Errorf("84.5/15 at 48 Erlangs: %d agents, want 55 (its service level is 84.59%%)", n)
	}
}

// Patient callers: Erlang A needs the Erlang C staffing; impatient ones
// need fewer agents for the same target (abandons shorten the queue) but
// never more than Erlang C, and an unreachable target is an error.
func TestStaffA(t *testing.T) {
	lambda, mu := 200.0/3600, 1.0/180
	if n, _, err := StaffA(lambda, mu, 1e-9, 0.8, 20); err != nil || n != 14 {
		t.Errorf("very patient: %d agents, %v; want Erlang C's 14", n, err)
	}
	nA, m, err := StaffA(lambda, mu, 1.0/60, 0.8, 20)
	if err != nil || nA > 14 || nA < 11 || m.ServiceLevel(20) < 0.8 {
		t.Errorf("patience 60 s: %d agents (SL %.4f), %v", nA, m.ServiceLevel(20), err)
	}
	if prev, err := A(nA-1, lambda, mu, 1.0/60); err != nil || prev.ServiceLevel(20) >= 0.8 {
		t.Errorf("%d agents already reach the target: not the fewest", nA-1)
	}
	for _, bad := range [][2]float64{{0, 20}, {1, 20}, {0.8, -1}, {math.NaN(), 20}} {
		if _, _, err := StaffC(lambda, mu, bad[0], bad[1]); !errors.Is(err, ErrTarget) {
			t.Errorf("target %v: %v", bad, err)
		}
	}
	if _, _, err := StaffC(0, mu, 0.8, 20); !errors.Is(err, ErrRate) {
		t.Errorf("zero rate: %v", err)
	}
}
