package routing_test

import (
	"fmt"
	"time"

	"github.com/omniroute/omniroute/routing"
)

// Example routes one voice call: the agent logs in READY, a conversation
// arrives and is offered to the agent, who accepts it.
func Example() {
	s := routing.New()
	now := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	apply := func(cmd routing.Command) {
		evs, err := s.Apply(now, cmd)
		if err != nil {
			fmt.Println(cmd.CommandName(), "refused:", err)
			return
		}
		for _, ev := range evs {
			switch e := ev.(type) {
			case routing.TaskReserved:
				fmt.Printf("%s %s to %s, answer by %s\n", e.EventName(), e.Task, e.Agent, e.Deadline.Format("15:04:05"))
			case routing.MRDStateChanged:
				fmt.Printf("%s %s %s -> %s\n", e.EventName(), e.MRD, e.Previous, e.State)
			default:
				fmt.Println(ev.EventName())
			}
		}
	}
	apply(routing.UpsertMRD{MRD: routing.MRD{ID: "voice", MaxRequests: 1}})
	apply(routing.UpsertQueue{Queue: routing.Queue{ID: "support", MRD: "voice", RONATimeout: 20 * time.Second}})
	apply(routing.UpsertAgent{Agent: routing.Agent{ID: "ann"}})
	apply(routing.SetAgentState{Agent: "ann", State: routing.AgentReady})
	apply(routing.SetMRDState{Agent: "ann", MRD: "chat", State: routing.MRDReady})
	now = now.Add(time.Minute)
	apply(routing.CreateConversation{ID: "c1", RequestID: "r1", Queue: "support"})
	apply(routing.AcceptTask{Task: "task-1", Agent: "ann"})
	// Output:
	// DefinitionChanged
	// DefinitionChanged
	// DefinitionChanged
	// AgentStateChanged
	// MRDStateChanged voice NOT_READY -> READY
	// SetMRDState refused: MRD_NOT_FOUND: mrd "chat" does not exist
	// ConversationCreated
	// RequestQueued
	// TaskReserved task-1 to ann, answer by 09:01:20
	// MRDStateChanged voice READY -> BUSY
	// TaskActivated
	// ParticipantJoined
	// RequestRemoved
}
