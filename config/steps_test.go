package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/routing"
)

// Escalation steps load from the file, may add a queue declared later,
// keep nil skills (inherit) apart from {} (anyone), and convert both ways.
func TestQueueSteps(t *testing.T) {
	c, err := Parse([]byte(`
mrds: [{id: voice}]
queues:
  - id: pe
    mrd: voice
    skills: {pe: 50}
    steps:
      - {afterSeconds: 30, skills: {pe: 10}}
      - {afterSeconds: 60, addQueues: [ps], priority: 5}
      - {afterSeconds: 90.5, skills: {}}
  - {id: ps, mrd: voice}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	q := c.Queues[0].Routing()
	want := []routing.EscalationStep{
		{After: 30 * time.Second, Skills: map[string]int{"pe": 10}},
		{After: 60 * time.Second, AddQueues: []string{"ps"}, Priority: 5},
		{After: 90500 * time.Millisecond, Skills: map[string]int{}},
	}
	if !reflect.DeepEqual(q.Steps, want) {
		t.Fatalf("steps %+v, want %+v", q.Steps, want)
	}
	if back := QueueSpecFrom(q); !reflect.DeepEqual(back.Steps, c.Queues[0].Steps) {
		t.Fatalf("round trip %+v, want %+v", back.Steps, c.Queues[0].Steps)
	}
	applyAll(t, c)
}

func TestQueueStepsRefused(t *testing.T) {
	for _, tc := range []struct{ name, queues, want string }{
		{"not increasing", `[{id: q, mrd: voice, steps: [{afterSeconds: 30}, {afterSeconds: 30}]}]`, "steps[1].afterSeconds 30 must be over 30"},
		{"zero", `[{id: q, mrd: voice, steps: [{afterSeconds: 0}]}]`, "steps[0].afterSeconds 0 must be over 0"},
		{"itself", `[{id: q, mrd: voice, steps: [{afterSeconds: 1, addQueues: [q]}]}]`, "steps[0] adds the queue itself"},
		{"twice", `[{id: q, mrd: voice, steps: [{afterSeconds: 1, addQueues: [p, p]}]}, {id: p, mrd: voice}]`, `steps[0] adds "p" twice`},
		{"undeclared", `[{id: q, mrd: voice, steps: [{afterSeconds: 1, addQueues: [p]}]}]`, `steps[0].addQueues[0]: queue "p" is not declared`},
		{"other mrd", `[{id: q, mrd: voice, steps: [{afterSeconds: 1, addQueues: [p]}]}, {id: p, mrd: chat}]`, `queue "p" is not an internal queue on mrd "voice"`},
		{"external", `[{id: q, mrd: voice, mode: external, steps: [{afterSeconds: 1}]}]`, "steps need an internal queue"},
		{"skill level", `[{id: q, mrd: voice, steps: [{afterSeconds: 1, skills: {a: 0}}]}]`, `steps[0]: skill "a" level 0 is outside 1..100`},
		{"priority", `[{id: q, mrd: voice, steps: [{afterSeconds: 1, priority: -1}]}]`, "steps[0].priority -1 is outside"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte("mrds: [{id: voice}, {id: chat}]\nqueues: " + tc.queues + "\n"))
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestQueuePriorityAging(t *testing.T) {
	c, err := Parse([]byte("mrds: [{id: voice}]\nqueues: [{id: q, mrd: voice, priorityAgingSeconds: 60, maxPriority: 5}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	q := c.Queues[0].Routing()
	if q.PriorityAging != time.Minute || q.MaxPriority != 5 {
		t.Fatalf("queue %+v", q)
	}
	if back := QueueSpecFrom(q); back.PriorityAgingSeconds != 60 || back.MaxPriority != 5 {
		t.Fatalf("round trip %+v", back)
	}
	for _, bad := range []string{"priorityAgingSeconds: -1", "maxPriority: -1", "maxPriority: 1000001", "mode: external, priorityAgingSeconds: 5"} {
		c, err := Parse([]byte("mrds: [{id: voice}]\nqueues: [{id: q, mrd: voice, " + bad + "}]\n"))
		if err == nil {
			err = c.Validate()
		}
		if err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
