package agentdesk

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/omniroute/omniroute/conversation"
	"github.com/omniroute/omniroute/errcode"
	"github.com/omniroute/omniroute/routing"
)

// Decoders: one per desk event. Each takes the event's arguments as the
// transport hands them over (transport.go: JSON decoded into any: map[string]any,
// []any, string, float64, bool, nil; the acknowledgement callback already
// removed) and returns a typed request or a *errcode.FieldError (the one
// field-error type of every decoder: Event is the desk event, Field the
// JSON path, Limit the limit broken; the desk receives it as an errors
// event and, when it asked for one, a refused Ack with the same code,
// field and limit). They never panic.

// Codes of a decoder's *errcode.FieldError.
const (
	// CodeInvalidPayload: the event has no argument, or its first argument
	// is not a JSON object (nor a string holding one).
	CodeInvalidPayload = errcode.InvalidPayload
	// CodeMissingField: a required field is absent, null or empty.
	CodeMissingField = errcode.MissingField
	// CodeInvalidField: a field has the wrong JSON type or a value outside
	// its set.
	CodeInvalidField = errcode.InvalidField
	// CodeFieldTooLong: a string field is longer than its limit
	// (routing.MaxIDLength bytes for ids) or not UTF-8.
	CodeFieldTooLong = errcode.FieldTooLong
)

// payload is one event's object with the helpers that read its fields.
type payload struct {
	event string
	m     map[string]any
}

func decodeErr(event, code, field, format string, args ...any) *errcode.FieldError {
	e := errcode.Fieldf(code, field, format, args...)
	e.Event = event
	return e
}

// overLimit is a field over its limit: code CodeFieldTooLong (strings,
// bytes) or CodeInvalidField (lists, items), the message naming the limit.
func overLimit(event, code, field string, limit int, format string, args ...any) *errcode.FieldError {
	e := decodeErr(event, code, field, format, args...)
	e.Limit = limit
	return e
}

// object returns the event's first argument as an object. A JSON string
// holding an object is accepted too (some desks send JSON.stringify'd
// payloads); the Socket.IO message limit (Options.MaxPayloadBytes) bounds
// it, like the object form.
func object(event string, args []any) (payload, *errcode.FieldError) {
	if len(args) == 0 {
		return payload{}, decodeErr(event, CodeInvalidPayload, "", "the event has no payload")
	}
	switch v := args[0].(type) {
	case map[string]any:
		return payload{event: event, m: v}, nil
	case string:
		var m map[string]any
		if err := json.Unmarshal([]byte(v), &m); err == nil && m != nil {
			return payload{event: event, m: m}, nil
		}
		return payload{}, decodeErr(event, CodeInvalidPayload, "", "the payload string is not a JSON object")
	}
	return payload{}, decodeErr(event, CodeInvalidPayload, "", "the payload must be a JSON object, not %s", conversation.JSONType(args[0]))
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// str reads an optional string field of at most max bytes: "" when absent
// or null.
func (p payload) str(m map[string]any, prefix, key string, max int) (string, *errcode.FieldError) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", decodeErr(p.event, CodeInvalidField, join(prefix, key), "must be a string, not %s", conversation.JSONType(v))
	}
	if len(s) > max || !utf8.ValidString(s) {
		return "", overLimit(p.event, CodeFieldTooLong, join(prefix, key), max, "must be UTF-8 of at most %d bytes (limit %d)", max, max)
	}
	return s, nil
}

// required reads a required, non-empty string field of at most max bytes.
func (p payload) required(m map[string]any, prefix, key string, max int) (string, *errcode.FieldError) {
	s, err := p.str(m, prefix, key, max)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", decodeErr(p.event, CodeMissingField, join(prefix, key), "is required")
	}
	return s, nil
}

// id reads an optional id field (routing.MaxIDLength bytes).
func (p payload) id(m map[string]any, prefix, key string) (string, *errcode.FieldError) {
	return p.str(m, prefix, key, routing.MaxIDLength)
}

