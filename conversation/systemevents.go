package conversation

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/omniroute/omniroute/errcode"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
	"github.com/omniroute/omniroute/transcript"
)

// maxSystemBatch bounds the node events recorded in one AppendBatch.
const maxSystemBatch = 4096

// systemEvents follows the node's events and records the ones that matter
// to a conversation as CIM system events (type NOTIFICATION, emitter
// SYSTEM):
//
//	ParticipantJoined        AGENT_SUBSCRIBED        data {agentId, taskId, role}
//	ParticipantLeft          AGENT_UNSUBSCRIBED      data {agentId, taskId}
//	TaskActivated/WrapUp/Closed TASK_STATE_CHANGED   data {agentId, taskId, state, reason?}
//	ParticipantRoleChanged   PARTICIPANT_ROLE_CHANGED data {agentId, role, previous}
//	ConversationClosed (NO_AGENT_AVAILABLE) NO_AGENT_AVAILABLE data {reason}
//	ConversationCreated      CHANNEL_SESSION_STARTED data {queue, mrd}
//	ConversationClosed (other) CHANNEL_SESSION_ENDED data {reason}
//
// TaskClosed of an offer that was never accepted (RONA, DECLINED,
// AGENT_DISCONNECTED) is not part of the conversation and is skipped. The
// events about a supervisor (ParticipantJoined/Left without a task,
// ParticipantRoleChanged) are AgentsOnly, like whispers. The events
// waiting together are appended in one batch, in event order (one fsync'd
// round, not one per event); if the node cuts this subscriber off, the
// events missed meanwhile are not recorded (logged).
func (c *Conversations) systemEvents(events <-chan node.Published, cancel func()) {
	defer close(c.sysDone)
	batch := make([]node.Published, 0, 64)
	for {
		var (
			p  node.Published
			ok bool
		)
		select {
		case p, ok = <-events:
		case <-c.quit:
			cancel()
			return
		}
		if !ok {
			select {
			case <-c.n.Done():
				<-c.quit // the node stopped; nothing more will come
				return
			case <-c.quit:
				return
			default:
			}
			c.log.Warn("conversation: CIM system events fell behind; some were not recorded")
			events, cancel = c.n.Subscribe()
			continue
		}
		// The events waiting together (a node batch, or several) are
		// appended together. A closed events is seen by the next receive.
		batch = append(batch[:0], p)
	drain:
		for len(batch) < maxSystemBatch {
			select {
			case p, ok := <-events:
				if !ok {
					break drain
				}
				batch = append(batch, p)
			default:
				break drain
			}
		}
		c.recordSystemEvents(batch)
		clear(batch)
	}
}

// recordSystemEvents appends the system events of batch to the
// transcripts in one AppendBatch (one publish-and-wait round, not one per
// event), in event order; delivery follows from the log as for any entry.
func (c *Conversations) recordSystemEvents(batch []node.Published) {
	recs := make([]transcript.Record, 0, len(batch))
	var closed []string
	for _, p := range batch {
		conv, name, data := systemEventOf(p.Event)
		if name == "" {
			continue
		}
		if name == CimChannelSessionStarted {
			// A new conversation: its transcript tail is whole from here,
			// so accepting its task reads it from memory.
			c.cim.Begin(conv)
		}
		rec, err := c.followerRecord(conv, name, data, agentsOnly(name, supervisorEvent(p.Event)))
		if err != nil {
			c.log.Warn("conversation: CIM system event not recorded", "conversation", conv, "name", name, "err", err)
			continue
		}
		recs = append(recs, rec)
		if _, ok := p.Event.(routing.ConversationClosed); ok {
			closed = append(closed, conv)
		}
	}
	if len(recs) == 0 {
		return
	}
	_, errs := c.cim.AppendBatch(c.ctx, recs)
	for i, err := range errs {
		if err != nil {
			c.log.Warn("conversation: CIM system event not recorded", "conversation", recs[i].Conversation, "err", err)
		}
	}
	for _, conv := range closed {
		c.cim.Forget(conv) // the tail and reply index of a closed conversation
	}
}

// supervisorEvent says whether ev is about a supervisor participant (no
// task): its system event is for agents only.
func supervisorEvent(ev routing.Event) bool {
	switch e := ev.(type) {
	case routing.ParticipantJoined:
		return e.Task == ""
	case routing.ParticipantLeft:
		return e.Task == ""
	case routing.ParticipantRoleChanged:
		return true
	}
	return false
}

