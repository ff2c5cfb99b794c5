package agentdesk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
	"github.com/omniroute/omniroute/transcript"
)

// Conversations: CIM messages and CIM events (seed 004 "Emit CIM Events",
// "Reply to a Specific Message", "Silent Monitoring"; PROTOCOLS.md "CIM
// message", "CIM event", "publishCimEvent", "onCimEvent").
//
// Every CIM event of a conversation, whoever produced it (an agent's
// publishCimEvent, the customer through restapi, or the engine's events
// turned into system events), is appended to the conversation's transcript
// (package transcript) first, and delivered only once the append is
// durable: one goroutine (deliverCim) watches the transcript log and sends
// onCimEvent to every participant of the conversation (agents with an
// ACTIVE task on it, and supervisors who joined it: routing.State
// .Conversation().Participants at delivery time). The customer reads the
// same transcript through restapi's event stream, without the AgentsOnly
// entries (WHISPER_MESSAGE).

// Event names of this file.
const (
	// EventPublishCimEvent: desk -> server, a CIM message or event
	// (PublishCimEvent payload).
	EventPublishCimEvent = "publishCimEvent"
	// EventOnCimEvent: server -> desk, an OnCimEvent payload, to every
	// socket of every participant of the conversation.
	EventOnCimEvent = "onCimEvent"
)

// Error codes of publishCimEvent and the customer side (besides the
// DecodeError codes, CodeForbidden and CodeUnavailable).
const (
	// CodeNotParticipant: the agent has no ACTIVE task on the conversation
	// and has not joined it as a supervisor.
	CodeNotParticipant = "NOT_PARTICIPANT"
	// CodeConversationClosed: the conversation is closed; its transcript
	// takes no more messages.
	CodeConversationClosed = "CONVERSATION_CLOSED"
	// CodeCustomerGone: the customer already left (customer side only).
	CodeCustomerGone = "CUSTOMER_LEFT"
	// CodePayloadTooLarge: the CIM event, as stored, is over
	// Options.MaxCimEventBytes.
	CodePayloadTooLarge = "PAYLOAD_TOO_LARGE"
	// CodeTranscriptFull: the conversation's transcript holds
	// Options.MaxCimEventsPerConversation entries.
	CodeTranscriptFull = "TRANSCRIPT_FULL"
	// CodeReplyNotFound: header.originalMessageId names no message of the
	// conversation.
	CodeReplyNotFound = "REPLY_NOT_FOUND"
	// CodeRoleNotAllowed: a SILENT_MONITOR or WHISPER supervisor may
	// publish only WHISPER_MESSAGE (seed 004 "Silent Monitoring").
	CodeRoleNotAllowed = "ROLE_NOT_ALLOWED"
)

// CIM event names omniroute produces itself (PROTOCOLS.md "CIM event").
// A desk cannot publish them: the server is their only source.
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

// serverOnlyNames are refused in publishCimEvent.
var serverOnlyNames = map[string]bool{
	CimCustomerMessage: true, CimAgentSubscribed: true, CimAgentUnsubscribed: true, CimTaskStateChanged: true,
	CimParticipantRole: true, CimCustomerLeft: true, CimNoAgentAvailable: true, CimChannelSessionStarted: true,
	CimChannelSessionEnded: true, "BOT_MESSAGE": true, "AGENT_RESERVED": true, "TASK_ENQUEUED": true,
}

// CIM event types (PROTOCOLS.md).
var cimTypes = map[string]bool{"MESSAGE": true, "SUGGESTION": true, "ACTIVITY": true, "NOTIFICATION": true, "CALL": true}

// CIM message body types (PROTOCOLS.md "CIM message"); the first group is
// checked field by field, the rest only by name.
var bodyTypes = map[string]bool{
	"PLAIN": true, "URL": true, "FILE": true, "IMAGE": true, "VIDEO": true, "AUDIO": true, "LOCATION": true,
	"BUTTON": true, "CONTACT": true, "STICKER": true, "CAROUSEL": true, "WRAPUP": true, "TEMPLATE": true,
	"ACTION": true, "COMMENT": true, "EMAIL": true, "FORM_DATA": true, "NOTIFICATION": true,
}

var cimNamePattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)

// Limits of CIM payloads.
const (
	// DefaultMaxCimEventBytes bounds one stored CIM event (its JSON).
	DefaultMaxCimEventBytes = transcript.DefaultMaxEntryBytes
	// DefaultMaxCimEventsPerConversation bounds a transcript.
	DefaultMaxCimEventsPerConversation = transcript.DefaultMaxEntriesPerConversation
	// maxTextBytes bounds markdownText, captions, URLs and titles.
	maxTextBytes = 8 << 10
	// maxButtons bounds body.buttons.
	maxButtons = 32
)

