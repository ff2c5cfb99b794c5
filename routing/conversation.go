package routing

// Conversations and their requests: creation, queueing, re-queueing at
// the original position, expiry, cancel, abandon and close.

import (
	"encoding/json"
	"maps"
	"slices"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/omniroute/omniroute/routing/target"
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
	q, err := s.conversationQueue(c)
	if err != nil {
		return err
	}
	if c.MRD != "" && q.def.MRD != c.MRD {
		return errf(CodeInvalidArgument, "queue %q is on mrd %q, not %q", q.def.ID, q.def.MRD, c.MRD)
	}
	q, err = s.closedTarget(q)
	if err != nil {
		return err
	}
	if c.Priority < 0 || c.Priority > MaxPriority {
		return errf(CodeInvalidArgument, "priority %d is outside 0..%d", c.Priority, MaxPriority)
	}
	if err := checkDuration("ttl", c.TTL); err != nil {
		return err
	}
	if err := checkDuration("defaultTTL", c.DefaultTTL); err != nil {
		return err
	}
	if err := checkHold(c); err != nil {
		return err
	}
	if err := checkCustomer(c.Customer, c.Attributes); err != nil {
		return err
	}
	if err := checkWeight("capacityWeight", c.CapacityWeight); err != nil {
		return err
	}
	if err := checkPreferred(c); err != nil {
		return err
	}
	if c.CustomerID != "" {
		if err := checkID("customer", c.CustomerID); err != nil {
			return err
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
		weight: weightOf(q, c.CapacityWeight), customerID: c.CustomerID,
	}
	s.convs[c.ID] = cv
	s.openConvs++
	q.open++
	q.stats.Offered++
	ttl := q.def.TTL
	if c.TTL > 0 {
		ttl = c.TTL
	}
	if ttl <= 0 {
		ttl = c.DefaultTTL
	}
	r := &request{id: c.RequestID, conv: cv, queue: q, priority: c.Priority, enqueuedAt: s.now, seq: s.seq,
		hold: c.Hold, holdAttempts: c.HoldAttempts}
	if ttl > 0 {
		r.ttl = s.now.Add(ttl)
	}
	preferred, timeout := c.PreferredAgents, c.PreferredTimeout
	last := ""
	if len(preferred) == 0 {
		if last = s.lastAgentFor(q, cv.customerID); last != "" { // lastagent.go
			preferred, timeout = []string{last}, q.def.LastAgentTimeout
		}
	}
	if len(preferred) > 0 {
		s.prefer(r, preferred, timeout)
	}
	s.emit(ConversationCreated{Conversation: cv.id, Queue: q.def.ID, MRD: q.def.MRD, At: s.now})
	s.enqueue(r)
	s.emit(RequestQueued{Request: r.id, Conversation: cv.id, Queue: q.def.ID, Priority: r.priority,
		CapacityWeight: cv.shownWeight(), PreferredAgents: slices.Clone(r.preferred), LastAgent: last != "", TTLDeadline: r.ttl, At: s.now})
	return nil
}

// conversationQueue is the queue of c: Queue, or the first queue its
// Target selects (see CreateConversation.Target).
func (s *State) conversationQueue(c CreateConversation) (*queueRT, *Error) {
	if c.Target != "" {
		list, err := target.Parse(c.Target)
		if err != nil {
			return nil, errf(CodeInvalidArgument, "target: %v", err)
		}
		for _, t := range list {
			if q := s.targetQueue(t); q != nil {
				return q, nil
			}
		}
	}
	q, ok := s.queues[c.Queue]
	if !ok {
		if c.Target != "" {
			return nil, errf(CodeQueueNotFound, "target %q selects no queue and %q is not a queue", c.Target, c.Queue)
		}
		return nil, errf(CodeQueueNotFound, "queue %q does not exist", c.Queue)
	}
	return q, nil
}

// targetQueue is the queue one target selects, or nil.
func (s *State) targetQueue(t target.Target) *queueRT {
	switch t.Type {
	case target.Queue:
		return s.queues[t.Name]
	case target.AgentGroup:
		m := t.Matcher()
		if m == nil {
			return s.queues[t.Name]
		}
		for _, id := range s.queueIDs {
			if q := s.queues[id]; len(q.def.Skills) > 0 && m(q.def.Skills) {
				return q
			}
		}
	}
	return nil
}

// checkCustomer validates a conversation's customer (a JSON object of at
// most MaxCustomerBytes, or empty) and attributes (at most MaxAttributes,
// each name and value together MaxAttributeBytes of UTF-8).
func checkCustomer(customer json.RawMessage, attrs map[string]string) *Error {
	if len(customer) > MaxCustomerBytes {
		return errf(CodeLimitExceeded, "customer is over %d bytes", MaxCustomerBytes)
	}
	if len(customer) > 0 {
		var obj map[string]json.RawMessage
		if json.Unmarshal(customer, &obj) != nil || obj == nil {
			return errf(CodeInvalidArgument, "customer must be a JSON object")
		}
	}
	if len(attrs) > MaxAttributes {
		return errf(CodeLimitExceeded, "more than %d attributes", MaxAttributes)
	}
	if len(attrs) > 0 { // the sorted walk allocates; most contacts have none
		for _, k := range slices.Sorted(maps.Keys(attrs)) {
			if len(k)+len(attrs[k]) > MaxAttributeBytes || !utf8.ValidString(k) || !utf8.ValidString(attrs[k]) {
				return errf(CodeInvalidArgument, "attribute %q is over %d bytes or not UTF-8", k, MaxAttributeBytes)
			}
		}
	}
	return nil
}

// enqueue registers a new request (first time or re-created after its agent
// left) in its queue.
func (s *State) enqueue(r *request) {
	r.conv.req = r
	r.state = RequestQueuedState
	s.requests[r.id] = r
	// The step counts from the first enqueue (a re-opened conversation
	// keeps its original time, so its step too).
	r.base = r.priority
	r.step = stepFor(r.queue, r.enqueuedAt, s.now)
	r.priority = r.effectivePriority(r.step, s.now)
	s.addWaiting(r)
	if !r.ttl.IsZero() {
		s.addDeadline(r.ttl, deadlineTTL, r.id)
	}
	if r.queue.hasPolicy() {
		s.schedStep(r)
	}
	s.dirtyReqs = append(s.dirtyReqs, r)
}

// removeRequest ends r (accepted, expired, cancelled, abandoned).
func (s *State) removeRequest(r *request, reason CloseReason) {
	if r.state == RequestQueuedState {
		s.delWaiting(r)
	}
	if !r.ttl.IsZero() {
		s.removeDeadline(r.ttl, deadlineTTL, r.id)
	}
	if !r.stepAt.IsZero() {
		s.removeDeadline(r.stepAt, deadlineStep, r.id)
	}
	if !r.preferredUntil.IsZero() {
		s.removeDeadline(r.preferredUntil, deadlinePreferred, r.id)
	}
	delete(s.requests, r.id)
	if r.conv.req == r {
		r.conv.req = nil
	}
	s.emit(RequestRemoved{Request: r.id, Conversation: r.conv.id, Queue: r.queue.def.ID, Reason: reason,
		WaitSeconds: s.now.Sub(r.enqueuedAt).Seconds(), At: s.now})
}

// requeue puts an offered request back in its queue at its original
// position, or expires it when its TTL has passed.
func (s *State) requeue(r *request, reason CloseReason, agent string, exclude bool) {
	if r.task != nil {
		// Other reservations remain (multioffer.go): the request stays
		// OFFERED to them.
		if exclude && !r.excludes(agent) {
			r.excluded = slices.Insert(r.excluded, sort.SearchStrings(r.excluded, agent), agent)
		}
		return
	}
	if !r.ttl.IsZero() && !s.now.Before(r.ttl) {
		s.expire(r)
		return
	}
	if exclude && !r.excludes(agent) {
		i := sort.SearchStrings(r.excluded, agent)
		r.excluded = slices.Insert(r.excluded, i, agent)
	}
	r.state = RequestQueuedState
	// Its step is kept; a definition change while it was offered takes
	// effect now (steps.go).
	if r.queue.hasPolicy() || r.step > 0 || r.priority != r.base {
		r.state = RequestOfferedState // restep must not touch the trees
		s.restep(r)
		r.state = RequestQueuedState
	}
	s.addWaiting(r)
	s.emit(RequestUpdated{Request: r.id, Conversation: r.conv.id, Queue: r.queue.def.ID, Reason: reason,
		LastAgent: agent, Excluded: slices.Clone(r.excluded), Step: r.step, Priority: r.priority, At: s.now})
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
			s.revokeOffers(r, ReasonCancelled)
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
		s.revokeOffers(r, ReasonCancelled)
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
	s.emit(RequestQueued{Request: r.id, Conversation: cv.id, Queue: cv.queue.def.ID, Priority: r.priority,
		CapacityWeight: cv.shownWeight(), At: s.now})
	s.emit(RequestUpdated{Request: r.id, Conversation: cv.id, Queue: cv.queue.def.ID, Reason: ReasonRequeuedAfterDrop, LastAgent: lastAgent,
		Step: r.step, Priority: r.priority, At: s.now})
}
