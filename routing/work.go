package routing

import (
	"encoding/json"
	"maps"
	"slices"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

func (s *State) createConversation(c CreateConversation) *Error {
	if err := checkID("conversation", c.ID); err != nil {
		return err
	}
	if err := checkID("request", c.RequestID); err != nil {
		return err
	}
	if _, ok := s.convs[c.ID]; ok {
		return errf(CodeAlreadyExists, "conversation %q already exists", c.ID)
	}
	if _, ok := s.requests[c.RequestID]; ok {
		return errf(CodeAlreadyExists, "request %q already exists", c.RequestID)
	}
	q, ok := s.queues[c.Queue]
	if !ok {
		return errf(CodeQueueNotFound, "queue %q does not exist", c.Queue)
	}
	if c.Priority < 0 || c.Priority > MaxPriority {
		return errf(CodeInvalidArgument, "priority %d is outside 0..%d", c.Priority, MaxPriority)
	}
	if err := checkDuration("ttl", c.TTL); err != nil {
		return err
	}
	if err := checkHold(c); err != nil {
		return err
	}
	if len(c.Customer) > MaxCustomerBytes {
		return errf(CodeLimitExceeded, "customer is over %d bytes", MaxCustomerBytes)
	}
	if len(c.Customer) > 0 {
		var obj map[string]json.RawMessage
		if json.Unmarshal(c.Customer, &obj) != nil || obj == nil {
			return errf(CodeInvalidArgument, "customer must be a JSON object")
		}
	}
	if len(c.Attributes) > MaxAttributes {
		return errf(CodeLimitExceeded, "more than %d attributes", MaxAttributes)
	}
	if len(c.Attributes) > 0 { // the sorted walk allocates; most contacts have none
		for _, k := range slices.Sorted(maps.Keys(c.Attributes)) {
			if len(k)+len(c.Attributes[k]) > MaxAttributeBytes || !utf8.ValidString(k) || !utf8.ValidString(c.Attributes[k]) {
				return errf(CodeInvalidArgument, "attribute %q is over %d bytes or not UTF-8", k, MaxAttributeBytes)
			}
		}
	}
	if s.waiting >= MaxWaitingRequests {
		return errf(CodeLimitExceeded, "more than %d waiting requests", MaxWaitingRequests)
	}
	if s.openConvs >= MaxOpenConversations {
		return errf(CodeLimitExceeded, "more than %d open conversations", MaxOpenConversations)
	}
	s.seq++
	cv := &conv{
		id: c.ID, queue: q, priority: c.Priority, customer: slices.Clone(c.Customer),
		attrs: maps.Clone(c.Attributes), createdAt: s.now, enqueuedAt: s.now, seq: s.seq,
	}
	s.convs[c.ID] = cv
	s.openConvs++
	q.open++
	q.stats.Offered++
	ttl := q.def.TTL
	if c.TTL > 0 {
		ttl = c.TTL
	}
	r := &request{id: c.RequestID, conv: cv, queue: q, priority: c.Priority, enqueuedAt: s.now, seq: s.seq,
		hold: c.Hold, holdAttempts: c.HoldAttempts}
	if ttl > 0 {
		r.ttl = s.now.Add(ttl)
	}
	s.emit(ConversationCreated{Conversation: cv.id, Queue: q.def.ID, MRD: q.def.MRD, At: s.now})
	s.enqueue(r)
	s.emit(RequestQueued{Request: r.id, Conversation: cv.id, Queue: q.def.ID, Priority: r.priority, At: s.now})
	return nil
}

// enqueue registers a new request (first time or re-created after its agent
// left) in its queue.
func (s *State) enqueue(r *request) {
	r.conv.req = r
	r.state = RequestQueuedState
	s.requests[r.id] = r
	r.queue.waiting.ReplaceOrInsert(r)
	s.waiting++
	if !r.ttl.IsZero() {
		s.addDeadline(r.ttl, deadlineTTL, r.id)
	}
	s.dirtyReqs = append(s.dirtyReqs, r)
}

// match offers work until no waiting request has an available eligible
// agent (DESIGN.md "Routing"): the best waiting request that some available
// agent can take goes first (priority, then longest wait), and the queue's
// strategy picks its agent.
//
// The candidates are the requests the command (re)queued and, for every
// agent that gained availability, the best request on each of its MRDs that
// it may take. They sit in a heap ordered like the queues; a popped
// candidate whose request was offered meanwhile is recomputed for its agent
// (lazily: a waiting set that only shrinks can only make an agent's best
// candidate worse), so one freed agent costs one scan of its queues' heads,
// and several agents or requests freed by one command (a Tick, a
// definition change) are served in the global order instead of the order
// in which they were freed.
func (s *State) match() {
	for {
		for _, r := range s.dirtyReqs {
			s.cands.push(cand{r: r})
		}
		clear(s.dirtyReqs)
		s.dirtyReqs = s.dirtyReqs[:0]
		for _, a := range s.dirtyAgents {
			a.dirty = false
			for _, am := range a.mrdList {
				s.pushBest(am)
			}
		}
		clear(s.dirtyAgents)
		s.dirtyAgents = s.dirtyAgents[:0]
		if len(s.cands) == 0 {
			return
		}
		c := s.cands.pop()
		waiting := c.r.state == RequestQueuedState && s.requests[c.r.id] == c.r
		if c.am == nil {
			if waiting {
				s.offerRequest(c.r)
			}
			continue
		}
		if !c.am.available() {
			continue
		}
		if !waiting {
			s.pushBest(c.am) // its best went to someone else: next best
			continue
		}
		s.offerRequest(c.r)
		if c.r.state == RequestQueuedState {
			continue // cannot happen (c.am is available and eligible); never loop
		}
		if !c.am.agent.dirty {
			// The request went to a better agent: c.am may still take another.
			s.pushBest(c.am)
		}
	}
}

// pushBest adds am's best waiting request (over its queues, skipping those
// that exclude its agent) to the candidates, if am is available.
func (s *State) pushBest(am *agentMRD) {
	if !am.available() {
		return
	}
	var best *request
	for _, q := range am.queues {
		q.waiting.Ascend(func(r *request) bool {
			if !r.canTake(am.agent) {
				return true
			}
			if best == nil || requestLess(r, best) {
				best = r
			}
			return false
		})
	}
	if best != nil {
		s.cands.push(cand{r: best, am: am})
	}
}

// cand is a matching candidate: a request to offer, either made waiting by
// the command (am nil) or the best request an available agent MRD may take.
type cand struct {
	r  *request
	am *agentMRD
}

func candLess(a, b cand) bool {
	if a.r != b.r {
		return requestLess(a.r, b.r)
	}
	if (a.am == nil) != (b.am == nil) {
		return a.am == nil
	}
	if a.am == nil || a.am == b.am {
		return false
	}
	if a.am.agent.def.ID != b.am.agent.def.ID {
		return a.am.agent.def.ID < b.am.agent.def.ID
	}
	return a.am.mrd.def.ID < b.am.mrd.def.ID
}

// candHeap is a binary min-heap of candidates by candLess.
type candHeap []cand

func (h *candHeap) push(c cand) {
	*h = append(*h, c)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !candLess(a[i], a[p]) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *candHeap) pop() cand {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a[n] = cand{}
	a = a[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && candLess(a[r], a[l]) {
			m = r
		}
		if !candLess(a[m], a[i]) {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}

func (r *request) excludes(agent string) bool {
	return len(r.excluded) > 0 && containsSorted(r.excluded, agent)
}

// offerRequest offers r to the best available agent of its queue.
func (s *State) offerRequest(r *request) {
	q := r.queue
	if q.def.Mode == External {
		return
	}
	var best *agentMRD
	stale := s.stale[:0]
	q.avail.Ascend(func(it availItem) bool {
		if !it.am.available() {
			stale = append(stale, it) // see reindex
			return true
		}
		if !r.canTake(it.am.agent) {
			return true
		}
		best = it.am
		return false
	})
	for i, it := range stale {
		s.dropStale(q, it)
		stale[i] = availItem{}
	}
	s.stale = stale[:0]
	if best != nil {
		s.offer(r, best)
	}
}

// offer reserves am's capacity for r: task RESERVED with the queue's RONA
// deadline, or, for an unconfirmed callback, a hold (hold.go).
func (s *State) offer(r *request, am *agentMRD) {
	if r.holds() {
		s.holdAgent(r, am)
		return
	}
	s.offerTask(r, am, s.newTaskID(), ronaTimeout(r.queue))
}

// ronaTimeout is how long an offer from q waits for accept.
func ronaTimeout(q *queueRT) time.Duration {
	if q.def.RONATimeout > 0 {
		return q.def.RONATimeout
	}
	return DefaultRONATimeout
}

// offerTask reserves am's capacity for r: task id RESERVED with a deadline
// rona from now (internal routing, AssignWork, direct transfers).
func (s *State) offerTask(r *request, am *agentMRD, id string, rona time.Duration) {
	r.queue.waiting.Delete(r)
	s.waiting--
	s.reserve(r, am, id, rona)
}

// reserve makes task id RESERVED for r (out of the waiting tree: offered
// now, or HELD and confirmed) on am, with a deadline rona from now.
func (s *State) reserve(r *request, am *agentMRD, id string, rona time.Duration) {
	q := r.queue
	t := &task{
		id: id, conv: r.conv, req: r, agent: am.agent, am: am, queue: q,
		state: TaskReservedState, reservedAt: s.now, role: r.roleFor(),
	}
	t.deadline = s.now.Add(rona)
	s.addDeadline(t.deadline, deadlineRONA, t.id)
	s.tasks[t.id] = t
	q.tasks++
	am.agent.tasks = append(am.agent.tasks, t)
	r.conv.tasks = append(r.conv.tasks, t)
	r.state = RequestOfferedState
	r.task = t
	am.load++
	am.lastOffer = s.now
	s.emit(TaskReserved{Task: t.id, Conversation: r.conv.id, Request: r.id, Agent: am.agent.def.ID,
		Queue: q.def.ID, MRD: q.def.MRD, Deadline: t.deadline, Mode: r.kind, RequestedBy: r.fromAgent, Note: r.note, At: s.now})
	s.refreshAgent(am.agent)
}

func (s *State) ownedTask(id, agent string) (*task, *Error) {
	t, ok := s.tasks[id]
	if !ok {
		return nil, errf(CodeTaskNotFound, "task %q does not exist or is closed", id)
	}
	if t.agent.def.ID != agent {
		return nil, errf(CodeNotTaskOwner, "task %q belongs to another agent", id)
	}
	return t, nil
}

func (s *State) acceptTask(c AcceptTask) *Error {
	t, err := s.ownedTask(c.Task, c.Agent)
	if err != nil {
		return err
	}
	if t.state != TaskReservedState {
		return errf(CodeInvalidTransition, "task %q is %s; only a RESERVED task can be accepted", t.id, t.state)
	}
	r := t.req
	s.removeDeadline(t.deadline, deadlineRONA, t.id)
	t.state = TaskActiveState
	t.acceptedAt = s.now
	t.deadline = time.Time{}
	t.req = nil
	s.emit(TaskActivated{Task: t.id, Conversation: t.conv.id, Agent: t.agent.def.ID, At: s.now})
	s.emit(ParticipantJoined{Conversation: t.conv.id, Agent: t.agent.def.ID, Task: t.id, Role: t.role, At: s.now})
	if t.conv.answeredAt.IsZero() {
		t.conv.answeredAt = s.now
		st := &r.queue.stats
		st.Answered++
		wait := s.now.Sub(r.enqueuedAt)
		st.TotalWaitAnswered += wait.Seconds()
		if wait <= slThreshold(r.queue) {
			st.AnsweredWithinSL++
		}
	}
	s.removeRequest(r, ReasonAccepted)
	s.completeTransfer(r)
	return nil
}

func slThreshold(q *queueRT) time.Duration {
	if q.def.ServiceLevelThreshold > 0 {
		return q.def.ServiceLevelThreshold
	}
	return DefaultServiceLevelThreshold
}

// removeRequest ends r (accepted, expired, cancelled, abandoned).
func (s *State) removeRequest(r *request, reason CloseReason) {
	if r.state == RequestQueuedState {
		r.queue.waiting.Delete(r)
		s.waiting--
	}
	if !r.ttl.IsZero() {
		s.removeDeadline(r.ttl, deadlineTTL, r.id)
	}
	delete(s.requests, r.id)
	if r.conv.req == r {
		r.conv.req = nil
	}
	s.emit(RequestRemoved{Request: r.id, Conversation: r.conv.id, Queue: r.queue.def.ID, Reason: reason,
		WaitSeconds: s.now.Sub(r.enqueuedAt).Seconds(), At: s.now})
}

func (s *State) declineTask(c DeclineTask) *Error {
	t, err := s.ownedTask(c.Task, c.Agent)
	if err != nil {
		return err
	}
	if t.state != TaskReservedState {
		return errf(CodeInvalidTransition, "task %q is %s; only a RESERVED task can be declined", t.id, t.state)
	}
	r := t.req
	s.closeTask(t, ReasonDeclined)
	s.requeue(r, ReasonDeclined, t.agent.def.ID, true)
	return nil
}

// closeTask ends t and frees its capacity.
func (s *State) closeTask(t *task, reason CloseReason) {
	switch t.state {
	case TaskReservedState:
		s.removeDeadline(t.deadline, deadlineRONA, t.id)
	case TaskWrapUpState:
		s.removeDeadline(t.deadline, deadlineWrapUp, t.id)
	}
	t.state = TaskClosedState
	t.deadline = time.Time{}
	delete(s.tasks, t.id)
	t.queue.tasks--
	t.agent.tasks = removeTask(t.agent.tasks, t)
	t.conv.tasks = removeTask(t.conv.tasks, t)
	t.am.load--
	s.emit(TaskClosed{Task: t.id, Conversation: t.conv.id, Agent: t.agent.def.ID, Reason: reason, At: s.now})
	s.refreshAgent(t.agent)
	s.rematch(t.conv) // participants.go: the agent may take the conversation now
}

func removeTask(ts []*task, t *task) []*task {
	if i := slices.Index(ts, t); i >= 0 {
		return slices.Delete(ts, i, i+1)
	}
	return ts
}

// requeue puts an offered request back in its queue at its original
// position, or expires it when its TTL has passed.
func (s *State) requeue(r *request, reason CloseReason, agent string, exclude bool) {
	r.task = nil
	if !r.ttl.IsZero() && !s.now.Before(r.ttl) {
		s.expire(r)
		return
	}
	if exclude && !r.excludes(agent) {
		i := sort.SearchStrings(r.excluded, agent)
		r.excluded = slices.Insert(r.excluded, i, agent)
	}
	r.state = RequestQueuedState
	r.queue.waiting.ReplaceOrInsert(r)
	s.waiting++
	s.emit(RequestUpdated{Request: r.id, Conversation: r.conv.id, Queue: r.queue.def.ID, Reason: reason,
		LastAgent: agent, Excluded: slices.Clone(r.excluded), At: s.now})
	s.dirtyReqs = append(s.dirtyReqs, r)
}

func (s *State) expire(r *request) {
	if r.kind != "" {
		s.expireTransfer(r)
		return
	}
	r.queue.stats.Expired++
	s.removeRequest(r, ReasonExpired)
	s.closeConversation(r.conv, ReasonNoAgentAvailable)
}

func (s *State) closeTaskCmd(c CloseTask) *Error {
	t, err := s.ownedTask(c.Task, c.Agent)
	if err != nil {
		return err
	}
	switch t.state {
	case TaskActiveState:
		s.leave(t)
		// The last agent left: the conversation closes (or is queued
		// again, see lastAgentLeft), even while the agent wraps up (the
		// task stays in WRAP_UP). A pending transfer keeps it open.
		if t.conv.activeAgents() == 0 && t.conv.req == nil && !t.conv.closed {
			s.lastAgentLeft(t.conv, t.agent.def.ID, ReasonDone)
		}
	case TaskWrapUpState:
		s.closeTask(t, ReasonDone)
	default:
		return errf(CodeInvalidTransition, "task %q is %s; decline a RESERVED task instead", t.id, t.state)
	}
	return nil
}

// activeAgents counts the conversation's tasks that are ACTIVE.
func (cv *conv) activeAgents() int {
	n := 0
	for _, t := range cv.tasks {
		if t.state == TaskActiveState {
			n++
		}
	}
	return n
}

// leave takes an ACTIVE task's agent out of the conversation: wrap-up when
// the queue has one, else the task closes DONE.
func (s *State) leave(t *task) {
	s.emit(ParticipantLeft{Conversation: t.conv.id, Agent: t.agent.def.ID, Task: t.id, At: s.now})
	if w := t.queue.def.WrapUp; w > 0 {
		t.state = TaskWrapUpState
		t.deadline = s.now.Add(w)
		s.addDeadline(t.deadline, deadlineWrapUp, t.id)
		s.emit(TaskWrapUp{Task: t.id, Conversation: t.conv.id, Agent: t.agent.def.ID, Deadline: t.deadline, At: s.now})
		return
	}
	s.closeTask(t, ReasonDone)
}

func (s *State) closeConversationCmd(c CloseConversation) *Error {
	cv, ok := s.convs[c.Conversation]
	if !ok {
		return errf(CodeConversationNotFound, "conversation %q does not exist", c.Conversation)
	}
	if cv.closed {
		return errf(CodeInvalidTransition, "conversation %q is already closed", cv.id)
	}
	reason := ReasonDone
	if r := cv.req; r != nil {
		switch r.state {
		case RequestOfferedState:
			s.revoke(r.task, ReasonCancelled)
		case RequestHeldState:
			s.releaseHold(r, ReasonCancelled)
		}
		if cv.answeredAt.IsZero() {
			// Never answered: the contact was cancelled, and counts so.
			r.queue.stats.Cancelled++
			reason = ReasonCancelled
		}
		s.removeRequest(r, ReasonCancelled)
		s.transferFailed(r, ReasonCancelled)
	}
	s.closeConversation(cv, reason)
	return nil
}

func (s *State) revoke(t *task, reason CloseReason) {
	s.emit(TaskRevoked{Task: t.id, Conversation: t.conv.id, Agent: t.agent.def.ID, Reason: reason, At: s.now})
	s.closeTask(t, reason)
}

// closeConversation ends cv: agents still active leave (wrap-up or close).
func (s *State) closeConversation(cv *conv, reason CloseReason) {
	for _, t := range slices.Clone(cv.tasks) {
		if t.state == TaskActiveState {
			s.leave(t)
		}
	}
	s.leaveMonitors(cv)
	cv.closed = true
	cv.closeReason = reason
	cv.closedAt = s.now
	s.openConvs--
	cv.queue.open--
	s.emit(ConversationClosed{Conversation: cv.id, Reason: reason, At: s.now})
	s.closedConvs = append(s.closedConvs, cv.id)
	if len(s.closedConvs)-s.closedHead > RetainedClosedConversations {
		// A closed conversation still holding a task (a wrap-up) stays: the
		// task lives in it and the snapshot finds tasks there. Forget the
		// oldest one without tasks instead (rare: it is the oldest of
		// RetainedClosedConversations).
		if i := s.closedHead; len(s.convs[s.closedConvs[i]].tasks) > 0 {
			for i < len(s.closedConvs) && len(s.convs[s.closedConvs[i]].tasks) > 0 {
				i++
			}
			if i < len(s.closedConvs) {
				delete(s.convs, s.closedConvs[i])
				s.closedConvs = slices.Delete(s.closedConvs, i, i+1)
			}
			return
		}
		delete(s.convs, s.closedConvs[s.closedHead])
		s.closedConvs[s.closedHead] = ""
		s.closedHead++
		// Compact now and then, so forgetting is O(1) amortized.
		if s.closedHead >= RetainedClosedConversations {
			s.closedConvs = append(s.closedConvs[:0], s.closedConvs[s.closedHead:]...)
			s.closedHead = 0
		}
	}
}

func (s *State) abandonConversation(c AbandonConversation) *Error {
	cv, ok := s.convs[c.Conversation]
	if !ok {
		return errf(CodeConversationNotFound, "conversation %q does not exist", c.Conversation)
	}
	// A conversation waiting again (its agent logged out) may be abandoned
	// too; only the queue counters remember the first answer.
	if cv.closed || cv.req == nil {
		return errf(CodeConversationNotWaiting, "conversation %q is not waiting for an agent", cv.id)
	}
	r := cv.req
	switch r.state {
	case RequestOfferedState:
		s.revoke(r.task, ReasonCancelled)
	case RequestHeldState:
		s.releaseHold(r, ReasonCancelled)
	}
	if cv.answeredAt.IsZero() {
		st := &r.queue.stats
		st.Abandoned++
		if s.now.Sub(r.enqueuedAt) < slThreshold(r.queue) {
			st.AbandonedWithinSL++
		}
	}
	s.removeRequest(r, ReasonAbandoned)
	s.transferFailed(r, ReasonAbandoned)
	s.closeConversation(cv, ReasonAbandoned)
	return nil
}

// logoutWork re-routes the work of an agent who just went LOGOUT: reserved
// requests go back to their queues, conversations the agent was alone in
// are queued again at their original position, wrap-ups end, holds are
// released (HoldReleased AGENT_LOGOUT) and their requests wait again at
// their position.
func (s *State) logoutWork(a *agentRT) {
	for _, t := range slices.Clone(a.tasks) {
		switch t.state {
		case TaskReservedState:
			r := t.req
			s.revoke(t, ReasonAgentLogout)
			s.requeue(r, ReasonAgentLogout, a.def.ID, false)
		case TaskActiveState:
			cv := t.conv
			s.emit(ParticipantLeft{Conversation: cv.id, Agent: a.def.ID, Task: t.id, At: s.now})
			s.closeTask(t, ReasonAgentLogout)
			if cv.activeAgents() == 0 && cv.req == nil && !cv.closed {
				// The agent dropped the conversation: queued again while
				// the customer is present, whatever LastAgentLeaves says.
				if cv.customerLeft {
					s.closeConversation(cv, ReasonDone)
				} else {
					s.reopen(cv, a.def.ID)
				}
			}
		case TaskWrapUpState:
			s.closeTask(t, ReasonDone)
		}
	}
	s.holdLeft(a, ReasonAgentLogout) // hold.go
}

// reopen queues a new request for a conversation whose last agent dropped
// it, at the conversation's original queue position.
func (s *State) reopen(cv *conv, lastAgent string) {
	cv.requeues++
	r := &request{
		id: cv.id + "/" + strconv.Itoa(cv.requeues), conv: cv, queue: cv.queue, priority: cv.priority,
		enqueuedAt: cv.enqueuedAt, seq: cv.seq,
	}
	// The position is the original one; the TTL starts again, so a
	// conversation nobody can take still ends.
	if ttl := cv.queue.def.TTL; ttl > 0 {
		r.ttl = s.now.Add(ttl)
	}
	for s.requests[r.id] != nil {
		cv.requeues++
		r.id = cv.id + "/" + strconv.Itoa(cv.requeues)
	}
	s.enqueue(r)
	s.emit(RequestQueued{Request: r.id, Conversation: cv.id, Queue: cv.queue.def.ID, Priority: r.priority, At: s.now})
	s.emit(RequestUpdated{Request: r.id, Conversation: cv.id, Queue: cv.queue.def.ID, Reason: ReasonRequeuedAfterDrop, LastAgent: lastAgent, At: s.now})
}

// tick fires every deadline at or before now, earliest first (same
// instant: RONA, wrap-up, TTL, hold).
func (s *State) tick() {
	now := s.now.UnixNano()
	for {
		d, ok := s.deadlines.Min()
		if !ok || d.at > now {
			return
		}
		s.deadlines.Delete(d)
		switch d.kind {
		case deadlineRONA:
			t := s.tasks[d.id]
			if t == nil || t.state != TaskReservedState {
				continue
			}
			// The RONA action comes before the task closes, so the freed
			// capacity never shows the agent READY for an instant.
			r := t.req
			s.emit(TaskRevoked{Task: t.id, Conversation: t.conv.id, Agent: t.agent.def.ID, Reason: ReasonRONA, At: s.now})
			if t.queue.def.RONAAction != "NONE" && t.agent.state == AgentReady {
				s.changeAgentState(t.agent, AgentNotReady, RONAReasonCode)
			}
			s.closeTask(t, ReasonRONA)
			s.requeue(r, ReasonRONA, t.agent.def.ID, true)
		case deadlineWrapUp:
			if t := s.tasks[d.id]; t != nil && t.state == TaskWrapUpState {
				s.closeTask(t, ReasonDone)
			}
		case deadlineTTL:
			// An offered or held request expires only if its offer or hold
			// fails (requeue).
			if r := s.requests[d.id]; r != nil && r.state == RequestQueuedState {
				s.expire(r)
			}
		case deadlineHold:
			if r := s.requests[d.id]; r != nil && r.state == RequestHeldState {
				s.expireHold(r)
			}
		}
	}
}