// EventEmitter says who produced a CIM event: Type is AGENT, CUSTOMER or
// SYSTEM; ID the agent id, "<conversation>:customer" or "omniroute".
type EventEmitter struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	SenderName string `json:"senderName,omitempty"`
}

// CimEvent is a CIM event as stored in the transcript and sent in
// onCimEvent and onTopicData.topicData.topicEvents (PROTOCOLS.md):
// {id, name, type, timestamp, conversationId, roomId, eventEmitter, data}.
// Data is a CIM message {id, header, body} for type MESSAGE, an object
// describing the activity otherwise. Timestamp is RFC 3339, set by the
// server when it accepted the event.
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

// OnCimEvent is the onCimEvent payload: {cimEvent, conversationId, seq}.
// Seq is the transcript sequence of the event (increasing within the
// conversation; the customer stream's resume cursor).
type OnCimEvent struct {
	CimEvent       json.RawMessage `json:"cimEvent"`
	ConversationID string          `json:"conversationId"`
	Seq            uint64          `json:"seq"`
}

// newID returns a random UUID version 4, the id of messages and events
// that come without one.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// cimRequest is a decoded publishCimEvent or customer message.
type cimRequest struct {
	ConversationID string
	AgentID        string
	// EventID is cimEvent.id ("" when absent).
	EventID string
	Name    string
	Type    string
	// Data is cimEvent.data (nil when absent for a non-MESSAGE event).
	Data map[string]any
	// MessageID is data.id, ReplyTo data.header.originalMessageId ("" when
	// absent), for a MESSAGE.
	MessageID string
	ReplyTo   string
}

// decodePublishCimEvent decodes
//
//	{"cimEvent":{"id","name","type","timestamp","data":{"id","header":{"sender","channelData",...},"body":{"type",...}}},"agentId","conversationId"}
//
// (PROTOCOLS.md "publishCimEvent"). conversationId and cimEvent.name are
// required; conversationId may also be given as cimEvent.conversationId.
// type defaults to MESSAGE for names ending in _MESSAGE, ACTIVITY
// otherwise. A MESSAGE needs data with a valid body (checkMessage); other
// types take any data object. Names the server produces (CUSTOMER_MESSAGE,
// AGENT_SUBSCRIBED, ...) are refused with CodeInvalidField.
func decodePublishCimEvent(args []any) (cimRequest, *DecodeError) {
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
	if r.ConversationID, err = p.id(p.m, "", "conversationId"); err != nil {
		return r, err
	}
	if r.ConversationID == "" {
		if r.ConversationID, err = p.required(ev, "cimEvent", "conversationId", routing.MaxIDLength); err != nil {
			return r, decodeErr(p.event, CodeMissingField, "conversationId", "is required")
		}
	}
	if r.EventID, err = p.id(ev, "cimEvent", "id"); err != nil {
		return r, err
	}
	if r.Name, err = p.required(ev, "cimEvent", "name", maxEnumBytes); err != nil {
		return r, err
	}
	if !cimNamePattern.MatchString(r.Name) {
		return r, decodeErr(p.event, CodeInvalidField, "cimEvent.name", "must be upper case letters, digits and _, not %q", r.Name)
	}
	if serverOnlyNames[r.Name] {
		return r, decodeErr(p.event, CodeInvalidField, "cimEvent.name", "%s is produced by the server only", r.Name)
	}
	if r.Type, err = p.str(ev, "cimEvent", "type", maxEnumBytes); err != nil {
		return r, err
	}
	if r.Type == "" {
		r.Type = "ACTIVITY"
		if strings.HasSuffix(r.Name, "_MESSAGE") {
			r.Type = "MESSAGE"
		}
	}
	if !cimTypes[r.Type] {
		return r, decodeErr(p.event, CodeInvalidField, "cimEvent.type", "must be MESSAGE, SUGGESTION, ACTIVITY, NOTIFICATION or CALL, not %q", r.Type)
	}
	if r.Data, err = p.obj(ev, "cimEvent", "data"); err != nil {
		return r, err
	}
	if r.Type == "MESSAGE" {
		if r.Data == nil {
			return r, decodeErr(p.event, CodeMissingField, "cimEvent.data", "a MESSAGE needs data {id, header, body}")
		}
		if r.MessageID, r.ReplyTo, err = checkMessage(p, r.Data, "cimEvent.data"); err != nil {
			return r, err
		}
	}
	return r, nil
}

// EventCustomerMessage names the customer-message decoder in DecodeErrors.
const EventCustomerMessage = "customerMessage"

