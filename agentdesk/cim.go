package agentdesk

import (
	"context"
	"encoding/json"

	"github.com/omniroute/omniroute/conversation"
	"github.com/omniroute/omniroute/errcode"
	"github.com/omniroute/omniroute/transcript"
)

// Conversations on the desk: publishCimEvent in, onCimEvent and
// onTopicData's topicEvents out (seed 004 "Emit CIM Events", "Reply to a
// Specific Message", "Silent Monitoring"; PROTOCOLS.md "CIM message", "CIM
// event", "publishCimEvent", "onCimEvent").
//
// What a conversation holds, who may publish and see what, and the
// customer side are package conversation's; this file only speaks the
// Socket.IO side of it. Every entry of the transcript, once durable,
// reaches every participant of its conversation as onCimEvent (one
// goroutine, deliverCim, follows conversation.Conversations.Watch).

// Event names of this file.
const (
	// EventPublishCimEvent: desk -> server, a CIM message or event
	// (PublishCimEvent payload).
	EventPublishCimEvent = "publishCimEvent"
	// EventOnCimEvent: server -> desk, an OnCimEvent payload, to every
	// socket of every participant of the conversation.
	EventOnCimEvent = "onCimEvent"
)

// Error codes of publishCimEvent (besides the field-error codes,
// CodeForbidden and CodeUnavailable): package conversation's, named here
// for the desk protocol.
const (
	CodeNotParticipant     = conversation.CodeNotParticipant
	CodeConversationClosed = conversation.CodeConversationClosed
	CodeCustomerGone       = conversation.CodeCustomerGone
	CodePayloadTooLarge    = conversation.CodePayloadTooLarge
	CodeTranscriptFull     = conversation.CodeTranscriptFull
	CodeReplyNotFound      = conversation.CodeReplyNotFound
	CodeRoleNotAllowed     = conversation.CodeRoleNotAllowed
)

// OnCimEvent is the onCimEvent payload: {cimEvent, conversationId, seq}.
// CimEvent is a conversation.CimEvent; Seq is its transcript sequence
// (increasing within the conversation; the customer stream's resume
// cursor), 0 for an event that is not in the transcript.
type OnCimEvent struct {
	CimEvent       json.RawMessage `json:"cimEvent"`
	ConversationID string          `json:"conversationId"`
	Seq            uint64          `json:"seq"`
}

// cimRequest is a decoded publishCimEvent.
type cimRequest struct {
	conversation.Request
	AgentID string
}

// decodePublishCimEvent decodes
//
//	{"cimEvent":{"id","name","type","timestamp","data":{"id","header":{...},"body":{"type",...}}},"agentId","conversationId"}
//
// (PROTOCOLS.md "publishCimEvent"). conversationId and cimEvent are
// required; conversationId may also be given as cimEvent.conversationId;
// the CIM event itself is conversation.DecodeEvent's.
func decodePublishCimEvent(args []any) (cimRequest, *errcode.FieldError) {
	var r cimRequest
	p, err := object(EventPublishCimEvent, args)
	if err != nil {
		return r, err
	}
	if r.AgentID, err = p.id(p.m, "", "agentId"); err != nil {
		return r, err
	}
	ev, err := p.obj(p.m, "", "cimEvent")
	if err != nil {
		return r, err
	}
	if ev == nil {
		return r, decodeErr(p.event, CodeMissingField, "cimEvent", "is required")
	}
	var conv string
	if conv, err = p.id(p.m, "", "conversationId"); err != nil {
		return r, err
	}
	if conv == "" {
		if conv, err = p.id(ev, "cimEvent", "conversationId"); err != nil || conv == "" {
			return r, decodeErr(p.event, CodeMissingField, "conversationId", "is required")
		}
	}
	req, ferr := conversation.DecodeEvent(ev, "cimEvent")
	if ferr != nil {
		return r, fieldError(p.event, ferr)
	}
	r.Request = req
	r.Conversation = conv
	return r, nil
}

