// Package errcode is the one list of omniroute's stable error codes and the
// table that maps each onto the native REST API's (/v1) HTTP status.
//
// A code is a promise to clients: once released it keeps its name and its
// meaning, so List is append-only (like Upspin's errors.Kind or
// nats-server's errors.json). TestAppendOnly holds the released order in
// testdata/released.txt and fails when a code is removed, renamed or moved;
// a new code goes at the end of List and of that file. docs/ERRORS.md is
// generated from List and the protocol tables (go test ./errcode -update),
// and TestDocCurrent fails when it is stale.
//
// The engine's codes are routing's (routing.Code*, which this list names
// rather than repeats: routing imports nothing outside routing/); the
// adapters' codes are defined here and their packages name them
// (restapi.CodeUnauthorized = errcode.Unauthorized). Each protocol has one
// table from code to its own status: V1Status here for REST /v1 (restapi,
// extrouting's native routes, the web UI's API), gms.ErrorFor for GMS
// (status and exception name, seed 003), extrouting.SalesforceError for the
// Salesforce REST resources (StatusCode and fields, seed 000). The
// Socket.IO desk protocol carries the code itself (Ack.Code, seed 004).
package errcode

import (
	"net/http"

	"github.com/omniroute/omniroute/routing"
)

// Codes the adapters add to the engine's. Their meaning is in List.
const (
	Unauthorized         = "UNAUTHORIZED"
	Forbidden            = "FORBIDDEN"
	InvalidJSON          = "INVALID_JSON"
	BodyTooLarge         = "BODY_TOO_LARGE"
	UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
	NotFound             = "NOT_FOUND"
	MethodNotAllowed     = "METHOD_NOT_ALLOWED"
	TooManyRequests      = "TOO_MANY_REQUESTS"
	Unavailable          = "UNAVAILABLE"
	Internal             = "INTERNAL"

	AgentMismatch    = "AGENT_MISMATCH"
	UnknownAgent     = "UNKNOWN_AGENT"
	TooManySockets   = "TOO_MANY_SOCKETS"
	StateUnchanged   = "STATE_UNCHANGED"
	RateLimited      = "RATE_LIMITED"
	UnsupportedEvent = "UNSUPPORTED_EVENT"
	InvalidPayload   = "INVALID_PAYLOAD"
	MissingField     = "MISSING_FIELD"
	InvalidField     = "INVALID_FIELD"
	FieldTooLong     = "FIELD_TOO_LONG"

	ConversationClosed = "CONVERSATION_CLOSED"
	CustomerLeft       = "CUSTOMER_LEFT"
	PayloadTooLarge    = "PAYLOAD_TOO_LARGE"
	TranscriptFull     = "TRANSCRIPT_FULL"
	ReplyNotFound      = "REPLY_NOT_FOUND"
	RoleNotAllowed     = "ROLE_NOT_ALLOWED"

	TicketInvalid = "TICKET_INVALID"
	TicketExpired = "TICKET_EXPIRED"
	TicketUsed    = "TICKET_USED"
	TokenExpired  = "TOKEN_EXPIRED"

	IdentityProviderUnavailable = "IDENTITY_PROVIDER_UNAVAILABLE"
)

// Origin says who decides a refusal.
type Origin string

// Origins.
const (
	// Engine: a routing command refused (routing.Error); every protocol
	// table maps these.
	Engine Origin = "engine"
	// API: an HTTP adapter refused the request before any command.
	API Origin = "api"
	// Desk: the agent desk's Socket.IO protocol (agentdesk, seed 004).
	Desk Origin = "desk"
	// Conversation: a conversation's messages and transcript.
	Conversation Origin = "conversation"
)

// Entry is one stable code.
type Entry struct {
	Code   string
	Origin Origin
	// Doc says when the code is returned, for a person.
	Doc string
}

