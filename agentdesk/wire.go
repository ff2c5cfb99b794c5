package agentdesk

import (
	"encoding/json"
	"time"

	"github.com/omniroute/omniroute/errcode"
)

// Event names (seed 004 "Socket Events"; PROTOCOLS.md lists them all).
const (
	// EventChangeAgentState: desk -> server, a ChangeAgentState payload.
	EventChangeAgentState = "changeAgentState"
	// EventTopicSubscription: desk -> server, accept an offered task.
	EventTopicSubscription = "topicSubscription"
	// EventTopicUnsubscriptionRequest: desk -> server, leave a
	// conversation (the seed: "please ignore the underscore").
	EventTopicUnsubscriptionRequest = "topicUnsubscription_"

	// EventAgentPresence: server -> desk, an AgentPresence payload.
	EventAgentPresence = "agentPresence"
	// EventTaskRequest: server -> desk, a TaskRequest payload.
	EventTaskRequest = "taskRequest"
	// EventRevokeTask: server -> desk, a RevokeTask payload.
	EventRevokeTask = "revokeTask"
	// EventOnTopicData: server -> desk, an OnTopicData payload.
	EventOnTopicData = "onTopicData"
	// EventTopicUnsubscription: server -> desk, a TopicUnsubscription payload.
	EventTopicUnsubscription = "topicUnsubscription"
	// EventErrors: server -> desk, an ErrorEvent payload.
	EventErrors = "errors"
)

// agentPresence actions (seed 004 "Agent Presence Event").
const (
	// ActionStateChanged: the state changed (or, on connect, the current state).
	ActionStateChanged = "AGENT_STATE_CHANGED"
	// ActionStateUnchanged: a requested change was refused or changed nothing;
	// AgentPresence.Reason says why.
	ActionStateUnchanged = "AGENT_STATE_UNCHANGED"
)

// Error codes this package adds to the routing error codes
// (routing.Code*), in connect_error data.code, ErrorEvent.Code,
// AgentPresence.Reason.Code and Ack.Code.
const (
	// CodeUnauthorized: no bearer token, or the TokenVerifier refused it.
	CodeUnauthorized = errcode.Unauthorized
	// CodeAgentMismatch: auth.agent names another agent than the token's.
	CodeAgentMismatch = errcode.AgentMismatch
	// CodeUnknownAgent: the token's agent is not configured in the engine.
	CodeUnknownAgent = errcode.UnknownAgent
	// CodeTooManySockets: the agent already has Options.MaxSocketsPerAgent sockets.
	CodeTooManySockets = errcode.TooManySockets
	// CodeForbidden: the payload names another agent than the socket's.
	CodeForbidden = errcode.Forbidden
	// CodeStateUnchanged: the requested state is the current state.
	CodeStateUnchanged = errcode.StateUnchanged
	// CodeRateLimited: the socket sent more than Options.MaxEventsPerSecond.
	CodeRateLimited = errcode.RateLimited
	// CodeUnsupportedEvent: an event this server does not implement (yet).
	CodeUnsupportedEvent = errcode.UnsupportedEvent
	// CodeUnavailable: the engine did not answer (shutting down, timeout).
	CodeUnavailable = errcode.Unavailable
)

// CCUser is an agent as ExpertFlow describes it (agentPresence.agent,
// participant of a topic): participantType is always "CCUser".
type CCUser struct {
	ParticipantType string `json:"participantType"`
	// ID is the agent id.
	ID           string       `json:"id"`
	KeycloakUser KeycloakUser `json:"keycloakUser"`
	// AssociatedRoutingAttributes are the agent's skills, by name.
	AssociatedRoutingAttributes []AssociatedRoutingAttribute `json:"associatedRoutingAttributes"`
}

// KeycloakUser is the agent's identity. ID and Username are the agent id,
// FirstName its display name, Roles its role ("agent" or "supervisor").
type KeycloakUser struct {
	ID        string   `json:"id"`
	Username  string   `json:"username"`
	FirstName string   `json:"firstName"`
	Roles     []string `json:"roles"`
}

// AssociatedRoutingAttribute is one skill of an agent: Value is its level
// 1..100.
type AssociatedRoutingAttribute struct {
	RoutingAttribute RoutingAttribute `json:"routingAttribute"`
	Value            int              `json:"value"`
}

// RoutingAttribute names a skill; ID equals Name, Type is "PROFICIENCY_LEVEL".
type RoutingAttribute struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// ReasonCode is a not-ready or logout reason: Type is "NOT_READY" or "LOGOUT".
type ReasonCode struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// PresenceState is the agent's global state: Name is READY, NOT_READY or
// LOGOUT; ReasonCode is null unless the agent gave (or RONA set) a reason.
type PresenceState struct {
	Name       string      `json:"name"`
	ReasonCode *ReasonCode `json:"reasonCode"`
}

