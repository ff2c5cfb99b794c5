package conversation

import (
	"github.com/omniroute/omniroute/routing"
	"github.com/omniroute/omniroute/transcript"
)

// MayPublish is the supervisor publish rule (seed 004 "Silent
// Monitoring"): a participant in role may publish a CIM event named name
// unless it is a SILENT_MONITOR or WHISPER supervisor and name is not
// WHISPER_MESSAGE (those see everything and speak only to the agents).
// PRIMARY, CONFERENCE and BARGE_IN publish anything an agent may. Error:
// *routing.Error CodeRoleNotAllowed.
func MayPublish(role routing.ParticipantRole, name string) error {
	if (role == routing.RoleSilentMonitor || role == routing.RoleWhisper) && name != CimWhisperMessage {
		return refusal(CodeRoleNotAllowed, "a "+string(role)+" supervisor may publish only WHISPER_MESSAGE")
	}
	return nil
}

// checkAgentPublish is the authorization of an agent's CIM event named
// name on conversation cv (ok: it exists): the conversation is open, the
// agent a participant, and MayPublish allows its role. Errors
// (*routing.Error): CONVERSATION_NOT_FOUND, CONVERSATION_CLOSED,
// NOT_PARTICIPANT, ROLE_NOT_ALLOWED.
func checkAgentPublish(cv routing.Conversation, ok bool, conversation, agent, name string) error {
	switch {
	case !ok:
		return notFound(conversation)
	case cv.State == "CLOSED":
		return refusal(CodeConversationClosed, "conversation "+conversation+" is closed")
	}
	for _, p := range cv.Participants {
		if p.Agent == agent {
			return MayPublish(p.Role, name)
		}
	}
	return refusal(CodeNotParticipant, "agent "+agent+" is not a participant of conversation "+conversation)
}

// checkCustomer is the customer side's check of conversation cv (ok: it
// exists): it must exist and, to publish, be open with the customer still
// there. Errors: CONVERSATION_NOT_FOUND, CONVERSATION_CLOSED,
// CUSTOMER_LEFT.
func checkCustomer(cv routing.Conversation, ok bool, conversation string, publish bool) error {
	switch {
	case !ok:
		return notFound(conversation)
	case publish && cv.State == "CLOSED":
		return refusal(CodeConversationClosed, "conversation "+conversation+" is closed")
	case publish && cv.CustomerLeft:
		return refusal(CodeCustomerGone, "the customer left conversation "+conversation)
	}
	return nil
}

// Recipients are the agents who see conversation cv's entries: every
// participant, supervisors included, whatever the entry (the customer's
// share is Visible's).
func Recipients(cv routing.Conversation) []string {
	agents := make([]string, 0, len(cv.Participants))
	for _, p := range cv.Participants {
		agents = append(agents, p.Agent)
	}
	return agents
}

// agentsOnly says whether the CIM event named name, about a supervisor
// when supervisor, is hidden from the customer: whispers and what concerns
// the supervisors (who monitors a conversation is not the customer's
// business).
func agentsOnly(name string, supervisor bool) bool {
	return name == CimWhisperMessage || supervisor
}

// CustomerSees says whether the customer sees the transcript entry e: all
// but the AgentsOnly ones.
func CustomerSees(e transcript.Entry) bool { return !e.AgentsOnly }

// refusal is a refusal of a CIM event: Code is one of this package's codes
// or a FieldError code; it becomes an errors event (desk) or an HTTP error
// (customer side).
func refusal(code, msg string) *routing.Error { return &routing.Error{Code: code, Message: msg} }

func notFound(conversation string) *routing.Error {
	return &routing.Error{Code: routing.CodeConversationNotFound, Message: "conversation " + conversation + " does not exist"}
}
