package routing

import (
	"maps"
	"slices"
	"time"
)

// Read views. They copy: nothing returned aliases the state.

// MRD returns an MRD definition.
func (s *State) MRD(id string) (MRD, bool) {
	m, ok := s.mrds[id]
	if !ok {
		return MRD{}, false
	}
	return m.def, true
}

// MRDs returns every MRD, by id.
func (s *State) MRDs() []MRD {
	out := make([]MRD, 0, len(s.mrdIDs))
	for _, id := range s.mrdIDs {
		out = append(out, s.mrds[id].def)
	}
	return out
}

// Queue returns a queue definition.
func (s *State) Queue(id string) (Queue, bool) {
	q, ok := s.queues[id]
	if !ok {
		return Queue{}, false
	}
	return cloneQueue(q.def), true
}

func cloneQueue(q Queue) Queue {
	q.Skills = maps.Clone(q.Skills)
	q.Members = slices.Clone(q.Members)
	q.Steps = cloneSteps(q.Steps)
	q.Hours = q.Hours.Clone()
	return q
}

// Clone returns a deep copy of h (nil for nil).
func (h *BusinessHours) Clone() *BusinessHours {
	if h == nil {
		return nil
	}
	c := *h
	c.Weekly = slices.Clone(h.Weekly)
	c.Closures = slices.Clone(h.Closures)
	return &c
}

func cloneAgent(a Agent) Agent {
	a.Skills = maps.Clone(a.Skills)
	a.Capacity = maps.Clone(a.Capacity)
	a.Teams = slices.Clone(a.Teams)
	return a
}

// Queues returns every queue, by id.
func (s *State) Queues() []Queue {
	out := make([]Queue, 0, len(s.queueIDs))
	for _, id := range s.queueIDs {
		out = append(out, cloneQueue(s.queues[id].def))
	}
	return out
}

// ReasonCode returns a reason code.
func (s *State) ReasonCode(id string) (ReasonCode, bool) {
	rc, ok := s.reasons[id]
	return rc, ok
}

// ReasonCodes returns every reason code, by id.
func (s *State) ReasonCodes() []ReasonCode {
	out := make([]ReasonCode, 0, len(s.reasons))
	for _, id := range slices.Sorted(maps.Keys(s.reasons)) {
		out = append(out, s.reasons[id])
	}
	return out
}

// AgentIDs returns every agent id, sorted.
func (s *State) AgentIDs() []string { return slices.Clone(s.agentIDs) }

// Agent returns an agent's definition and presence.
func (s *State) Agent(id string) (AgentStatus, bool) {
	a, ok := s.agents[id]
	if !ok {
		return AgentStatus{}, false
	}
	st := AgentStatus{Agent: cloneAgent(a.def), State: a.state, ReasonCode: a.reason, StateSince: a.since, LoginAt: a.loginAt,
		MRDs: make([]AgentMRDStatus, 0, len(s.mrdIDs))}
	for _, mid := range s.mrdIDs {
		am := a.mrds[mid]
		st.MRDs = append(st.MRDs, AgentMRDStatus{MRD: am.mrd.def, State: am.state, Since: am.since,
			LastReady: am.lastReady, Load: am.load, Capacity: am.capacity, MinWeight: am.mrd.minWeight})
	}
	if a.def.CapacityUnits > 0 {
		st.UsedUnits = a.used
	}
	return st, true
}

// Tasks returns an agent's open tasks in the order they were reserved.
func (s *State) Tasks(agent string) ([]Task, bool) {
	a, ok := s.agents[agent]
	if !ok {
		return nil, false
	}
	out := make([]Task, 0, len(a.tasks))
	for _, t := range a.tasks {
		out = append(out, t.view())
	}
	return out, true
}

// Task returns an open task.
func (s *State) Task(id string) (Task, bool) {
	t, ok := s.tasks[id]
	if !ok {
		return Task{}, false
	}
	return t.view(), true
}

func (t *task) view() Task {
	v := Task{ID: t.id, Conversation: t.conv.id, Agent: t.agent.def.ID, Queue: t.queue.def.ID,
		MRD: t.queue.def.MRD, State: t.state, ReservedAt: t.reservedAt, AcceptedAt: t.acceptedAt, Deadline: t.deadline}
	if t.req != nil {
		v.Request = t.req.id
	}
	return v
}

func (r *request) view() *Request {
	v := &Request{ID: r.id, Conversation: r.conv.id, Queue: r.queue.def.ID, Priority: r.priority,
		EnqueuedAt: r.enqueuedAt, State: r.state, Excluded: slices.Clone(r.excluded), TTLDeadline: r.ttl}
	if r.task != nil {
		v.OfferedTask = r.task.id
	}
	for _, t := range r.also {
		v.AlsoOffered = append(v.AlsoOffered, t.id)
	}
	v.Mode, v.RequestedBy, v.FromTask, v.TargetAgent, v.Note = r.kind, r.fromAgent, r.fromTask, r.target, r.note
	if r.held != nil {
		v.HeldAgent, v.HoldDeadline = r.held.agent.def.ID, r.holdDeadline
	}
	v.Confirmed = r.confirmed
	v.Step, v.StepDeadline, v.BasePriority = r.step, r.stepAt, r.base
	v.CapacityWeight = r.conv.shownWeight()
	v.PreferredAgents, v.PreferredUntil = slices.Clone(r.preferred), r.preferredUntil
	return v
}

