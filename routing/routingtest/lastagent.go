package routingtest

// The checker's own model of last-agent routing (routing/lastagent.go):
// per queue, who served each customer and when, rebuilt from the events
// (TaskReserved names the queue, TaskActivated records the accept, the
// end of an ACTIVE task that was left records the leave; a task closed
// TRANSFERRED records nothing: the customer was handed over), bounded and
// evicted as the queue's definition says. A conversation's first request
// must then prefer exactly the agent the model remembers, or, when it
// names preferred agents of its own, not claim the last agent.

import (
	"fmt"
	"slices"
	"time"

	"github.com/omniroute/omniroute/routing"
)

// lastModel is one queue's memory: customer -> last service.
type lastModel map[string]lastEntry

type lastEntry struct {
	agent string
	at    time.Time
	order uint64 // record order: the smallest is forgotten first
}

// lastAgents holds the checker's last-agent state.
type lastAgents struct {
	queues map[string]lastModel
	// skip: queues that existed when the checker started, whose memory
	// the checker cannot know.
	skip  map[string]bool
	order uint64
	// created: conversations created by the current command.
	created map[string]bool
}

func newLastAgents(s *routing.State) *lastAgents {
	l := &lastAgents{queues: map[string]lastModel{}, skip: map[string]bool{}, created: map[string]bool{}}
	for _, q := range s.Queues() {
		l.skip[q.ID] = true
	}
	return l
}

func limitOf(q routing.Queue) int {
	if q.LastAgentCustomers > 0 {
		return q.LastAgentCustomers
	}
	return routing.DefaultLastAgentCustomers
}

// trim applies q's definition to its memory.
func (l *lastAgents) trim(q routing.Queue) {
	m := l.queues[q.ID]
	if q.LastAgent <= 0 {
		delete(l.queues, q.ID)
		return
	}
	for len(m) > limitOf(q) {
		oldest := ""
		for c, e := range m {
			if oldest == "" || e.order < m[oldest].order {
				oldest = c
			}
		}
		delete(m, oldest)
	}
}

// record notes that agent served conversation conv of queue at time at.
func (l *lastAgents) record(s *routing.State, queue, conv, agent string, at time.Time) {
	q, ok := s.Queue(queue)
	cv, found := s.Conversation(conv)
	if !ok || !found || q.LastAgent <= 0 || cv.CustomerID == "" {
		return
	}
	m := l.queues[queue]
	if m == nil {
		m = lastModel{}
		l.queues[queue] = m
	}
	l.order++
	m[cv.CustomerID] = lastEntry{agent: agent, at: at, order: l.order}
	l.trim(q)
}

// queued checks a RequestQueued of a conversation created by the same
// command against the model.
func (l *lastAgents) queued(s *routing.State, e routing.RequestQueued) error {
	if !l.created[e.Conversation] || l.skip[e.Queue] {
		if e.LastAgent && !l.skip[e.Queue] {
			return fmt.Errorf("request %s claims the last agent, but its conversation was not created now", e.Request)
		}
		return nil
	}
	q, _ := s.Queue(e.Queue)
	cv, _ := s.Conversation(e.Conversation)
	want := ""
	if en, ok := l.queues[e.Queue][cv.CustomerID]; ok && q.LastAgent > 0 && cv.CustomerID != "" && e.At.Sub(en.at) <= q.LastAgent {
		want = en.agent
	}
	switch {
	case e.LastAgent && (want == "" || !slices.Equal(e.PreferredAgents, []string{want})):
		return fmt.Errorf("request %s prefers last agent %v; the model remembers %q", e.Request, e.PreferredAgents, want)
	case !e.LastAgent && want != "" && len(e.PreferredAgents) == 0:
		return fmt.Errorf("request %s of customer %s prefers nobody; its last agent %s served within %s", e.Request, cv.CustomerID, want, q.LastAgent)
	}
	return nil
}
