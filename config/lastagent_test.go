package config

import (
	"strings"
	"testing"

	"github.com/omniroute/omniroute/routing"
)

// TestQueueLastAgentLeaves: the queue's leave policy (routing
// Queue.LastAgentLeaves) validates and converts both ways.
func TestQueueLastAgentLeaves(t *testing.T) {
	for _, v := range []string{"", routing.LastAgentClose, routing.LastAgentRequeue} {
		q := QueueSpec{ID: "sales", MRD: "chat", LastAgentLeaves: v}
		if err := q.Validate(); err != nil {
			t.Errorf("%q: %v", v, err)
		}
		if got := QueueSpecFrom(q.Routing()).LastAgentLeaves; got != v {
			t.Errorf("%q: round trip gives %q", v, got)
		}
	}
	q := QueueSpec{ID: "sales", MRD: "chat", LastAgentLeaves: "sometimes"}
	if err := q.Validate(); err == nil || !strings.Contains(err.Error(), "lastAgentLeaves must be close or requeue") {
		t.Fatalf("err = %v", err)
	}
}
