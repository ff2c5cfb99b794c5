package routing

import "time"

// External routing (seed 000 "Expected Behavior for External Routing for
// Omni-Channel"; PROTOCOLS.md "Salesforce external routing").
//
// A queue in mode External is served by a partner router: the engine
// queues its requests (the PendingServiceRouting, PSR) and never offers
// them by itself, neither on arrival, nor after a decline or RONA re-queue,
// nor when an agent becomes free, nor after a queue upsert (offerRequest
// returns at once for an external queue, and agents are never eligible for
// one, so their availability never reaches it). The partner chooses an
// agent and says so with AssignWork (its AgentWork create); from there the
// task follows the same life as an internal offer.
//
// How the seed-000 scenarios map onto the engine's events (PSR events are
// what the extrouting adapter publishes):
//   - Agent accepts the work: RequestQueued (PSR created) → AssignWork →
//     TaskReserved (AgentWork Assigned) → AcceptTask → TaskActivated and
//     RequestRemoved reason ACCEPTED (PSR deleted).
//   - Agent declines: DeclineTask → TaskClosed DECLINED, RequestUpdated
//     reason DECLINED with LastAgent (PSR updated, LastDeclinedAgentSession,
//     IsPushed false); the agent is excluded from that request and the
//     partner sends a new AssignWork.
//   - Push time-out: the task's deadline passes (Tick) → TaskRevoked RONA,
//     the queue's RONAAction, TaskClosed RONA, RequestUpdated reason RONA
//     with LastAgent; the agent is excluded.
//   - Transfer to an external queue: RequestTransfer with Queue → a new
//     request (TransferRequested, RequestQueued with IsTransfer true: PSR
//     created with isTransfer=true) that only AssignWork assigns.
//   - Transfer to an agent directly: RequestTransfer with TargetAgent (and
//     no Queue, or an external one) → the engine offers the new request to
//     that agent at once (TransferRequested, RequestQueued with IsTransfer
//     true and TargetAgent set, TaskReserved): the agent was chosen by the
//     requester, so the partner has nothing to route (adapters publish no
//     PSR for a RequestQueued that names a TargetAgent). The target must be
//     assignable now (the AssignWork rules), else NOT_ELIGIBLE. A decline or
//     push time-out excludes the target; nobody else may take the request,
//     which then waits until its TTL ends it (EXPIRED, TransferFailed), as
//     for an internal direct transfer. There is never a pending request to
//     delete when the transfer is made: RequestTransfer needs the
//     requester ACTIVE and no pending request (REQUEST_PENDING).
//   - "We don't support using both external routing and Omni-Channel
//     routing in the same implementation. Transfer scenarios between
//     external routing queues and Omni-Channel queues also aren't
//     supported": RequestTransfer to a queue whose mode differs from the
//     conversation's current queue's is refused with MIXED_ROUTING.

// AssignWork: the partner router assigns a QUEUED request of an external
// queue to an agent (seed 000 "Partner creates AgentWork using the PSR";
// Salesforce AgentWork create {ServiceChannelId, WorkItemId, UserId,
// PendingServiceRoutingId}). The request is offered to Agent exactly as an
// internal offer (TaskReserved, MRD state changes), with Task as the task
// id (the AgentWork id) and a RONA deadline of PushTimeout after now when
// PushTimeout > 0, else the queue's RONATimeout (else DefaultRONATimeout).
// DeclineTask, the deadline (Tick) and AcceptTask then behave as for an
// internal queue: decline and push time-out re-queue the request at its
// position (RequestUpdated reason DECLINED or RONA, LastAgent the agent)
// and exclude the agent; accept removes it (RequestRemoved ACCEPTED).
//
// Errors, in the order they are checked: INVALID_ARGUMENT (task id empty,
// over MaxIDLength, not UTF-8 or with a control character; pushTimeout
// outside 0..MaxDuration), REQUEST_NOT_FOUND (no such live request),
// NOT_EXTERNAL (its queue is internal: the engine routes it),
// INVALID_TRANSITION (the request is OFFERED already), ALREADY_EXISTS
// (an open task has the id Task), AGENT_NOT_FOUND, NOT_ELIGIBLE (the
// message names the rule: no capacity on the queue's MRD, agent not READY,
// MRD not READY or ACTIVE with room, agent excluded for this request after
// a decline or push time-out, request meant for another agent, agent
// already in the conversation).
//
// Task ids are unique among open tasks; the engine's own ids (task-N) skip
// any id a partner took.
type AssignWork struct {
	// Request is the QUEUED request (the PSR).
	Request string `json:"request"`
	// Agent is the agent the partner chose (AgentWork.UserId).
	Agent string `json:"agent"`
	// Task is the new task's id, chosen by the caller (AgentWork Id),
	// 1..MaxIDLength bytes.
	Task string `json:"task"`
	// PushTimeout is how long the offer waits for accept before it times
	// out (nanoseconds in JSON; 0: the queue's RONA timeout).
	PushTimeout time.Duration `json:"pushTimeout,omitempty"`
}

