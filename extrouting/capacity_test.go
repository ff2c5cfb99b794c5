package extrouting

import (
	"encoding/json"
	"testing"

	"github.com/omniroute/omniroute/routing"
)

// A PSR's CapacityWeight is the conversation's capacity weight
// (routing/capacity.go): 1 by default, the conversation's own when it sets
// one; CapacityPercentage stays null (the engine counts units).
func TestPSRCapacityWeight(t *testing.T) {
	e := newEnv(t)
	c := e.subscribe(DefaultTopic, nil)
	get := func(d map[string]any) map[string]any {
		st, b := e.do("GET", base+"PendingServiceRouting/"+sobj(d)["Id"].(string), partnerToken, "")
		var rec map[string]any
		if err := json.Unmarshal(b, &rec); err != nil || st != 200 {
			t.Fatalf("GET PSR: %d %s", st, b)
		}
		return rec
	}
	if rec := get(e.created(c, "c1", "ext")); rec["CapacityWeight"] != 1.0 || rec["CapacityPercentage"] != nil {
		t.Fatalf("default weight: %v", rec)
	}
	e.submit(routing.CreateConversation{ID: "c2", RequestID: "r-c2", Queue: "ext", CapacityWeight: 3})
	d := c.next(1)[0]
	if evType(d) != "created" || sobj(d)["WorkItemId"] != "c2" {
		t.Fatalf("want created for c2: %v", d)
	}
	if rec := get(d); rec["CapacityWeight"] != 3.0 || rec["CapacityPercentage"] != nil || rec["PreferredUserId"] != nil {
		t.Fatalf("weighted PSR: %v", rec)
	}
	// PreferredUserId: the conversation's first preferred agent.
	e.submit(routing.CreateConversation{ID: "c3", RequestID: "r-c3", Queue: "ext", PreferredAgents: []string{"alice", "bob"}})
	d = c.next(1)[0]
	if rec := get(d); rec["PreferredUserId"] != "alice" {
		t.Fatalf("preferred PSR: %v", rec)
	}
}
