package replay

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/omniroute/omniroute/replay/trace"
)

var feb1 = trace.Date{Year: 1999, Month: 2, Day: 1}

// syntheticPatience builds trace rows whose true patience is Weibull with
// shape k and scale lambda seconds, censored by independent exponential
// offered waits of mean waitMean: a caller whose patience runs out first is
// a HANG with q_time = patience, the others are served after their wait.
func syntheticPatience(n int, k, lambda, waitMean float64, seed uint64) []trace.Call {
	rng := rand.New(rand.NewPCG(seed, 1))
	calls := make([]trace.Call, 0, n)
	for i := range n {
		p := lambda * math.Pow(-math.Log(1-rng.Float64()), 1/k)
		w := rng.ExpFloat64() * waitMean
		q := 36000 + i
		c := trace.Call{Date: feb1, CallID: int64(i), Type: "PS", QStart: q, Server: "A"}
		if p < w {
			c.Outcome, c.QTime, c.Server = trace.Hang, int(p), trace.NoServer
		} else {
			c.Outcome, c.QTime, c.SerStart, c.SerExit, c.SerTime = trace.Agent, int(w), q+int(w), q+int(w)+60, 60
		}
		c.QExit = q + c.QTime
		calls = append(calls, c)
	}
	return calls
}

// The patience model recovers a known patience distribution from censored
// records: the true survival lies inside the Kaplan-Meier estimate's 99%
// Greenwood band at its deciles, and patience drawn for served callers
// (conditioned on exceeding their wait) has the true conditional mean.
func TestPatienceRecoversKnownDistribution(t *testing.T) {
	const k, lambda = 1.5, 120.0 // Weibull: mean 108 s
	trueS := func(t float64) float64 { return math.Exp(-math.Pow(t/lambda, k)) }
	calls := syntheticPatience(20000, k, lambda, 90, 42)
	m := DefaultModel()
	b, err := NewBank(calls, BankOptions{Model: &m})
	if err != nil {
		t.Fatal(err)
	}
	s := b.Patience["PS"]
	if s == nil || s.Events < 5000 || s.Censored < 5000 {
		t.Fatalf("estimate %+v: want thousands of events and censorings", s)
	}
	for _, q := range []float64{0.9, 0.75, 0.5, 0.3, 0.2} {
		tq := lambda * math.Pow(-math.Log(q), 1/k) // true S(tq) = q
		lo, hi := s.Band(tq, 2.576)
		// Recorded q_time is whole seconds (truncated): the estimate
		// at tq counts patience below the next whole second.
		truth := trueS(math.Floor(tq) + 1)
		if truth < lo || truth > hi {
			t.Errorf("S(%.0f s): true %.4f outside the 99%% band [%.4f, %.4f] (estimate %.4f)", tq, truth, lo, hi, s.At(tq))
		}
		if hi-lo > 0.05 {
			t.Errorf("S(%.0f s): band [%.4f, %.4f] too wide to test anything", tq, lo, hi)
		}
	}
	// Conditional draws: E[T | T > w] against the truth, by numeric
	// integration of S(t)/S(w).
	rng := rand.New(rand.NewPCG(7, 7))
	for _, w := range []float64{0, 60, 150} {
		var sum float64
		const n = 20000
		for range n {
			sum += s.SampleAbove(w, 1-rng.Float64())
		}
		want := w
		for t := w; t < w+2000; t += 0.5 {
			want += 0.5 * trueS(t+0.25) / trueS(w)
		}
		if got := sum / n; math.Abs(got-want) > 0.05*want {
			t.Errorf("mean patience given > %.0f s: drawn %.1f, true %.1f", w, got, want)
		}
	}
}