// List is every stable code, in the order they were released. Append only.
var List = []Entry{
	{routing.CodeInvalidArgument, Engine, "a field is missing, malformed or out of its range; the message names it"},
	{routing.CodeLimitExceeded, Engine, "a named limit would be exceeded (MRDs, queues, agents, attributes, lengths); retrying unchanged will not help"},
	{routing.CodeAgentNotFound, Engine, "no agent has this id"},
	{routing.CodeQueueNotFound, Engine, "no queue has this id (or name)"},
	{routing.CodeMRDNotFound, Engine, "no MRD has this id"},
	{routing.CodeReasonCodeNotFound, Engine, "no reason code has this id"},
	{routing.CodeTaskNotFound, Engine, "no open task has this id"},
	{routing.CodeConversationNotFound, Engine, "no conversation has this id (or it is gone from the retained closed ones)"},
	{routing.CodeAlreadyExists, Engine, "the id is taken"},
	{routing.CodeInvalidTransition, Engine, "the state machine does not allow this change now (accept of a closed task, an already pushed request, ...)"},
	{routing.CodeAgentNotReady, Engine, "an MRD can be READY only while the agent is READY (seed 004)"},
	{routing.CodeNotTaskOwner, Engine, "the task belongs to another agent"},
	{routing.CodeConversationNotWaiting, Engine, "abandon of a conversation already answered or closed"},
	{routing.CodeInUse, Engine, "a definition still referenced (an MRD with queues)"},
	{routing.CodeNotSupervisor, Engine, "a silent monitor, whisper or barge-in, or a forced agent state, by an agent whose role is not supervisor (seed 004)"},
	{routing.CodeTeamMismatch, Engine, "the supervisor supervises none of the teams of the conversation's PRIMARY agent, or of the agent whose state it forces"},
	{routing.CodeNotMonitorable, Engine, "the conversation is not an ACTIVE push-mode chat"},
	{routing.CodeNotParticipant, Engine, "the agent is not a participant of the conversation (no ACTIVE task, not joined as a supervisor)"},
	{routing.CodeNotEligible, Engine, "the named agent may not take the request now (transfer, conference, AssignWork); the message names the rule"},
	{routing.CodeRequestNotFound, Engine, "no live request has this id (ended, accepted or never created)"},
	{routing.CodeNotExternal, Engine, "AssignWork on a request of an internal queue: the engine routes those (seed 000)"},
	{routing.CodeMixedRouting, Engine, "a transfer between an external and an internal queue (seed 000)"},
	{routing.CodeRequestPending, Engine, "the conversation already waits for an agent (its own request, or a transfer or conference request)"},
	{routing.CodeQueueClosed, Engine, "the queue is outside its business hours and its closedAction is reject"},

	{Unauthorized, API, "no credentials, or credentials the server refuses"},
	{Forbidden, API, "the credentials may not do this (another agent's resource, an admin route)"},
	{InvalidJSON, API, "the body is not the JSON the route expects"},
	{BodyTooLarge, API, "the body is over the route's limit"},
	{UnsupportedMediaType, API, "the Content-Type is not one the route reads"},
	{NotFound, API, "no route or record at this path"},
	{MethodNotAllowed, API, "the route does not take this method (the Allow header lists those it takes)"},
	{TooManyRequests, API, "a rate or concurrency limit; Retry-After says when to try again"},
	{Unavailable, API, "the routing node is closed, its journal failed, or it did not answer in time (a change may still apply)"},
	{Internal, API, "a failure of the server; it is logged"},

	{AgentMismatch, Desk, "the handshake names another agent than the token's"},
	{UnknownAgent, Desk, "the token's agent is not configured"},
	{TooManySockets, Desk, "the agent already has the most sockets allowed"},
	{StateUnchanged, Desk, "the requested state is the current state"},
	{RateLimited, Desk, "the socket sent more events per second than allowed"},
	{UnsupportedEvent, Desk, "an event this server does not implement"},
	{InvalidPayload, Desk, "the event has no argument, or it is not a JSON object"},
	{MissingField, Desk, "a required field is absent, null or empty"},
	{InvalidField, Desk, "a field has the wrong JSON type or a value outside its set"},
	{FieldTooLong, Desk, "a string field is over its limit or not UTF-8"},

	{ConversationClosed, Conversation, "the conversation is closed; its transcript takes no more messages"},
	{CustomerLeft, Conversation, "the customer already left"},
	{PayloadTooLarge, Conversation, "the message, as stored, is over the limit of one transcript entry"},
	{TranscriptFull, Conversation, "the conversation's transcript holds the most entries allowed"},
	{ReplyNotFound, Conversation, "the reply names no message of the conversation"},
	{RoleNotAllowed, Conversation, "a SILENT_MONITOR or WHISPER supervisor may publish only whispers (seed 004)"},

	{TicketInvalid, API, "the ?ticket= is not one this server minted, or was minted for another stream (POST /v1/tickets)"},
	{TicketExpired, API, "the ticket's lifetime (30 s by default) has passed; mint another"},
	{TicketUsed, API, "the ticket was used before; a ticket opens one stream once, mint another to reconnect"},
	{TokenExpired, Desk, "the socket's token expired and the desk sent no refreshToken with a new one; the socket is closed (tokenExpired)"},
	{IdentityProviderUnavailable, API, "a login passed to an OpenID issuer (passwordGrant, or the pages' browser sign-in at POST /ui/api/oidc/token) got no answer: the provider is down, timed out, or refused the client; the password or code was neither accepted nor refused"},
}