// decodeCustomerMessage decodes the body of POST
// /v1/conversations/{id}/messages: a CIM message {"id"?, "header"?,
// "body":{"type",...}} (checkMessage), as JSON bytes of at most maxBytes.
func decodeCustomerMessage(body []byte, maxBytes int) (cimRequest, *DecodeError) {
	var r cimRequest
	if len(body) > maxBytes {
		return r, decodeErr(EventCustomerMessage, CodePayloadTooLarge, "", "the message is over %d bytes", maxBytes)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return r, decodeErr(EventCustomerMessage, CodeInvalidPayload, "", "the body must be a JSON object (a CIM message)")
	}
	p := payload{event: EventCustomerMessage, m: m}
	var err *DecodeError
	if r.MessageID, r.ReplyTo, err = checkMessage(p, m, ""); err != nil {
		return r, err
	}
	r.Name, r.Type, r.Data = CimCustomerMessage, "MESSAGE", m
	return r, nil
}

// checkMessage checks a CIM message {id, header, body}: id optional
// (routing.MaxIDLength); header optional object whose originalMessageId,
// when given, is the message replied to; body required with a known
// body.type and, per type: PLAIN markdownText; URL mediaUrl or markdownText;
// FILE, IMAGE, VIDEO, AUDIO attachment.mediaUrl (caption optional);
// LOCATION location.latitude in [-90,90] and longitude in [-180,180];
// BUTTON 1..32 buttons, each with a title. Other known types are accepted
// as they are.
func checkMessage(p payload, m map[string]any, prefix string) (id, replyTo string, err *DecodeError) {
	if id, err = p.id(m, prefix, "id"); err != nil {
		return "", "", err
	}
	hdr, err := p.obj(m, prefix, "header")
	if err != nil {
		return "", "", err
	}
	if hdr != nil {
		if replyTo, err = p.id(hdr, join(prefix, "header"), "originalMessageId"); err != nil {
			return "", "", err
		}
	}
	bp := join(prefix, "body")
	body, err := p.obj(m, prefix, "body")
	if err != nil {
		return "", "", err
	}
	if body == nil {
		return "", "", decodeErr(p.event, CodeMissingField, bp, "is required")
	}
	typ, err := p.required(body, bp, "type", maxEnumBytes)
	if err != nil {
		return "", "", err
	}
	if !bodyTypes[typ] {
		return "", "", decodeErr(p.event, CodeInvalidField, join(bp, "type"), "unknown body type %q", typ)
	}
	text := func(obj map[string]any, pre, key string) (string, *DecodeError) {
		return p.str(obj, pre, key, maxTextBytes)
	}
	switch typ {
	case "PLAIN":
		if _, err = p.required(body, bp, "markdownText", maxTextBytes); err != nil {
			return "", "", err
		}
	case "URL":
		u, err := text(body, bp, "mediaUrl")
		if err != nil {
			return "", "", err
		}
		t, err := text(body, bp, "markdownText")
		if err != nil {
			return "", "", err
		}
		if u == "" && t == "" {
			return "", "", decodeErr(p.event, CodeMissingField, join(bp, "mediaUrl"), "a URL message needs mediaUrl or markdownText")
		}
	case "FILE", "IMAGE", "VIDEO", "AUDIO":
		if _, err = text(body, bp, "caption"); err != nil {
			return "", "", err
		}
		att, err := p.obj(body, bp, "attachment")
		if err != nil {
			return "", "", err
		}
		if att == nil {
			return "", "", decodeErr(p.event, CodeMissingField, join(bp, "attachment"), "is required")
		}
		if _, err = p.required(att, join(bp, "attachment"), "mediaUrl", maxTextBytes); err != nil {
			return "", "", err
		}
		for _, k := range []string{"mimeType", "mediaName", "mediaLabel", "thumbnail"} {
			if _, err = text(att, join(bp, "attachment"), k); err != nil {
				return "", "", err
			}
		}
	case "LOCATION":
		lp := join(bp, "location")
		loc, err := p.obj(body, bp, "location")
		if err != nil {
			return "", "", err
		}
		if loc == nil {
			return "", "", decodeErr(p.event, CodeMissingField, lp, "is required")
		}
		for _, c := range []struct {
			key string
			lim float64
		}{{"latitude", 90}, {"longitude", 180}} {
			v, ok := loc[c.key].(float64)
			if !ok {
				return "", "", decodeErr(p.event, CodeInvalidField, join(lp, c.key), "must be a number")
			}
			if v < -c.lim || v > c.lim {
				return "", "", decodeErr(p.event, CodeInvalidField, join(lp, c.key), "must be within ±%v", c.lim)
			}
		}
	case "BUTTON":
		bs, ok := body["buttons"].([]any)
		if !ok || len(bs) == 0 {
			return "", "", decodeErr(p.event, CodeInvalidField, join(bp, "buttons"), "must be a non-empty array")
		}
		if len(bs) > maxButtons {
			return "", "", decodeErr(p.event, CodeInvalidField, join(bp, "buttons"), "at most %d buttons", maxButtons)
		}
		for _, b := range bs {
			bo, ok := b.(map[string]any)
			if !ok {
				return "", "", decodeErr(p.event, CodeInvalidField, join(bp, "buttons"), "each button must be an object")
			}
			if _, err = p.required(bo, join(bp, "buttons"), "title", maxTextBytes); err != nil {
				return "", "", err
			}
			for _, k := range []string{"type", "payload"} {
				if _, err = text(bo, join(bp, "buttons"), k); err != nil {
					return "", "", err
				}
			}
		}
	}
	return id, replyTo, nil
}

