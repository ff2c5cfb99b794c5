package routing

import (
	"bytes"
	"encoding/json"
	"time"
)

// Event is one change the engine made. Events come out of Apply in the
// order the changes happened; the node numbers them by journal position.
type Event interface {
	// EventName is the stable name used on the event bus and in golden files.
	EventName() string
}

// AgentStateChanged: an agent's global state or reason changed.
type AgentStateChanged struct {
	Agent      string     `json:"agent"`
	State      AgentState `json:"state"`
	ReasonCode string     `json:"reasonCode,omitempty"`
	Previous   AgentState `json:"previous"`
	At         time.Time  `json:"at"`
	// Presence is the agent's presence after the command, on the last
	// presence event of the agent in its command (nil on the others);
	// eventviews.go.
	Presence *Presence `json:"-"`
}

// MRDStateChanged: an agent's state on one MRD changed.
type MRDStateChanged struct {
	Agent    string    `json:"agent"`
	MRD      string    `json:"mrd"`
	State    MRDState  `json:"state"`
	Previous MRDState  `json:"previous"`
	At       time.Time `json:"at"`
	// Presence: as in AgentStateChanged.
	Presence *Presence `json:"-"`
}

// ConversationCreated: a conversation opened.
type ConversationCreated struct {
	Conversation string    `json:"conversation"`
	Queue        string    `json:"queue"`
	MRD          string    `json:"mrd"`
	At           time.Time `json:"at"`
}

// ConversationClosed: a conversation ended.
type ConversationClosed struct {
	Conversation string      `json:"conversation"`
	Reason       CloseReason `json:"reason"`
	At           time.Time   `json:"at"`
}

// RequestQueued: a request entered its queue for the first time.
type RequestQueued struct {
	Request      string `json:"request"`
	Conversation string `json:"conversation"`
	Queue        string `json:"queue"`
	Priority     int    `json:"priority"`
	// IsTransfer is true for a request made by RequestTransfer (transfer
	// or conference); seed 000 PSR isTransfer. Omitted when false.
	IsTransfer bool `json:"isTransfer,omitempty"`
	// TargetAgent is set for a direct transfer or conference to one agent
	// (RequestTransfer.TargetAgent). On an external queue the engine offers
	// such a request itself (external.go): no partner routing.
	TargetAgent string `json:"targetAgent,omitempty"`
	// CapacityWeight is the conversation's capacity weight (capacity.go);
	// omitted (0) when it is 1.
	CapacityWeight int `json:"capacityWeight,omitempty"`
	// PreferredAgents are the conversation's preferred agents, in order
	// (preferred.go); external routing's PSR PreferredUserId is the first.
	PreferredAgents []string `json:"preferredAgents,omitempty"`
	// LastAgent: the preferred agent is the customer's last agent in the
	// queue (Queue.LastAgent, lastagent.go). Omitted when false.
	LastAgent bool `json:"lastAgent,omitempty"`
	// TTLDeadline is when the request expires (TTL); omitted when it
	// never does.
	TTLDeadline time.Time `json:"ttlDeadline,omitzero"`
	At          time.Time `json:"at"`
}

// RequestUpdated: a request went back to QUEUED at its original position
// after a decline, RONA, logout or dropped agent, or after a callback's
// hold ended (HOLD_EXPIRED, AGENT_LOGOUT, AGENT_DISCONNECTED; hold.go); or
// it moved to another escalation step (ESCALATED, steps.go), in whatever
// state it is. Reason says which.
type RequestUpdated struct {
	Request      string      `json:"request"`
	Conversation string      `json:"conversation"`
	Queue        string      `json:"queue"`
	Reason       CloseReason `json:"reason"`
	// LastAgent is the agent whose offer or work ended.
	LastAgent string   `json:"lastAgent,omitempty"`
	Excluded  []string `json:"excluded,omitempty"`
	// Step and Priority are the request's escalation step and its
	// priority now (omitted when 0).
	Step     int       `json:"step,omitempty"`
	Priority int       `json:"priority,omitempty"`
	At       time.Time `json:"at"`
}

// RequestRemoved: a request ended: ACCEPTED, EXPIRED (TTL, NO_AGENT_AVAILABLE),
// CANCELLED, ABANDONED or UNCONFIRMED (a callback's last hold expired,
// hold.go).
type RequestRemoved struct {
	Request      string      `json:"request"`
	Conversation string      `json:"conversation"`
	Queue        string      `json:"queue"`
	Reason       CloseReason `json:"reason"`
	// WaitSeconds is the time from first enqueue to removal.
	WaitSeconds float64   `json:"waitSeconds"`
	At          time.Time `json:"at"`
}

