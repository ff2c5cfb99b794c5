package agentdesk

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/omniroute/omniroute/errcode"
	"github.com/omniroute/omniroute/routing"
)

// Transfer and conference to a queue or an agent (seed 004 "Reroute Chat
// Requests to Queues"; PROTOCOLS.md "direct{Conference,Transfer}Request").
//
// directTransferRequest / directConferenceRequest -> routing.RequestTransfer.
// The requester stays in the conversation until an agent accepts; the
// offered agent gets a taskRequest whose taskDirection is DIRECT_TRANSFER
// or DIRECT_CONFERENCE, note the requester's note and requestedBy the
// requester (a CCUser). On accept, a transfer's requester gets
// topicUnsubscription with reason TRANSFERRED; a request that finds nobody
// before its TTL gives the requester an onCimEvent NO_AGENT_AVAILABLE
// (wrapup.go, participantDeskEvents).

// Event names of this file.
const (
	// EventDirectTransferRequest: desk -> server, a transfer request.
	EventDirectTransferRequest = "directTransferRequest"
	// EventDirectConferenceRequest: desk -> server, a conference request.
	EventDirectConferenceRequest = "directConferenceRequest"
)

// Task directions of taskRequest.taskDirection (ExpertFlow object model
// enum TaskTypeDirection).
const (
	TaskDirectionInbound          = "INBOUND"
	TaskDirectionDirectTransfer   = "DIRECT_TRANSFER"
	TaskDirectionDirectConference = "DIRECT_CONFERENCE"
)

// Transfer modes of the desk payload (ExpertFlow TaskTypeMode, in either case).
const (
	transferModeQueue = "queue"
	transferModeAgent = "agent"
)

// directRequest is a decoded directTransferRequest or directConferenceRequest.
type directRequest struct {
	ConversationID string
	AgentID        string
	// TaskID is the requester's task (taskId, or agentParticipant.id of a
	// topicParticipant; "": the agent's ACTIVE task on the conversation).
	TaskID string
	// TaskField is the field TaskID came from ("taskId", "agentParticipant.id").
	TaskField string
	// ParticipantAgent is the agent agentParticipant names (a CCUser's id,
	// a topicParticipant's participant.id), at ParticipantField.
	ParticipantAgent, ParticipantField string
	// ParticipantRef is agentParticipant.id when the object says neither
	// (a bare {"id"}): the requester's agent id or its task id, resolved by
	// the handler.
	ParticipantRef string
	// Mode is transferModeQueue or transferModeAgent.
	Mode             string
	QueueID          string
	QueueName        string
	RequestedAgentID string
	Note             string
}

// decodeDirectRequest decodes
//
//	{"channelSession":{"conversationId",...},"agentParticipant":{"id",...},"mode":"queue"|"agent",
//	 "queueId"|"queueName","requestedAgentId","offerToAgent","note","conversationId","agentId","taskId"}
//
// (PROTOCOLS.md). The conversation is conversationId, else
// channelSession.conversationId, else channelSession.id (required). mode
// is required (queue or agent, any case); mode queue needs queueId or
// queueName (queue.id / queue.name objects are accepted too), mode agent
// needs requestedAgentId (a queue is then optional). note is at most
// routing.MaxNoteBytes. offerToAgent and other fields are ignored.
func decodeDirectRequest(event string, args []any) (directRequest, *errcode.FieldError) {
	var r directRequest
	p, err := object(event, args)
	if err != nil {
		return r, err
	}
	if r.ConversationID, err = p.id(p.m, "", "conversationId"); err != nil {
		return r, err
	}
	if err = p.fallbackID(&r.ConversationID,
		idSource{"channelSession", "conversationId"}, idSource{"channelSession", "id"}); err != nil {
		return r, err
	}
	if r.ConversationID == "" {
		return r, decodeErr(event, CodeMissingField, "conversationId", "is required (or channelSession.conversationId)")
	}
	if r.AgentID, err = p.id(p.m, "", "agentId"); err != nil {
		return r, err
	}
	if r.TaskID, err = p.id(p.m, "", "taskId"); err != nil {
		return r, err
	}
	if r.TaskID != "" {
		r.TaskField = "taskId"
	}
	if err = decodeAgentParticipant(p, &r); err != nil {
		return r, err
	}
	mode, err := p.required(p.m, "", "mode", maxEnumBytes)
	if err != nil {
		return r, err
	}
	switch r.Mode = strings.ToLower(mode); r.Mode {
	case transferModeQueue, transferModeAgent:
	default:
		return r, decodeErr(event, CodeInvalidField, "mode", "must be queue or agent, not %q", mode)
	}
	if r.QueueID, err = p.id(p.m, "", "queueId"); err != nil {
		return r, err
	}
	if r.QueueName, err = p.str(p.m, "", "queueName", routing.MaxNameLength); err != nil {
		return r, err
	}
	if q, err := p.obj(p.m, "", "queue"); err != nil {
		return r, err
	} else if q != nil && r.QueueID == "" && r.QueueName == "" {
		if r.QueueID, err = p.id(q, "queue", "id"); err != nil {
			return r, err
		}
		if r.QueueName, err = p.str(q, "queue", "name", routing.MaxNameLength); err != nil {
			return r, err
		}
	}
	if r.RequestedAgentID, err = p.id(p.m, "", "requestedAgentId"); err != nil {
		return r, err
	}
	if r.Note, err = p.str(p.m, "", "note", routing.MaxNoteBytes); err != nil {
		return r, err
	}
	switch {
	case r.Mode == transferModeQueue && r.QueueID == "" && r.QueueName == "":
		return r, decodeErr(event, CodeMissingField, "queueId", "is required in mode queue (or queueName)")
	case r.Mode == transferModeAgent && r.RequestedAgentID == "":
		return r, decodeErr(event, CodeMissingField, "requestedAgentId", "is required in mode agent")
	}
	return r, nil
}

