package routingtest

import (
	"testing"
	"time"

	"github.com/omniroute/omniroute/routing"
)

// lastAgentState: queue q remembers last agents for a minute; a1 served
// customer k1 (accepted and left at 2 s), a2 is READY and idles longer.
func lastAgentState(t *testing.T) (*routing.State, *Checker) {
	t.Helper()
	s := routing.New()
	chk := NewChecker(s)
	for i, c := range []routing.Command{
		routing.UpsertMRD{MRD: routing.MRD{ID: "chat", MaxRequests: 1}},
		routing.UpsertQueue{Queue: routing.Queue{ID: "q", MRD: "chat", LastAgent: time.Minute}},
		routing.UpsertAgent{Agent: routing.Agent{ID: "a1"}},
		routing.UpsertAgent{Agent: routing.Agent{ID: "a2"}},
		routing.SetAgentState{Agent: "a1", State: routing.AgentReady},
		routing.CreateConversation{ID: "c1", RequestID: "r1", Queue: "q", CustomerID: "k1"},
		routing.AcceptTask{Task: "task-1", Agent: "a1"},
		routing.SetAgentState{Agent: "a2", State: routing.AgentReady},
		routing.CloseTask{Task: "task-1", Agent: "a1"},
	} {
		evs, err := s.Apply(Epoch.Add(time.Duration(i/7)*2*time.Second), c)
		if err != nil {
			t.Fatalf("%s: %v", c.CommandName(), err)
		}
		if err := chk.Check(s, evs); err != nil {
			t.Fatalf("%s: %v", c.CommandName(), err)
		}
	}
	return s, chk
}

// TestLastAgentSurvivesSnapshot: the memory is in the snapshot, so a
// restored state still prefers the customer's last agent (and the
// digest of the restored state matches).
func TestLastAgentSurvivesSnapshot(t *testing.T) {
	s, _ := lastAgentState(t)
	data, err := s.MarshalSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	twin, err := routing.UnmarshalSnapshot(data)
	if err != nil {
		t.Fatal(err)
	}
	if twin.Digest() != s.Digest() {
		t.Fatal("restored state has another digest")
	}
	for _, st := range []*routing.State{s, twin} {
		evs, err := st.Apply(Epoch.Add(30*time.Second), routing.CreateConversation{ID: "c2", RequestID: "r2", Queue: "q", CustomerID: "k1"})
		if err != nil {
			t.Fatal(err)
		}
		var got *routing.TaskReserved
		for _, ev := range evs {
			if e, ok := ev.(routing.TaskReserved); ok {
				got = &e
			}
		}
		if got == nil || got.Agent != "a1" {
			t.Fatalf("c2 offered to %+v; want a1, k1's last agent (a2 idles longer)", got)
		}
	}
}

// TestCheckerLastAgent: the checker refuses a request that claims a last
// agent the model does not remember, and one that forgets it.
func TestCheckerLastAgent(t *testing.T) {
	s, chk := lastAgentState(t)
	at := Epoch.Add(3 * time.Second)
	forged := []routing.Event{
		routing.ConversationCreated{Conversation: "c1b", Queue: "q", MRD: "chat", At: at},
		routing.RequestQueued{Request: "r9", Conversation: "c1b", Queue: "q", PreferredAgents: []string{"a2"}, LastAgent: true, At: at},
	}
	wantCheckError(t, chk.Check(s, forged), "prefers last agent [a2]")

	s, chk = lastAgentState(t)
	evs, err := s.Apply(at, routing.CreateConversation{ID: "c2", RequestID: "r2", Queue: "q", CustomerID: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	var dropped []routing.Event
	for _, ev := range evs {
		if e, ok := ev.(routing.RequestQueued); ok {
			e.PreferredAgents, e.LastAgent = nil, false
			ev = e
		}
		dropped = append(dropped, ev)
	}
	wantCheckError(t, chk.Check(s, dropped[:2]), "its last agent a1 served within")
}
