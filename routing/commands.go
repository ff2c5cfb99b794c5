package routing

import (
	"encoding/json"
	"fmt"
	"time"
)

// Command is an input to State.Apply. Every command is a plain value that
// encodes to JSON, so the node can journal it and a replay rebuilds the state.
type Command interface {
	// CommandName is the stable name used in the journal and golden files.
	CommandName() string
}

// UpsertMRD creates or replaces an MRD definition.
type UpsertMRD struct {
	MRD MRD `json:"mrd"`
}

// UpsertQueue creates or replaces a queue definition. Waiting requests stay,
// in their order; eligibility is recomputed.
type UpsertQueue struct {
	Queue Queue `json:"queue"`
}

// UpsertAgent creates or replaces an agent definition; the agent's presence
// and work are kept.
type UpsertAgent struct {
	Agent Agent `json:"agent"`
}

// UpsertReasonCode creates or replaces a reason code.
type UpsertReasonCode struct {
	ReasonCode ReasonCode `json:"reasonCode"`
}

// SetAgentState changes an agent's global state (seed 004 changeAgentState
// action agentState). READY takes no reason code; NOT_READY and LOGOUT take an
// optional one of the matching type. READY also makes every MRD READY.
// Setting the state the agent is already in changes nothing and is not an
// error. LOGOUT re-routes reserved work and re-queues active work.
//
// Supervisor, when set, is the supervisor forcing the change (the
// wallboard's "change status"): the command is refused with
// NOT_SUPERVISOR unless Supervisor is an agent with role supervisor, and
// with TEAM_MISMATCH unless it shares a team with Agent (State.Supervises),
// both checked when the command runs, right after Agent is found.
type SetAgentState struct {
	Agent      string     `json:"agent"`
	State      AgentState `json:"state"`
	ReasonCode string     `json:"reasonCode,omitempty"`
	Supervisor string     `json:"supervisor,omitempty"`
}

// SetMRDState changes an agent's wish on one MRD (seed 004 action
// agentMRDState): READY (requires the agent READY, else CodeAgentNotReady) or
// NOT_READY (PENDING_NOT_READY while the MRD has work).
type SetMRDState struct {
	Agent string   `json:"agent"`
	MRD   string   `json:"mrd"`
	State MRDState `json:"state"`
}

