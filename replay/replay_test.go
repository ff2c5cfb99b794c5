package replay

import (
	"encoding/json"
	"math"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/omniroute/omniroute/replay/trace"
)

const tracePath = "../../shared/data/anonymous_bank_february_1999.tsv"

func loadTrace(t testing.TB) []trace.Call {
	t.Helper()
	f, err := os.Open(tracePath)
	if err != nil {
		t.Skipf("trace not available: %v", err)
	}
	defer f.Close()
	calls, err := trace.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return calls
}

func checkConservation(t *testing.T, label string, f trace.Figures) {
	t.Helper()
	if f.Offered != f.Answered+f.Abandoned+f.Expired {
		t.Errorf("%s: offered %d != answered %d + abandoned %d + expired %d", label, f.Offered, f.Answered, f.Abandoned, f.Expired)
	}
	for name, v := range map[string]float64{"service level": f.ServiceLevel, "occupancy": f.Occupancy} {
		if v < 0 || v > 1 || math.IsNaN(v) {
			t.Errorf("%s: %s %v outside [0,1]", label, name, v)
		}
	}
	if f.ASASeconds < 0 {
		t.Errorf("%s: negative ASA", label)
	}
}

func TestReplayFirstDay(t *testing.T) {
	calls := loadTrace(t)
	days := trace.Days(calls)
	rep, err := ReportDay(days[0], calls, BankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Date != "1999-02-01" {
		t.Fatalf("first day %s", rep.Date)
	}
	checkConservation(t, "day", rep.Day.Figures)
	// Every non-phantom call of the day is offered, as in the records.
	if rep.Day.Offered != rep.Day.Recorded.Offered {
		t.Fatalf("offered %d, recorded %d", rep.Day.Offered, rep.Day.Recorded.Offered)
	}
	sum := 0
	for _, h := range rep.Hours {
		checkConservation(t, "hour", h.Figures)
		if h.Offered != h.Recorded.Offered {
			t.Errorf("hour %d: offered %d, recorded %d", h.Hour, h.Offered, h.Recorded.Offered)
		}
		sum += h.Offered
	}
	if sum != rep.Day.Offered {
		t.Fatalf("hours sum to %d offered, day has %d", sum, rep.Day.Offered)
	}
	if rep.Day.Answered == 0 || rep.Day.Occupancy == 0 {
		t.Fatalf("nothing answered: %+v", rep.Day.Figures)
	}
	// The JSON shape the issue names.
	b, _ := json.Marshal(rep)
	var m map[string]any
	json.Unmarshal(b, &m)
	day := m["day"].(map[string]any)
	for _, k := range []string{"offered", "answered", "abandoned", "expired", "asa_seconds", "service_level_20s", "occupancy", "recorded"} {
		if _, ok := day[k]; !ok {
			t.Errorf("day JSON lacks %q: %s", k, b)
		}
	}
	if _, ok := m["hours"].([]any)[0].(map[string]any)["recorded"]; !ok {
		t.Error("hour JSON lacks recorded")
	}
}

func TestReplayIsDeterministic(t *testing.T) {
	calls := loadTrace(t)
	day := trace.Days(calls)[3]
	a, err := ReportDay(day, calls, BankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReportDay(day, calls, BankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two replays of the same day differ")
	}
}

func TestReplayMonth(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	calls := loadTrace(t)
	m, err := ReportMonth(calls, BankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkConservation(t, "month", m.Month.Figures)
	if m.Month.Offered != m.Month.Recorded.Offered {
		t.Fatalf("month offered %d, recorded %d", m.Month.Offered, m.Month.Recorded.Offered)
	}
	for _, d := range m.Days {
		checkConservation(t, d.Date, d.Day.Figures)
	}
}

// BenchmarkReplayMonth replays all of February 1999 in virtual time
// (issue goal: under 10 s).
func BenchmarkReplayMonth(b *testing.B) {
	calls := loadTrace(b)
	b.ResetTimer()
	for range b.N {
		if _, err := ReportMonth(calls, BankOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSimulationAgreesWithErlang runs long simulations and requires the
// engine's figures within 4 standard errors (plus a small bias allowance
// for the finite run) of the Erlang C and Erlang A formulas.
func TestSimulationAgreesWithErlang(t *testing.T) {
	cases := []SimOptions{
		{Agents: 50, ArrivalsPerHour: 900, AHT: 180 * time.Second, Hours: 150, Seed: 7},
		{Agents: 50, ArrivalsPerHour: 900, AHT: 180 * time.Second, Patience: 60 * time.Second, Hours: 150, Seed: 11},
		{Agents: 10, ArrivalsPerHour: 300, AHT: 100 * time.Second, Patience: 120 * time.Second, Hours: 150, Seed: 3},
	}
	for _, o := range cases {
		r, err := Simulate(o)
		if err != nil {
			t.Fatal(err)
		}
		check := func(name string, e Estimate, want, slack float64) {
			if d := math.Abs(e.Value - want); d > 4*e.StdErr+slack {
				t.Errorf("seed %d %s: engine %.4f ± %.4f, Erlang %s %.4f (|diff| %.4f)", o.Seed, name, e.Value, e.StdErr, r.Erlang.Model, want, d)
			}
		}
		check("P(wait)", r.PWait, r.Erlang.PWait, 0.005)
		check("ASA", r.ASA, r.Erlang.ASASeconds, 0.05*r.Erlang.ASASeconds+0.05)
		check("service level", r.ServiceLvl, r.Erlang.ServiceLevel20s, 0.005)
		check("abandon rate", r.AbandonRate, r.Erlang.AbandonRate, 0.002)
		if r.PWait.StdErr == 0 || r.Calls < 1000 {
			t.Errorf("seed %d: degenerate run: %+v", o.Seed, r)
		}
	}
}

func TestSimulateRejectsBadOptions(t *testing.T) {
	for _, o := range []SimOptions{
		{Agents: 0, ArrivalsPerHour: 10, AHT: time.Minute, Hours: 1},
		{Agents: 1, ArrivalsPerHour: 0, AHT: time.Minute, Hours: 1},
		{Agents: 1, ArrivalsPerHour: 10, AHT: 0, Hours: 1},
		{Agents: 1, ArrivalsPerHour: 100, AHT: time.Minute, Hours: 1}, // unstable Erlang C
		{Agents: 1, ArrivalsPerHour: 10, AHT: time.Minute, Hours: 0},
	} {
		if _, err := Simulate(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
