package agentdesk

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/omniroute/omniroute/erasure"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// Room mode of every conversation in this subset.
const roomModeContactCenter = "CONTACT_CENTER"

// topicSubscription handles topicSubscription (seed 004 "To accept a
// task"): routing.AcceptTask of the agent's RESERVED task on the
// conversation (taskId, or the one offered on conversationId when taskId
// is absent; the engine resolves it when the command runs), then
// onTopicData to every socket of the agent.
//
// Subscribing again to a task already ACTIVE (a desk reloading) accepts
// nothing and sends onTopicData again. A task that does not exist, is
// another agent's, belongs to another conversation, or was already revoked
// (RONA) is refused with an errors event {code, message, event}: routing
// codes TASK_NOT_FOUND, NOT_TASK_OWNER, INVALID_ARGUMENT, INVALID_TRANSITION.
func (c *client) topicSubscription(args []any) Ack {
	const ev = EventTopicSubscription
	req, derr := decodeTopicSubscription(args)
	if derr != nil {
		return c.failErr(ev, derr)
	}
	if res, ok := c.checkAgent(ev, req.AgentID); !ok {
		return res
	}
	ctx, cancel := c.srv.commandCtx()
	defer cancel()
	var (
		taskID, correlation string
		data                OnTopicData
		ok                  bool
	)
	// onTopicData describes the conversation as the accept left it: read
	// in the command's writer turn.
	_, err := c.srv.n.SubmitWith(ctx, routing.AcceptTask{Task: req.TaskID, Agent: c.agent, Conversation: req.ConversationID}, node.Reads{
		After: func(st routing.View, events []routing.Event) {
			taskID, correlation = acceptedTask(events, c.agent, req.ConversationID)
			data, ok = onTopicDataOf(st, c.srv.opts.CustomerKeys, taskID, req.ConversationID, c.agent, correlation)
		},
	})
	switch {
	case err == nil:
	case c.resubscribable(err, req.TaskID):
		// Nothing RESERVED to accept: a subscription again to the ACTIVE
		// task (a desk reloading) gets onTopicData again. One read finds
		// the task and describes its conversation.
		var (
			task routing.Task
			rerr *routing.Error
		)
		verr := c.srv.n.View(ctx, func(st routing.View) {
			task, rerr = c.findTask(st, req.ConversationID, req.TaskID, routing.TaskActiveState)
			if rerr == nil && task.State == routing.TaskActiveState {
				taskID, correlation = task.ID, task.Conversation
				data, ok = onTopicDataOf(st, c.srv.opts.CustomerKeys, taskID, req.ConversationID, c.agent, correlation)
			}
		})
		if verr != nil || rerr != nil || task.State != routing.TaskActiveState {
			return c.failErr(ev, err)
		}
	default:
		return c.failErr(ev, err)
	}
	if !ok {
		return c.failErr(ev, &routing.Error{Code: routing.CodeConversationNotFound, Message: "conversation " + req.ConversationID + " is gone"})
	}
	data.TopicData.TopicEvents = c.srv.topicEvents(ctx, req.ConversationID) // cim.go: the transcript, whole
	c.srv.toAgent(c.agent, EventOnTopicData, data)
	return Ack{OK: true}
}

// resubscribable says whether the refusal err of an AcceptTask may be a
// subscription to a task already ACTIVE: INVALID_TRANSITION (the task
// named is not RESERVED), or TASK_NOT_FOUND when no task was named (the
// agent has nothing RESERVED on the conversation).
func (c *client) resubscribable(err error, taskID string) bool {
	var re *routing.Error
	if !errors.As(err, &re) {
		return false
	}
	return re.Code == routing.CodeInvalidTransition || (re.Code == routing.CodeTaskNotFound && taskID == "")
}

