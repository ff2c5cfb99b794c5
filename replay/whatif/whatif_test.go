package whatif

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/replay"
	"github.com/omniroute/omniroute/replay/trace"
	"github.com/omniroute/omniroute/routing"
)

const example = "../../examples/whatif/overflow-pe-ps.yaml"

func hm(h, m int) time.Duration { return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute }

func daySetup() *replay.Setup {
	q := func(id string) routing.Queue {
		return routing.Queue{ID: id, Name: id, MRD: "voice", Skills: map[string]int{id: 1}, TTL: time.Hour, WrapUp: 20 * time.Second}
	}
	return &replay.Setup{MRD: replay.BankMRD, Queues: []routing.Queue{q("PE"), q("PS")},
		Shifts: []replay.Shift{
			{Agent: "ANAT", Login: hm(8, 0), Logout: hm(16, 0), Off: []replay.Interval{{From: hm(12, 0), To: hm(12, 30)}}},
			{Agent: "BENSION", Login: hm(9, 0), Logout: hm(17, 0)},
			{Agent: "ZOHARI", Login: hm(11, 0), Logout: hm(18, 0)},
		},
		Arrivals: []replay.Arrival{{Queue: "PE"}, {Queue: "PS", Priority: 1}}}
}

func TestApply(t *testing.T) {
	s, err := Parse([]byte(`
queues:
  - id: PE
    strategy: round-robin
    steps:
      - afterSeconds: 30
        addQueues: [PS]
  - id: "*"
    wrapUpSeconds: 5
staffing:
  - {from: "10:00", to: "12:00", agents: 2, skills: [PE]}
  - {from: "11:30", to: "13:00", agents: -2}
  - {from: "14:00", to: "15:00", agents: 1, days: [1999-02-02]}
priorities:
  - {queue: PE, add: 3}
rona: {missRate: 0.1, returnSeconds: 60}
`))
	if err != nil {
		t.Fatal(err)
	}
	st := daySetup()
	if err := s.Apply("1999-02-01", st); err != nil {
		t.Fatal(err)
	}
	pe, ps := st.Queues[0], st.Queues[1]
	if pe.Strategy != routing.RoundRobin || len(pe.Steps) != 1 || pe.Steps[0].After != 30*time.Second || pe.Steps[0].AddQueues[0] != "PS" {
		t.Errorf("PE after the what-if: %+v", pe)
	}
	// Fields not named keep the replay's values; "*" reaches every queue.
	if pe.TTL != time.Hour || pe.Skills["PE"] != 1 || pe.WrapUp != 5*time.Second || ps.WrapUp != 5*time.Second || ps.Strategy != "" || len(ps.Steps) != 0 {
		t.Errorf("unnamed fields changed: PE %+v PS %+v", pe, ps)
	}
	if st.Arrivals[0].Priority != 3 || st.Arrivals[1].Priority != 1 {
		t.Errorf("priorities %d %d, want 3 1", st.Arrivals[0].Priority, st.Arrivals[1].Priority)
	}
	if len(st.Shifts) != 5 || st.Shifts[3].Login != hm(10, 0) || st.Shifts[3].Logout != hm(12, 0) || st.Shifts[3].Skills["PE"] != 1 || st.Shifts[3].Skills["PS"] != 0 {
		t.Fatalf("added agents: %+v", st.Shifts[3:])
	}
	// The first two agents on duty at 11:30 by name (ANAT, BENSION)
	// are off until 13:00; ANAT's own break is inside that.
	a, b, z := st.Shifts[0], st.Shifts[1], st.Shifts[2]
	if len(a.Off) != 1 || a.Off[0] != (replay.Interval{From: hm(11, 30), To: hm(13, 0)}) {
		t.Errorf("ANAT breaks %v", a.Off)
	}
	if len(b.Off) != 1 || b.Off[0] != (replay.Interval{From: hm(11, 30), To: hm(13, 0)}) || len(z.Off) != 0 {
		t.Errorf("BENSION breaks %v, ZOHARI %v", b.Off, z.Off)
	}
	if st.Misses == nil || st.Misses.Rate != 0.1 || st.Misses.Return != time.Minute {
		t.Errorf("misses %+v", st.Misses)
	}
	// The day-limited change applies on its day only.
	st2 := daySetup()
	if err := s.Apply("1999-02-02", st2); err != nil || len(st2.Shifts) != 6 {
		t.Errorf("1999-02-02: %v, %d shifts", err, len(st2.Shifts))
	}
}

