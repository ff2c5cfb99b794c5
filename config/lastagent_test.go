package config

import (
	"testing"
	"time"
)

// lastAgentSeconds, lastAgentTimeoutSeconds and lastAgentCustomers read
// from the file, convert to the engine and back; out-of-range values are
// refused.
func TestQueueLastAgent(t *testing.T) {
	c, err := Parse([]byte("mrds: [{id: chat}]\nqueues: [{id: q, mrd: chat, lastAgentSeconds: 3600, lastAgentTimeoutSeconds: 20, lastAgentCustomers: 500}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	q := c.Queues[0].Routing()
	if q.LastAgent != time.Hour || q.LastAgentTimeout != 20*time.Second || q.LastAgentCustomers != 500 {
		t.Fatalf("queue %+v", q)
	}
	if back := QueueSpecFrom(q); back.LastAgentSeconds != 3600 || back.LastAgentTimeoutSeconds != 20 || back.LastAgentCustomers != 500 {
		t.Fatalf("round trip %+v", back)
	}
	for _, bad := range []string{"lastAgentSeconds: -1", "lastAgentTimeoutSeconds: -1", "lastAgentSeconds: 31536001",
		"lastAgentCustomers: -1", "lastAgentCustomers: 1000001"} {
		c, err := Parse([]byte("mrds: [{id: chat}]\nqueues: [{id: q, mrd: chat, " + bad + "}]\n"))
		if err == nil {
			err = c.Validate()
		}
		if err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