// obj reads an optional object field: nil when absent or null.
func (p payload) obj(m map[string]any, prefix, key string) (map[string]any, *errcode.FieldError) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		return nil, decodeErr(p.event, CodeInvalidField, join(prefix, key), "must be an object, not %s", conversation.JSONType(v))
	}
	return o, nil
}

// idSource names the id field key of the object field obj of a payload.
type idSource struct{ obj, key string }

// fallbackID sets *id, while it is "", to the id at the first of srcs
// present. Each srcs object, when present, must be an object, and each id
// read must be valid.
func (p payload) fallbackID(id *string, srcs ...idSource) *errcode.FieldError {
	for _, src := range srcs {
		o, err := p.obj(p.m, "", src.obj)
		if err != nil {
			return err
		}
		if o == nil || *id != "" {
			continue
		}
		if *id, err = p.id(o, src.obj, src.key); err != nil {
			return err
		}
	}
	return nil
}

// maxEnumBytes bounds the enum-like strings (state names, actions, roles).
const maxEnumBytes = 64

// Change agent state actions (seed 004 "Change Agent States").
const (
	actionAgentState    = "agentState"
	actionAgentMRDState = "agentMRDState"
)

// changeAgentStateRequest is a decoded changeAgentState.
type changeAgentStateRequest struct {
	// AgentID is the payload's agentId ("" when absent: the socket's agent).
	AgentID string
	// Action is actionAgentState or actionAgentMRDState.
	Action string
	// State and ReasonCode for actionAgentState.
	State      routing.AgentState
	ReasonCode string
	// MRD and MRDState for actionAgentMRDState.
	MRD      string
	MRDState routing.MRDState
}

// decodeChangeAgentState decodes
//
//	{"agentId","action":"agentState","state":{"name":"READY|NOT_READY|LOGOUT","reasonCode":{"id",...}|null}}
//	{"agentId","action":"agentMRDState","state":"READY|NOT_READY","mrdId"}
//
// (PROTOCOLS.md). agentId is optional. READY takes no reason code: seed
// 004 says it must be null, so a reasonCode object with READY is refused
// (CodeInvalidField, field state.reasonCode) rather than silently dropped.
// A reasonCode object needs an id; its name and type are the engine's. The MRD state may also be given as {"name": ...}.
func decodeChangeAgentState(args []any) (changeAgentStateRequest, *errcode.FieldError) {
	var r changeAgentStateRequest
	p, err := object(EventChangeAgentState, args)
	if err != nil {
		return r, err
	}
	if r.AgentID, err = p.id(p.m, "", "agentId"); err != nil {
		return r, err
	}
	if r.Action, err = p.required(p.m, "", "action", maxEnumBytes); err != nil {
		return r, err
	}
	state, ok := p.m["state"]
	if !ok || state == nil {
		return r, decodeErr(p.event, CodeMissingField, "state", "is required")
	}
	switch r.Action {
	case actionAgentState:
		st, ok := state.(map[string]any)
		if !ok {
			return r, decodeErr(p.event, CodeInvalidField, "state", "must be an object {name, reasonCode}, not %s", conversation.JSONType(state))
		}
		name, err := p.required(st, "state", "name", maxEnumBytes)
		if err != nil {
			return r, err
		}
		switch s := routing.AgentState(name); s {
		case routing.AgentReady, routing.AgentNotReady, routing.AgentLogout:
			r.State = s
		default:
			return r, decodeErr(p.event, CodeInvalidField, "state.name", "must be READY, NOT_READY or LOGOUT, not %q", name)
		}
		rc, err := p.obj(st, "state", "reasonCode")
		if err != nil {
			return r, err
		}
		if rc != nil && r.State == routing.AgentReady {
			return r, decodeErr(p.event, CodeInvalidField, "state.reasonCode", "must be null for READY (seed 004); a reason code goes with NOT_READY or LOGOUT")
		}
		if rc != nil {
			if r.ReasonCode, err = p.required(rc, "state.reasonCode", "id", routing.MaxIDLength); err != nil {
				return r, err
			}
		}
	case actionAgentMRDState:
		var name string
		switch st := state.(type) {
		case string:
			name = st
			if name == "" {
				return r, decodeErr(p.event, CodeMissingField, "state", "is required")
			}
			if len(name) > maxEnumBytes {
				return r, overLimit(p.event, CodeFieldTooLong, "state", maxEnumBytes, "must be at most %d bytes", maxEnumBytes)
			}
		case map[string]any:
			if name, err = p.required(st, "state", "name", maxEnumBytes); err != nil {
				return r, err
			}
		default:
			return r, decodeErr(p.event, CodeInvalidField, "state", "must be READY or NOT_READY, not %s", conversation.JSONType(state))
		}
		switch s := routing.MRDState(name); s {
		case routing.MRDReady, routing.MRDNotReady:
			r.MRDState = s
		default:
			return r, decodeErr(p.event, CodeInvalidField, "state", "must be READY or NOT_READY, not %q", name)
		}
		if r.MRD, err = p.required(p.m, "", "mrdId", routing.MaxIDLength); err != nil {
			return r, err
		}
	default:
		return r, decodeErr(p.event, CodeInvalidField, "action", "must be %q or %q, not %q", actionAgentState, actionAgentMRDState, r.Action)
	}
	return r, nil
}