// cimError is a refusal of a CIM event: Code is one of this file's codes
// or a DecodeError code; it becomes an errors event (desk) or an HTTP
// error (customer side, through *routing.Error).
func cimError(code, msg string) *routing.Error { return &routing.Error{Code: code, Message: msg} }

// transcriptError maps a transcript failure to a refusal.
func (s *Server) transcriptError(conversation string, err error) error {
	switch {
	case errors.Is(err, transcript.ErrTooLarge):
		return cimError(CodePayloadTooLarge, "the CIM event is over the size limit")
	case errors.Is(err, transcript.ErrConversationFull):
		return cimError(CodeTranscriptFull, "the transcript of conversation "+conversation+" is full")
	case errors.Is(err, transcript.ErrInvalid):
		return cimError(CodeInvalidField, err.Error())
	}
	s.log.Warn("agentdesk: transcript append failed", "conversation", conversation, "err", err)
	return cimError(CodeUnavailable, "the transcript store did not accept the event; nothing was delivered")
}

// prepared is a CIM event ready to append.
type prepared struct {
	rec   transcript.Record
	event CimEvent
}

// prepare finishes a decoded request into a stored CIM event: ids, reply,
// server-set fields (timestamp, conversationId, roomId, eventEmitter,
// header.sender and header.timestamp of a message), then checks the size.
//
// Replies (seed 004 "Reply to a Specific Message"): a message whose data.id
// is the id of an earlier message of the conversation is a reply to it; it
// gets a fresh id and header.originalMessageId set to the earlier one. A
// header.originalMessageId given explicitly must name an earlier message
// (CodeReplyNotFound otherwise).
func (s *Server) prepare(ctx context.Context, r cimRequest, emitter EventEmitter, sender map[string]any) (prepared, error) {
	now := time.Now().UTC()
	ev := CimEvent{ID: r.EventID, Name: r.Name, Type: r.Type, Timestamp: now,
		ConversationID: r.ConversationID, RoomID: r.ConversationID, EventEmitter: emitter}
	if ev.ID == "" {
		ev.ID = newID()
	}
	recID := ev.ID
	data := r.Data
	if r.Type == "MESSAGE" {
		msgID, replyTo := r.MessageID, r.ReplyTo
		if msgID != "" && replyTo == "" {
			dup, err := s.cim.Contains(ctx, r.ConversationID, msgID)
			if err != nil {
				return prepared{}, s.transcriptError(r.ConversationID, err)
			}
			if dup {
				replyTo, msgID = msgID, ""
			}
		} else if replyTo != "" {
			ok, err := s.cim.Contains(ctx, r.ConversationID, replyTo)
			if err != nil {
				return prepared{}, s.transcriptError(r.ConversationID, err)
			}
			if !ok {
				return prepared{}, cimError(CodeReplyNotFound, "no message "+replyTo+" in conversation "+r.ConversationID)
			}
			if msgID != "" {
				if dup, err := s.cim.Contains(ctx, r.ConversationID, msgID); err != nil || dup {
					msgID = ""
				}
			}
		}
		if msgID == "" {
			msgID = newID()
		}
		hdr, _ := data["header"].(map[string]any)
		if hdr == nil {
			hdr = map[string]any{}
		}
		hdr["sender"] = sender
		hdr["timestamp"] = now.UnixMilli()
		hdr["conversationId"] = r.ConversationID
		hdr["roomId"] = r.ConversationID
		if replyTo != "" {
			hdr["originalMessageId"] = replyTo
		}
		if _, ok := hdr["channelData"]; !ok {
			hdr["channelData"] = map[string]any{"channelCustomerIdentifier": r.ConversationID + ":customer"}
		}
		data["header"] = hdr
		data["id"] = msgID
		recID = msgID
	}
	if data == nil {
		data = map[string]any{}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return prepared{}, cimError(CodeInvalidPayload, "data cannot be encoded")
	}
	ev.Data = raw
	out, err := json.Marshal(ev)
	if err != nil {
		return prepared{}, cimError(CodeInvalidPayload, "the event cannot be encoded")
	}
	if len(out) > s.opts.MaxCimEventBytes {
		return prepared{}, cimError(CodePayloadTooLarge, "the CIM event is over "+itoa(s.opts.MaxCimEventBytes)+" bytes")
	}
	return prepared{rec: transcript.Record{Conversation: r.ConversationID, ID: recID,
		AgentsOnly: r.Name == CimWhisperMessage, Data: out}, event: ev}, nil
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// append stores p durably; delivery follows from the log's watcher.
func (s *Server) appendCim(ctx context.Context, p prepared) (transcript.Entry, error) {
	e, err := s.cim.Append(ctx, p.rec)
	if err != nil {
		return e, s.transcriptError(p.rec.Conversation, err)
	}
	return e, nil
}

// publishCimEvent handles publishCimEvent (seed 004 "Exchange Messages in a
// Conversation", "Handle System Events"): the agent (or supervisor) must be
// a participant of the open conversation; a SILENT_MONITOR or WHISPER
// supervisor may publish only WHISPER_MESSAGE. The event is completed (prepare), appended durably to
// the transcript, and then reaches every participant as onCimEvent (the
// sender's sockets too, as the echo of its own message). Refusals answer
// this socket with errors {code, message, event, field?}: DecodeError
// codes, FORBIDDEN (agentId of another agent), CONVERSATION_NOT_FOUND,
// CONVERSATION_CLOSED, NOT_PARTICIPANT, ROLE_NOT_ALLOWED, REPLY_NOT_FOUND,
// PAYLOAD_TOO_LARGE, TRANSCRIPT_FULL, UNAVAILABLE; nothing is stored then.
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
	var (
		rerr *routing.Error
		name string
	)
	if err := c.srv.n.View(ctx, func(st *routing.State) {
		rerr = participantCheck(st, req.ConversationID, c.agent, req.Name)
		if as, ok := st.Agent(c.agent); ok {
			name = as.Agent.Name
		}
	}); err != nil {
		return c.failErr(ev, err)
	}
	if rerr != nil {
		return c.failErr(ev, rerr)
	}
	emitter := EventEmitter{ID: c.agent, Type: "AGENT", SenderName: name}
	sender := map[string]any{"id": c.agent, "type": "AGENT", "senderName": name, "additionalDetail": nil}
	p, err := c.srv.prepare(ctx, req, emitter, sender)
	if err != nil {
		return c.failErr(ev, err)
	}
	if _, err := c.srv.appendCim(ctx, p); err != nil {
		return c.failErr(ev, err)
	}
	return Ack{OK: true}
}

