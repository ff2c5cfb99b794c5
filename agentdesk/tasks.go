package agentdesk

import (
	"context"
	"encoding/json"
	"time"

	"github.com/omniroute/omniroute/routing"
)

// Room mode of every conversation in this subset.
const roomModeContactCenter = "CONTACT_CENTER"

// topicSubscription handles topicSubscription (seed 004 "To accept a
// task"): the agent's RESERVED task on the conversation (taskId, or the one
// offered on conversationId when taskId is absent) -> routing.AcceptTask,
// then onTopicData to every socket of the agent.
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
	task, err := c.lookupTask(ctx, req.ConversationID, req.TaskID, routing.TaskReservedState, routing.TaskActiveState)
	if err != nil {
		return c.failErr(ev, err)
	}
	correlation := task.Request
	switch task.State {
	case routing.TaskReservedState:
		if _, err := c.srv.n.Submit(ctx, routing.AcceptTask{Task: task.ID, Agent: c.agent}); err != nil {
			return c.failErr(ev, err)
		}
	case routing.TaskActiveState:
		correlation = task.Conversation
	default:
		return c.failErr(ev, &routing.Error{Code: routing.CodeInvalidTransition,
			Message: "task " + task.ID + " is " + string(task.State) + "; only a RESERVED or ACTIVE task can be subscribed"})
	}
	var (
		data OnTopicData
		ok   bool
	)
	if err := c.srv.n.View(ctx, func(st *routing.State) {
		data, ok = onTopicDataOf(st, task.ID, task.Conversation, c.agent, correlation)
	}); err != nil || !ok {
		if err == nil {
			err = &routing.Error{Code: routing.CodeConversationNotFound, Message: "conversation " + task.Conversation + " is gone"}
		}
		return c.failErr(ev, err)
	}
	data.TopicData.TopicEvents = c.srv.topicEvents(ctx, task.Conversation) // cim.go: the transcript, whole
	c.srv.toAgent(c.agent, EventOnTopicData, data)
	return Ack{OK: true}
}

// topicUnsubscription handles topicUnsubscription_ (seed 004 "Leave
// Conversation"): the agent's ACTIVE task on the conversation (taskId, or
// found by conversationId) -> routing.CloseTask, then topicUnsubscription
// to every socket of the agent with reason DONE (closed) or WRAP_UP.
// Refusals get an errors event (TASK_NOT_FOUND, NOT_TASK_OWNER,
// INVALID_ARGUMENT, INVALID_TRANSITION for a task not ACTIVE).
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
	task, err := c.lookupTask(ctx, req.ConversationID, req.TaskID, routing.TaskActiveState)
	switch {
	case err != nil && req.TaskID == "" && c.leaveAsSupervisor(ctx, req.ConversationID): // supervisor.go
		return Ack{OK: true}
	case err != nil:
		return c.failErr(ev, err)
	case task.State != routing.TaskActiveState:
		return c.failErr(ev, &routing.Error{Code: routing.CodeInvalidTransition,
			Message: "task " + task.ID + " is " + string(task.State) + "; only an ACTIVE task can be left"})
	}
	events, err := c.srv.n.Submit(ctx, routing.CloseTask{Task: task.ID, Agent: c.agent})
	if err != nil {
		return c.failErr(ev, err)
	}
	reason := string(routing.ReasonDone)
	for _, e := range events {
		if w, ok := e.(routing.TaskWrapUp); ok && w.Task == task.ID {
			reason = string(routing.TaskWrapUpState)
		}
	}
	c.srv.toAgent(c.agent, EventTopicUnsubscription, TopicUnsubscription{
		Task:           EventTopicUnsubscription,
		ConversationID: task.Conversation,
		StatusCode:     200,
		RoomInfo:       RoomInfo{ID: task.Conversation, Mode: roomModeContactCenter},
		Reason:         reason,
		TaskID:         task.ID,
	})
	return Ack{OK: true}
}