// v1 is REST /v1's table: code -> HTTP status. Not found 404; permission
// 403; a conflict with the current state 409 (retrying later may work);
// bad input 400; a limit 422 (well-formed but over a bound: retrying
// unchanged will not help).
var v1 = map[string]int{
	routing.CodeInvalidArgument:        http.StatusBadRequest,
	routing.CodeLimitExceeded:          http.StatusUnprocessableEntity,
	routing.CodeAgentNotFound:          http.StatusNotFound,
	routing.CodeQueueNotFound:          http.StatusNotFound,
	routing.CodeMRDNotFound:            http.StatusNotFound,
	routing.CodeReasonCodeNotFound:     http.StatusNotFound,
	routing.CodeTaskNotFound:           http.StatusNotFound,
	routing.CodeConversationNotFound:   http.StatusNotFound,
	routing.CodeAlreadyExists:          http.StatusConflict,
	routing.CodeInvalidTransition:      http.StatusConflict,
	routing.CodeAgentNotReady:          http.StatusConflict,
	routing.CodeNotTaskOwner:           http.StatusConflict,
	routing.CodeConversationNotWaiting: http.StatusConflict,
	routing.CodeInUse:                  http.StatusConflict,
	routing.CodeNotSupervisor:          http.StatusForbidden,
	routing.CodeTeamMismatch:           http.StatusForbidden,
	routing.CodeNotMonitorable:         http.StatusConflict,
	routing.CodeNotParticipant:         http.StatusConflict,
	routing.CodeNotEligible:            http.StatusConflict,
	routing.CodeRequestNotFound:        http.StatusNotFound,
	routing.CodeNotExternal:            http.StatusBadRequest,
	routing.CodeMixedRouting:           http.StatusBadRequest,
	routing.CodeRequestPending:         http.StatusConflict,
	routing.CodeQueueClosed:            http.StatusConflict,

	Unauthorized:         http.StatusUnauthorized,
	Forbidden:            http.StatusForbidden,
	InvalidJSON:          http.StatusBadRequest,
	BodyTooLarge:         http.StatusRequestEntityTooLarge,
	UnsupportedMediaType: http.StatusUnsupportedMediaType,
	NotFound:             http.StatusNotFound,
	MethodNotAllowed:     http.StatusMethodNotAllowed,
	TooManyRequests:      http.StatusTooManyRequests,
	Unavailable:          http.StatusServiceUnavailable,
	Internal:             http.StatusInternalServerError,

	IdentityProviderUnavailable: http.StatusServiceUnavailable,

	InvalidPayload: http.StatusBadRequest,
	MissingField:   http.StatusBadRequest,
	InvalidField:   http.StatusBadRequest,
	FieldTooLong:   http.StatusBadRequest,

	ConversationClosed: http.StatusConflict,
	CustomerLeft:       http.StatusConflict,
	PayloadTooLarge:    http.StatusRequestEntityTooLarge,
	TranscriptFull:     http.StatusUnprocessableEntity,
	ReplyNotFound:      http.StatusUnprocessableEntity,
	RoleNotAllowed:     http.StatusForbidden,

	TicketInvalid: http.StatusUnauthorized,
	TicketExpired: http.StatusUnauthorized,
	TicketUsed:    http.StatusUnauthorized,
}

// V1Status is the HTTP status REST /v1 answers code with (the table above);
// a code it does not list (a desk-only code) is 400.
func V1Status(code string) int {
	if s, ok := v1[code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// V1Has reports whether code has its own row in REST /v1's table.
func V1Has(code string) bool { _, ok := v1[code]; return ok }

// Body is every REST /v1 error response: {"error":{"code","message"}}.
type Body struct {
	Error Detail `json:"error"`
}

// Detail is the stable code and a message for a person.
type Detail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
