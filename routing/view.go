package routing

import "time"

// View is the read-only face of a State: every read, no Apply. node.View
// hands one to adapters, so nothing outside the single writer can change
// the engine (DESIGN.md principle 1: one writer). The values it returns
// are copies; holding them after the view's callback is safe, holding the
// View itself is not (the writer moves on).
type View interface {
	// Definitions.
	MRD(id string) (MRD, bool)
	MRDs() []MRD
	Queue(id string) (Queue, bool)
	Queues() []Queue
	ReasonCode(id string) (ReasonCode, bool)
	ReasonCodes() []ReasonCode
	QueueHours(id string, now time.Time) (HoursStatus, bool)

	// Agents and their work.
	AgentIDs() []string
	Agent(id string) (AgentStatus, bool)
	Tasks(agent string) ([]Task, bool)
	Task(id string) (Task, bool)
	EligibleQueues(agent string) []string
	// Presence and Offers give what presence and TaskReserved events
	// carry (eventviews.go), for a subscriber starting over.
	Presence(agent string) (*Presence, bool)
	Offers(agent string) []TaskReserved

	// Conversations and requests.
	Conversation(id string) (Conversation, bool)
	ConversationIDs() []string
	ConversationAgents(conversation string) []string
	OpenConversations() []string
	Request(id string) (Request, bool)
	Requests() []Request
	WaitingRequests(queue string) (reqs []Request, ok bool)
	Position(id string) (position, waiting int, ok bool)
	QueueStats(id string, now time.Time) (QueueStats, bool)
	Counts() (agentsByState map[AgentState]int, waiting, openConversations, openTasks int)

	// Who may see what (supervision, access).
	Supervises(supervisor, agent string) bool
	Involved(agent, conversation string) bool
	Oversees(supervisor, conversation string) bool
	MayRead(agent, conversation string) bool

	// The engine's clock and deadlines, and the state's digest.
	Now() time.Time
	NextDeadline() (at time.Time, ok bool)
	Digest() string
}

var _ View = (*State)(nil)
