package routing

// What events carry for subscribers that describe the change to a person
// (the agent desk's taskRequest and agentPresence, seed 004) without
// reading the state again. A read after the event could be stale or ahead
// by then; these are the engine's own values at the change. They are not
// part of an event's JSON form (json:"-"): the event stream and the golden
// scenarios stay about routing, and definitions have their own events.
//
// Subscribers get them as read-only values: the engine never changes them
// after the event.

import "slices"

// Offered describes an offer as the engine had it at the reservation.
type Offered struct {
	// QueueName is the queue's display name ("" when it has none).
	QueueName string
	// MRD is the queue's media routing domain.
	MRD MRD
	// Customer is the conversation's customer record as stored (sealed
	// when the server has an erasure keyring); nil when it has none.
	Customer []byte
	// Priority and Step are the request's priority and escalation step.
	Priority, Step int
	// CapacityWeight is the agent capacity units the conversation takes
	// (capacity.go), at least 1.
	CapacityWeight int
	// RequestedBy is the requesting agent of a transfer or conference
	// request (TaskReserved.RequestedBy), when that agent still exists.
	RequestedBy *Agent
}

// Presence is an agent's whole presence after the command that changed it:
// its definition, state and MRD states (the Agent view), and the
// definition of its reason code (zero when it has none; a deleted reason
// code keeps its id, with the state as its type).
type Presence struct {
	AgentStatus
	Reason ReasonCode
}

// offered builds TaskReserved.Offered for r's task on am.
func (s *State) offered(r *request) *Offered {
	q := r.queue
	o := &Offered{QueueName: q.def.Name, Priority: r.priority, Step: r.step, CapacityWeight: r.conv.weight}
	if m, ok := s.mrds[q.def.MRD]; ok {
		o.MRD = m.def
	}
	if len(r.conv.customer) > 0 {
		o.Customer = append([]byte(nil), r.conv.customer...)
	}
	if r.fromAgent != "" {
		if a, ok := s.agents[r.fromAgent]; ok {
			def := eventAgent(a.def)
			o.RequestedBy = &def
		}
	}
	return o
}

// attachPresence gives the last AgentStateChanged or MRDStateChanged of
// each agent among events (one command's) the agent's Presence after the
// command, so a subscriber summing up a command per agent needs no read.
// Earlier presence events of the same agent carry none.
func (s *State) attachPresence(events []Event) {
	var seen []string // a command changes few agents: a scan beats a map
	for i := len(events) - 1; i >= 0; i-- {
		var agent string
		switch e := events[i].(type) {
		case AgentStateChanged:
			agent = e.Agent
		case MRDStateChanged:
			agent = e.Agent
		default:
			continue
		}
		if slices.Contains(seen, agent) {
			continue
		}
		seen = append(seen, agent)
		p := s.presence(agent)
		switch e := events[i].(type) {
		case AgentStateChanged:
			e.Presence = p
			events[i] = e
		case MRDStateChanged:
			e.Presence = p
			events[i] = e
		}
	}
}

// presence is agent's Presence now; nil when the agent does not exist.
func (s *State) presence(agent string) *Presence {
	as, ok := s.Agent(agent)
	if !ok {
		return nil
	}
	as.Agent = eventAgent(as.Agent)
	p := &Presence{AgentStatus: as}
	if as.ReasonCode != "" {
		rc, ok := s.reasons[as.ReasonCode]
		if !ok {
			rc = ReasonCode{ID: as.ReasonCode, Name: as.ReasonCode, Type: ReasonType(as.State)}
		}
		p.Reason = rc
	}
	return p
}

// Presence returns agent's presence now, as presence events carry it;
// false when the agent does not exist.
func (s *State) Presence(agent string) (*Presence, bool) {
	p := s.presence(agent)
	return p, p != nil
}

// Offers returns agent's RESERVED tasks as the TaskReserved events that
// offered them, in reservation order, with Offered as of now: what a
// subscriber that lost events (or a desk that just connected) resends.
func (s *State) Offers(agent string) []TaskReserved {
	a, ok := s.agents[agent]
	if !ok {
		return nil
	}
	var out []TaskReserved
	for _, t := range a.tasks {
		if t.state != TaskReservedState || t.req == nil {
			continue
		}
		r := t.req
		out = append(out, TaskReserved{Task: t.id, Conversation: t.conv.id, Request: r.id, Agent: agent,
			Queue: t.queue.def.ID, MRD: t.queue.def.MRD, Deadline: t.deadline, Mode: r.kind,
			RequestedBy: r.fromAgent, Note: r.note, At: t.reservedAt, Offered: s.offered(r)})
	}
	return out
}

// eventAgent is a copy of an agent definition for an event, with empty
// collections nil: a state restored from a snapshot (which omits them)
// then carries equal events (the simulation's restored twin checks that).
func eventAgent(a Agent) Agent {
	a = cloneAgent(a)
	if len(a.Skills) == 0 {
		a.Skills = nil
	}
	if len(a.Capacity) == 0 {
		a.Capacity = nil
	}
	if len(a.Teams) == 0 {
		a.Teams = nil
	}
	return a
}