// lookupTask is findTask through the node: the error is the node's or the
// routing refusal.
func (c *client) lookupTask(ctx context.Context, conversationID, taskID string, states ...routing.TaskState) (routing.Task, error) {
	var (
		task routing.Task
		rerr *routing.Error
	)
	if err := c.srv.n.View(ctx, func(st *routing.State) {
		task, rerr = c.findTask(st, conversationID, taskID, states...)
	}); err != nil {
		return task, err
	}
	if rerr != nil {
		return task, rerr
	}
	return task, nil
}

// findTask resolves the agent's task on conversation: taskID when given
// (it must be the agent's and on that conversation), else the first of the
// agent's tasks on the conversation in one of the wanted states, trying the
// states in order.
func (c *client) findTask(st *routing.State, conversation, taskID string, want ...routing.TaskState) (routing.Task, *routing.Error) {
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

// taskRequestOf builds the taskRequest of one offer. ttl is the offer's
// RONA timeout (deadline minus reservation time).
func taskRequestOf(st *routing.State, task, conversation, request, agent, queue, mrd string, ttl time.Duration) TaskRequest {
	var customer []byte
	if cv, ok := st.Conversation(conversation); ok {
		customer = cv.Customer
	}
	q, _ := st.Queue(queue)
	m, _ := st.MRD(mrd)
	name := q.Name
	if name == "" {
		name = queue
	}
	tr := TaskRequest{
		ConversationID: conversation,
		ChannelSession: channelSessionOf(conversation, queue, customer, ttl),
		RoomInfo:       RoomInfo{ID: conversation, Mode: roomModeContactCenter},
		TaskID:         task,
		TaskState:      TaskStateRef{Name: string(routing.TaskReservedState)},
		TaskDirection:  "INBOUND",
		Queue:          QueueRef{ID: queue, Name: name},
		MRD:            mrdOf(m),
		Note:           "",
		RequestedBy:    jsonNull,
		CorrelationID:  request,
		CCUser:         UserRef{ID: agent},
	}
	transferFieldsOf(st, &tr) // transfer.go
	return tr
}

// agentParticipant describes an agent's part in a conversation.
func agentParticipant(st *routing.State, conversation string, p routing.Participant) TopicParticipant {
	var user any = UserRef{ID: p.Agent}
	if as, ok := st.Agent(p.Agent); ok {
		user = ccUser(as.Agent)
	}
	id := p.Task
	if id == "" {
		id = supervisorParticipantID(conversation, p.Agent) // supervisor.go
	}
	return TopicParticipant{ID: id, Type: "AGENT", Participant: user, Token: jsonNull, TopicID: conversation,
		Role: p.Role, UserCredentials: jsonNull, State: "SUBSCRIBED"}
}

// onTopicDataOf builds onTopicData for agent's task on conversation. ok is
// false when the conversation is gone.
func onTopicDataOf(st *routing.State, task, conversation, agent, correlation string) (OnTopicData, bool) {
	cv, ok := st.Conversation(conversation)
	if !ok {
		return OnTopicData{}, false
	}
	q, _ := st.Queue(cv.Queue)
	attrs := cv.Attributes
	if attrs == nil {
		attrs = map[string]string{}
	}
	customer := TopicParticipant{ID: conversation + ":customer", Type: "CUSTOMER", Participant: orNull(cv.Customer),
		Token: jsonNull, TopicID: conversation, Role: "CUSTOMER", UserCredentials: jsonNull, State: "SUBSCRIBED"}
	state := "ACTIVE"
	if cv.State == "CLOSED" {
		state = "CLOSED"
	}
	td := TopicData{
		ID:                conversation,
		Customer:          orNull(cv.Customer),
		ConversationData:  attrs,
		State:             state,
		Participants:      []TopicParticipant{customer},
		AgentParticipants: []TopicParticipant{},
		ChannelSession:    channelSessionOf(conversation, cv.Queue, cv.Customer, queueRONA(q)),
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
