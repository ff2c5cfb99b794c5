package config

import "testing"

// capacityUnits (agents) and capacityWeight (queues) read from the file,
// convert to the engine and back, and out-of-range values are refused.
func TestWeightedCapacity(t *testing.T) {
	c, err := Parse([]byte("mrds: [{id: chat}]\nqueues: [{id: q, mrd: chat, capacityWeight: 2}]\nagents: [{id: a, capacityUnits: 10}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	q, a := c.Queues[0].Routing(), c.Agents[0].Routing()
	if q.CapacityWeight != 2 || a.CapacityUnits != 10 {
		t.Fatalf("queue %+v agent %+v", q, a)
	}
	if m, err := Parse([]byte("mrds: [{id: chat}]\nqueues: [{id: q, mrd: chat, offerToAgents: 3}]\n")); err != nil ||
		m.Queues[0].Routing().OfferToAgents != 3 || QueueSpecFrom(m.Queues[0].Routing()).OfferToAgents != 3 {
		t.Fatalf("offerToAgents: %v %+v", err, m)
	}
	if QueueSpecFrom(q).CapacityWeight != 2 || AgentSpecFrom(a).CapacityUnits != 10 {
		t.Fatal("round trip lost the weight or the units")
	}
	for _, bad := range []string{
		"queues: [{id: q, mrd: chat, capacityWeight: -1}]",
		"queues: [{id: q, mrd: chat, capacityWeight: 1001}]",
		"agents: [{id: a, capacityUnits: -1}]",
		"agents: [{id: a, capacityUnits: 1001}]",
		"queues: [{id: q, mrd: chat, offerToAgents: 11}]",
		"queues: [{id: q, mrd: chat, mode: external, offerToAgents: 2}]",
	} {
		c, err := Parse([]byte("mrds: [{id: chat}]\n" + bad + "\n"))
		if err == nil {
			err = c.Validate()
		}
		if err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
