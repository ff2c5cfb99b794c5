package routing

import (
	"slices"
	"time"
)

// Preferred agents (Twilio TaskRouter known-agent routing with a target
// timeout; Salesforce Omni-Channel preferred user; DESIGN.md "Routing
// policies").
//
// CreateConversation.PreferredAgents (ordered) and PreferredTimeout: until
// the timeout has passed since the conversation was created, its request is
// offered only to those agents, the first in list order that is available
// and eligible under the request's step (its queue's pools, overflow
// included) and may take it; the queue's strategy does not choose among
// them. A preferred agent who declines or lets the offer time out is
// excluded as usual. When the timeout passes (a Tick deadline, like a
// step), the request is offered to the queue as any other, keeping its
// place. A request queued again later (an agent dropped the conversation,
// a transfer to a queue) has no preferences.
//
// The same mechanism carries the other ways of naming the agent:
//   - a queue's last agent for the customer (lastagent.go), with the
//     queue's LastAgentTimeout;
//   - a direct transfer or conference to an agent (RequestTransfer.
//     TargetAgent, seed 004 requestedAgentId, which the agent desk sends):
//     the target is the only preferred agent and the window has no end of
//     its own (preferredUntil zero, no deadline): the request's TTL ends it,
//     since nobody else may take it (participants.go);
//   - external routing's PSR PreferredUserId is the first preferred agent
//     (extrouting), the partner deciding.

// DefaultPreferredTimeout is the preferred window when a conversation names
// preferred agents without a timeout.
const DefaultPreferredTimeout = 30 * time.Second

// MaxPreferredAgents bounds CreateConversation.PreferredAgents.
const MaxPreferredAgents = 10

// checkPreferred validates a conversation's preferred agents and timeout.
func checkPreferred(c CreateConversation) *Error {
	if len(c.PreferredAgents) > MaxPreferredAgents {
		return errf(CodeLimitExceeded, "more than %d preferred agents", MaxPreferredAgents)
	}
	for _, id := range c.PreferredAgents {
		if err := checkID("preferred agent", id); err != nil {
			return err
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(c.PreferredAgents)))) != len(c.PreferredAgents) {
		return errf(CodeInvalidArgument, "a preferred agent is named twice")
	}
	if c.PreferredTimeout != 0 && len(c.PreferredAgents) == 0 {
		return errf(CodeInvalidArgument, "preferredTimeout needs preferredAgents")
	}
	return checkDuration("preferredTimeout", c.PreferredTimeout)
}

// prefer reserves r for agents (in order) for timeout from now
// (0: DefaultPreferredTimeout), a Tick deadline.
func (s *State) prefer(r *request, agents []string, timeout time.Duration) {
	if timeout == 0 {
		timeout = DefaultPreferredTimeout
	}
	r.preferred = slices.Clone(agents)
	r.preferredUntil = s.now.Add(timeout)
	s.addDeadline(r.preferredUntil, deadlinePreferred, r.id)
}

// preferring says whether r is still reserved for its preferred agents
// (a direct transfer's target: until it ends).
func (r *request) preferring() bool { return len(r.preferred) > 0 }

// offerPreferred offers r, within its preferred window, to the first of
// its preferred agents that is available, eligible under tier t (or an
// added queue) and may take it.
func (s *State) offerPreferred(r *request, t *tier) {
	for _, id := range r.preferred {
		a := s.agents[id]
		if a == nil {
			continue
		}
		am := a.mrds[r.queue.def.MRD]
		if am == nil || !am.available() || !r.canTake(a) || !s.servesTier(am, r, t) {
			continue
		}
		s.offer(r, am)
		return
	}
}

// servesTier says whether am is eligible for r under tier t: in t's pool
// or in the base pool of a queue t adds.
func (s *State) servesTier(am *agentMRD, r *request, t *tier) bool {
	if _, ok := poolIndex(am.pools, t.pool); ok {
		return true
	}
	for _, id := range t.add {
		if p := s.overflowPool(r, id); p != nil {
			if _, ok := poolIndex(am.pools, p); ok {
				return true
			}
		}
	}
	return false
}

// endPreferred ends r's preferred window (its deadline): from now on the
// queue serves it.
func (s *State) endPreferred(r *request) {
	r.preferred, r.preferredUntil = nil, time.Time{}
	if r.state == RequestQueuedState {
		s.dirtyReqs = append(s.dirtyReqs, r)
	}
	s.emit(RequestUpdated{Request: r.id, Conversation: r.conv.id, Queue: r.queue.def.ID, Reason: ReasonPreferredTimeout,
		Excluded: slices.Clone(r.excluded), Step: r.step, Priority: r.priority, At: s.now})
}

// ReasonPreferredTimeout: the request's preferred window ended; any agent
// of the queue may take it now.
const ReasonPreferredTimeout CloseReason = "PREFERRED_TIMEOUT"
