package routing

import "slices"

// DisconnectedReasonCode is the built-in NOT_READY reason code the engine
// applies to an agent whose desk connection was lost for longer than the
// adapter's grace period (AgentDisconnected). Like RONAReasonCode it exists
// in every State (New adds it) and may be renamed with UpsertReasonCode.
const DisconnectedReasonCode = "DISCONNECTED"

// ReasonAgentDisconnected closes a RESERVED task whose agent lost its desk
// connection (AgentDisconnected). A distinct reason rather than CANCELLED:
// the conversation was not cancelled, only this offer, and reports should
// tell a lost connection from a customer who gave up.
const ReasonAgentDisconnected CloseReason = "AGENT_DISCONNECTED"

// AgentDisconnected: the agent's desk connection is gone for good (the
// adapter's grace period passed with no socket left; agentdesk
// Options.DisconnectGrace). The engine then
//
//   - sets a READY agent NOT_READY with reason DisconnectedReasonCode before
//     anything else, so freed capacity never shows READY (like RONA); an
//     agent already NOT_READY keeps its own reason, a LOGOUT agent stays
//     LOGOUT;
//   - revokes every RESERVED task (TaskRevoked and TaskClosed with reason
//     AGENT_DISCONNECTED) and puts its request back in its queue at its
//     original position (RequestUpdated reason AGENT_DISCONNECTED), without
//     excluding the agent: a lost connection is not a refusal;
//   - releases every hold (HoldReleased AGENT_DISCONNECTED) and puts its
//     request back in its queue at its position (RequestUpdated
//     AGENT_DISCONNECTED), agent not excluded, no attempt counted (hold.go);
//   - keeps ACTIVE and WRAP_UP work: the customer is still talking to this
//     agent, who may come back; a supervisor or the agent's LOGOUT decides;
//   - takes a supervisor out of every conversation it supervises
//     (ParticipantLeft each, conversation id order), as LOGOUT does: a
//     monitor without a desk watches nothing.
//
// An agent with nothing to change yields no events and no error (the
// adapter may send it twice). Errors: CodeAgentNotFound.
type AgentDisconnected struct {
	Agent string `json:"agent"`
}

// CommandName implements Command.
func (AgentDisconnected) CommandName() string { return "AgentDisconnected" }

func (s *State) agentDisconnected(c AgentDisconnected) *Error {
	a, ok := s.agents[c.Agent]
	if !ok {
		return errf(CodeAgentNotFound, "agent %q does not exist", c.Agent)
	}
	if a.state == AgentReady {
		s.changeAgentState(a, AgentNotReady, DisconnectedReasonCode)
	}
	for _, t := range slices.Clone(a.tasks) {
		if t.state != TaskReservedState {
			continue
		}
		r := t.req
		s.revoke(t, ReasonAgentDisconnected)
		s.requeue(r, ReasonAgentDisconnected, a.def.ID, false)
	}
	s.holdLeft(a, ReasonAgentDisconnected) // hold.go
	s.leaveSupervised(a)                   // participants.go
	return nil
}
