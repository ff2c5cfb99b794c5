package routing

import (
	"encoding/json"
	"maps"
	"slices"
	"time"
)

// Agent holds: delayed callbacks that wait for the customer's confirmation
// (seed 003 "GMS Chat Delayed": Start Callback → agent available → device
// notified → Connect → Initiate Chat → the chat goes to the reserved
// target).
//
// A request created with CreateConversation.Hold > 0 is a callback. It
// waits in its queue like any request (same position rules, same TTL).
// When the engine would offer it to an agent (same eligibility, same
// strategy, same priority/FIFO order as an offer), it holds that agent
// instead:
//
//   - the agent's capacity on the queue's MRD counts one more load unit
//     (MRD state ACTIVE or BUSY accordingly, exactly as for a RESERVED
//     task) until now+Hold; no task exists and there is no RONA;
//   - the request leaves the waiting tree and is HELD (RequestHeldState);
//     State.Position reports 0, as for an OFFERED request;
//   - AgentHeld is emitted: the GMS adapter notifies the device
//     (service.agentavailable.<id>, seed 003 "notifies mobile device that
//     agent is available"). Connect (the chat URL) needs no engine command.
//
// ConfirmHold is "Initiate Chat": the chat goes to the held agent
// (HoldReleased CONFIRMED, then TaskReserved with the queue's RONA
// timeout; the hold's load unit becomes the task's without ever being
// free, so nobody else can take it in between). The held agent gets the
// offer even if it went NOT_READY meanwhile: the hold was a reservation,
// as a RESERVED task survives NOT_READY. From then on the request is a
// normal one: a decline or RONA re-queues it and it is offered, never held.
//
// The hold's deadline (Tick at or after it) releases the hold
// (HoldReleased EXPIRED), frees the capacity and counts an attempt; the
// agent is not excluded (the customer did not answer, the agent did
// nothing wrong). While attempts < HoldAttempts (0 means 1) the request
// waits again at its original position (RequestUpdated reason
// HOLD_EXPIRED, LastAgent the agent) and the next available agent may be
// held; a ConfirmHold meanwhile marks it confirmed and it is offered (not
// held) as soon as an agent is available. The last expiry ends the
// callback: RequestRemoved UNCONFIRMED, ConversationClosed UNCONFIRMED
// (counted in the queue's Cancelled).
//
// Other ends of a hold, each followed by what the command does today:
//   - AbandonConversation, CloseConversation, CustomerLeft: HoldReleased
//     CANCELLED, then the request is removed and the conversation closes.
//   - The held agent goes LOGOUT: HoldReleased AGENT_LOGOUT, the request
//     waits again at its position (RequestUpdated AGENT_LOGOUT); no attempt
//     is counted and the agent is not excluded.
//   - AgentDisconnected: the same with AGENT_DISCONNECTED.
//
// A HELD request does not expire by TTL while held (like an OFFERED one):
// if the TTL passed when the hold expires (or its agent logs out) and the
// callback has attempts left, it expires then (RequestRemoved EXPIRED,
// ConversationClosed NO_AGENT_AVAILABLE).
//
// Only the customer's own request holds: a request re-created after the
// last agent dropped the conversation (REROUTE) and transfer or conference
// requests are normal requests. External queues (seed 000) never hold: the
// engine does no matching there, and AssignWork offers a callback of an
// external queue at once, as any request (a ConfirmHold on it only marks it
// confirmed).

// RequestHeldState: the request holds an agent's capacity while it waits
// for the customer's confirmation (ConfirmHold).
const RequestHeldState RequestState = "HELD"

// Close reasons of holds.
const (
	// ReasonConfirmed: HoldReleased after ConfirmHold.
	ReasonConfirmed CloseReason = "CONFIRMED"
	// ReasonHoldExpired: RequestUpdated of a callback waiting again after
	// its hold expired.
	ReasonHoldExpired CloseReason = "HOLD_EXPIRED"
	// ReasonUnconfirmed: the callback's last hold expired unconfirmed
	// (RequestRemoved, ConversationClosed).
	ReasonUnconfirmed CloseReason = "UNCONFIRMED"
)

// MaxHoldAttempts bounds CreateConversation.HoldAttempts.
const MaxHoldAttempts = 100