// Conversation returns an open or recently closed conversation.
func (s *State) Conversation(id string) (Conversation, bool) {
	cv, ok := s.convs[id]
	if !ok {
		return Conversation{}, false
	}
	v := Conversation{ID: cv.id, Queue: cv.queue.def.ID, MRD: cv.queue.def.MRD, Priority: cv.priority,
		Customer: slices.Clone(cv.customer), Attributes: maps.Clone(cv.attrs), CreatedAt: cv.createdAt,
		State: ConversationOpenState, CloseReason: cv.closeReason, ClosedAt: cv.closedAt, AnsweredAt: cv.answeredAt,
		Participants: []Participant{}, CustomerLeft: cv.customerLeft, CapacityWeight: cv.weight,
		CustomerID: cv.customerID}
	if cv.closed {
		v.State = ConversationClosedState
	}
	if cv.req != nil {
		v.Request = cv.req.view()
	}
	for _, t := range cv.tasks {
		if t.state == TaskActiveState {
			v.Participants = append(v.Participants, Participant{Agent: t.agent.def.ID, Task: t.id, Role: t.role})
		}
	}
	for _, m := range cv.monitors {
		v.Participants = append(v.Participants, Participant{Agent: m.agent.def.ID, Role: m.role})
	}
	return v, true
}

// Request returns a live request (queued, offered or held).
func (s *State) Request(id string) (Request, bool) {
	r, ok := s.requests[id]
	if !ok {
		return Request{}, false
	}
	return *r.view(), true
}

// Position returns a queued request's 1-based position in its queue
// (counting every request ahead of it: higher priority first, then earlier)
// and the number waiting. An offered or held request has position 0.
func (s *State) Position(id string) (position, waiting int, ok bool) {
	r, ok := s.requests[id]
	if !ok {
		return 0, 0, false
	}
	waiting = r.queue.waiting.Len()
	if r.state != RequestQueuedState {
		return 0, waiting, true
	}
	r.queue.waiting.Ascend(func(x *request) bool {
		position++
		return x != r
	})
	return position, waiting, true
}

// QueueStats returns a queue's counters and current waiting figures at now.
func (s *State) QueueStats(id string, now time.Time) (QueueStats, bool) {
	q, ok := s.queues[id]
	if !ok {
		return QueueStats{}, false
	}
	st := q.stats
	st.Queue = id
	st.Waiting = q.waiting.Len()
	// The index may hold stale entries of agents no longer available
	// (see reindex): count the available ones.
	q.avail.Ascend(func(it availItem) bool {
		if it.am.available() {
			st.ReadyAgents++
		}
		return true
	})
	st.ThresholdSeconds = slThreshold(q).Seconds()
	var oldest time.Time
	q.waiting.Ascend(func(r *request) bool {
		if oldest.IsZero() || r.enqueuedAt.Before(oldest) {
			oldest = r.enqueuedAt
		}
		return true
	})
	if !oldest.IsZero() && now.After(oldest) {
		st.LongestWaitSeconds = now.Sub(oldest).Seconds()
	}
	den := st.Answered + st.Abandoned - st.AbandonedWithinSL
	st.ServiceLevel = 1
	if den > 0 {
		st.ServiceLevel = float64(st.AnsweredWithinSL) / float64(den)
	}
	return st, true
}

// Counts returns totals for gauges: agents by state, waiting requests, open
// conversations and open tasks.
func (s *State) Counts() (agentsByState map[AgentState]int, waiting, openConversations, openTasks int) {
	agentsByState = map[AgentState]int{AgentLogout: 0, AgentNotReady: 0, AgentReady: 0}
	for _, a := range s.agents {
		agentsByState[a.state]++
	}
	return agentsByState, s.waiting, s.openConvs, len(s.tasks)
}

// Requests returns every live request (QUEUED, OFFERED or HELD), sorted by id.
func (s *State) Requests() []Request {
	out := make([]Request, 0, len(s.requests))
	for _, id := range slices.Sorted(maps.Keys(s.requests)) {
		out = append(out, *s.requests[id].view())
	}
	return out
}

// WaitingRequests returns a queue's QUEUED requests in the order the engine
// serves them (priority, then enqueue time, then arrival). ok is false when
// the queue does not exist.
func (s *State) WaitingRequests(queue string) (reqs []Request, ok bool) {
	q, ok := s.queues[queue]
	if !ok {
		return nil, false
	}
	reqs = make([]Request, 0, q.waiting.Len())
	q.waiting.Ascend(func(r *request) bool {
		reqs = append(reqs, *r.view())
		return true
	})
	return reqs, true
}

// OpenConversations returns the ids of the open conversations, sorted.
func (s *State) OpenConversations() []string {
	out := make([]string, 0, s.openConvs)
	for _, id := range slices.Sorted(maps.Keys(s.convs)) {
		if !s.convs[id].closed {
			out = append(out, id)
		}
	}
	return out
}

// EligibleQueues returns the ids of the internal queues agent may take work
// from (membership, skills and capacity on the queue's MRD), sorted; nil for
// an unknown agent. Wallboards use it for "eligible agents" and to filter
// agents by queue.
func (s *State) EligibleQueues(agent string) []string {
	a, ok := s.agents[agent]
	if !ok {
		return nil
	}
	var out []string
	for _, am := range a.mrdList {
		for _, p := range am.pools { // one pool per (queue, tier): a queue may repeat
			out = append(out, p.q.def.ID)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