func TestWithBreakAtEdges(t *testing.T) {
	sh := replay.Shift{Agent: "A", Login: hm(8, 0), Logout: hm(12, 0), Off: []replay.Interval{{From: hm(9, 0), To: hm(9, 30)}}}
	got := withBreak(sh, replay.Interval{From: hm(7, 0), To: hm(9, 15)})
	if got.Login != hm(9, 30) || got.Logout != hm(12, 0) || len(got.Off) != 0 {
		t.Errorf("break over the login: %+v", got)
	}
	got = withBreak(sh, replay.Interval{From: hm(11, 0), To: hm(13, 0)})
	if got.Login != hm(8, 0) || got.Logout != hm(11, 0) || len(got.Off) != 1 {
		t.Errorf("break over the logout: %+v", got)
	}
	if got = withBreak(sh, replay.Interval{From: hm(6, 0), To: hm(13, 0)}); got.Login != got.Logout || len(got.Off) != 0 {
		t.Errorf("break over the whole shift: %+v", got)
	}
}

func TestParseErrors(t *testing.T) {
	for name, in := range map[string]string{
		"unknown top field":   "overflow: yes\n",
		"unknown queue field": "queues: [{id: PE, colour: red}]\n",
		"queue without id":    "queues: [{strategy: round-robin}]\n",
		"bad strategy":        "queues: [{id: PE, strategy: fastest}]\n",
		"bad step":            "queues: [{id: PE, steps: [{afterSeconds: -1}]}]\n",
		"bad clock":           "staffing: [{from: '25:99', to: '26:00', agents: 1}]\n",
		"empty interval":      "staffing: [{from: '10:00', to: '10:00', agents: 1}]\n",
		"zero agents":         "staffing: [{from: '10:00', to: '11:00', agents: 0}]\n",
		"bad day":             "staffing: [{from: '10:00', to: '11:00', agents: 1, days: [monday]}]\n",
		"priority no queue":   "priorities: [{add: 1}]\n",
		"rona rate":           "rona: {missRate: 1.5}\n",
		"not yaml":            "queues: [\n",
	} {
		if _, err := Parse([]byte(in)); !errors.Is(err, ErrScenario) {
			t.Errorf("%s: %v, want ErrScenario", name, err)
		}
	}
	if s, err := Parse(nil); err != nil || s.Seed != 1 {
		t.Errorf("empty scenario: %v %+v", err, s)
	}
}

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile(example); err == nil {
		f.Add(b)
	}
	f.Add([]byte("queues: [{id: '*', wrapUpSeconds: 5}]\nrona: {missRate: 0.2}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrScenario) {
				t.Fatalf("error %v does not wrap ErrScenario", err)
			}
			return
		}
		st := daySetup()
		_ = s.Apply("1999-02-01", st) // must not panic
	})
}

// The README's what-if on the first three days of February: two more
// agents 10:00-12:00 and PE overflowing to PS after 30 s lower the ASA of
// 10:00-12:00 and leave the night hours as they were.
func TestExampleScenario(t *testing.T) {
	f, err := os.Open("../../../shared/data/anonymous_bank_february_1999.tsv")
	if err != nil {
		t.Skip("trace not available")
	}
	defer f.Close()
	calls, err := trace.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(example)
	if err != nil {
		t.Fatal(err)
	}
	m := replay.DefaultModel()
	m.Replications = 1
	days := trace.Days(calls)[:3]
	base, _ := replay.NewBank(calls, replay.BankOptions{Model: &m})
	changed, _ := replay.NewBank(calls, replay.BankOptions{Model: &m, Adjust: s.Apply})
	b, err := base.ReportDays(days)
	if err != nil {
		t.Fatal(err)
	}
	w, err := changed.ReportDays(days)
	if err != nil {
		t.Fatal(err)
	}
	cmp := replay.CompareWhatIf(example, b, w)
	var sb strings.Builder
	cmp.WriteText(&sb)
	t.Log("\n" + sb.String())
	for _, h := range cmp.Hours {
		switch {
		case h.Hour == 10 || h.Hour == 11:
			if h.WhatIf.ASASeconds >= h.Baseline.ASASeconds {
				t.Errorf("hour %d: ASA %.1f with two more agents, %.1f without", h.Hour, h.WhatIf.ASASeconds, h.Baseline.ASASeconds)
			}
		case h.Hour >= 20:
			if h.WhatIf != h.Baseline {
				t.Errorf("hour %d changed: %+v vs %+v", h.Hour, h.WhatIf, h.Baseline)
			}
		}
	}
}
