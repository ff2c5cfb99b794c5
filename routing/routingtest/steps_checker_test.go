package routingtest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/routing"
)

// The step-aware checks can fail. r1 waits at step 0 (needs x 50) while a1
// (no skills) is available: maximal. A state restored from a snapshot
// doctored to put r1 at step 1 (skills {}: a1 may take it) without
// offering it is not maximal under r1's step, and CheckState says so; a
// step deadline that does not match the step is reported too; and a
// RequestUpdated ESCALATED the state does not show fails Check.
func TestCheckerCatchesStepViolations(t *testing.T) {
	s := routing.New()
	chk := NewChecker(s)
	for _, c := range []routing.Command{
		routing.UpsertMRD{MRD: routing.MRD{ID: "voice", MaxRequests: 1}},
		routing.UpsertQueue{Queue: routing.Queue{ID: "q", MRD: "voice", Skills: map[string]int{"x": 50},
			Steps: []routing.EscalationStep{{After: 30 * time.Second, Skills: map[string]int{}}}}},
		routing.UpsertAgent{Agent: routing.Agent{ID: "a1"}},
		routing.SetAgentState{Agent: "a1", State: routing.AgentReady},
		routing.CreateConversation{ID: "c1", RequestID: "r1", Queue: "q"},
	} {
		evs, err := s.Apply(Epoch, c)
		if err != nil {
			t.Fatal(err)
		}
		if err := chk.Check(s, evs); err != nil {
			t.Fatalf("%s: %v", c.CommandName(), err)
		}
	}
	doctor := func(step int, dropDeadline bool) *routing.State {
		t.Helper()
		data, err := s.MarshalSnapshot()
		if err != nil {
			t.Fatal(err)
		}
		var sn map[string]any
		if err := json.Unmarshal(data, &sn); err != nil {
			t.Fatal(err)
		}
		req := sn["conversations"].([]any)[0].(map[string]any)["request"].(map[string]any)
		req["step"] = step
		if dropDeadline {
			delete(req, "stepAt")
		}
		data, _ = json.Marshal(sn)
		st, err := routing.UnmarshalSnapshot(data)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if err := CheckState(doctor(0, false)); err != nil {
		t.Fatalf("the undoctored state: %v", err)
	}
	if err := CheckState(doctor(1, true)); err == nil || !strings.Contains(err.Error(), "matching not maximal: request r1 (step 1)") {
		t.Fatalf("r1 at step 1 with a1 available: %v", err)
	}
	if err := CheckState(doctor(1, false)); err == nil || !strings.Contains(err.Error(), "next step or aging at") {
		t.Fatalf("a step deadline past the last step: %v", err)
	}
	forged := routing.RequestUpdated{Request: "r1", Conversation: "c1", Queue: "q", Reason: routing.ReasonEscalated, Step: 1}
	if err := chk.Check(s, []routing.Event{forged}); err == nil || !strings.Contains(err.Error(), "events say 1") {
		t.Fatalf("a forged escalation: %v", err)
	}
}