// CreateConversation opens a conversation and queues its request. The ids
// are chosen by the caller (unique; CodeAlreadyExists otherwise).
type CreateConversation struct {
	ID        string `json:"id"`
	RequestID string `json:"requestId"`
	// Queue is the conversation's queue; with Target set, the fallback
	// when no target selects a queue (may then be empty).
	Queue string `json:"queue"`
	// Target, when set, chooses the queue as the command runs: a URS
	// target list (routing/target syntax, GMS _target; seed 003), tried in
	// order. A Q target selects the queue of its name; a GA target the
	// queue of its name or, for a skill expression, the first queue (by
	// id) with skills that the expression matches; other types select
	// nothing. When none selects a queue, Queue does; when Queue is not a
	// queue either: QUEUE_NOT_FOUND. A malformed list: INVALID_ARGUMENT.
	// ConversationCreated names the queue chosen.
	Target string `json:"target,omitempty"`
	// MRD, when set, is the MRD the caller expects Queue to be on: a queue
	// on another MRD refuses the command (INVALID_ARGUMENT), checked with
	// the queue as it is when the command runs.
	MRD        string            `json:"mrd,omitempty"`
	Priority   int               `json:"priority,omitempty"`
	Customer   json.RawMessage   `json:"customer,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	// TTL overrides the queue's request TTL when > 0.
	TTL time.Duration `json:"ttl,omitempty"`
	// DefaultTTL is the request TTL when neither TTL nor the queue has one
	// (0: none). RequestQueued carries the deadline that results.
	DefaultTTL time.Duration `json:"defaultTTL,omitempty"`
	// Hold makes the request a callback (seed 003 "Chat Delayed", hold.go):
	// when an agent is available for it, the agent's capacity is held for
	// Hold (nanoseconds in JSON, 0..MaxDuration) and AgentHeld is emitted
	// instead of an offer; ConfirmHold then offers it to that agent.
	// 0: a normal request.
	Hold time.Duration `json:"hold,omitempty"`
	// HoldAttempts is how many holds may expire unconfirmed before the
	// callback ends (UNCONFIRMED); 0 means 1, at most MaxHoldAttempts.
	// Needs Hold > 0 (INVALID_ARGUMENT otherwise).
	HoldAttempts int `json:"holdAttempts,omitempty"`
	// CapacityWeight, when > 0, overrides the queue's CapacityWeight for
	// this conversation (1..MaxCapacityUnits; capacity.go).
	CapacityWeight int `json:"capacityWeight,omitempty"`
	// PreferredAgents (agent ids, at most MaxPreferredAgents, each once)
	// are offered the request first, in this order, for PreferredTimeout
	// (nanoseconds in JSON, 0..MaxDuration; 0: DefaultPreferredTimeout);
	// then the queue serves it (preferred.go).
	PreferredAgents  []string      `json:"preferredAgents,omitempty"`
	PreferredTimeout time.Duration `json:"preferredTimeout,omitempty"`
	// CustomerID names the customer for last-agent routing
	// (Queue.LastAgent, lastagent.go), 0..MaxIDLength bytes; empty: none.
	// Adapters set it from the customer object (with sealed customer
	// fields: its key reference, a pseudonym).
	CustomerID string `json:"customerId,omitempty"`
}

// AcceptTask: the agent accepts a RESERVED task (seed 004 topicSubscription);
// the task becomes ACTIVE and the request is removed.
type AcceptTask struct {
	Task  string `json:"task"`
	Agent string `json:"agent"`
	// Conversation, when set, is the conversation the agent means: the task
	// must be on it (INVALID_ARGUMENT otherwise). With Task empty, the
	// agent's first RESERVED task on it (creation order) is accepted
	// (TASK_NOT_FOUND when it has none). The engine resolves both when the
	// command runs, so no earlier read of the state can be stale.
	Conversation string `json:"conversation,omitempty"`
}

// DeclineTask: the agent declines a RESERVED task; the request goes back to
// its queue at its original position and excludes this agent.
type DeclineTask struct {
	Task  string `json:"task"`
	Agent string `json:"agent"`
}

// CloseTask: the agent leaves an ACTIVE task (seed 004 topicUnsubscription_)
// or ends the wrap-up of a WRAP_UP task (closeWrapup). An ACTIVE task goes to
// WRAP_UP when its queue has a wrap-up time, else CLOSED with DONE. When the
// last agent leaves, the conversation closes.
type CloseTask struct {
	Task  string `json:"task"`
	Agent string `json:"agent"`
	// Conversation is AcceptTask's: the task must be on it; with Task
	// empty, the agent's first task on it in State (ACTIVE when State is
	// empty) is closed.
	Conversation string `json:"conversation,omitempty"`
	// State, when set (ACTIVE or WRAP_UP), is the state the caller means:
	// a task in another state refuses the command (INVALID_TRANSITION), so
	// leaving a conversation (topicUnsubscription_) never ends a wrap-up
	// and closeWrapup never leaves one.
	State TaskState `json:"state,omitempty"`
}

// CloseConversation ends a conversation from the customer or system side:
// a waiting request is CANCELLED, a reserved task revoked, active tasks go to
// wrap-up (or close DONE).
type CloseConversation struct {
	Conversation string `json:"conversation"`
}

// AbandonConversation: the customer left before an agent accepted. Refused
// with CodeConversationNotWaiting once answered or closed.
type AbandonConversation struct {
	Conversation string `json:"conversation"`
}

// Tick applies every deadline (RONA, wrap-up end, TTL, hold end,
// escalation step) at or before now.
type Tick struct{}

// CommandName implementations.
func (UpsertMRD) CommandName() string           { return "UpsertMRD" }
func (UpsertQueue) CommandName() string         { return "UpsertQueue" }
func (UpsertAgent) CommandName() string         { return "UpsertAgent" }
func (UpsertReasonCode) CommandName() string    { return "UpsertReasonCode" }
func (SetAgentState) CommandName() string       { return "SetAgentState" }
func (SetMRDState) CommandName() string         { return "SetMRDState" }
func (CreateConversation) CommandName() string  { return "CreateConversation" }
func (AcceptTask) CommandName() string          { return "AcceptTask" }
func (DeclineTask) CommandName() string         { return "DeclineTask" }
func (CloseTask) CommandName() string           { return "CloseTask" }
func (CloseConversation) CommandName() string   { return "CloseConversation" }
func (AbandonConversation) CommandName() string { return "AbandonConversation" }
func (Tick) CommandName() string                { return "Tick" }

var commandTypes = map[string]func() Command{
	"UpsertMRD":           func() Command { return &UpsertMRD{} },
	"UpsertQueue":         func() Command { return &UpsertQueue{} },
	"UpsertAgent":         func() Command { return &UpsertAgent{} },
	"UpsertReasonCode":    func() Command { return &UpsertReasonCode{} },
	"SetAgentState":       func() Command { return &SetAgentState{} },
	"SetMRDState":         func() Command { return &SetMRDState{} },
	"CreateConversation":  func() Command { return &CreateConversation{} },
	"AcceptTask":          func() Command { return &AcceptTask{} },
	"DeclineTask":         func() Command { return &DeclineTask{} },
	"CloseTask":           func() Command { return &CloseTask{} },
	"CloseConversation":   func() Command { return &CloseConversation{} },
	"AbandonConversation": func() Command { return &AbandonConversation{} },
	// participants.go
	"RequestTransfer":       func() Command { return &RequestTransfer{} },
	"JoinConversation":      func() Command { return &JoinConversation{} },
	"ChangeParticipantRole": func() Command { return &ChangeParticipantRole{} },
	"LeaveConversation":     func() Command { return &LeaveConversation{} },
	"CustomerLeft":          func() Command { return &CustomerLeft{} },
	"Tick":                  func() Command { return &Tick{} },
	"AgentDisconnected":     func() Command { return &AgentDisconnected{} },
	// external.go
	"AssignWork": func() Command { return &AssignWork{} },
	// hold.go
	"ConfirmHold": func() Command { return &ConfirmHold{} },
	// steps.go
	"SetRequestPriority": func() Command { return &SetRequestPriority{} },
}

// EncodeCommand returns the JSON of cmd (without its name).
func EncodeCommand(cmd Command) ([]byte, error) { return json.Marshal(cmd) }

// DecodeCommand decodes the JSON body of the command called name. Unknown
// names and fields are errors.
func DecodeCommand(name string, data []byte) (Command, error) {
	mk, ok := commandTypes[name]
	if !ok {
		return nil, fmt.Errorf("routing: unknown command %q", name)
	}
	p := mk()
	if err := strictUnmarshal(data, p); err != nil {
		return nil, fmt.Errorf("routing: decode %s: %w", name, err)
	}
	return deref(p), nil
}

func deref(c Command) Command {
	switch v := c.(type) {
	case *UpsertMRD:
		return *v
	case *UpsertQueue:
		return *v
	case *UpsertAgent:
		return *v
	case *UpsertReasonCode:
		return *v
	case *SetAgentState:
		return *v
	case *SetMRDState:
		return *v
	case *CreateConversation:
		return *v
	case *AcceptTask:
		return *v
	case *DeclineTask:
		return *v
	case *CloseTask:
		return *v
	case *CloseConversation:
		return *v
	case *AbandonConversation:
		return *v
	case *RequestTransfer:
		return *v
	case *JoinConversation:
		return *v
	case *ChangeParticipantRole:
		return *v
	case *LeaveConversation:
		return *v
	case *CustomerLeft:
		return *v
	case *Tick:
		return *v
	case *AgentDisconnected:
		return *v
	case *AssignWork:
		return *v
	case *ConfirmHold:
		return *v
	case *SetRequestPriority:
		return *v
	}
	return c
}