// ConfirmHold: the customer initiated the chat of a callback (seed 003
// "Initiate Chat": "Callback service: Reserves target to route chat
// interaction. Routes the chat interaction to the target").
//
//   - HELD: the hold ends (HoldReleased reason CONFIRMED) and the held agent
//     is offered the request at once (TaskReserved, deadline now + the
//     queue's RONA timeout).
//   - QUEUED (a hold expired before, or none was made yet): the request is
//     marked confirmed, keeps its original position and is offered (not
//     held) as soon as an agent is available, in this command if one is.
//     This emits no event of its own; Request.Confirmed shows it.
//
// Errors: REQUEST_NOT_FOUND (no live request with this id);
// INVALID_TRANSITION (the request is not a callback, is already confirmed,
// or is OFFERED).
type ConfirmHold struct {
	Request string `json:"request"`
	// Customer, when set, replaces the conversation's customer (a JSON
	// object, MaxCustomerBytes) and Attributes are added to its attributes
	// (same name: replaced; MaxAttributes in all), before the offer: seed
	// 003's Create Chat Interaction sends firstName, lastName, email and
	// subject only at this step, and the agent must see them.
	Customer   json.RawMessage   `json:"customer,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// CommandName implements Command.
func (ConfirmHold) CommandName() string { return "ConfirmHold" }

// AgentHeld: the engine holds Agent's capacity on MRD for the callback
// Request until Deadline (seed 003: "When an agent is available, notifies
// mobile device that agent is available"; the GMS adapter publishes
// service.agentavailable.<id>). No task exists while held.
type AgentHeld struct {
	Request      string    `json:"request"`
	Conversation string    `json:"conversation"`
	Agent        string    `json:"agent"`
	Queue        string    `json:"queue"`
	MRD          string    `json:"mrd"`
	Deadline     time.Time `json:"deadline"`
	At           time.Time `json:"at"`
}

// HoldReleased: a hold ended. Reason: CONFIRMED (ConfirmHold; a
// TaskReserved to the same agent follows), EXPIRED (the deadline passed),
// CANCELLED (abandon, close, customer left), AGENT_LOGOUT or
// AGENT_DISCONNECTED (the held agent left).
type HoldReleased struct {
	Request      string      `json:"request"`
	Conversation string      `json:"conversation"`
	Agent        string      `json:"agent"`
	Reason       CloseReason `json:"reason"`
	At           time.Time   `json:"at"`
}

// EventName implementations.
func (AgentHeld) EventName() string    { return "AgentHeld" }
func (HoldReleased) EventName() string { return "HoldReleased" }

// holds says whether r is held when matched rather than offered.
func (r *request) holds() bool {
	return r.hold > 0 && !r.confirmed && r.kind == "" && r.queue.def.Mode != External
}

// holdAgent holds am's capacity for the waiting request r until now+hold.
func (s *State) holdAgent(r *request, am *agentMRD) {
	q := r.queue
	s.delWaiting(r)
	r.state = RequestHeldState
	r.held = am
	r.holdDeadline = s.now.Add(r.hold)
	s.addDeadline(r.holdDeadline, deadlineHold, r.id)
	a := am.agent
	a.holds = insertHold(a.holds, r)
	am.take(r.conv.weight)
	am.lastOffer = s.now
	s.emit(AgentHeld{Request: r.id, Conversation: r.conv.id, Agent: a.def.ID, Queue: q.def.ID, MRD: q.def.MRD,
		Deadline: r.holdDeadline, At: s.now})
	s.refreshAgent(a)
}

// insertHold adds r to hs, kept sorted by request id.
func insertHold(hs []*request, r *request) []*request {
	i, _ := slices.BinarySearchFunc(hs, r.id, func(x *request, id string) int {
		switch {
		case x.id < id:
			return -1
		case x.id > id:
			return 1
		}
		return 0
	})
	return slices.Insert(hs, i, r)
}

// unhold ends r's hold: HoldReleased with reason and the deadline
// dropped. r stays HELD (out of the waiting tree) until the caller moves
// it on: removed, waiting again (requeue) or offered (reserve). The load
// unit is freed unless keep (ConfirmHold hands it to the task).
func (s *State) unhold(r *request, reason CloseReason, keep bool) *agentMRD {
	am := r.held
	s.removeDeadline(r.holdDeadline, deadlineHold, r.id)
	am.agent.holds = slices.DeleteFunc(am.agent.holds, func(x *request) bool { return x == r })
	r.held = nil
	r.holdDeadline = time.Time{}
	s.emit(HoldReleased{Request: r.id, Conversation: r.conv.id, Agent: am.agent.def.ID, Reason: reason, At: s.now})
	if !keep {
		s.release(am, r.conv.weight)
		s.refreshAgent(am.agent)
	}
	return am
}

// releaseHold ends a HELD request's hold for a cancelled conversation; the
// caller removes the request. r must be HELD.
func (s *State) releaseHold(r *request, reason CloseReason) {
	s.unhold(r, reason, false)
}

// holdLeft ends the holds of agent a, who left (LOGOUT, lost desk): each
// request waits again at its position, a not excluded, no attempt counted.
func (s *State) holdLeft(a *agentRT, reason CloseReason) {
	for _, r := range slices.Clone(a.holds) {
		s.unhold(r, reason, false)
		s.rewait(r, reason, a.def.ID)
	}
}

// rewait puts a request whose hold just ended back in its queue at its
// original position (RequestUpdated), or expires it when its TTL passed.
func (s *State) rewait(r *request, reason CloseReason, agent string) {
	s.requeue(r, reason, agent, false)
}

// expireHold fires r's hold deadline.
func (s *State) expireHold(r *request) {
	am := s.unhold(r, ReasonExpired, false)
	r.holdExpired++
	if r.holdExpired < holdAttempts(r.holdAttempts) {
		s.rewait(r, ReasonHoldExpired, am.agent.def.ID)
		return
	}
	r.queue.stats.Cancelled++
	s.removeRequest(r, ReasonUnconfirmed)
	s.closeConversation(r.conv, ReasonUnconfirmed)
}

// holdAttempts is the number of holds a callback may let expire.
func holdAttempts(n int) int {
	if n <= 0 {
		return 1
	}
	return n
}

func (s *State) confirmHold(c ConfirmHold) *Error {
	r, ok := s.requests[c.Request]
	if !ok {
		return errf(CodeRequestNotFound, "request %q does not exist or has ended", c.Request)
	}
	switch {
	case r.hold <= 0:
		return errf(CodeInvalidTransition, "request %q is not a callback (no hold)", r.id)
	case r.confirmed:
		return errf(CodeInvalidTransition, "request %q is already confirmed", r.id)
	case r.state == RequestOfferedState:
		return errf(CodeInvalidTransition, "request %q is OFFERED", r.id)
	}
	merged := r.conv.attrs
	if len(c.Attributes) > 0 {
		merged = maps.Clone(r.conv.attrs)
		if merged == nil {
			merged = map[string]string{}
		}
		maps.Copy(merged, c.Attributes)
	}
	if err := checkCustomer(c.Customer, merged); err != nil {
		return err
	}
	if len(c.Customer) > 0 {
		r.conv.customer = slices.Clone(c.Customer)
	}
	r.conv.attrs = merged
	r.confirmed = true
	if r.state != RequestHeldState {
		s.dirtyReqs = append(s.dirtyReqs, r) // matched now, offered not held
		return nil
	}
	am := s.unhold(r, ReasonConfirmed, true)
	// The hold's load unit becomes the task's: never free in between.
	s.release(am, r.conv.weight)
	s.reserve(r, am, s.newTaskID(), ronaTimeout(r.queue))
	return nil
}

// checkHold validates CreateConversation's hold fields.
func checkHold(c CreateConversation) *Error {
	if err := checkDuration("hold", c.Hold); err != nil {
		return err
	}
	if c.HoldAttempts < 0 || c.HoldAttempts > MaxHoldAttempts {
		return errf(CodeInvalidArgument, "holdAttempts %d is outside 0..%d", c.HoldAttempts, MaxHoldAttempts)
	}
	if c.HoldAttempts > 0 && c.Hold == 0 {
		return errf(CodeInvalidArgument, "holdAttempts needs a hold")
	}
	return nil
}
