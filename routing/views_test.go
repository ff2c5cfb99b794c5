package routing_test

import (
	"slices"
	"testing"
	"time"

	"github.com/omniroute/omniroute/routing"
)

func TestEligibleQueues(t *testing.T) {
	s := routing.New()
	now := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	for _, cmd := range []routing.Command{
		routing.UpsertMRD{MRD: routing.MRD{ID: "chat", MaxRequests: 2, Interruptible: true}},
		routing.UpsertMRD{MRD: routing.MRD{ID: "voice", MaxRequests: 1}},
		routing.UpsertQueue{Queue: routing.Queue{ID: "sales", MRD: "chat", Skills: map[string]int{"sales": 50}}},
		routing.UpsertQueue{Queue: routing.Queue{ID: "calls", MRD: "voice"}},
		routing.UpsertQueue{Queue: routing.Queue{ID: "vip", MRD: "chat", Members: []string{"bob"}}},
		routing.UpsertQueue{Queue: routing.Queue{ID: "partner", MRD: "chat", Mode: routing.External}},
		routing.UpsertAgent{Agent: routing.Agent{ID: "ann", Skills: map[string]int{"sales": 60}, Capacity: map[string]int{"voice": 0}}},
		routing.UpsertAgent{Agent: routing.Agent{ID: "bob", Skills: map[string]int{"sales": 10}}},
	} {
		if _, err := s.Apply(now, cmd); err != nil {
			t.Fatal(err)
		}
	}
	for agent, want := range map[string][]string{"ann": {"sales"}, "bob": {"calls", "vip"}, "nobody": nil} {
		if got := s.EligibleQueues(agent); !slices.Equal(got, want) {
			t.Errorf("EligibleQueues(%s) = %v, want %v", agent, got, want)
		}
	}
}