// MRD is a media routing domain as in agentMrdStates[].mrd and taskRequest.mrd.
// MaxRequests is the MRD's default per-agent capacity.
type MRD struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Description   string `json:"description"`
	Interruptible bool   `json:"interruptible"`
	MaxRequests   int    `json:"maxRequests"`
}

// AgentMrdState is the agent's state on one MRD: State is one of NOT_READY,
// READY, ACTIVE, BUSY, PENDING_NOT_READY, INTERRUPTED. Times are RFC 3339;
// LastReadyStateChangeTime is null if the MRD was never READY.
type AgentMrdState struct {
	MRD                      MRD        `json:"mrd"`
	State                    string     `json:"state"`
	StateChangeTime          time.Time  `json:"stateChangeTime"`
	LastReadyStateChangeTime *time.Time `json:"lastReadyStateChangeTime"`
}

// Reason says why an agentPresence is AGENT_STATE_UNCHANGED: Code is a
// routing error code (e.g. AGENT_NOT_READY, REASON_CODE_NOT_FOUND) or
// CodeStateUnchanged.
type Reason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// AgentPresence is the agentPresence payload (seed 004 "Agent Presence
// Event"; PROTOCOLS.md). It carries the agent's state as it is when the
// event is built, which may already include later changes; each later change
// produces its own agentPresence, so the last one a desk receives is current.
//
// AgentStateChanged is true when the command behind the event changed the
// global state; MrdStateChanges lists the MRD ids whose state it changed. On
// connect, Action is AGENT_STATE_CHANGED with AgentStateChanged false and no
// MrdStateChanges. AgentLoginTime is null for an agent never logged in.
type AgentPresence struct {
	Agent             CCUser          `json:"agent"`
	State             PresenceState   `json:"state"`
	StateChangeTime   time.Time       `json:"stateChangeTime"`
	AgentMrdStates    []AgentMrdState `json:"agentMrdStates"`
	Action            string          `json:"action"`
	AgentLoginTime    *time.Time      `json:"agentLoginTime"`
	AgentStateChanged bool            `json:"agentStateChanged"`
	MrdStateChanges   []string        `json:"mrdStateChanges"`
	// Reason is set only when Action is AGENT_STATE_UNCHANGED.
	Reason *Reason `json:"reason,omitempty"`
}

// RoomInfo names the conversation's room: ID is the conversation id, Mode
// is "CONTACT_CENTER".
type RoomInfo struct {
	ID   string `json:"id"`
	Mode string `json:"mode"`
}

// RoutingPolicy is channelSession.channel.channelConfig.routingPolicy:
// AgentRequestTTL is the RONA timeout in seconds (may be fractional),
// RoutingMode is "PUSH", RoutingObjectID the queue id.
type RoutingPolicy struct {
	RoutingMode     string  `json:"routingMode"`
	RoutingObjectID string  `json:"routingObjectId"`
	AgentRequestTTL float64 `json:"agentRequestTtl"`
}

// ChannelConfig holds the routing policy.
type ChannelConfig struct {
	RoutingPolicy RoutingPolicy `json:"routingPolicy"`
}

// Channel is the customer's channel; only its configuration is known here.
type Channel struct {
	ChannelConfig ChannelConfig `json:"channelConfig"`
}

// ChannelSession is the customer's session: ID and ConversationID are the
// conversation id (omniroute has one channel session per conversation),
// Customer is the customer object given when the conversation was created,
// or null.
type ChannelSession struct {
	ID             string          `json:"id"`
	ConversationID string          `json:"conversationId"`
	Channel        Channel         `json:"channel"`
	Customer       json.RawMessage `json:"customer"`
}

// TaskStateRef is a task state, as in taskRequest.taskState.
type TaskStateRef struct {
	Name string `json:"name"`
}

// QueueRef names a queue.
type QueueRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// UserRef names an agent (taskRequest.ccUser).
type UserRef struct {
	ID string `json:"id"`
}

// TaskRequest is the taskRequest payload (seed 004 "Push Mode Tasks";
// PROTOCOLS.md): an offer, RESERVED for the agent until accepted with
// topicSubscription or revoked (revokeTask) after AgentRequestTTL seconds.
// CorrelationID is the routing request id; RequestedBy is always null and
// Note empty in this subset; TaskDirection is "INBOUND".
type TaskRequest struct {
	ConversationID string          `json:"conversationId"`
	ChannelSession ChannelSession  `json:"channelSession"`
	RoomInfo       RoomInfo        `json:"roomInfo"`
	TaskID         string          `json:"taskId"`
	TaskState      TaskStateRef    `json:"taskState"`
	TaskDirection  string          `json:"taskDirection"`
	Queue          QueueRef        `json:"queue"`
	MRD            MRD             `json:"mrd"`
	Note           string          `json:"note"`
	RequestedBy    json.RawMessage `json:"requestedBy"`
	CorrelationID  string          `json:"correlationId"`
	CCUser         UserRef         `json:"ccUser"`
	// Priority and Step are the request's routing priority when offered
	// (aging and escalation steps included) and its queue escalation step
	// (0: the queue's own definition); omniroute additions, routing/steps.go.
	Priority int `json:"priority"`
	Step     int `json:"step"`
	// CapacityWeight is the agent capacity units the conversation takes
	// (routing/capacity.go: chat 2, email 1, case 5), at least 1; an
	// omniroute addition.
	CapacityWeight int `json:"capacityWeight"`
}