// TaskReserved: an agent was offered a request (seed 004 taskRequest).
type TaskReserved struct {
	Task         string    `json:"task"`
	Conversation string    `json:"conversation"`
	Request      string    `json:"request"`
	Agent        string    `json:"agent"`
	Queue        string    `json:"queue"`
	MRD          string    `json:"mrd"`
	Deadline     time.Time `json:"deadline"`
	// Mode, RequestedBy and Note are set for a transfer or conference
	// request (RequestTransfer): seed 004 taskRequest.note, .requestedBy.
	Mode        TransferMode `json:"mode,omitempty"`
	RequestedBy string       `json:"requestedBy,omitempty"`
	Note        string       `json:"note,omitempty"`
	At          time.Time    `json:"at"`
	// Offered describes the offer (eventviews.go); always set by the
	// engine.
	Offered *Offered `json:"-"`
}

// TaskRevoked: a reserved task was taken back (seed 004 revokeTask): RONA,
// conversation cancelled or abandoned, agent logged out.
type TaskRevoked struct {
	Task         string      `json:"task"`
	Conversation string      `json:"conversation"`
	Agent        string      `json:"agent"`
	Reason       CloseReason `json:"reason"`
	At           time.Time   `json:"at"`
}

// TaskActivated: the agent accepted; the task is ACTIVE.
type TaskActivated struct {
	Task         string    `json:"task"`
	Conversation string    `json:"conversation"`
	Agent        string    `json:"agent"`
	At           time.Time `json:"at"`
}

// TaskWrapUp: the agent left the conversation and wraps up until Deadline.
type TaskWrapUp struct {
	Task         string    `json:"task"`
	Conversation string    `json:"conversation"`
	Agent        string    `json:"agent"`
	Deadline     time.Time `json:"deadline"`
	At           time.Time `json:"at"`
}

// TaskClosed: a task ended with Reason.
type TaskClosed struct {
	Task         string      `json:"task"`
	Conversation string      `json:"conversation"`
	Agent        string      `json:"agent"`
	Reason       CloseReason `json:"reason"`
	At           time.Time   `json:"at"`
}

// ParticipantJoined: an agent joined a conversation with Role. Task is
// empty for a supervisor (JoinConversation: SILENT_MONITOR, BARGE_IN).
type ParticipantJoined struct {
	Conversation string          `json:"conversation"`
	Agent        string          `json:"agent"`
	Task         string          `json:"task"`
	Role         ParticipantRole `json:"role"`
	At           time.Time       `json:"at"`
}

// ParticipantLeft: an agent left a conversation. Task is empty for a
// supervisor (LeaveConversation, or the conversation closed).
type ParticipantLeft struct {
	Conversation string    `json:"conversation"`
	Agent        string    `json:"agent"`
	Task         string    `json:"task"`
	At           time.Time `json:"at"`
}

// DefinitionChanged: an MRD, queue, agent or reason code was created or
// replaced. Kind is "mrd", "queue", "agent" or "reasonCode".
type DefinitionChanged struct {
	Kind string    `json:"kind"`
	ID   string    `json:"id"`
	At   time.Time `json:"at"`
}

// EventName implementations.
func (AgentStateChanged) EventName() string   { return "AgentStateChanged" }
func (MRDStateChanged) EventName() string     { return "MRDStateChanged" }
func (ConversationCreated) EventName() string { return "ConversationCreated" }
func (ConversationClosed) EventName() string  { return "ConversationClosed" }
func (RequestQueued) EventName() string       { return "RequestQueued" }
func (RequestUpdated) EventName() string      { return "RequestUpdated" }
func (RequestRemoved) EventName() string      { return "RequestRemoved" }
func (TaskReserved) EventName() string        { return "TaskReserved" }
func (TaskRevoked) EventName() string         { return "TaskRevoked" }
func (TaskActivated) EventName() string       { return "TaskActivated" }
func (TaskWrapUp) EventName() string          { return "TaskWrapUp" }
func (TaskClosed) EventName() string          { return "TaskClosed" }
func (ParticipantJoined) EventName() string   { return "ParticipantJoined" }
func (ParticipantLeft) EventName() string     { return "ParticipantLeft" }
func (DefinitionChanged) EventName() string   { return "DefinitionChanged" }

// strictUnmarshal decodes one JSON value into v, refusing unknown fields
// and trailing data.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errTrailing
	}
	return nil
}

var errTrailing = &Error{Code: CodeInvalidArgument, Message: "trailing data after JSON value"}