func TestKaplanMeierByHand(t *testing.T) {
	// Events at 10, 20 (two), censored at 15, 30.
	s, err := KaplanMeier([]Observation{{10, true}, {15, false}, {20, true}, {20, true}, {30, false}})
	if err != nil {
		t.Fatal(err)
	}
	// S(10) = 4/5; at 20 three at risk, two abandon: 4/5 * 1/3.
	for _, c := range []struct{ t, want float64 }{{5, 1}, {10, 0.8}, {19, 0.8}, {20, 0.8 / 3}, {25, 0.8 / 3}} {
		if got := s.At(c.t); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("S(%g) = %g, want %g", c.t, got, c.want)
		}
	}
	// A caller served after 12 s has patience above 12: the next event
	// time, 20, or the tail.
	for _, u := range []float64{1, 0.9, 0.34} {
		if p := s.SampleAbove(12, u); p != 20 {
			t.Errorf("SampleAbove(12, %g) = %g, want 20", u, p)
		}
	}
	if p := s.SampleAbove(12, 0.1); p <= 20 {
		t.Errorf("SampleAbove(12, 0.1) = %g, want the tail past 20", p)
	}
	if _, err := KaplanMeier([]Observation{{3, false}}); err != ErrNoEvents {
		t.Errorf("no events: %v", err)
	}
}

// staffedCalls builds a day of services for agents with known shifts and
// breaks: within each on-duty interval the agent serves calls back to back
// with idle times below a minute.
func staffedCalls(on map[string][]Interval, seed uint64) []trace.Call {
	rng := rand.New(rand.NewPCG(seed, 2))
	var calls []trace.Call
	id := 0
	for _, agent := range []string{"ANAT", "DORIT"} {
		for _, iv := range on[agent] {
			t := int(iv.From / time.Second)
			end := int(iv.To / time.Second)
			for {
				ser := 30 + rng.IntN(300)
				if t+ser > end {
					break
				}
				id++
				calls = append(calls, trace.Call{Date: feb1, CallID: int64(id), Type: "PS", Outcome: trace.Agent, Server: agent,
					VRUExit: t, SerStart: t, SerExit: t + ser, SerTime: ser})
				t += ser + rng.IntN(60)
			}
		}
	}
	return calls
}

func hm(h, m int) time.Duration { return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute }

// Staffing inference finds known shifts and breaks: logins, logouts and
// every break within one call's length, and the replay keeps the agent off
// work during its breaks.
func TestInferShiftsFindsKnownShiftsAndBreaks(t *testing.T) {
	on := map[string][]Interval{
		"ANAT":  {{hm(8, 0), hm(10, 0)}, {hm(10, 30), hm(12, 0)}},
		"DORIT": {{hm(9, 0), hm(12, 0)}, {hm(12, 45), hm(15, 0)}, {hm(15, 15), hm(17, 0)}},
	}
	calls := staffedCalls(on, 3)
	shifts := InferShifts(calls, 3*time.Minute)
	if len(shifts) != 2 {
		t.Fatalf("%d shifts, want 2", len(shifts))
	}
	const tol = 6 * time.Minute // the longest service plus idle
	near := func(a, b time.Duration) bool { return a >= b-tol && a <= b+tol }
	for _, sh := range shifts {
		want := on[sh.Agent]
		if !near(sh.Login, want[0].From) || !near(sh.Logout, want[len(want)-1].To) {
			t.Errorf("%s: on duty %v..%v, want %v..%v", sh.Agent, sh.Login, sh.Logout, want[0].From, want[len(want)-1].To)
		}
		if len(sh.Off) != len(want)-1 {
			t.Fatalf("%s: breaks %v, want %d", sh.Agent, sh.Off, len(want)-1)
		}
		for i, off := range sh.Off {
			if !near(off.From, want[i].To) || !near(off.To, want[i+1].From) {
				t.Errorf("%s: break %v..%v, want %v..%v", sh.Agent, off.From, off.To, want[i].To, want[i+1].From)
			}
		}
	}
	// With a gap longer than the breaks, there are none.
	if sh := InferShifts(calls, time.Hour); len(sh[0].Off)+len(sh[1].Off) != 0 {
		t.Errorf("gap 1h: breaks %v %v", sh[0].Off, sh[1].Off)
	}

	// The replay honours the breaks: callers arriving in ANAT's break
	// wait for DORIT or for ANAT's return; nobody is answered by ANAT
	// during it.
	s := &Setup{Epoch: time.Date(1999, 2, 1, 0, 0, 0, 0, time.UTC), MRD: BankMRD}
	s.Queues = append(s.Queues, queueFor("PS"))
	for _, sh := range shifts {
		sh.Skills = map[string]int{"PS": 1}
		s.Shifts = append(s.Shifts, sh)
	}
	for at := hm(8, 1); at < hm(16, 0); at += 2 * time.Minute {
		s.Arrivals = append(s.Arrivals, Arrival{At: at, Queue: "PS", Service: time.Minute})
	}
	run, err := RunVirtual(s)
	if err != nil {
		t.Fatal(err)
	}
	anat := shifts[0]
	for i, o := range run.Outcomes {
		at := s.Arrivals[i].At + o.Wait
		if o.Agent == "ANAT" && at > anat.Off[0].From && at < anat.Off[0].To {
			t.Errorf("ANAT answered at %v, in the break %v..%v", at, anat.Off[0].From, anat.Off[0].To)
		}
	}
	// Staffed: the shift without its break, plus at most the calls
	// running over the break's start and the logout.
	staffed := overlap(map[string][]Interval{"ANAT": run.Staffed["ANAT"]}, Interval{})
	if want := anat.Logout - anat.Login - (anat.Off[0].To - anat.Off[0].From); staffed < want || staffed > want+2*time.Minute {
		t.Errorf("ANAT staffed %v, want %v (the shift without its break)", staffed, want)
	}
}

