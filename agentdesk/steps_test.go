package agentdesk

import (
	"testing"
	"time"

	"github.com/omniroute/omniroute/routing"
)

// The taskRequest of an offer shows the request's priority (its step's
// included), its escalation step and the conversation's capacity weight.
func TestTaskRequestShowsStepPriorityAndWeight(t *testing.T) {
	st := routing.New()
	t0 := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	var reserved routing.TaskReserved
	for _, c := range []struct {
		at  time.Duration
		cmd routing.Command
	}{
		{0, routing.UpsertMRD{MRD: routing.MRD{ID: "chat", MaxRequests: 2}}},
		{0, routing.UpsertQueue{Queue: routing.Queue{ID: "q", MRD: "chat", Skills: map[string]int{"x": 50},
			Steps: []routing.EscalationStep{{After: 30 * time.Second, Skills: map[string]int{}, Priority: 4}}}}},
		{0, routing.UpsertAgent{Agent: routing.Agent{ID: "a1"}}},
		{0, routing.SetAgentState{Agent: "a1", State: routing.AgentReady}},
		{0, routing.CreateConversation{ID: "c1", RequestID: "r1", Queue: "q", Priority: 1, CapacityWeight: 3}},
		{30 * time.Second, routing.Tick{}},
	} {
		evs, err := st.Apply(t0.Add(c.at), c.cmd)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if tr, ok := ev.(routing.TaskReserved); ok {
				reserved = tr
			}
		}
	}
	if reserved.Task == "" {
		t.Fatal("r1 was not offered at its step")
	}
	tr := taskRequestOf(nil, reserved)
	if tr.Priority != 5 || tr.Step != 1 || tr.CapacityWeight != 3 {
		t.Fatalf("taskRequest priority %d step %d weight %d, want 5, 1 and 3", tr.Priority, tr.Step, tr.CapacityWeight)
	}
}
