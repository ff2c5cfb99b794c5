package agentdesk

import (
	"encoding/json"
	"time"

	"github.com/omniroute/omniroute/conversation"
	"github.com/omniroute/omniroute/errcode"
	"github.com/omniroute/omniroute/routing"
)

// Wrap-up (seed 004 "Leave Conversation"; PROTOCOLS.md closeWrapup,
// wrapupTimerStarted) and the desk events that follow transfers.
//
// When an agent leaves a conversation whose queue has a wrap-up time, its
// task goes WRAP_UP (routing.TaskWrapUp): its capacity stays taken and an
// MRD the agent asked to leave shows PENDING_NOT_READY until the wrap-up
// ends. The agent's sockets get wrapupTimerStarted; closeWrapup ends the
// wrap-up early (routing.CloseTask on the WRAP_UP task); the engine ends it
// at the deadline otherwise.

// Event names of this file.
const (
	// EventCloseWrapup: desk -> server, end the wrap-up of a task.
	EventCloseWrapup = "closeWrapup"
	// EventWrapupTimerStarted: server -> desk, a WrapupTimerStarted payload.
	EventWrapupTimerStarted = "wrapupTimerStarted"
)

// WrapupTimerStarted is the wrapupTimerStarted payload: the agent's task
// TaskID on ConversationID is in WRAP_UP for WrapupTime seconds (may be
// fractional), until Deadline (RFC 3339).
type WrapupTimerStarted struct {
	ConversationID string    `json:"conversationId"`
	TaskID         string    `json:"taskId"`
	WrapupTime     float64   `json:"wrapupTime"`
	Deadline       time.Time `json:"deadline"`
}

// decodeCloseWrapup decodes {"conversationId","taskId","agentId"}:
// conversationId is required, taskId and agentId optional (as for
// topicUnsubscription_).
func decodeCloseWrapup(args []any) (taskRequestRef, *errcode.FieldError) {
	r, _, err := decodeTaskRef(EventCloseWrapup, args)
	return r, err
}

// closeWrapup handles closeWrapup: the agent's WRAP_UP task on the
// conversation (taskId, or found by conversationId) -> routing.CloseTask.
// The close reaches the desk as agentPresence (the MRD frees). Refusals:
// field-error codes, FORBIDDEN, TASK_NOT_FOUND, NOT_TASK_OWNER,
// INVALID_ARGUMENT, INVALID_TRANSITION (the task is not in WRAP_UP).
func (c *client) closeWrapup(args []any) Ack {
	const ev = EventCloseWrapup
	req, derr := decodeCloseWrapup(args)
	if derr != nil {
		return c.failErr(ev, derr)
	}
	if res, ok := c.checkAgent(ev, req.AgentID); !ok {
		return res
	}
	ctx, cancel := c.srv.commandCtx()
	defer cancel()
	// The command carries the conversation and the state: the engine
	// refuses a task that is not in WRAP_UP when it runs.
	if _, err := c.srv.n.Submit(ctx, routing.CloseTask{Task: req.TaskID, Agent: c.agent, Conversation: req.ConversationID,
		State: routing.TaskWrapUpState}); err != nil {
		return c.failErr(ev, err)
	}
	return Ack{OK: true}
}

// participantDeskEvents turns the engine events of this issue into desk
// events whose payload needs no state read (dispatch.go calls it for every
// event, besides its own switch):
//
//	TaskWrapUp               -> wrapupTimerStarted to the agent
//	TaskClosed TRANSFERRED   -> topicUnsubscription reason TRANSFERRED to the requester
//	TransferFailed           -> onCimEvent NO_AGENT_AVAILABLE to the requester
//
// The NO_AGENT_AVAILABLE event is for the requester only (the customer and
// the other participants do not see a failed transfer), so it is not in
// the transcript: its seq is 0 and its data {requestId, mode, taskId,
// reason}.
func participantDeskEvents(out []outgoing, ev routing.Event, connected func(string) bool) []outgoing {
	switch e := ev.(type) {
	case routing.TaskWrapUp:
		if connected(e.Agent) {
			out = append(out, outgoing{agent: e.Agent, event: EventWrapupTimerStarted, payload: WrapupTimerStarted{
				ConversationID: e.Conversation, TaskID: e.Task, WrapupTime: e.Deadline.Sub(e.At).Seconds(), Deadline: e.Deadline}})
		}
	case routing.TaskClosed:
		if e.Reason == routing.ReasonTransferred && connected(e.Agent) {
			out = append(out, outgoing{agent: e.Agent, event: EventTopicUnsubscription, payload: TopicUnsubscription{
				Task: EventTopicUnsubscription, ConversationID: e.Conversation, StatusCode: 200,
				RoomInfo: RoomInfo{ID: e.Conversation, Mode: roomModeContactCenter}, Reason: string(e.Reason), TaskID: e.Task}})
		}
	case routing.TransferFailed:
		if connected(e.Agent) {
			data, _ := json.Marshal(map[string]string{"requestId": e.Request, "mode": string(e.Mode), "taskId": e.FromTask,
				"reason": string(e.Reason)})
			cim, _ := json.Marshal(conversation.SystemEvent(e.Conversation, conversation.CimNoAgentAvailable, e.At, data))
			out = append(out, outgoing{agent: e.Agent, event: EventOnCimEvent, payload: OnCimEvent{CimEvent: cim, ConversationID: e.Conversation}})
		}
	}
	return out
}