// The faithful replay of February 1999 reproduces the records (issue 16):
// per hour with at least 30 calls, weighted by calls, ASA error under 12 s,
// abandon-rate error under 0.02, service-level error under 0.07; month ASA
// within 10%. IVR hang-ups never reach an agent.
func TestFaithfulFebruary(t *testing.T) {
	calls := loadTrace(t)
	m := DefaultModel()
	rep, err := ReportMonth(calls, BankOptions{Model: &m})
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Accuracy
	t.Logf("faithful February: %d hours, %d calls: ASA error %.2f s, abandon-rate error %.4f, service-level error %.4f, month ASA %.1f s vs %.1f s (%+.1f%%)",
		a.Hours, a.Calls, a.ASAErrorSeconds, a.AbandonRateError, a.ServiceLevelError, rep.Month.ASASeconds, rep.Month.Recorded.ASASeconds, 100*a.MonthASARelError)
	if !a.Met {
		t.Errorf("accuracy goals missed: %+v", a)
	}
	if a.Hours < 300 || a.Calls < 30000 {
		t.Errorf("only %d hours, %d calls compared", a.Hours, a.Calls)
	}
	checkConservation(t, "month", rep.Month.Figures)
	if rep.Month.Offered != rep.Month.Recorded.Offered || rep.Month.IVRAbandoned != rep.Month.Recorded.IVRAbandoned || rep.Month.IVRAbandoned == 0 {
		t.Errorf("offered %d (recorded %d), IVR hang-ups %d (recorded %d)", rep.Month.Offered, rep.Month.Recorded.Offered, rep.Month.IVRAbandoned, rep.Month.Recorded.IVRAbandoned)
	}
	for _, d := range rep.Days {
		checkConservation(t, d.Date, d.Day.Figures)
		for _, h := range d.Hours {
			checkConservation(t, fmt.Sprintf("%s %02d", d.Date, h.Hour), h.Figures)
		}
	}
}

// Same seed, same report; another seed, another draw.
func TestFaithfulIsDeterministic(t *testing.T) {
	calls := loadTrace(t)
	days := trace.Days(calls)[:3]
	var month []trace.Call
	for _, d := range days {
		month = append(month, d.Calls...)
	}
	report := func(seed uint64) []byte {
		m := DefaultModel()
		m.Seed = seed
		rep, err := ReportMonth(month, BankOptions{Model: &m})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(rep)
		return b
	}
	a, b, c := report(5), report(5), report(6)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two replays with seed 5 differ")
	}
	if reflect.DeepEqual(a, c) {
		t.Fatal("seeds 5 and 6 gave the same report: the seed is not used")
	}
}

func TestModelRejectsBadParameters(t *testing.T) {
	calls := syntheticPatience(100, 1, 60, 60, 1)
	for _, m := range []Model{
		{Gap: 0, Allowance: time.Second},
		{Gap: time.Minute, Allowance: -time.Second},
		{Gap: time.Minute, Skills: "year"},
		{Gap: time.Minute, Replications: MaxReplications + 1},
	} {
		if _, err := NewBank(calls, BankOptions{Model: &m}); err == nil {
			t.Errorf("%+v accepted", m)
		}
	}
}

