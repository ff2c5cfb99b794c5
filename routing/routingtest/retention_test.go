package routingtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/omniroute/omniroute/routing"
)

// TestRetentionKeepsWrapUpTasks: closed conversations are forgotten
// oldest first once more than RetainedClosedConversations are kept, but one
// whose agent is still wrapping up must stay (its task lives in it; a
// snapshot without it loses the task and the agent's load). Once the
// wrap-up ends it is forgotten like the others.
func TestRetentionKeepsWrapUpTasks(t *testing.T) {
	s := routing.New()
	chk := NewChecker(s)
	now := Epoch
	apply := func(cmd routing.Command) {
		t.Helper()
		evs, err := s.Apply(now, cmd)
		if err != nil {
			t.Fatalf("%s: %v", cmd.CommandName(), err)
		}
		if err := chk.Check(s, evs); err != nil {
			t.Fatalf("%s: %v", cmd.CommandName(), err)
		}
	}
	apply(routing.UpsertMRD{MRD: routing.MRD{ID: "voice", MaxRequests: 1}})
	apply(routing.UpsertQueue{Queue: routing.Queue{ID: "q", MRD: "voice", WrapUp: time.Hour}})
	apply(routing.UpsertAgent{Agent: routing.Agent{ID: "a1"}})
	apply(routing.SetAgentState{Agent: "a1", State: routing.AgentReady})
	apply(routing.CreateConversation{ID: "c0", RequestID: "r0", Queue: "q"})
	apply(routing.AcceptTask{Task: "task-1", Agent: "a1"})
	apply(routing.CloseTask{Task: "task-1", Agent: "a1"}) // c0 closed, task-1 in WRAP_UP
	if cv, ok := s.Conversation("c0"); !ok || cv.State != "CLOSED" {
		t.Fatalf("c0 after the agent left: %+v", cv)
	}
	// a1 is busy wrapping up: every new conversation waits and is cancelled.
	n := routing.RetainedClosedConversations + 5
	for i := 1; i <= n; i++ {
		now = now.Add(time.Millisecond)
		id := fmt.Sprintf("c%d", i)
		if _, err := s.Apply(now, routing.CreateConversation{ID: id, RequestID: "r" + id[1:], Queue: "q"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Apply(now, routing.CloseConversation{Conversation: id}); err != nil {
			t.Fatal(err)
		}
	}
	chk = NewChecker(s)
	if _, ok := s.Conversation("c0"); !ok {
		t.Fatal("c0 was forgotten while its task task-1 is still in WRAP_UP")
	}
	if _, ok := s.Conversation("c1"); ok {
		t.Error("c1 is still retained")
	}
	if err := CheckSnapshotRoundTrip(s); err != nil {
		t.Fatal(err)
	}
	if err := CheckState(s); err != nil {
		t.Fatal(err)
	}
	// The wrap-up ends; the next close forgets c0 (the oldest).
	apply(routing.CloseTask{Task: "task-1", Agent: "a1"})
	if _, ok := s.Conversation("c0"); !ok {
		t.Fatal("c0 forgotten before another conversation closed")
	}
	apply(routing.CreateConversation{ID: "last", RequestID: "rlast", Queue: "q"})
	apply(routing.CloseConversation{Conversation: "last"})
	if _, ok := s.Conversation("c0"); ok {
		t.Error("c0 still retained after its wrap-up ended and another conversation closed")
	}
	if err := CheckSnapshotRoundTrip(s); err != nil {
		t.Fatal(err)
	}
}