// CommandName implements Command.
func (AssignWork) CommandName() string { return "AssignWork" }

func (s *State) assignWork(c AssignWork) *Error {
	if err := checkID("task", c.Task); err != nil {
		return err
	}
	if err := checkDuration("pushTimeout", c.PushTimeout); err != nil {
		return err
	}
	r, ok := s.requests[c.Request]
	if !ok {
		return errf(CodeRequestNotFound, "request %q does not exist or has ended", c.Request)
	}
	q := r.queue
	if q.def.Mode != External {
		return errf(CodeNotExternal, "request %q is in queue %q, which the engine routes (mode %s)", r.id, q.def.ID, q.def.Mode)
	}
	if r.state != RequestQueuedState {
		return errf(CodeInvalidTransition, "request %q is %s; only a QUEUED request can be assigned", r.id, r.state)
	}
	if _, ok := s.tasks[c.Task]; ok {
		return errf(CodeAlreadyExists, "task %q already exists", c.Task)
	}
	a, ok := s.agents[c.Agent]
	if !ok {
		return errf(CodeAgentNotFound, "agent %q does not exist", c.Agent)
	}
	am, err := s.assignable(a, r)
	if err != nil {
		return err
	}
	rona := c.PushTimeout
	if rona == 0 {
		rona = ronaTimeout(q)
	}
	s.offerTask(r, am, c.Task, rona)
	return nil
}

// assignable checks that the partner (AssignWork) or a direct transfer may
// give r to a now: capacity on r's MRD, a READY agent whose MRD is READY
// or ACTIVE with room (the availability internal routing uses), and r's
// own rules (target, exclusions, not already in the conversation).
// Membership and skills are the partner's business.
func (s *State) assignable(a *agentRT, r *request) (*agentMRD, *Error) {
	q := r.queue
	id := a.def.ID
	am := a.mrds[q.def.MRD]
	switch {
	case am == nil || am.capacity <= 0:
		return nil, errf(CodeNotEligible, "agent %q has no capacity on mrd %q", id, q.def.MRD)
	case a.state != AgentReady:
		return nil, errf(CodeNotEligible, "agent %q is %s, not READY", id, a.state)
	case am.state != MRDReady && am.state != MRDActive:
		return nil, errf(CodeNotEligible, "agent %q is %s on mrd %q, not READY or ACTIVE", id, am.state, q.def.MRD)
	case am.load >= am.capacity:
		return nil, errf(CodeNotEligible, "agent %q is at capacity %d on mrd %q", id, am.capacity, q.def.MRD)
	case !a.fits(r.conv.weight):
		return nil, errf(CodeNotEligible, "agent %q has %d of %d capacity units free; conversation %q weighs %d",
			id, a.def.CapacityUnits-a.used, a.def.CapacityUnits, r.conv.id, r.conv.weight)
	case r.excludes(id):
		return nil, errf(CodeNotEligible, "agent %q declined or let request %q time out before", id, r.id)
	case r.target != "" && r.target != id:
		return nil, errf(CodeNotEligible, "request %q is for agent %q only", r.id, r.target)
	case r.conv.involves(a):
		return nil, errf(CodeNotEligible, "agent %q is already in conversation %q", id, r.conv.id)
	}
	return am, nil
}