// participantCheck is the publishCimEvent authorization.
func participantCheck(st *routing.State, conversation, agent, name string) *routing.Error {
	cv, ok := st.Conversation(conversation)
	switch {
	case !ok:
		return &routing.Error{Code: routing.CodeConversationNotFound, Message: "conversation " + conversation + " does not exist"}
	case cv.State == "CLOSED":
		return cimError(CodeConversationClosed, "conversation "+conversation+" is closed")
	}
	for _, p := range cv.Participants {
		if p.Agent != agent {
			continue
		}
		if (p.Role == routing.RoleSilentMonitor || p.Role == routing.RoleWhisper) && name != CimWhisperMessage {
			return cimError(CodeRoleNotAllowed, "a "+p.Role+" supervisor may publish only WHISPER_MESSAGE")
		}
		return nil
	}
	return cimError(CodeNotParticipant, "agent "+agent+" is not a participant of conversation "+conversation)
}

// deliverCim follows the transcript log and sends every new entry as
// onCimEvent to the participants of its conversation, in the order the
// log publishes them (per conversation: transcript order). Entries waiting
// together share one node.View. If the log cuts this watcher off (too
// slow), it watches again: what was missed stays in the transcript and
// reaches desks with the next onTopicData.
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
			entries, cancel = s.cim.Watch("", 0)
			continue
		}
		// A closed entries is seen by the next receive.
		batch, _ = drainInto(append(batch[:0], e), entries)
		s.deliverCimBatch(batch)
		clear(batch)
	}
}