// BenchmarkReplayMonthFaithful replays all of February 1999 with the
// faithful model (issue 16 goal: under 5 s):
//
//	go test ./replay -run '^$' -bench ReplayMonthFaithful -benchtime 3x
func BenchmarkReplayMonthFaithful(b *testing.B) {
	calls := loadTrace(b)
	m := DefaultModel()
	b.ResetTimer()
	for range b.N {
		if _, err := ReportMonth(calls, BankOptions{Model: &m}); err != nil {
			b.Fatal(err)
		}
	}
}

// Offers that ring out: the queue's RONA timer requeues the call (the
// engine then offers it to another agent), the agent is READY again after
// the return time, and every call is still answered, later than without
// misses.
func TestMissesRingOut(t *testing.T) {
	mk := func(m *Misses) *Run {
		s := &Setup{Epoch: time.Date(1999, 2, 1, 0, 0, 0, 0, time.UTC), MRD: BankMRD, Misses: m}
		q := queueFor("PS")
		q.RONATimeout = 10 * time.Second
		s.Queues = append(s.Queues, q)
		s.Shifts = []Shift{{Agent: "A", Skills: map[string]int{"PS": 1}, Logout: 10 * time.Hour},
			{Agent: "B", Skills: map[string]int{"PS": 1}, Logout: 10 * time.Hour},
			{Agent: "C", Skills: map[string]int{"PS": 1}, Logout: 10 * time.Hour},
			{Agent: "D", Skills: map[string]int{"PS": 1}, Logout: 10 * time.Hour}}
		for i := range 50 {
			s.Arrivals = append(s.Arrivals, Arrival{At: time.Duration(i) * time.Minute, Queue: "PS", Service: 2 * time.Minute})
		}
		run, err := RunVirtual(s)
		if err != nil {
			t.Fatal(err)
		}
		return run
	}
	plain, missed := mk(nil), mk(&Misses{Rate: 0.15, Return: 20 * time.Second, Seed: 3})
	late := 0
	for i, o := range missed.Outcomes {
		if o.Result != Answered || plain.Outcomes[i].Result != Answered {
			t.Fatalf("call %d: %v / %v, want answered", i, o.Result, plain.Outcomes[i].Result)
		}
		if o.Wait >= 10*time.Second {
			late++ // rang out at least once (10 s)
		}
	}
	if late < 3 || late > 20 {
		t.Errorf("%d of 50 calls waited for a RONA; want about 8", late)
	}
	// Every agent keeps answering: a RONA'd agent comes back.
	by := map[string]int{}
	for _, o := range missed.Outcomes[25:] {
		by[o.Agent]++
	}
	if by["A"] == 0 || by["B"] == 0 || by["C"] == 0 || by["D"] == 0 {
		t.Errorf("late calls answered by %v: an agent never came back from its RONA", by)
	}
	if _, err := RunVirtual(&Setup{MRD: BankMRD, Misses: &Misses{Rate: 1}}); err == nil {
		t.Error("miss rate 1 accepted")
	}
}

// A month in which nobody abandoned the queue replays with infinitely
// patient callers instead of failing.
func TestFaithfulWithoutAbandons(t *testing.T) {
	var served []trace.Call
	for _, c := range syntheticPatience(300, 1, 60, 60, 9) {
		if c.Outcome == trace.Agent {
			served = append(served, c)
		}
	}
	m := DefaultModel()
	rep, err := ReportMonth(served, BankOptions{Model: &m})
	if err != nil {
		t.Fatal(err)
	}
	// One agent cannot serve them all (the synthetic services overlap):
	// the rest wait until the TTL, none abandons.
	if rep.Month.Abandoned != 0 || rep.Month.Answered == 0 || rep.Month.Offered != len(served) {
		t.Errorf("offered %d, answered %d, abandoned %d", rep.Month.Offered, rep.Month.Answered, rep.Month.Abandoned)
	}
}
