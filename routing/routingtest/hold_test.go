package routingtest

import (
	"reflect"
	"testing"
	"time"

	"github.com/omniroute/omniroute/routing"
)

// TestHoldViewsAndSnapshot: a HELD callback (routing/hold.go, seed 003)
// shows its agent and deadline, position 0, counts as load, and survives a
// snapshot round trip exactly: same digest, and the restored state fires
// the same hold expiry and confirm as the original.
func TestHoldViewsAndSnapshot(t *testing.T) {
	s := routing.New()
	chk := NewChecker(s)
	at := func(d time.Duration, cmd routing.Command) []routing.Event {
		t.Helper()
		evs, err := s.Apply(Epoch.Add(d), cmd)
		if err != nil {
			t.Fatalf("%s: %v", cmd.CommandName(), err)
		}
		if err := chk.Check(s, evs); err != nil {
			t.Fatalf("%s: %v", cmd.CommandName(), err)
		}
		return evs
	}
	at(0, routing.UpsertMRD{MRD: routing.MRD{ID: "chat", Interruptible: true, MaxRequests: 2}})
	at(0, routing.UpsertQueue{Queue: routing.Queue{ID: "cb", MRD: "chat"}})
	at(0, routing.UpsertAgent{Agent: routing.Agent{ID: "a1"}})
	at(0, routing.SetAgentState{Agent: "a1", State: routing.AgentReady})
	at(time.Second, routing.CreateConversation{ID: "c1", RequestID: "r1", Queue: "cb", Hold: time.Minute, HoldAttempts: 2})
	at(2*time.Second, routing.CreateConversation{ID: "c2", RequestID: "r2", Queue: "cb", Hold: time.Minute})

	r, ok := s.Request("r1")
	want := Epoch.Add(61 * time.Second)
	if !ok || r.State != routing.RequestHeldState || r.HeldAgent != "a1" || !r.HoldDeadline.Equal(want) || r.Confirmed {
		t.Fatalf("r1 view %+v", r)
	}
	if pos, _, _ := s.Position("r1"); pos != 0 {
		t.Fatalf("held r1 at position %d", pos)
	}
	st, _ := s.Agent("a1")
	if st.MRDs[0].Load != 2 || st.MRDs[0].State != routing.MRDBusy {
		t.Fatalf("a1 chat %+v, want load 2 BUSY", st.MRDs[0])
	}
	if _, waiting, _, tasks := s.Counts(); waiting != 0 || tasks != 0 {
		t.Fatalf("counts: %d waiting, %d tasks", waiting, tasks)
	}
	if next, _ := s.NextDeadline(); !next.Equal(want) {
		t.Fatalf("next deadline %s, want %s", next, want)
	}

	if err := CheckSnapshotRoundTrip(s); err != nil {
		t.Fatal(err)
	}
	data, err := s.MarshalSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	twin, err := routing.UnmarshalSnapshot(data)
	if err != nil {
		t.Fatal(err)
	}
	tchk := NewChecker(twin)
	for _, step := range []struct {
		d   time.Duration
		cmd routing.Command
	}{
		{30 * time.Second, routing.ConfirmHold{Request: "r2"}},
		{31 * time.Second, routing.AcceptTask{Task: "task-1", Agent: "a1"}},
		{61 * time.Second, routing.Tick{}}, // r1's first hold expires; re-held at once
		{62 * time.Second, routing.ConfirmHold{Request: "r1"}},
	} {
		evs := at(step.d, step.cmd)
		tevs, err := twin.Apply(Epoch.Add(step.d), step.cmd)
		if err != nil {
			t.Fatal(err)
		}
		if err := tchk.Check(twin, tevs); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(evs, tevs) {
			t.Fatalf("%s: restored state emitted\n%v\noriginal\n%v", step.cmd.CommandName(), tevs, evs)
		}
		if err := CompareStates(s, twin); err != nil {
			t.Fatal(err)
		}
	}
	if r, _ := s.Request("r1"); r.State != routing.RequestOfferedState || !r.Confirmed || r.HeldAgent != "" {
		t.Fatalf("r1 after confirm %+v", r)
	}
	if _, err := s.Apply(Epoch.Add(63*time.Second), routing.ConfirmHold{Request: "r1"}); err == nil {
		t.Fatal("second ConfirmHold accepted")
	}
}
