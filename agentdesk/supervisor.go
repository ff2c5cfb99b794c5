package agentdesk

import (
	"context"
	"errors"

	"github.com/omniroute/omniroute/errcode"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// Supervisors (seed 004 "Silent Monitoring", "Barge In Feature";
// PROTOCOLS.md "JoinAsSilentMonitor", "joinAsWhisper / JoinAsBargeIn").
//
// JoinAsSilentMonitor -> routing.JoinConversation role SILENT_MONITOR, then
// onTopicData to the supervisor's sockets (topicParticipant.role
// SILENT_MONITOR, id "<conversation>:<supervisor>": a supervisor has no
// task). JoinAsBargin and JoinAsBargeIn (both spellings, PROTOCOLS.md) ->
// routing.ChangeParticipantRole BARGE_IN; a supervisor not yet in the
// conversation first joins as SILENT_MONITOR (and gets onTopicData), so
// every barge-in is one ParticipantRoleChanged, which reaches every
// participant (agents and supervisors) as onCimEvent PARTICIPANT_ROLE_CHANGED
// {agentId, role, previous} through the transcript (package conversation's system events).
// joinAsWhisper (PROTOCOLS.md spelling; JoinAsWhisper too) -> a supervisor
// not yet in the conversation joins with role WHISPER (one
// routing.JoinConversation, then onTopicData with topicParticipant.role
// WHISPER); one already in it changes role to WHISPER
// (routing.ChangeParticipantRole, PARTICIPANT_ROLE_CHANGED). The team
// rules are those of the silent monitor. Whether the supervisor is already
// in the conversation is not read beforehand: the role change is tried
// first and the engine's NOT_PARTICIPANT, when it runs, says to join.
// What a supervisor may publish (WHISPER_MESSAGE only while SILENT_MONITOR
// or WHISPER, every type once BARGE_IN; whispers reach the agents and
// supervisors of the conversation, never the customer) is
// conversation.MayPublish.
// Supervisor system events (joined, left, role changed) are not shown to
// the customer either: monitoring is silent.
//
// A supervisor that goes LOGOUT, or whose desk stays gone past the grace
// period (lifecycle.go, routing.AgentDisconnected), leaves every
// conversation it supervises (routing's rule). Each supervisor leave
// (topicUnsubscription_, LOGOUT, the conversation closing) reaches the
// supervisor's sockets as topicUnsubscription, reason AGENT_LOGOUT after a
// LOGOUT, DONE otherwise (dispatch.go supervisorLeft).
//
// The engine decides who may join: role supervisor (else NOT_SUPERVISOR),
// a team shared with the conversation's PRIMARY agent (TEAM_MISMATCH), an
// ACTIVE push-mode chat (NOT_MONITORABLE), known conversation
// (CONVERSATION_NOT_FOUND), not already in it (ALREADY_EXISTS). Every
// refusal is an errors event to the requesting socket and changes nothing.
// topicUnsubscription_ from a supervisor without a task leaves
// (routing.LeaveConversation) and answers topicUnsubscription.

// Event names of this file.
const (
	// EventJoinAsSilentMonitor: desk -> server, a supervisor joins silently.
	EventJoinAsSilentMonitor = "JoinAsSilentMonitor"
	// EventJoinAsBargin: desk -> server, barge in (the seed's spelling).
	EventJoinAsBargin = "JoinAsBargin"
	// EventJoinAsBargeIn: desk -> server, barge in (the documentation's spelling).
	EventJoinAsBargeIn = "JoinAsBargeIn"
	// EventJoinAsWhisper: desk -> server, join (or switch) as WHISPER
	// (PROTOCOLS.md's spelling).
	EventJoinAsWhisper = "joinAsWhisper"
	// EventJoinAsWhisperCap: the same, capitalised like its siblings.
	EventJoinAsWhisperCap = "JoinAsWhisper"
)

// supervisorParticipantID is the topicParticipant id of a supervisor.
func supervisorParticipantID(conversation, agent string) string {
	return conversation + ":" + agent
}

// supervisorRequest is a decoded JoinAsSilentMonitor, JoinAs{Bargin,BargeIn}
// or joinAsWhisper.
type supervisorRequest struct {
	ConversationID string
	// AgentID is the payload's agentId (the supervisor; "" when absent).
	AgentID string
}

// decodeSupervisorRequest decodes
//
//	JoinAsSilentMonitor: {"topicParticipant":{"topicId",...},"agentId","channelSession":{"conversationId"},"conversationId"}
//	JoinAsBargeIn:       {"participantId","conversationId","roomInfo":{"id"},"agentId"}
//	joinAsWhisper:       {"participantId","conversationId","roomInfo":{"id"},"agentId"}
//
// (PROTOCOLS.md). The conversation is the first of conversationId,
// roomInfo.id, topicParticipant.topicId, channelSession.conversationId,
// channelSession.id; it is required. participantId and other fields are
// ignored (the socket says who the supervisor is).
func decodeSupervisorRequest(event string, args []any) (supervisorRequest, *errcode.FieldError) {
	var r supervisorRequest
	p, err := object(event, args)
	if err != nil {
		return r, err
	}
	if r.AgentID, err = p.id(p.m, "", "agentId"); err != nil {
		return r, err
	}
	if _, err = p.id(p.m, "", "participantId"); err != nil {
		return r, err
	}
	if r.ConversationID, err = p.id(p.m, "", "conversationId"); err != nil {
		return r, err
	}
	if err = p.fallbackID(&r.ConversationID,
		idSource{"roomInfo", "id"}, idSource{"topicParticipant", "topicId"},
		idSource{"channelSession", "conversationId"}, idSource{"channelSession", "id"}); err != nil {
		return r, err
	}
	if r.ConversationID == "" {
		return r, decodeErr(event, CodeMissingField, "conversationId", "is required (or roomInfo.id, topicParticipant.topicId)")
	}
	return r, nil
}

// supervisorCommand decodes the supervisor command ev and checks its
// agentId against the socket's agent. When ok is false, res is the failure
// to answer.
func (c *client) supervisorCommand(ev string, args []any) (req supervisorRequest, res Ack, ok bool) {
	req, derr := decodeSupervisorRequest(ev, args)
	if derr != nil {
		return req, c.failErr(ev, derr), false
	}
	if res, ok := c.checkAgent(ev, req.AgentID); !ok {
		return req, res, false
	}
	return req, Ack{}, true
}

// joinAsSilentMonitor handles JoinAsSilentMonitor.
func (c *client) joinAsSilentMonitor(args []any) Ack {
	const ev = EventJoinAsSilentMonitor
	req, res, ok := c.supervisorCommand(ev, args)
	if !ok {
		return res
	}
	ctx, cancel := c.srv.commandCtx()
	defer cancel()
	return c.submitWithTopic(ctx, ev, req.ConversationID, routing.JoinConversation{Conversation: req.ConversationID, Agent: c.agent,
		Role: routing.RoleSilentMonitor})
}

// joinAsBargeIn handles JoinAsBargin and JoinAsBargeIn.
func (c *client) joinAsBargeIn(ev string, args []any) Ack {
	req, res, ok := c.supervisorCommand(ev, args)
	if !ok {
		return res
	}
	ctx, cancel := c.srv.commandCtx()
	defer cancel()
	joined, err := c.changeRole(ctx, req.ConversationID, routing.RoleBargeIn)
	switch {
	case err != nil:
		return c.failErr(ev, err)
	case joined:
		return Ack{OK: true}
	}
	// Join silently first, so the barge-in is one role change for every
	// participant to see.
	if _, err := c.srv.n.Submit(ctx, routing.JoinConversation{Conversation: req.ConversationID, Agent: c.agent,
		Role: routing.RoleSilentMonitor}); err != nil {
		return c.failErr(ev, err)
	}
	return c.submitWithTopic(ctx, ev, req.ConversationID, routing.ChangeParticipantRole{Conversation: req.ConversationID,
		Agent: c.agent, Role: routing.RoleBargeIn})
}

// joinAsWhisper handles joinAsWhisper and JoinAsWhisper.
func (c *client) joinAsWhisper(ev string, args []any) Ack {
	req, res, ok := c.supervisorCommand(ev, args)
	if !ok {
		return res
	}
	ctx, cancel := c.srv.commandCtx()
	defer cancel()
	joined, err := c.changeRole(ctx, req.ConversationID, routing.RoleWhisper)
	switch {
	case err != nil:
		return c.failErr(ev, err)
	case joined:
		return Ack{OK: true}
	}
	return c.submitWithTopic(ctx, ev, req.ConversationID, routing.JoinConversation{Conversation: req.ConversationID, Agent: c.agent,
		Role: routing.RoleWhisper})
}

// changeRole switches the client's agent, a supervisor participant of
// conversation, to role. The engine decides whether it is one when the
// command runs: joined is false when it refuses NOT_PARTICIPANT or
// CONVERSATION_NOT_FOUND (nothing changed; the caller joins instead, and
// answers JoinConversation's refusals, which check the agent before the
// conversation). err is any other failure.
func (c *client) changeRole(ctx context.Context, conversation string, role routing.ParticipantRole) (joined bool, err error) {
	_, err = c.srv.n.Submit(ctx, routing.ChangeParticipantRole{Conversation: conversation, Agent: c.agent, Role: role})
	var re *routing.Error
	if errors.As(err, &re) && (re.Code == routing.CodeNotParticipant || re.Code == routing.CodeConversationNotFound) {
		return false, nil
	}
	return true, err
}

// submitWithTopic applies cmd (a join, or the role change that ends one)
// and sends onTopicData for the supervisor's place in the conversation, as
// the command left it (read in its writer turn), to its sockets.
func (c *client) submitWithTopic(ctx context.Context, ev, conversation string, cmd routing.Command) Ack {
	var (
		data OnTopicData
		ok   bool
	)
	if _, err := c.srv.n.SubmitWith(ctx, cmd, node.Reads{After: func(st routing.View, _ []routing.Event) {
		data, ok = onTopicDataOf(st, c.srv.opts.CustomerKeys, "", conversation, c.agent, conversation)
	}}); err != nil {
		return c.failErr(ev, err)
	}
	if !ok {
		return c.failErr(ev, &routing.Error{Code: routing.CodeConversationNotFound, Message: "conversation " + conversation + " is gone"})
	}
	data.TaskID = ""
	data.TopicData.TopicEvents = c.srv.topicEvents(ctx, conversation) // cim.go: the transcript, whole
	c.srv.toAgent(c.agent, EventOnTopicData, data)
	return Ack{OK: true}
}

// leaveAsSupervisor runs for topicUnsubscription_ when the agent has no
// task on the conversation: a supervisor in it leaves
// (routing.LeaveConversation); its topicUnsubscription (reason DONE) comes
// from the ParticipantLeft (dispatch.go supervisorLeft). It returns false
// when the agent is no supervisor of the conversation (the caller reports
// its own error).
func (c *client) leaveAsSupervisor(ctx context.Context, conversation string) bool {
	if _, err := c.srv.n.Submit(ctx, routing.LeaveConversation{Conversation: conversation, Agent: c.agent}); err != nil {
		var re *routing.Error
		if !errors.As(err, &re) {
			c.srv.log.Warn("agentdesk: leave as supervisor failed", "agent", c.agent, "err", err)
		}
		return false
	}
	return true
}

// supervisorLeft is the topicUnsubscription a supervisor gets when it
// left conversation (ParticipantLeft without a task), for reason.
func supervisorLeft(conversation, agent string, reason routing.CloseReason) TopicUnsubscription {
	return TopicUnsubscription{
		Task:           EventTopicUnsubscription,
		ConversationID: conversation,
		StatusCode:     200,
		RoomInfo:       RoomInfo{ID: conversation, Mode: roomModeContactCenter},
		Reason:         string(reason),
		TaskID:         supervisorParticipantID(conversation, agent),
	}
}
