package routing

import "fmt"

// Error is a refused command. Code is stable and machine-readable; Message
// says what was wrong for a person. A command that returns an Error changed
// nothing.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Stable error codes.
const (
	CodeInvalidArgument      = "INVALID_ARGUMENT"
	CodeLimitExceeded        = "LIMIT_EXCEEDED"
	CodeAgentNotFound        = "AGENT_NOT_FOUND"
	CodeQueueNotFound        = "QUEUE_NOT_FOUND"
	CodeMRDNotFound          = "MRD_NOT_FOUND"
	CodeReasonCodeNotFound   = "REASON_CODE_NOT_FOUND"
	CodeTaskNotFound         = "TASK_NOT_FOUND"
	CodeConversationNotFound = "CONVERSATION_NOT_FOUND"
	CodeAlreadyExists        = "ALREADY_EXISTS"
	// CodeInvalidTransition: the state machine does not allow this change now.
	CodeInvalidTransition = "INVALID_TRANSITION"
	// CodeAgentNotReady: an MRD can be READY only while the agent is READY (seed 004).
	CodeAgentNotReady = "AGENT_NOT_READY"
	// CodeNotTaskOwner: the task belongs to another agent.
	CodeNotTaskOwner = "NOT_TASK_OWNER"
	// CodeConversationNotWaiting: abandon of a conversation already answered or closed.
	CodeConversationNotWaiting = "CONVERSATION_NOT_WAITING"
	// CodeInUse: a definition still referenced (an MRD with queues).
	CodeInUse = "IN_USE"
	// CodeNotSupervisor: JoinConversation by an agent whose role is not
	// supervisor (seed 004 "Silent Monitoring"), or a SetAgentState forced
	// by one (SetAgentState.Supervisor).
	CodeNotSupervisor = "NOT_SUPERVISOR"
	// CodeTeamMismatch: the supervisor supervises none of the teams of the
	// conversation's PRIMARY agent, or of the agent whose state it forces.
	CodeTeamMismatch = "TEAM_MISMATCH"
	// CodeNotMonitorable: the conversation is not an ACTIVE push-mode chat
	// (no ACTIVE PRIMARY agent, or its MRD is not interruptible).
	CodeNotMonitorable = "NOT_MONITORABLE"
	// CodeNotParticipant: the agent is not a supervisor participant of the
	// conversation (ChangeParticipantRole, LeaveConversation).
	CodeNotParticipant = "NOT_PARTICIPANT"
	// CodeNotEligible: a transfer or conference to a named agent who may
	// not take work from the request's queue, or an AssignWork (or direct
	// transfer on an external queue) to an agent who may not take the
	// request now (the message names the rule).
	CodeNotEligible = "NOT_ELIGIBLE"
	// CodeRequestNotFound: AssignWork or SetRequestPriority names no live
	// request.
	CodeRequestNotFound = "REQUEST_NOT_FOUND"
	// CodeNotExternal: AssignWork on a request of an internal queue (the
	// engine routes those; seed 000).
	CodeNotExternal = "NOT_EXTERNAL"
	// CodeMixedRouting: RequestTransfer between an external and an
	// internal queue (seed 000: "Transfer scenarios between external
	// routing queues and Omni-Channel queues also aren't supported").
	CodeMixedRouting = "MIXED_ROUTING"
	// CodeRequestPending: the conversation already waits for an agent (a
	// transfer or conference request, or its own re-queued request).
	CodeRequestPending = "REQUEST_PENDING"
	// CodeQueueClosed: CreateConversation on a queue outside its business
	// hours whose closedAction is reject (hours.go).
	CodeQueueClosed = "QUEUE_CLOSED"
)

func errf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