// decodeAgentParticipant reads agentParticipant in the forms ExpertFlow
// desks send (PROTOCOLS.md):
//
//	topicParticipant (from onTopicData): {"id": <task id>, "type": "AGENT", "participant": {CCUser}, "role", ...}
//	the agent (a CCUser): {"participantType": "CCUser", "id": <agent id>, "keycloakUser", ...}
//	a bare {"id"}: the agent id or the task id (the handler tells them apart)
//
// It is optional; a taskId field wins over its task id.
func decodeAgentParticipant(p payload, r *directRequest) *errcode.FieldError {
	const f = "agentParticipant"
	ap, err := p.obj(p.m, "", f)
	if err != nil || ap == nil {
		return err
	}
	id, err := p.id(ap, f, "id")
	if err != nil {
		return err
	}
	inner, err := p.obj(ap, f, "participant")
	if err != nil {
		return err
	}
	kc, err := p.obj(ap, f, "keycloakUser")
	if err != nil {
		return err
	}
	pt, err := p.str(ap, f, "participantType", maxEnumBytes)
	if err != nil {
		return err
	}
	switch {
	case inner != nil: // a topicParticipant
		if r.ParticipantAgent, err = p.id(inner, f+".participant", "id"); err != nil {
			return err
		}
		r.ParticipantField = f + ".participant.id"
		if r.TaskID == "" && id != "" {
			r.TaskID, r.TaskField = id, f+".id"
		}
	case kc != nil || strings.EqualFold(pt, "CCUser"): // the agent
		r.ParticipantAgent, r.ParticipantField = id, f+".id"
		if r.ParticipantAgent == "" {
			if r.ParticipantAgent, err = p.id(kc, f+".keycloakUser", "id"); err != nil {
				return err
			}
			r.ParticipantField = f + ".keycloakUser.id"
		}
	default:
		r.ParticipantRef = id
	}
	return nil
}

// resolveParticipant checks the agent agentParticipant names against the
// socket's agent and turns a bare agentParticipant.id into the agent (when
// it is the socket's agent id) or the task id. A refusal names the field
// and what it must hold.
func (c *client) resolveParticipant(ev string, req *directRequest) (Ack, bool) {
	if a := req.ParticipantAgent; a != "" && a != c.agent {
		return c.refuse(ev, nil, ErrorEvent{Code: CodeForbidden, Field: req.ParticipantField,
			Message: "names agent " + strconv.Quote(a) + "; it must be the agent of this connection, " + strconv.Quote(c.agent)}), false
	}
	if ref := req.ParticipantRef; ref != "" && ref != c.agent && req.TaskID == "" {
		req.TaskID, req.TaskField = ref, "agentParticipant.id"
	}
	return Ack{}, true
}

// transferSeq numbers the request ids this process makes.
var transferSeq atomic.Uint64

// newTransferRequestID returns a routing request id for a transfer or
// conference: unique in this process, and across restarts by its clock part.
func newTransferRequestID() string {
	return "xfer-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatUint(transferSeq.Add(1), 36)
}