func (s *Server) deliverCimBatch(batch []transcript.Entry) {
	recipients := map[string][]string{}
	for _, e := range batch {
		recipients[e.Conversation] = nil
	}
	ctx, cancel := s.commandCtx()
	defer cancel()
	err := s.n.View(ctx, func(st *routing.State) {
		for conv := range recipients {
			cv, ok := st.Conversation(conv)
			if !ok {
				continue
			}
			agents := make([]string, 0, len(cv.Participants))
			for _, p := range cv.Participants {
				agents = append(agents, p.Agent)
			}
			recipients[conv] = agents
		}
	})
	if err != nil {
		s.log.Warn("agentdesk: cannot read participants; onCimEvent lost", "events", len(batch), "err", err)
		return
	}
	for _, e := range batch {
		msg := OnCimEvent{CimEvent: e.Data, ConversationID: e.Conversation, Seq: e.Seq}
		for _, a := range recipients[e.Conversation] {
			s.toAgent(a, EventOnCimEvent, msg)
		}
	}
}

// topicEvents returns the conversation's whole transcript for
// onTopicData.topicData.topicEvents (CIM events, oldest first). A failure
// is logged and gives an empty list: the desk still gets the conversation.
func (s *Server) topicEvents(ctx context.Context, conversation string) []json.RawMessage {
	entries, err := s.cim.Read(ctx, conversation, 0, 0)
	if err != nil {
		s.log.Warn("agentdesk: cannot read the transcript for onTopicData", "conversation", conversation, "err", err)
		return []json.RawMessage{}
	}
	out := make([]json.RawMessage, len(entries))
	for i, e := range entries {
		out[i] = e.Data
	}
	return out
}

// systemEvents follows the node's events and records the ones that matter
// to a conversation as CIM system events (type NOTIFICATION, emitter
// SYSTEM):
//
//	ParticipantJoined        AGENT_SUBSCRIBED        data {agentId, taskId, role}
//	ParticipantLeft          AGENT_UNSUBSCRIBED      data {agentId, taskId}
//	TaskActivated/WrapUp/Closed TASK_STATE_CHANGED   data {agentId, taskId, state, reason?}
//	ParticipantRoleChanged   PARTICIPANT_ROLE_CHANGED data {agentId, role, previous}
//	ConversationClosed (NO_AGENT_AVAILABLE) NO_AGENT_AVAILABLE data {reason}
//	ConversationCreated      CHANNEL_SESSION_STARTED data {queue, mrd}
//	ConversationClosed (other) CHANNEL_SESSION_ENDED data {reason}
//
// TaskClosed of an offer that was never accepted (RONA, DECLINED,
// AGENT_DISCONNECTED) is not part of the conversation and is skipped. The
// events about a supervisor (ParticipantJoined/Left without a task,
// ParticipantRoleChanged) are AgentsOnly, like whispers: the customer never
// learns who monitors the conversation. They
// are appended one by one in event order; if the node cuts this subscriber
// off, the events missed meanwhile are not recorded (logged).
func (s *Server) systemEvents(events <-chan node.Published, cancel func()) {
	defer close(s.sysDone)
	for {
		p, ok, stop := receive(events, s.quit)
		if stop {
			cancel()
			return
		}
		if !ok {
			if s.subscriptionOver() {
				return
			}
			s.log.Warn("agentdesk: CIM system events fell behind; some were not recorded")
			events, cancel = s.n.Subscribe()
			continue
		}
		conv, name, data := systemEventOf(p.Event)
		if name == "" {
			continue
		}
		if err := s.publishSystemEvent(s.ctx, conv, name, data, supervisorEvent(p.Event)); err != nil {
			s.log.Warn("agentdesk: CIM system event not recorded", "conversation", conv, "name", name, "err", err)
		}
	}
}

// supervisorEvent says whether ev is about a supervisor participant (no
// task): its system event is for agents only.
func supervisorEvent(ev routing.Event) bool {
	switch e := ev.(type) {
	case routing.ParticipantJoined:
		return e.Task == ""
	case routing.ParticipantLeft:
		return e.Task == ""
	case routing.ParticipantRoleChanged:
		return true
	}
	return false
}

