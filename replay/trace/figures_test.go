package trace

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRecordedByHand(t *testing.T) {
	day := Date{1999, 2, 1}
	other := Date{1999, 2, 2}
	calls := []Call{
		// Straight to agent A: served 100..160, no wait.
		{Date: day, CallID: 1, Outcome: Agent, VRUExit: 100, SerStart: 100, SerExit: 160, SerTime: 60, Server: "A"},
		// Queued 30 s, then A again 400..500.
		{Date: day, CallID: 2, Outcome: Agent, QStart: 370, QExit: 400, QTime: 30, SerStart: 400, SerExit: 500, SerTime: 100, Server: "A"},
		// Queued 10 s, agent B 1000..1040.
		{Date: day, CallID: 3, Outcome: Agent, QStart: 990, QExit: 1000, QTime: 10, SerStart: 1000, SerExit: 1040, SerTime: 40, Server: "B"},
		// Answered "by" NO_SERVER: counts as answered, not as agent work.
		{Date: day, CallID: 4, Outcome: Agent, QStart: 50, QExit: 70, QTime: 20, SerStart: 70, SerExit: 75, SerTime: 5, Server: NoServer},
		// Abandoned after 45 s, one hung up in the IVR, and a ghost.
		{Date: day, CallID: 5, Outcome: Hang, QStart: 200, QExit: 245, QTime: 45, Server: NoServer},
		{Date: day, CallID: 8, Outcome: Hang, VRUEntry: 600, VRUExit: 640, VRUTime: 40, Server: NoServer},
		{Date: day, CallID: 6, Outcome: Phantom, QStart: 300, QExit: 330, QTime: 30, SerStart: 330, SerExit: 340, SerTime: 10, Server: NoServer},
		// Agent A on another day, 0..50: its own staffed span.
		{Date: other, CallID: 7, Outcome: Agent, SerStart: 10, SerExit: 60, SerTime: 50, Server: "A"},
	}
	got := Recorded(calls, 20)
	// Offered 7 (no phantom); answered 5 with q_time 0,30,10,20,0 -> ASA 12,
	// within 20 s: calls 1,3,4,7 -> 4/7; abandoned 2 of 7, one in the IVR.
	// Busy 60+100+40+50 = 250; staffed A day 1: 500-100 = 400, B: 40, A
	// day 2: 50 -> 490.
	want := Figures{Offered: 7, Answered: 5, Abandoned: 2, IVRAbandoned: 1, ASASeconds: 12,
		ServiceLevel: 4.0 / 7, Occupancy: 250.0 / 490, AbandonRate: 2.0 / 7}
	if got != want {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if f := Recorded(nil, 20); f != (Figures{}) {
		t.Errorf("empty set: %+v", f)
	}
	if f := Recorded(calls[6:7], 20); f != (Figures{}) {
		t.Errorf("phantom only: %+v", f)
	}

	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{"offered":7,"answered":5,"abandoned":2,"ivr_abandoned":1,"expired":0,"asa_seconds":12,"service_level_20s":0.5714285714285714,"occupancy":0.5102040816326531,"abandon_rate":0.2857142857142857}`
	if string(b) != wantJSON {
		t.Errorf("JSON %s\nwant %s", b, wantJSON)
	}
}

func TestDaysAndHours(t *testing.T) {
	d1, d2 := Date{1999, 2, 1}, Date{1999, 2, 2}
	calls := []Call{
		{Date: d2, CallID: 9, VRULine: "AA0101", QStart: 3600, QTime: 1},
		{Date: d1, CallID: 5, VRULine: "AA0202", SerStart: 7200, SerTime: 1},
		{Date: d1, CallID: 5, VRULine: "AA0101", SerStart: 7200, SerTime: 1},
		{Date: d1, CallID: 4, VRULine: "AA0101", QStart: 7200, QTime: 1},
		{Date: d1, CallID: 8, VRULine: "AA0101", VRUExit: 90000}, // after midnight
		{Date: d1, CallID: 1, VRULine: "AA0101", QStart: 7300, QTime: 1},
	}
	days := Days(calls)
	if len(days) != 2 || days[0].Date != d1 || days[1].Date != d2 {
		t.Fatalf("days %+v", days)
	}
	var order []string
	for _, c := range days[0].Calls {
		order = append(order, c.VRULine[4:]+":"+string(rune('0'+c.CallID)))
	}
	if got := strings.Join(order, " "); got != "01:4 01:5 02:5 01:1 01:8" {
		t.Errorf("order %s", got)
	}
	if calls[0].CallID != 9 {
		t.Error("Days modified its input")
	}
	hours := Hours(days[0].Calls)
	if len(hours) != 2 || hours[0].Hour != 2 || len(hours[0].Calls) != 4 || hours[1].Hour != 25 {
		t.Errorf("hours %+v", hours)
	}
	if d1.String() != "1999-02-01" || d1.Compare(d2) != -1 || d2.Compare(d1) != 1 || d1.Compare(d1) != 0 {
		t.Error("Date String/Compare")
	}
}