// The data objects of the system CIM events the follower records, one
// type per shape. Fields are in name order, so the JSON is byte for byte
// what a map of the same keys gives (encoding/json sorts map keys),
// without a map's allocations.
type (
	subscribedData struct {
		AgentID string `json:"agentId"`
		Role    string `json:"role"`
		TaskID  string `json:"taskId"`
	}
	unsubscribedData struct {
		AgentID string `json:"agentId"`
		TaskID  string `json:"taskId"`
	}
	taskStateData struct {
		AgentID string `json:"agentId"`
		State   string `json:"state"`
		TaskID  string `json:"taskId"`
	}
	taskClosedData struct {
		AgentID string `json:"agentId"`
		Reason  string `json:"reason"`
		State   string `json:"state"`
		TaskID  string `json:"taskId"`
	}
	roleData struct {
		AgentID  string `json:"agentId"`
		Previous string `json:"previous"`
		Role     string `json:"role"`
	}
	sessionData struct {
		MRD   string `json:"mrd"`
		Queue string `json:"queue"`
	}
	reasonData struct {
		Reason string `json:"reason"`
	}
)

// systemEvent is a CimEvent whose data is one of the types above, encoded
// in one pass (a CimEvent's RawMessage data is encoded first and then
// scanned again). Field order and names are CimEvent's.
type systemEvent struct {
	ID             string       `json:"id"`
	Name           string       `json:"name"`
	Type           string       `json:"type"`
	Timestamp      time.Time    `json:"timestamp"`
	ConversationID string       `json:"conversationId"`
	RoomID         string       `json:"roomId"`
	EventEmitter   EventEmitter `json:"eventEmitter"`
	Data           any          `json:"data"`
}

// followerRecord is the transcript record of the follower's system event
// named name with data (one of the types above): systemRecord's result,
// encoded once.
func (c *Conversations) followerRecord(conversation, name string, data any, agentsOnly bool) (transcript.Record, error) {
	ev := systemEvent{ID: uuid.NewString(), Name: name, Type: "NOTIFICATION", Timestamp: c.opts.Now().UTC(),
		ConversationID: conversation, RoomID: conversation, EventEmitter: EventEmitter{ID: "omniroute", Type: "SYSTEM"}, Data: data}
	out, err := json.Marshal(&ev)
	if err != nil {
		return transcript.Record{}, refusal(errcode.InvalidField, "the event cannot be encoded")
	}
	return transcript.Record{Conversation: conversation, ID: ev.ID, AgentsOnly: agentsOnly, Data: out}, nil
}

// systemEventOf maps a routing event to a CIM system event ("" name: none).
func systemEventOf(ev routing.Event) (conv, name string, data any) {
	switch e := ev.(type) {
	case routing.ParticipantJoined:
		return e.Conversation, CimAgentSubscribed, subscribedData{AgentID: e.Agent, TaskID: e.Task, Role: string(e.Role)}
	case routing.ParticipantLeft:
		return e.Conversation, CimAgentUnsubscribed, unsubscribedData{AgentID: e.Agent, TaskID: e.Task}
	case routing.TaskActivated:
		return e.Conversation, CimTaskStateChanged, taskStateData{AgentID: e.Agent, TaskID: e.Task, State: string(routing.TaskActiveState)}
	case routing.TaskWrapUp:
		return e.Conversation, CimTaskStateChanged, taskStateData{AgentID: e.Agent, TaskID: e.Task, State: string(routing.TaskWrapUpState)}
	case routing.TaskClosed:
		switch e.Reason {
		case routing.ReasonRONA, routing.ReasonDeclined, routing.ReasonAgentDisconnected:
			return "", "", nil
		}
		return e.Conversation, CimTaskStateChanged, taskClosedData{AgentID: e.Agent, TaskID: e.Task,
			State: string(routing.TaskClosedState), Reason: string(e.Reason)}
	case routing.ParticipantRoleChanged:
		return e.Conversation, CimParticipantRole, roleData{AgentID: e.Agent, Role: string(e.Role), Previous: string(e.Previous)}
	case routing.ConversationCreated:
		return e.Conversation, CimChannelSessionStarted, sessionData{Queue: e.Queue, MRD: e.MRD}
	case routing.ConversationClosed:
		if e.Reason == routing.ReasonNoAgentAvailable {
			return e.Conversation, CimNoAgentAvailable, reasonData{Reason: string(e.Reason)}
		}
		return e.Conversation, CimChannelSessionEnded, reasonData{Reason: string(e.Reason)}
	}
	return "", "", nil
}
