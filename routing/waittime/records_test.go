package waittime

import (
	"cmp"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/omniroute/omniroute/replay"
	"github.com/omniroute/omniroute/replay/trace"
	"github.com/omniroute/omniroute/routing"
)

// The evaluation on recorded waits rebuilds each day's queue from the
// records themselves and scores every estimator on the waits the bank's
// customers really had. At each arrival to the queue (q_start) an
// estimator is fed only what the centre knew then:
//
//   - the customers still waiting (arrived before, not yet served or gone),
//     for the position (across the service types, in priority then arrival
//     order, as in the engine evaluation) and the head of the line of the
//     customer's own type (HOL);
//   - the wait of the last customer of its type to enter service (LES) and
//     the History of the estimates and waits of customers served so far;
//   - the agents on duty for its type: the shifts inferred from the day's
//     services (replay.InferShifts with the faithful model's gap), which a
//     live centre knows as its logged-in agents;
//   - mean service and patience per type from the days before (the
//     exponential patience estimate: abandons over seconds waited), so the
//     first day is not scored.
//
// Scored: customers who queued, waited (q_time > 0) and were served.
type recEvent struct {
	at    int // seconds since midnight
	kind  int // 0 service start (known first at equal times), 1 arrival
	i     int // call index within the day
	order int
}

func runRecords(tb testing.TB, calls []trace.Call) *scores {
	days := trace.Days(calls)
	type agg struct{ ser, serN, waited, hang float64 }
	past := map[string]*agg{}
	hist := map[string]*History{}
	sc := newScores()
	for _, day := range days {
		cs := day.Calls
		shifts := replay.InferShifts(cs, replay.DefaultGap)
		skills := map[string]map[string]bool{}
		for _, c := range cs {
			if c.Outcome == trace.Agent && c.Server != trace.NoServer {
				if skills[c.Server] == nil {
					skills[c.Server] = map[string]bool{}
				}
				skills[c.Server][c.Type] = true
			}
		}
		agentsAt := func(t int, typ string) int {
			n := 0
			at := time.Duration(t) * time.Second
			for _, sh := range shifts {
				if !skills[sh.Agent][typ] || at < sh.Login || at >= sh.Logout {
					continue
				}
				off := false
				for _, o := range sh.Off {
					if at >= o.From && at < o.To {
						off = true
					}
				}
				if !off {
					n++
				}
			}
			return n
		}
		var evs []recEvent
		for i, c := range cs {
			if c.Outcome == trace.Phantom {
				continue
			}
			switch {
			case c.Queued():
				evs = append(evs, recEvent{at: c.QStart, kind: 1, i: i})
				if c.Outcome == trace.Agent {
					evs = append(evs, recEvent{at: c.QExit, kind: 0, i: i})
				}
			case c.Outcome == trace.Agent && c.HasService():
				evs = append(evs, recEvent{at: c.SerStart, kind: 0, i: i})
			}
		}
		for k := range evs {
			evs[k].order = k
		}
		slices.SortFunc(evs, func(a, b recEvent) int {
			return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.kind, b.kind), cmp.Compare(a.order, b.order))
		})
		// waiting: calls queued and not yet gone, by index.
		waiting := map[int]bool{}
		les := map[string]time.Duration{}
		base := map[int]time.Duration{}
		posAt := map[int]int{}
		modelAt, holAt := map[int]time.Duration{}, map[int]time.Duration{}
		for _, e := range evs {
			c := cs[e.i]
			// Drop the callers who left (served or hung up) by now.
			for j := range waiting {
				if cs[j].QExit <= e.at && (cs[j].QExit < e.at || j != e.i) {
					delete(waiting, j)
				}
			}
			if e.kind == 0 {
				w := time.Duration(0)
				if c.Queued() {
					w = time.Duration(c.QTime) * time.Second
				}
				les[c.Type] = w
				if hist[c.Type] == nil {
					hist[c.Type] = &History{}
				}
				if b, ok := base[e.i]; ok {
					hist[c.Type].Observe(b, w, posAt[e.i])
					hist[c.Type].ObserveHOL(modelAt[e.i], holAt[e.i], w)
				}
				delete(waiting, e.i)
				continue
			}
			pos, hol := 1, time.Duration(0)
			for j := range waiting {
				o := cs[j]
				if o.Priority == 2 && c.Priority != 2 || (o.Priority == 2) == (c.Priority == 2) && (o.QStart < c.QStart || o.QStart == c.QStart && j < e.i) {
					pos++
				}
				if o.Type == c.Type {
					hol = max(hol, time.Duration(c.QStart-o.QStart)*time.Second)
				}
			}
			waiting[e.i] = true
			a := past[c.Type]
			if a == nil || a.serN == 0 {
				continue
			}
			svc := time.Duration(a.ser / a.serN * float64(time.Second))
			var pat time.Duration
			if a.hang > 0 {
				pat = time.Duration(a.waited / a.hang * float64(time.Second))
			}
			if hist[c.Type] == nil {
				hist[c.Type] = &History{}
			}
			snap := Snapshot{Position: pos, Agents: agentsAt(c.QStart, c.Type), HOLWait: hol, LESWait: les[c.Type],
				MeanService: svc, MeanPatience: pat, Correction: hist[c.Type].Correction()}
			if b, ok := QLmServed(snap); ok {
				base[e.i], posAt[e.i] = b, pos
				modelAt[e.i], holAt[e.i] = Blend(snap), HOL(snap)
			}
			snap.HOLWeight = hist[c.Type].HOLWeight()
			if c.Outcome != trace.Agent || c.QTime == 0 {
				continue
			}
			act := float64(c.QTime)
			sc.n++
			sc.sumAct += act
			for k, est := range estimators {
				d := est.f(snap).Seconds() - act
				sc.sqErr[k] += d * d
			}
		}
		// What this day teaches the next ones.
		for _, c := range cs {
			if c.Outcome == trace.Phantom {
				continue
			}
			a := past[c.Type]
			if a == nil {
				a = &agg{}
				past[c.Type] = a
			}
			if c.Outcome == trace.Agent && c.SerTime > 0 {
				a.ser += float64(c.SerTime)
				a.serN++
			}
			if c.Queued() {
				a.waited += float64(c.QTime)
				if c.Outcome == trace.Hang {
					a.hang++
				}
			}
		}
	}
	return sc
}