// RevokeTask is the revokeTask payload: the offer TaskID on ConversationID
// is withdrawn; Reason is a routing close reason (RONA, CANCELLED,
// AGENT_LOGOUT).
type RevokeTask struct {
	ConversationID string `json:"conversationId"`
	TaskID         string `json:"taskId"`
	Reason         string `json:"reason"`
}

// TopicParticipant is one participant of a conversation (topic). For an
// agent: ID is its task id, Type "AGENT", Participant a CCUser, Role PRIMARY
// (later: CONFERENCE, SILENT_MONITOR...). For the customer: ID is
// "<conversation>:customer", Type and Role "CUSTOMER", Participant the
// customer object. State is "SUBSCRIBED"; Token and UserCredentials are null.
type TopicParticipant struct {
	ID              string          `json:"id"`
	Type            string          `json:"type"`
	Participant     any             `json:"participant"`
	Token           json.RawMessage `json:"token"`
	TopicID         string          `json:"topicId"`
	Role            string          `json:"role"`
	UserCredentials json.RawMessage `json:"userCredentials"`
	State           string          `json:"state"`
}

// TopicData is onTopicData.topicData: the conversation. ConversationData
// holds its attributes; State is "ACTIVE" while open, "CLOSED" after;
// Participants lists the customer then the active agents, AgentParticipants
// the agents only; DurationInSeconds counts from creation. TopicEvents is
// the conversation's whole transcript, oldest first: CimEvent objects
// (conversation.CimEvent), customer messages, agent messages, whispers and system events.
// WrapUps is empty in this subset.
type TopicData struct {
	ID                string             `json:"id"`
	TopicParticipant  TopicParticipant   `json:"topicParticipant"`
	Customer          json.RawMessage    `json:"customer"`
	ConversationData  map[string]string  `json:"conversationData"`
	State             string             `json:"state"`
	Participants      []TopicParticipant `json:"participants"`
	AgentParticipants []TopicParticipant `json:"agentParticipants"`
	ChannelSession    ChannelSession     `json:"channelSession"`
	DurationInSeconds float64            `json:"durationInSeconds"`
	TopicEvents       []json.RawMessage  `json:"topicEvents"`
	WrapUps           []json.RawMessage  `json:"wrapUps"`
}

// OnTopicData is the onTopicData payload (PROTOCOLS.md), sent to every
// socket of the agent after it accepted (or re-subscribed to) a task.
// CorrelationID is the routing request id of the accepted offer (as in
// taskRequest); on a re-subscription to a task already ACTIVE, whose request
// is gone, it is the conversation id.
type OnTopicData struct {
	ConversationID string    `json:"conversationId"`
	CorrelationID  string    `json:"correlationId"`
	RoomInfo       RoomInfo  `json:"roomInfo"`
	TaskID         string    `json:"taskId"`
	TopicData      TopicData `json:"topicData"`
}

// TopicUnsubscription is the topicUnsubscription payload (PROTOCOLS.md),
// sent to every socket of the agent after topicUnsubscription_: Task is
// "topicUnsubscription", StatusCode 200, Reason "DONE" (task closed) or
// "WRAP_UP" (the queue has a wrap-up time).
type TopicUnsubscription struct {
	Task           string   `json:"task"`
	ConversationID string   `json:"conversationId"`
	StatusCode     int      `json:"statusCode"`
	RoomInfo       RoomInfo `json:"roomInfo"`
	Reason         string   `json:"reason"`
	TaskID         string   `json:"taskId"`
}

// ErrorEvent is the errors payload, sent to the requesting socket only: Code
// is a field-error code, a routing error code or one of this package's codes;
// Event is the desk event that failed; Field, for a field error, the JSON
// path of the offending field.
type ErrorEvent struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Event   string `json:"event"`
	Field   string `json:"field,omitempty"`
	// Limit is the limit Field broke (bytes; items for lists), when a
	// limit refused it (FIELD_TOO_LONG, PAYLOAD_TOO_LARGE, too many items).
	Limit int `json:"limit,omitempty"`
}

// Ack is the single argument of the acknowledgement of any desk event that
// asked for one: OK, or the Code, Message, Field and Limit of the failure
// (the same as in the errors or AGENT_STATE_UNCHANGED event sent with it).
type Ack struct {
	OK      bool   `json:"ok"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Field   string `json:"field,omitempty"`
	Limit   int    `json:"limit,omitempty"`
}

var jsonNull = json.RawMessage("null")

// orNull returns raw, or JSON null when raw is empty.
func orNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return jsonNull
	}
	return raw
}
