package agentdesk

import "github.com/omniroute/omniroute/routing"

// Conversations closed by someone else (an administrator's POST
// /v1/conversations/{id}/close, the TTL of the request it waits on, a
// customer gone for good, the last agent leaving; a supervisor has no way
// to close one): PROTOCOLS.md lists topicClosed among
// the Agent Manager's events, the shape of topicUnsubscription with task
// "topicClosed". The engine makes every participant leave in the command
// that closes the conversation (routing.ParticipantLeft: agents' ACTIVE
// tasks go to WRAP_UP where the queue has a wrap-up time, else CLOSED;
// supervisors leave), then publishes routing.ConversationClosed. Every
// participant's desk gets topicClosed {task, conversationId, statusCode
// 200, roomInfo, reason (the routing.CloseReason: DONE, CANCELLED,
// ABANDONED, NO_AGENT_AVAILABLE, ...), taskId (the participant's task; a
// supervisor's participant id)}, after the wrapupTimerStarted of its task.

// EventTopicClosed: server -> desk, a TopicUnsubscription with Task
// "topicClosed".
const EventTopicClosed = "topicClosed"

// closings collects, within one command's events, who left which
// conversation, so that its ConversationClosed reaches them.
type closings struct {
	left map[string][]routing.ParticipantLeft // conversation -> participants that left
}

// saw records ev; on a ConversationClosed it appends a topicClosed for each
// connected participant that left the conversation in the same command.
func (c *closings) saw(out []outgoing, ev routing.Event, connected func(string) bool) []outgoing {
	switch e := ev.(type) {
	case routing.ParticipantLeft:
		if c.left == nil {
			c.left = map[string][]routing.ParticipantLeft{}
		}
		c.left[e.Conversation] = append(c.left[e.Conversation], e)
	case routing.TaskClosed:
		// A decline (POST /v1/tasks/{id}/decline; the desk protocol has no
		// decline event) withdraws the offer from every socket of the
		// agent, as RONA does: revokeTask with reason DECLINED.
		if e.Reason == routing.ReasonDeclined && connected(e.Agent) {
			//lint:ignore S1016 the two events share their fields today; a literal keeps compiling when TaskClosed grows
			out = append(out, outgoing{agent: e.Agent, event: EventRevokeTask, revoked: routing.TaskRevoked{
				Task: e.Task, Conversation: e.Conversation, Agent: e.Agent, Reason: e.Reason, At: e.At}})
		}
	case routing.ConversationClosed:
		for _, p := range c.left[e.Conversation] {
			if !connected(p.Agent) {
				continue
			}
			task := p.Task
			if task == "" {
				task = supervisorParticipantID(p.Conversation, p.Agent)
			}
			out = append(out, outgoing{agent: p.Agent, event: EventTopicClosed, payload: TopicUnsubscription{
				Task: EventTopicClosed, ConversationID: e.Conversation, StatusCode: 200,
				RoomInfo: RoomInfo{ID: e.Conversation, Mode: roomModeContactCenter}, Reason: string(e.Reason), TaskID: task}})
		}
		delete(c.left, e.Conversation)
	}
	return out
}

// reset forgets the command's events (a new command starts).
func (c *closings) reset() { clear(c.left) }