// topicUnsubscription handles topicUnsubscription_ (seed 004 "Leave
// Conversation"): routing.CloseTask of the agent's ACTIVE task on the
// conversation (taskId, or found by conversationId; the command carries
// both and State ACTIVE, so a task that moved on meanwhile is refused,
// not wrapped up), then topicUnsubscription to every socket of the agent
// with reason DONE (closed) or WRAP_UP. Refusals get an errors event
// (TASK_NOT_FOUND, NOT_TASK_OWNER, INVALID_ARGUMENT, INVALID_TRANSITION for
// a task not ACTIVE).
func (c *client) topicUnsubscription(args []any) Ack {
	const ev = EventTopicUnsubscriptionRequest
	req, derr := decodeTopicUnsubscription(args)
	if derr != nil {
		return c.failErr(ev, derr)
	}
	if res, ok := c.checkAgent(ev, req.AgentID); !ok {
		return res
	}
	ctx, cancel := c.srv.commandCtx()
	defer cancel()
	events, err := c.srv.n.Submit(ctx, routing.CloseTask{Task: req.TaskID, Agent: c.agent, Conversation: req.ConversationID,
		State: routing.TaskActiveState})
	var re *routing.Error
	switch {
	case err != nil && errors.As(err, &re) && re.Code == routing.CodeTaskNotFound && req.TaskID == "" &&
		c.leaveAsSupervisor(ctx, req.ConversationID): // supervisor.go
		return Ack{OK: true}
	case err != nil:
		return c.failErr(ev, err)
	}
	reason, taskID := string(routing.ReasonDone), req.TaskID
	for _, e := range events {
		switch e := e.(type) {
		case routing.ParticipantLeft:
			if e.Agent == c.agent && taskID == "" {
				taskID = e.Task
			}
		case routing.TaskWrapUp:
			if e.Agent == c.agent && (e.Task == taskID || taskID == "") {
				taskID, reason = e.Task, string(routing.TaskWrapUpState)
			}
		}
	}
	c.srv.toAgent(c.agent, EventTopicUnsubscription, TopicUnsubscription{
		Task:           EventTopicUnsubscription,
		ConversationID: req.ConversationID,
		StatusCode:     200,
		RoomInfo:       RoomInfo{ID: req.ConversationID, Mode: roomModeContactCenter},
		Reason:         reason,
		TaskID:         taskID,
	})
	return Ack{OK: true}
}

// acceptedTask finds, in an AcceptTask's events, the task the agent
// accepted and the request the accept removed from conversation (the
// correlation id).
func acceptedTask(events []routing.Event, agent, conversation string) (taskID, correlation string) {
	for _, e := range events {
		switch e := e.(type) {
		case routing.TaskActivated:
			if e.Agent == agent && taskID == "" {
				taskID = e.Task
			}
		case routing.RequestRemoved:
			if e.Reason == routing.ReasonAccepted && e.Conversation == conversation && correlation == "" {
				correlation = e.Request
			}
		}
	}
	return taskID, correlation
}

// findTask resolves the agent's task on conversation: taskID when given
// (it must be the agent's and on that conversation), else the first of the
// agent's tasks on the conversation in one of the wanted states, trying the
// states in order.
func (c *client) findTask(st routing.View, conversation, taskID string, want ...routing.TaskState) (routing.Task, *routing.Error) {
	if taskID != "" {
		t, ok := st.Task(taskID)
		switch {
		case !ok:
			return t, &routing.Error{Code: routing.CodeTaskNotFound, Message: "task " + taskID + " does not exist or is closed"}
		case t.Agent != c.agent:
			return t, &routing.Error{Code: routing.CodeNotTaskOwner, Message: "task " + taskID + " belongs to another agent"}
		case t.Conversation != conversation:
			return t, &routing.Error{Code: routing.CodeInvalidArgument, Message: "task " + taskID + " is not on conversation " + conversation}
		}
		return t, nil
	}
	tasks, _ := st.Tasks(c.agent)
	for _, w := range want {
		for _, t := range tasks {
			if t.Conversation == conversation && t.State == w {
				return t, nil
			}
		}
	}
	return routing.Task{}, &routing.Error{Code: routing.CodeTaskNotFound, Message: "the agent has no task on conversation " + conversation}
}

// channelSessionOf describes the conversation's channel session; ronaTTL
// is the offer timeout.
func channelSessionOf(conversation, queue string, customer []byte, ronaTTL time.Duration) ChannelSession {
	return ChannelSession{
		ID:             conversation,
		ConversationID: conversation,
		Channel: Channel{ChannelConfig: ChannelConfig{RoutingPolicy: RoutingPolicy{
			RoutingMode: "PUSH", RoutingObjectID: queue, AgentRequestTTL: ronaTTL.Seconds(),
		}}},
		Customer: orNull(customer),
	}
}

// queueRONA is the queue's offer timeout.
func queueRONA(q routing.Queue) time.Duration {
	if q.RONATimeout > 0 {
		return q.RONATimeout
	}
	return routing.DefaultRONATimeout
}