// taskRequestRef is a decoded topicSubscription or topicUnsubscription_:
// the conversation, and the agent and task when given ("" when absent).
type taskRequestRef struct {
	ConversationID string
	AgentID        string
	TaskID         string
}

// topicSubscriptionRequest is a decoded topicSubscription.
type topicSubscriptionRequest = taskRequestRef

// topicUnsubscriptionRequest is a decoded topicUnsubscription_.
type topicUnsubscriptionRequest = taskRequestRef

// rolePrimary is the only topicParticipant.role topicSubscription accepts
// (other roles arrive with their own events). An agent invited to a
// conference (taskRequest.taskDirection DIRECT_CONFERENCE) accepts with
// role PRIMARY too: every agent with a task is a primary participant;
// ExpertFlow's CONFERENCE role is not a separate subscription role.
const rolePrimary = "PRIMARY"

// decodeTaskRef decodes the fields both task events share:
// conversationId (required), agentId and taskId (optional).
func decodeTaskRef(event string, args []any) (taskRequestRef, payload, *errcode.FieldError) {
	var r taskRequestRef
	p, err := object(event, args)
	if err != nil {
		return r, p, err
	}
	if r.ConversationID, err = p.required(p.m, "", "conversationId", routing.MaxIDLength); err != nil {
		return r, p, err
	}
	if r.AgentID, err = p.id(p.m, "", "agentId"); err != nil {
		return r, p, err
	}
	r.TaskID, err = p.id(p.m, "", "taskId")
	return r, p, err
}

// decodeTopicSubscription decodes
//
//	{"topicParticipant":{...,"role":"PRIMARY"},"conversationId","agentId","taskId","roomInfo"}
//
// (PROTOCOLS.md). conversationId is required; taskId and agentId are
// optional; topicParticipant, when present, must be an object whose role,
// when present, is PRIMARY; its other fields, like roomInfo, are ignored.
func decodeTopicSubscription(args []any) (topicSubscriptionRequest, *errcode.FieldError) {
	r, p, err := decodeTaskRef(EventTopicSubscription, args)
	if err != nil {
		return r, err
	}
	tp, err := p.obj(p.m, "", "topicParticipant")
	if err != nil {
		return r, err
	}
	if tp != nil {
		role, err := p.str(tp, "topicParticipant", "role", maxEnumBytes)
		if err != nil {
			return r, err
		}
		if role != "" && !strings.EqualFold(role, rolePrimary) {
			return r, decodeErr(p.event, CodeInvalidField, "topicParticipant.role", "must be %s, not %q", rolePrimary, role)
		}
	}
	return r, nil
}

// decodeTopicUnsubscription decodes {"conversationId","agentId","taskId"}
// (PROTOCOLS.md); conversationId is required.
func decodeTopicUnsubscription(args []any) (topicUnsubscriptionRequest, *errcode.FieldError) {
	r, _, err := decodeTaskRef(EventTopicUnsubscriptionRequest, args)
	return r, err
}