// fieldError is conversation's field error fe as the one of desk event
// event.
func fieldError(event string, fe *errcode.FieldError) *errcode.FieldError {
	e := *fe
	e.Event = event
	return &e
}

// publishCimEvent handles publishCimEvent (seed 004 "Exchange Messages in a
// Conversation", "Handle System Events"): conversation.Publish checks that
// the agent (or supervisor) may publish it, stores it durably, and it then
// reaches every participant as onCimEvent (the sender's sockets too, as the
// echo of its own message). Refusals answer this socket with errors {code,
// message, event, field?}: field-error codes, FORBIDDEN (agentId of
// another agent), CONVERSATION_NOT_FOUND, CONVERSATION_CLOSED,
// NOT_PARTICIPANT, ROLE_NOT_ALLOWED, REPLY_NOT_FOUND, PAYLOAD_TOO_LARGE,
// TRANSCRIPT_FULL, UNAVAILABLE; nothing is stored then.
func (c *client) publishCimEvent(args []any) Ack {
	const ev = EventPublishCimEvent
	req, derr := decodePublishCimEvent(args)
	if derr != nil {
		return c.failErr(ev, derr)
	}
	if res, ok := c.checkAgent(ev, req.AgentID); !ok {
		return res
	}
	ctx, cancel := c.srv.commandCtx()
	defer cancel()
	if err := c.srv.conv.Publish(ctx, c.agent, req.Request); err != nil {
		return c.failErr(ev, err)
	}
	return Ack{OK: true}
}

// deliverCim follows the transcripts and sends every new entry as
// onCimEvent to the participants of its conversation, in the order the
// log publishes them (per conversation: transcript order). Entries waiting
// together share one read of their recipients. If the log cuts this
// watcher off (too slow), it watches again: what was missed stays in the
// transcript and reaches desks with the next onTopicData.
func (s *Server) deliverCim(entries <-chan transcript.Entry, cancel func()) {
	defer close(s.cimDone)
	batch := make([]transcript.Entry, 0, 64)
	for {
		e, ok, stop := receive(entries, s.quit)
		if stop {
			cancel()
			return
		}
		if !ok {
			select {
			case <-s.quit:
				return
			default:
			}
			s.log.Warn("agentdesk: CIM delivery fell behind; some onCimEvent were not sent (the transcript has them)")
			entries, cancel = s.conv.Watch()
			continue
		}
		// A closed entries is seen by the next receive.
		batch, _ = drainInto(append(batch[:0], e), entries)
		s.deliverCimBatch(batch)
		clear(batch)
	}
}

func (s *Server) deliverCimBatch(batch []transcript.Entry) {
	convs := make([]string, 0, len(batch))
	seen := map[string]bool{}
	for _, e := range batch {
		if !seen[e.Conversation] {
			seen[e.Conversation] = true
			convs = append(convs, e.Conversation)
		}
	}
	ctx, cancel := s.commandCtx()
	defer cancel()
	recipients, err := s.conv.Recipients(ctx, convs)
	if err != nil {
		s.log.Warn("agentdesk: cannot read participants; onCimEvent lost", "events", len(batch), "err", err)
		return
	}
	for _, e := range batch {
		// Encoded once for all the conversation's participants.
		s.toAgents(recipients[e.Conversation], EventOnCimEvent, OnCimEvent{CimEvent: e.Data, ConversationID: e.Conversation, Seq: e.Seq})
	}
}

// topicEvents returns the conversation's whole transcript for
// onTopicData.topicData.topicEvents (CIM events, oldest first). A failure
// is logged and gives an empty list: the desk still gets the conversation.
func (s *Server) topicEvents(ctx context.Context, conv string) []json.RawMessage {
	entries, err := s.conv.Transcript(ctx, conv)
	if err != nil {
		s.log.Warn("agentdesk: cannot read the transcript for onTopicData", "conversation", conv, "err", err)
		return []json.RawMessage{}
	}
	out := make([]json.RawMessage, len(entries))
	for i, e := range entries {
		out[i] = e.Data
	}
	return out
}