// directTransferRequest handles directTransferRequest.
func (c *client) directTransferRequest(args []any) Ack {
	return c.directRequest(EventDirectTransferRequest, routing.TransferModeTransfer, args)
}

// directConferenceRequest handles directConferenceRequest.
func (c *client) directConferenceRequest(args []any) Ack {
	return c.directRequest(EventDirectConferenceRequest, routing.TransferModeConference, args)
}

// directRequest resolves the requester's ACTIVE task and the queue (by id,
// else by name, else, in mode agent, the conversation's queue) and submits
// routing.RequestTransfer. Refusals get an errors event: field-error codes,
// FORBIDDEN (agentId of another agent), CONVERSATION_NOT_FOUND,
// TASK_NOT_FOUND, NOT_TASK_OWNER, QUEUE_NOT_FOUND, and the routing codes
// of RequestTransfer (REQUEST_PENDING, NOT_ELIGIBLE, AGENT_NOT_FOUND,
// ALREADY_EXISTS, INVALID_ARGUMENT, INVALID_TRANSITION).
func (c *client) directRequest(ev string, mode routing.TransferMode, args []any) Ack {
	req, derr := decodeDirectRequest(ev, args)
	if derr != nil {
		return c.failErr(ev, derr)
	}
	if res, ok := c.checkAgent(ev, req.AgentID); !ok {
		return res
	}
	if res, ok := c.resolveParticipant(ev, &req); !ok {
		return res
	}
	ctx, cancel := c.srv.commandCtx()
	defer cancel()
	var (
		task  routing.Task
		queue string
		rerr  *routing.Error
	)
	taskRefused := false
	if err := c.srv.n.View(ctx, func(st routing.View) {
		if _, ok := st.Conversation(req.ConversationID); !ok {
			rerr = &routing.Error{Code: routing.CodeConversationNotFound, Message: "conversation " + req.ConversationID + " does not exist"}
			return
		}
		if task, rerr = c.findTask(st, req.ConversationID, req.TaskID, routing.TaskActiveState); rerr != nil {
			taskRefused = true
			return
		}
		queue, rerr = queueByRef(st, req.QueueID, req.QueueName)
	}); err != nil {
		return c.failErr(ev, err)
	}
	if rerr != nil && taskRefused && req.TaskField != "" {
		return c.refuse(ev, nil, ErrorEvent{Code: rerr.Code, Field: req.TaskField,
			Message: rerr.Message + "; " + req.TaskField + " must hold the requester's ACTIVE task id on conversation " +
				req.ConversationID + " (topicParticipant.id in onTopicData, taskId in taskRequest), or be left out"})
	}
	if rerr != nil {
		return c.failErr(ev, rerr)
	}
	cmd := routing.RequestTransfer{Conversation: req.ConversationID, RequestID: newTransferRequestID(), Agent: c.agent,
		FromTask: task.ID, Mode: mode, Queue: queue, TargetAgent: req.RequestedAgentID, Note: req.Note}
	if _, err := c.srv.n.Submit(ctx, cmd); err != nil {
		return c.failErr(ev, err)
	}
	return Ack{OK: true}
}

// queueByRef finds a queue by id, else by name (the first, in id order,
// whose name or id equals name); "" when neither is given.
func queueByRef(st routing.View, id, name string) (string, *routing.Error) {
	if id != "" {
		if _, ok := st.Queue(id); !ok {
			return "", &routing.Error{Code: routing.CodeQueueNotFound, Message: "queue " + id + " does not exist"}
		}
		return id, nil
	}
	if name == "" {
		return "", nil
	}
	for _, q := range st.Queues() {
		if q.Name == name || q.ID == name {
			return q.ID, nil
		}
	}
	return "", &routing.Error{Code: routing.CodeQueueNotFound, Message: "no queue is named " + name}
}

// transferFieldsOf fills taskRequest's transfer fields (taskDirection,
// note, requestedBy) from an offer of a request made by RequestTransfer.
func transferFieldsOf(r routing.TaskReserved, tr *TaskRequest) {
	if r.Mode == "" {
		return
	}
	tr.TaskDirection = TaskDirectionDirectTransfer
	if r.Mode == routing.TransferModeConference {
		tr.TaskDirection = TaskDirectionDirectConference
	}
	tr.Note = r.Note
	if r.Offered != nil && r.Offered.RequestedBy != nil {
		if b, err := json.Marshal(ccUser(*r.Offered.RequestedBy)); err == nil {
			tr.RequestedBy = b
		}
	}
}
