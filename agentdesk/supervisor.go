package agentdesk

import (
	"context"
	"errors"

	"github.com/omniroute/omniroute/errcode"
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
// rules are those of the silent monitor.
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

// isSupervisor reports whether the client's agent already is a supervisor
// (in any role) of conversation.
func (c *client) isSupervisor(ctx context.Context, conversation string) (bool, error) {
	var joined bool
	err := c.srv.n.View(ctx, func(st routing.View) {
		joined = supervisorRole(st, conversation, c.agent) != ""
	})
	return joined, err
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
	if _, err := c.srv.n.Submit(ctx, routing.JoinConversation{Conversation: req.ConversationID, Agent: c.agent,
		Role: routing.RoleSilentMonitor}); err != nil {
		return c.failErr(ev, err)
	}
	return c.sendSupervisorTopic(ctx, ev, req.ConversationID)
}

// joinAsBargeIn handles JoinAsBargin and JoinAsBargeIn.
func (c *client) joinAsBargeIn(ev string, args []any) Ack {
	req, res, ok := c.supervisorCommand(ev, args)
	if !ok {
		return res
	}
	ctx, cancel := c.srv.commandCtx()
	defer cancel()
	joined, err := c.isSupervisor(ctx, req.ConversationID)
	if err != nil {
		return c.failErr(ev, err)
	}
	if !joined {
		// Join silently first, so the barge-in is one role change for
		// every participant to see.
		if _, err := c.srv.n.Submit(ctx, routing.JoinConversation{Conversation: req.ConversationID, Agent: c.agent,
			Role: routing.RoleSilentMonitor}); err != nil {
			return c.failErr(ev, err)
		}
	}
	if _, err := c.srv.n.Submit(ctx, routing.ChangeParticipantRole{Conversation: req.ConversationID, Agent: c.agent,
		Role: routing.RoleBargeIn}); err != nil {
		return c.failErr(ev, err)
	}
	if !joined {
		return c.sendSupervisorTopic(ctx, ev, req.ConversationID)
	}
	return Ack{OK: true}
}

// joinAsWhisper handles joinAsWhisper and JoinAsWhisper.
func (c *client) joinAsWhisper(ev string, args []any) Ack {
	req, res, ok := c.supervisorCommand(ev, args)
	if !ok {
		return res
	}
	ctx, cancel := c.srv.commandCtx()
	defer cancel()
	joined, err := c.isSupervisor(ctx, req.ConversationID)
	if err != nil {
		return c.failErr(ev, err)
	}
	if joined {
		if _, err := c.srv.n.Submit(ctx, routing.ChangeParticipantRole{Conversation: req.ConversationID, Agent: c.agent,
			Role: routing.RoleWhisper}); err != nil {
			return c.failErr(ev, err)
		}
		return Ack{OK: true}
	}
	if _, err := c.srv.n.Submit(ctx, routing.JoinConversation{Conversation: req.ConversationID, Agent: c.agent,
		Role: routing.RoleWhisper}); err != nil {
		return c.failErr(ev, err)
	}
	return c.sendSupervisorTopic(ctx, ev, req.ConversationID)
}

// supervisorRole is agent's supervisor role in conversation, "" if none.
func supervisorRole(st routing.View, conversation, agent string) routing.ParticipantRole {
	cv, ok := st.Conversation(conversation)
	if !ok {
		return ""
	}
	for _, p := range cv.Participants {
		if p.Task == "" && p.Agent == agent {
			return p.Role
		}
	}
	return ""
}

// sendSupervisorTopic sends onTopicData for the supervisor's place in the
// conversation to its sockets.
func (c *client) sendSupervisorTopic(ctx context.Context, ev, conversation string) Ack {
	var (
		data OnTopicData
		ok   bool
	)
	if err := c.srv.n.View(ctx, func(st routing.View) {
		data, ok = onTopicDataOf(st, c.srv.opts.CustomerKeys, "", conversation, c.agent, conversation)
	}); err != nil || !ok {
		if err == nil {
			err = &routing.Error{Code: routing.CodeConversationNotFound, Message: "conversation " + conversation + " is gone"}
		}
		return c.failErr(ev, err)
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
