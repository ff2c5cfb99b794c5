package routing

// Last-agent routing (Genesys "last agent routing", Twilio TaskRouter
// known-agent routing, Salesforce Omni-Channel "route to the last
// agent"; DESIGN.md "Routing policies").
//
// A queue with LastAgent > 0 remembers, per customer
// (CreateConversation.CustomerID), the agent who last served one of its
// conversations and when: a task of the queue that became ACTIVE records
// its agent at the accept, and again when the agent leaves (so the window
// counts from the end of the service). A conversation created in the
// queue (after a closed queue's overflow, the queue that takes it) for a
// customer whose last agent served at most LastAgent ago, and that names
// no PreferredAgents of its own, prefers that agent for LastAgentTimeout
// (0: DefaultPreferredTimeout): the preferred-agents mechanism
// (preferred.go), with RequestQueued.LastAgent set. Then the queue serves
// it as any other request.
//
// Memory is bounded: a queue remembers at most LastAgentCustomers
// customers (0: DefaultLastAgentCustomers), and forgets the least
// recently served first. The order is the order in which services were
// recorded (a list, never map iteration), so eviction is deterministic,
// and it is in the snapshot. Changing the queue's definition keeps the
// memory, trimmed to the new bound; LastAgent 0 forgets it.
//
// The customer id is whatever the adapter gives: with sealed customer
// fields (package erasure) it is the customer's key reference, a
// pseudonym, so no plaintext id reaches the journal.

import (
	"container/list"
	"time"
)

// DefaultLastAgentCustomers is how many customers a last-agent queue
// remembers when Queue.LastAgentCustomers is 0.
const DefaultLastAgentCustomers = 10_000

// MaxLastAgentCustomers bounds Queue.LastAgentCustomers.
const MaxLastAgentCustomers = 1_000_000

// lastAgents is a queue's memory of who served each customer, least
// recently served first.
type lastAgents struct {
	order *list.List // of *lastServed
	by    map[string]*list.Element
}

// lastServed is one remembered service.
type lastServed struct {
	customer, agent string
	at              time.Time
}

// lastAgentLimit is how many customers q remembers.
func lastAgentLimit(q *queueRT) int {
	if n := q.def.LastAgentCustomers; n > 0 {
		return n
	}
	return DefaultLastAgentCustomers
}

// remember records that agent served customer in q at time at, moving
// the customer to the most recent end and forgetting the least recent
// beyond q's bound.
func (q *queueRT) remember(customer, agent string, at time.Time) {
	if q.def.LastAgent <= 0 || customer == "" {
		return
	}
	if q.last == nil {
		q.last = &lastAgents{order: list.New(), by: map[string]*list.Element{}}
	}
	m := q.last
	if e, ok := m.by[customer]; ok {
		ls := e.Value.(*lastServed)
		ls.agent, ls.at = agent, at
		m.order.MoveToBack(e)
	} else {
		m.by[customer] = m.order.PushBack(&lastServed{customer: customer, agent: agent, at: at})
	}
	m.trim(lastAgentLimit(q))
}

// trim forgets the least recently served customers beyond n.
func (m *lastAgents) trim(n int) {
	for m.order.Len() > n {
		e := m.order.Front()
		delete(m.by, e.Value.(*lastServed).customer)
		m.order.Remove(e)
	}
}

// lastAgentFor returns the agent who served customer in q at most
// q's LastAgent before now, "" when none (or no longer configured).
func (s *State) lastAgentFor(q *queueRT, customer string) string {
	if q.def.LastAgent <= 0 || customer == "" || q.last == nil {
		return ""
	}
	e, ok := q.last.by[customer]
	if !ok {
		return ""
	}
	ls := e.Value.(*lastServed)
	if s.now.Sub(ls.at) > q.def.LastAgent || s.agents[ls.agent] == nil {
		return ""
	}
	return ls.agent
}

// servedBy records t's agent as its customer's last agent in t's queue
// (accept, leave).
func (s *State) servedBy(t *task) {
	t.queue.remember(t.conv.customerID, t.agent.def.ID, s.now)
}

// redefineLastAgents applies a changed definition to q's memory: LastAgent
// 0 forgets it, a smaller bound trims it.
func (q *queueRT) redefineLastAgents() {
	if q.last == nil {
		return
	}
	if q.def.LastAgent <= 0 {
		q.last = nil
		return
	}
	q.last.trim(lastAgentLimit(q))
}

// lastServedSnap is one remembered service in the snapshot, least recent
// first.
type lastServedSnap struct {
	Customer string    `json:"customer"`
	Agent    string    `json:"agent"`
	At       time.Time `json:"at"`
}

// lastAgentsSnap lists q's memory, least recently served first.
func (q *queueRT) lastAgentsSnap() []lastServedSnap {
	if q.last == nil {
		return nil
	}
	out := make([]lastServedSnap, 0, q.last.order.Len())
	for e := q.last.order.Front(); e != nil; e = e.Next() {
		ls := e.Value.(*lastServed)
		out = append(out, lastServedSnap{Customer: ls.customer, Agent: ls.agent, At: ls.at})
	}
	return out
}