// runFaithful scores every estimator on the faithful replay of February
// (replay.DefaultModel, one replication), as runBank does on the
// first-to-last replay.
func runFaithful(tb testing.TB, calls []trace.Call) *scores {
	m := replay.DefaultModel()
	b, err := replay.NewBank(calls, replay.BankOptions{Model: &m})
	if err != nil {
		tb.Fatal(err)
	}
	model := monthModel(calls)
	agents := func(st *routing.State, q string) int {
		n := 0
		for _, id := range st.AgentIDs() {
			a, _ := st.Agent(id)
			if a.State == routing.AgentReady && a.Agent.Skills[q] > 0 {
				n++
			}
		}
		return n
	}
	ev := &evaluation{hist: map[string]*History{}, model: model}
	sc := newScores()
	for _, day := range b.Days() {
		s, err := b.Setup(day)
		if err != nil {
			tb.Fatal(err)
		}
		recs := observer(s, agents)
		run, err := replay.RunVirtual(s)
		if err != nil {
			tb.Fatal(err)
		}
		ev.score(s, run, *recs, sc)
	}
	return sc
}

func loadBank(tb testing.TB) []trace.Call {
	f, err := os.Open(bankPath)
	if err != nil {
		tb.Skipf("bank trace not available: %v", err)
	}
	defer f.Close()
	calls, err := trace.ReadAll(f)
	if err != nil {
		tb.Fatal(err)
	}
	return calls
}

// TestRASERealWaits prints the RASE of every estimator (c) on the faithful
// replay of February 1999 and (d) on the waits the bank's customers really
// had, and requires Blend at least 40% below HOL on the recorded waits.
//
//	go test ./routing/waittime -run TestRASERealWaits -v
func TestRASERealWaits(t *testing.T) {
	calls := loadBank(t)
	c := runFaithful(t, calls)
	t.Log("\n" + table("(c) bank, February 1999, faithful replay", c))
	d := runRecords(t, calls)
	t.Log("\n" + table("(d) bank, February 1999, recorded waits (queue rebuilt from the records)", d))
	for _, x := range []struct {
		name string
		sc   *scores
	}{{"faithful", c}, {"recorded", d}} {
		bl, hol := raseOf(x.sc, "Blend"), raseOf(x.sc, "HOL")
		t.Logf("%s: Blend %.4f is %.0f%% below HOL %.4f", x.name, bl, 100*(1-bl/hol), hol)
	}
	if bl, hol := raseOf(d, "Blend"), raseOf(d, "HOL"); bl > 0.6*hol {
		t.Errorf("recorded waits: Blend RASE %.4f not 40%% below HOL %.4f", bl, hol)
	}
	if d.n < 10000 {
		t.Errorf("only %d recorded waits scored", d.n)
	}
}
