package conversation

import (
	"encoding/json"
	"time"

	"github.com/omniroute/omniroute/errcode"
	"github.com/omniroute/omniroute/routing"
	"github.com/omniroute/omniroute/transcript"
)

// Error codes of the conversation layer (besides the FieldError codes),
// carried by a *routing.Error; errcode lists them. Adapters map them to
// their protocol's status (REST /v1: errcode.V1Status; agentdesk: an
// errors event with the code).
const (
	// CodeNotParticipant: the agent has no ACTIVE task on the conversation
	// and has not joined it as a supervisor.
	CodeNotParticipant = routing.CodeNotParticipant
	// CodeConversationClosed: the conversation is closed; its transcript
	// takes no more messages.
	CodeConversationClosed = errcode.ConversationClosed
	// CodeCustomerGone: the customer already left (customer side only).
	CodeCustomerGone = errcode.CustomerLeft
	// CodePayloadTooLarge: the CIM event, as stored, is over
	// Options.MaxEventBytes.
	CodePayloadTooLarge = errcode.PayloadTooLarge
	// CodeTranscriptFull: the conversation's transcript holds its
	// store's MaxEntriesPerConversation entries.
	CodeTranscriptFull = errcode.TranscriptFull
	// CodeReplyNotFound: header.originalMessageId names no message of the
	// conversation.
	CodeReplyNotFound = errcode.ReplyNotFound
	// CodeRoleNotAllowed: a SILENT_MONITOR or WHISPER supervisor may
	// publish only WHISPER_MESSAGE (seed 004 "Silent Monitoring").
	CodeRoleNotAllowed = errcode.RoleNotAllowed
	// CodeUnavailable: the routing engine or the transcript store did not
	// answer; nothing was stored or delivered.
	CodeUnavailable = errcode.Unavailable
)

// CIM event names omniroute produces itself (PROTOCOLS.md "CIM event").
// Agents cannot publish them: the server is their only source.
const (
	CimAgentMessage          = "AGENT_MESSAGE"
	CimCustomerMessage       = "CUSTOMER_MESSAGE"
	CimWhisperMessage        = "WHISPER_MESSAGE"
	CimAgentSubscribed       = "AGENT_SUBSCRIBED"
	CimAgentUnsubscribed     = "AGENT_UNSUBSCRIBED"
	CimTaskStateChanged      = "TASK_STATE_CHANGED"
	CimParticipantRole       = "PARTICIPANT_ROLE_CHANGED"
	CimCustomerLeft          = "CUSTOMER_LEFT"
	CimNoAgentAvailable      = "NO_AGENT_AVAILABLE"
	CimChannelSessionStarted = "CHANNEL_SESSION_STARTED"
	CimChannelSessionEnded   = "CHANNEL_SESSION_ENDED"
)

// Limits of CIM payloads.
const (
	// DefaultMaxEventBytes bounds one stored CIM event (its JSON).
	DefaultMaxEventBytes = transcript.DefaultMaxEntryBytes
	// DefaultMaxEventsPerConversation bounds a transcript.
	DefaultMaxEventsPerConversation = transcript.DefaultMaxEntriesPerConversation
	// MaxTextBytes bounds markdownText, captions, URLs and titles.
	MaxTextBytes = 8 << 10
	// MaxButtons bounds body.buttons.
	MaxButtons = 32
)

// EventEmitter says who produced a CIM event: Type is AGENT, CUSTOMER or
// SYSTEM; ID the agent id, "<conversation>:customer" or "omniroute".
type EventEmitter struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	SenderName string `json:"senderName,omitempty"`
}

// CimEvent is a CIM event as stored in the transcript and sent in
// agentdesk's onCimEvent and onTopicData.topicData.topicEvents and the
// customer's event stream (PROTOCOLS.md): {id, name, type, timestamp,
// conversationId, roomId, eventEmitter, data}. Data is a CIM message {id,
// header, body} for type MESSAGE, an object describing the activity
// otherwise. Timestamp is RFC 3339, set by the server when it accepted the
// event.
type CimEvent struct {
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	Type           string          `json:"type"`
	Timestamp      time.Time       `json:"timestamp"`
	ConversationID string          `json:"conversationId"`
	RoomID         string          `json:"roomId"`
	EventEmitter   EventEmitter    `json:"eventEmitter"`
	Data           json.RawMessage `json:"data"`
}

// CustomerID is the id the customer of conversation speaks under
// (eventEmitter.id, header.sender.id, channelCustomerIdentifier).
func CustomerID(conversation string) string { return conversation + ":customer" }