// systemEventOf maps a routing event to a CIM system event ("" name: none).
func systemEventOf(ev routing.Event) (conv, name string, data map[string]any) {
	switch e := ev.(type) {
	case routing.ParticipantJoined:
		return e.Conversation, CimAgentSubscribed, map[string]any{"agentId": e.Agent, "taskId": e.Task, "role": e.Role}
	case routing.ParticipantLeft:
		return e.Conversation, CimAgentUnsubscribed, map[string]any{"agentId": e.Agent, "taskId": e.Task}
	case routing.TaskActivated:
		return e.Conversation, CimTaskStateChanged, map[string]any{"agentId": e.Agent, "taskId": e.Task, "state": string(routing.TaskActiveState)}
	case routing.TaskWrapUp:
		return e.Conversation, CimTaskStateChanged, map[string]any{"agentId": e.Agent, "taskId": e.Task, "state": string(routing.TaskWrapUpState)}
	case routing.TaskClosed:
		switch e.Reason {
		case routing.ReasonRONA, routing.ReasonDeclined, routing.ReasonAgentDisconnected:
			return "", "", nil
		}
		return e.Conversation, CimTaskStateChanged, map[string]any{"agentId": e.Agent, "taskId": e.Task,
			"state": string(routing.TaskClosedState), "reason": string(e.Reason)}
	case routing.ParticipantRoleChanged:
		return e.Conversation, CimParticipantRole, map[string]any{"agentId": e.Agent, "role": e.Role, "previous": e.Previous}
	case routing.ConversationCreated:
		return e.Conversation, CimChannelSessionStarted, map[string]any{"queue": e.Queue, "mrd": e.MRD}
	case routing.ConversationClosed:
		if e.Reason == routing.ReasonNoAgentAvailable {
			return e.Conversation, CimNoAgentAvailable, map[string]any{"reason": string(e.Reason)}
		}
		return e.Conversation, CimChannelSessionEnded, map[string]any{"reason": string(e.Reason)}
	}
	return "", "", nil
}

// PublishSystemEvent appends a system CIM event (type NOTIFICATION,
// emitter {id "omniroute", type SYSTEM}) named name with data (any value
// that encodes to a JSON object; nil for {}) to the conversation's
// transcript; the participants then get it as onCimEvent and the customer
// stream shows it. Other adapters use it for events this package does not
// derive from the engine. Errors: *routing.Error with CodePayloadTooLarge,
// CodeTranscriptFull, CodeInvalidField or CodeUnavailable.
func (s *Server) PublishSystemEvent(ctx context.Context, conversation, name string, data any) error {
	return s.publishSystemEvent(ctx, conversation, name, data, false)
}

// PublishAgentEvent is PublishSystemEvent for the agents' and supervisors'
// eyes only: the customer stream never shows it (like a whisper). GMS uses
// it to bring a mobile user's agent-notification to the agent desk.
func (s *Server) PublishAgentEvent(ctx context.Context, conversation, name string, data any) error {
	return s.publishSystemEvent(ctx, conversation, name, data, true)
}

// publishSystemEvent is PublishSystemEvent, hidden from the customer when
// agentsOnly.
func (s *Server) publishSystemEvent(ctx context.Context, conversation, name string, data any, agentsOnly bool) error {
	if data == nil {
		data = map[string]any{}
	}
	raw, err := json.Marshal(data)
	if err != nil || len(raw) == 0 || raw[0] != '{' {
		return cimError(CodeInvalidField, "system event data must encode to a JSON object")
	}
	ev := CimEvent{ID: newID(), Name: name, Type: "NOTIFICATION", Timestamp: time.Now().UTC(), ConversationID: conversation,
		RoomID: conversation, EventEmitter: EventEmitter{ID: "omniroute", Type: "SYSTEM"}, Data: raw}
	out, err := json.Marshal(ev)
	if err != nil {
		return cimError(CodeInvalidField, "the event cannot be encoded")
	}
	_, err = s.appendCim(ctx, prepared{rec: transcript.Record{Conversation: conversation, ID: ev.ID, AgentsOnly: agentsOnly, Data: out}})
	return err
}

// Customer side (restapi.CustomerSide): the customer is played over HTTP.

// customerCheck resolves the conversation for the customer side: it must
// exist and be open (and, for messages, the customer still present).
func (s *Server) customerCheck(ctx context.Context, conversation string, forMessage bool) (customer map[string]any, err error) {
	var rerr *routing.Error
	var raw json.RawMessage
	if err := s.n.View(ctx, func(st *routing.State) {
		cv, ok := st.Conversation(conversation)
		switch {
		case !ok:
			rerr = &routing.Error{Code: routing.CodeConversationNotFound, Message: "conversation " + conversation + " does not exist"}
		case forMessage && cv.State == "CLOSED":
			rerr = cimError(CodeConversationClosed, "conversation "+conversation+" is closed")
		case forMessage && cv.CustomerLeft:
			rerr = cimError(CodeCustomerGone, "the customer left conversation "+conversation)
		default:
			raw = cv.Customer
		}
	}); err != nil {
		return nil, cimError(CodeUnavailable, "the routing engine did not answer")
	}
	if rerr != nil {
		return nil, rerr
	}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &customer)
	}
	return customer, nil
}