// taskRequestOf builds the taskRequest of one offer from its TaskReserved
// event (the engine's, or st.Offers'): the offer's TTL is Deadline - At.
func taskRequestOf(keys *erasure.Keyring, r routing.TaskReserved) TaskRequest {
	off := r.Offered
	if off == nil {
		off = &routing.Offered{}
	}
	name := off.QueueName
	if name == "" {
		name = r.Queue
	}
	tr := TaskRequest{
		ConversationID: r.Conversation,
		ChannelSession: channelSessionOf(r.Conversation, r.Queue, keys.Show(off.Customer), r.Deadline.Sub(r.At)),
		RoomInfo:       RoomInfo{ID: r.Conversation, Mode: roomModeContactCenter},
		TaskID:         r.Task,
		TaskState:      TaskStateRef{Name: string(routing.TaskReservedState)},
		TaskDirection:  "INBOUND",
		Queue:          QueueRef{ID: r.Queue, Name: name},
		MRD:            mrdOf(off.MRD),
		Note:           "",
		RequestedBy:    jsonNull,
		CorrelationID:  r.Request,
		CCUser:         UserRef{ID: r.Agent},
		Priority:       off.Priority,
		Step:           off.Step,
		CapacityWeight: max(off.CapacityWeight, 1),
	}
	transferFieldsOf(r, &tr) // transfer.go
	return tr
}

// taskRequestsOf builds the taskRequest of every RESERVED offer of agent.
func taskRequestsOf(st routing.View, keys *erasure.Keyring, agent string) []TaskRequest {
	var out []TaskRequest
	for _, r := range st.Offers(agent) {
		out = append(out, taskRequestOf(keys, r))
	}
	return out
}

// agentParticipant describes an agent's part in a conversation.
func agentParticipant(st routing.View, conversation string, p routing.Participant) TopicParticipant {
	var user any = UserRef{ID: p.Agent}
	if as, ok := st.Agent(p.Agent); ok {
		user = ccUser(as.Agent)
	}
	id := p.Task
	if id == "" {
		id = supervisorParticipantID(conversation, p.Agent) // supervisor.go
	}
	return TopicParticipant{ID: id, Type: "AGENT", Participant: user, Token: jsonNull, TopicID: conversation,
		Role: string(p.Role), UserCredentials: jsonNull, State: "SUBSCRIBED"}
}

// onTopicDataOf builds onTopicData for agent's task on conversation. ok is
// false when the conversation is gone.
func onTopicDataOf(st routing.View, keys *erasure.Keyring, task, conversation, agent, correlation string) (OnTopicData, bool) {
	cv, ok := st.Conversation(conversation)
	if !ok {
		return OnTopicData{}, false
	}
	q, _ := st.Queue(cv.Queue)
	attrs := keys.ShowAttributes(cv.Attributes)
	if attrs == nil {
		attrs = map[string]string{}
	}
	shown := keys.Show(cv.Customer)
	customer := TopicParticipant{ID: conversation + ":customer", Type: "CUSTOMER", Participant: orNull(shown),
		Token: jsonNull, TopicID: conversation, Role: "CUSTOMER", UserCredentials: jsonNull, State: "SUBSCRIBED"}
	state := "ACTIVE"
	if cv.State == "CLOSED" {
		state = "CLOSED"
	}
	td := TopicData{
		ID:                conversation,
		Customer:          orNull(shown),
		ConversationData:  attrs,
		State:             state,
		Participants:      []TopicParticipant{customer},
		AgentParticipants: []TopicParticipant{},
		ChannelSession:    channelSessionOf(conversation, cv.Queue, shown, queueRONA(q)),
		DurationInSeconds: max(0, time.Since(cv.CreatedAt).Seconds()),
		TopicEvents:       []json.RawMessage{},
		WrapUps:           []json.RawMessage{},
	}
	self := routing.Participant{Agent: agent, Task: task, Role: rolePrimary}
	for _, p := range cv.Participants {
		tp := agentParticipant(st, conversation, p)
		td.Participants = append(td.Participants, tp)
		td.AgentParticipants = append(td.AgentParticipants, tp)
		if p.Task == task && (task != "" || p.Agent == agent) {
			self = p
		}
	}
	td.TopicParticipant = agentParticipant(st, conversation, self)
	return OnTopicData{
		ConversationID: conversation,
		CorrelationID:  correlation,
		RoomInfo:       RoomInfo{ID: conversation, Mode: roomModeContactCenter},
		TaskID:         task,
		TopicData:      td,
	}, true
}
