package routing_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/omniroute/omniroute/routing"
)

// TestEventViews checks what events carry for the agent desk: an offer's
// queue name, MRD, customer, priority and requester; and, on the last
// presence event of each agent in a command only, the agent's presence
// after the command. None of it is in the events' JSON.
func TestEventViews(t *testing.T) {
	s := routing.New()
	now := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	apply := func(cmd routing.Command) []routing.Event {
		t.Helper()
		evs, err := s.Apply(now, cmd)
		if err != nil {
			t.Fatalf("%s: %v", cmd.CommandName(), err)
		}
		return evs
	}
	apply(routing.UpsertMRD{MRD: routing.MRD{ID: "voice", Name: "Voice", MaxRequests: 1}})
	apply(routing.UpsertMRD{MRD: routing.MRD{ID: "chat", Name: "Chat", Interruptible: true, MaxRequests: 2}})
	apply(routing.UpsertQueue{Queue: routing.Queue{ID: "support", Name: "Support", MRD: "voice"}})
	apply(routing.UpsertReasonCode{ReasonCode: routing.ReasonCode{ID: "lunch", Name: "Lunch", Type: routing.ReasonTypeNotReady}})
	apply(routing.UpsertAgent{Agent: routing.Agent{ID: "ann", Name: "Ann", Skills: map[string]int{"en": 5}}})

	evs := apply(routing.SetAgentState{Agent: "ann", State: routing.AgentReady})
	// AgentStateChanged, MRDStateChanged chat, MRDStateChanged voice: the
	// last one carries the presence.
	var carried []int
	for i, ev := range evs {
		var p *routing.Presence
		switch e := ev.(type) {
		case routing.AgentStateChanged:
			p = e.Presence
		case routing.MRDStateChanged:
			p = e.Presence
		}
		if p != nil {
			carried = append(carried, i)
			if p.State != routing.AgentReady || p.Agent.Name != "Ann" || p.Agent.Skills["en"] != 5 || len(p.MRDs) != 2 {
				t.Errorf("presence = %+v", p)
			}
			for _, m := range p.MRDs {
				if m.State != routing.MRDReady || m.MRD.Name == "" {
					t.Errorf("mrd %+v, want READY with its definition", m)
				}
			}
		}
	}
	if len(carried) != 1 || carried[0] != len(evs)-1 {
		t.Errorf("presence on events %v of %d, want only the last", carried, len(evs))
	}

	now = now.Add(time.Minute)
	evs = apply(routing.CreateConversation{ID: "c1", RequestID: "r1", Queue: "support", Priority: 3,
		Customer: json.RawMessage(`{"name":"Bo"}`)})
	var offer *routing.Offered
	for _, ev := range evs {
		if e, ok := ev.(routing.TaskReserved); ok {
			offer = e.Offered
			b, _ := json.Marshal(e)
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if _, ok := m["Offered"]; ok {
				t.Errorf("Offered is in the event's JSON: %s", b)
			}
		}
	}
	if offer == nil {
		t.Fatal("no TaskReserved with Offered")
	}
	if offer.QueueName != "Support" || offer.MRD.Name != "Voice" || string(offer.Customer) != `{"name":"Bo"}` ||
		offer.Priority != 3 || offer.RequestedBy != nil {
		t.Errorf("offered = %+v", offer)
	}

	evs = apply(routing.SetAgentState{Agent: "ann", State: routing.AgentNotReady, ReasonCode: "lunch"})
	var last *routing.Presence
	switch e := evs[len(evs)-1].(type) {
	case routing.AgentStateChanged:
		last = e.Presence
	case routing.MRDStateChanged:
		last = e.Presence
	}
	if last == nil || last.Reason.Name != "Lunch" || last.State != routing.AgentNotReady {
		t.Errorf("last event %#v, want a presence with the reason code's definition", evs[len(evs)-1])
	}
}