// CustomerMessage appends a CUSTOMER_MESSAGE with the CIM message body
// (decodeCustomerMessage) to the open conversation and returns its
// transcript sequence and the stored CIM event; the participants get it as
// onCimEvent (a conversation still waiting for an agent keeps it for the
// agent's onTopicData). header.sender becomes {id "<conversation>:customer",
// type CUSTOMER, senderName the customer's firstName}. Errors
// (*routing.Error codes): DecodeError codes, CONVERSATION_NOT_FOUND,
// CONVERSATION_CLOSED, CUSTOMER_LEFT, REPLY_NOT_FOUND, PAYLOAD_TOO_LARGE,
// TRANSCRIPT_FULL, UNAVAILABLE.
func (s *Server) CustomerMessage(ctx context.Context, conversation string, body []byte) (uint64, json.RawMessage, error) {
	req, derr := decodeCustomerMessage(body, s.opts.MaxCimEventBytes)
	if derr != nil {
		return 0, nil, &routing.Error{Code: derr.Code, Message: derr.Field + ": " + derr.Message}
	}
	req.ConversationID = conversation
	customer, err := s.customerCheck(ctx, conversation, true)
	if err != nil {
		return 0, nil, err
	}
	name, _ := customer["firstName"].(string)
	id := conversation + ":customer"
	p, err := s.prepare(ctx, req, EventEmitter{ID: id, Type: "CUSTOMER", SenderName: name},
		map[string]any{"id": id, "type": "CUSTOMER", "senderName": name, "additionalDetail": nil})
	if err != nil {
		return 0, nil, err
	}
	e, err := s.appendCim(ctx, p)
	if err != nil {
		return 0, nil, err
	}
	return e.Seq, e.Data, nil
}

// CustomerLeft records that the customer left: routing.CustomerLeft first
// (a refusal changes nothing and records nothing: CONVERSATION_NOT_FOUND,
// INVALID_TRANSITION when closed or already left), then a CUSTOMER_LEFT CIM
// event (type NOTIFICATION, emitter CUSTOMER) that reaches the
// participants. Returns the event's sequence and JSON. If the append fails
// after the engine applied the command, the error is UNAVAILABLE and the
// customer has left all the same.
func (s *Server) CustomerLeft(ctx context.Context, conversation string) (uint64, json.RawMessage, error) {
	if _, err := s.n.Submit(ctx, routing.CustomerLeft{Conversation: conversation}); err != nil {
		var re *routing.Error
		if errors.As(err, &re) {
			return 0, nil, re
		}
		return 0, nil, cimError(CodeUnavailable, "the routing engine did not answer")
	}
	id := conversation + ":customer"
	ev := CimEvent{ID: newID(), Name: CimCustomerLeft, Type: "NOTIFICATION", Timestamp: time.Now().UTC(),
		ConversationID: conversation, RoomID: conversation, EventEmitter: EventEmitter{ID: id, Type: "CUSTOMER"},
		Data: json.RawMessage(`{"reason":"CUSTOMER_LEFT"}`)}
	out, _ := json.Marshal(ev)
	e, err := s.appendCim(ctx, prepared{rec: transcript.Record{Conversation: conversation, ID: ev.ID, Data: out}})
	if err != nil {
		return 0, nil, err
	}
	return e.Seq, e.Data, nil
}

// CustomerEvents replays the conversation's transcript after sequence
// after (0: from the start), without the AgentsOnly entries (whispers),
// calling send for each, then follows new entries live until ctx ends or
// send fails (its error is returned; ctx's end returns nil). Errors before
// the first send: CONVERSATION_NOT_FOUND, UNAVAILABLE.
func (s *Server) CustomerEvents(ctx context.Context, conversation string, after uint64, send func(seq uint64, event json.RawMessage) error) error {
	if _, err := s.customerCheck(ctx, conversation, false); err != nil {
		return err
	}
	last := after
	for {
		// Watch before reading, so nothing appended between the two is
		// missed; duplicates are dropped by sequence.
		live, cancel := s.cim.Watch(conversation, 0)
		entries, err := s.cim.Read(ctx, conversation, last, 0)
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			return cimError(CodeUnavailable, "the transcript store did not answer")
		}
		for _, e := range entries {
			if e.Seq <= last {
				continue
			}
			last = e.Seq
			if e.AgentsOnly {
				continue
			}
			if err := send(e.Seq, e.Data); err != nil {
				cancel()
				return err
			}
		}
		cut := false
		for !cut {
			select {
			case <-ctx.Done():
				cancel()
				return nil
			case <-s.quit:
				cancel()
				return nil
			case e, ok := <-live:
				if !ok {
					cut = true // too slow: read what was missed, watch again
					break
				}
				if e.Seq <= last {
					continue
				}
				last = e.Seq
				if e.AgentsOnly {
					continue
				}
				if err := send(e.Seq, e.Data); err != nil {
					cancel()
					return err
				}
			}
		}
		cancel()
	}
}
