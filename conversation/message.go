package conversation

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/omniroute/omniroute/errcode"
	"github.com/omniroute/omniroute/routing"
)

// fieldErr is a malformed CIM message or event: errcode's FieldError
// (Event empty) with errcode.InvalidPayload, MissingField, InvalidField,
// FieldTooLong (a string over its limit: routing.MaxIDLength bytes for ids,
// MaxTextBytes for texts, or not UTF-8) or PayloadTooLarge.
func fieldErr(code, field, format string, args ...any) *errcode.FieldError {
	return errcode.Fieldf(code, field, format, args...)
}

func overLimit(code, field string, limit int, format string, args ...any) *errcode.FieldError {
	e := fieldErr(code, field, format, args...)
	e.Limit = limit
	return e
}

// Request is a decoded CIM event (an agent's) or CIM message (the
// customer's), before the server completes it (ids, sender, timestamps).
type Request struct {
	Conversation string
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

// serverOnlyNames are the names no agent may publish.
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

// maxEnumBytes bounds names, types and body types.
const maxEnumBytes = 64

// DecodeEvent decodes an agent's CIM event ev
//
//	{"id","name","type","timestamp","data":{"id","header":{"sender","channelData",...},"body":{"type",...}}}
//
// whose fields are named prefix.<field> in errors (agentdesk's
// "cimEvent"). name is required; type defaults to MESSAGE for names ending
// in _MESSAGE, ACTIVITY otherwise. A MESSAGE needs data with a valid body
// (see DecodeCustomerMessage for the body rules); other types take any data
// object. Names the server produces (CUSTOMER_MESSAGE, AGENT_SUBSCRIBED,
// ...) are refused with errcode.InvalidField. The returned Request has no
// Conversation: the caller sets it.
func DecodeEvent(ev map[string]any, prefix string) (Request, *errcode.FieldError) {
	var r Request
	var err *errcode.FieldError
	if r.EventID, err = id(ev, prefix, "id"); err != nil {
		return r, err
	}
	if r.Name, err = required(ev, prefix, "name", maxEnumBytes); err != nil {
		return r, err
	}
	if !cimNamePattern.MatchString(r.Name) {
		return r, fieldErr(errcode.InvalidField, join(prefix, "name"), "must be upper case letters, digits and _, not %q", r.Name)
	}
	if serverOnlyNames[r.Name] {
		return r, fieldErr(errcode.InvalidField, join(prefix, "name"), "%s is produced by the server only", r.Name)
	}
	if r.Type, err = str(ev, prefix, "type", maxEnumBytes); err != nil {
		return r, err
	}
	if r.Type == "" {
		r.Type = "ACTIVITY"
		if strings.HasSuffix(r.Name, "_MESSAGE") {
			r.Type = "MESSAGE"
		}
	}
	if !cimTypes[r.Type] {
		return r, fieldErr(errcode.InvalidField, join(prefix, "type"), "must be MESSAGE, SUGGESTION, ACTIVITY, NOTIFICATION or CALL, not %q", r.Type)
	}
	if r.Data, err = obj(ev, prefix, "data"); err != nil {
		return r, err
	}
	if r.Type == "MESSAGE" {
		if r.Data == nil {
			return r, fieldErr(errcode.MissingField, join(prefix, "data"), "a MESSAGE needs data {id, header, body}")
		}
		if r.MessageID, r.ReplyTo, err = checkMessage(r.Data, join(prefix, "data")); err != nil {
			return r, err
		}
	}
	return r, nil
}

// DecodeCustomerMessage decodes what the customer sends (POST
// /v1/conversations/{id}/messages): a CIM message {"id"?, "header"?,
// "body":{"type",...}} as JSON bytes of at most maxBytes
// (CodePayloadTooLarge over it). id is optional (routing.MaxIDLength);
// header, when given, is an object whose originalMessageId is the message
// replied to; body is required with a known body.type and, per type: PLAIN
// markdownText; URL mediaUrl or markdownText; FILE, IMAGE, VIDEO, AUDIO
// attachment.mediaUrl (caption optional); LOCATION location.latitude in
// [-90,90] and longitude in [-180,180]; BUTTON 1..MaxButtons buttons, each
// with a title. Other known types are accepted as they are. The Request is
// a CUSTOMER_MESSAGE of type MESSAGE.
func DecodeCustomerMessage(body []byte, maxBytes int) (Request, *errcode.FieldError) {
	var r Request
	if len(body) > maxBytes {
		return r, overLimit(CodePayloadTooLarge, "", maxBytes, "the message is over %d bytes", maxBytes)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return r, fieldErr(errcode.InvalidPayload, "", "the body must be a JSON object (a CIM message)")
	}
	var err *errcode.FieldError
	if r.MessageID, r.ReplyTo, err = checkMessage(m, ""); err != nil {
		return r, err
	}
	r.Name, r.Type, r.Data = CimCustomerMessage, "MESSAGE", m
	return r, nil
}

// checkMessage checks a CIM message {id, header, body} (the rules of
// DecodeCustomerMessage) and returns its id and the id it replies to.
func checkMessage(m map[string]any, prefix string) (msgID, replyTo string, err *errcode.FieldError) {
	if msgID, err = id(m, prefix, "id"); err != nil {
		return "", "", err
	}
	hdr, err := obj(m, prefix, "header")
	if err != nil {
		return "", "", err
	}
	if hdr != nil {
		if replyTo, err = id(hdr, join(prefix, "header"), "originalMessageId"); err != nil {
			return "", "", err
		}
	}
	bp := join(prefix, "body")
	body, err := obj(m, prefix, "body")
	if err != nil {
		return "", "", err
	}
	if body == nil {
		return "", "", fieldErr(errcode.MissingField, bp, "is required")
	}
	typ, err := required(body, bp, "type", maxEnumBytes)
	if err != nil {
		return "", "", err
	}
	if !bodyTypes[typ] {
		return "", "", fieldErr(errcode.InvalidField, join(bp, "type"), "unknown body type %q", typ)
	}
	text := func(o map[string]any, pre, key string) (string, *errcode.FieldError) {
		return str(o, pre, key, MaxTextBytes)
	}
	switch typ {
	case "PLAIN":
		if _, err = required(body, bp, "markdownText", MaxTextBytes); err != nil {
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
			return "", "", fieldErr(errcode.MissingField, join(bp, "mediaUrl"), "a URL message needs mediaUrl or markdownText")
		}
	case "FILE", "IMAGE", "VIDEO", "AUDIO":
		if _, err = text(body, bp, "caption"); err != nil {
			return "", "", err
		}
		att, err := obj(body, bp, "attachment")
		if err != nil {
			return "", "", err
		}
		if att == nil {
			return "", "", fieldErr(errcode.MissingField, join(bp, "attachment"), "is required")
		}
		if _, err = required(att, join(bp, "attachment"), "mediaUrl", MaxTextBytes); err != nil {
			return "", "", err
		}
		for _, k := range []string{"mimeType", "mediaName", "mediaLabel", "thumbnail"} {
			if _, err = text(att, join(bp, "attachment"), k); err != nil {
				return "", "", err
			}
		}
	case "LOCATION":
		lp := join(bp, "location")
		loc, err := obj(body, bp, "location")
		if err != nil {
			return "", "", err
		}
		if loc == nil {
			return "", "", fieldErr(errcode.MissingField, lp, "is required")
		}
		for _, c := range []struct {
			key string
			lim float64
		}{{"latitude", 90}, {"longitude", 180}} {
			v, ok := loc[c.key].(float64)
			if !ok {
				return "", "", fieldErr(errcode.InvalidField, join(lp, c.key), "must be a number")
			}
			if v < -c.lim || v > c.lim {
				return "", "", fieldErr(errcode.InvalidField, join(lp, c.key), "must be within ±%v", c.lim)
			}
		}
	case "BUTTON":
		bs, ok := body["buttons"].([]any)
		if !ok || len(bs) == 0 {
			return "", "", fieldErr(errcode.InvalidField, join(bp, "buttons"), "must be a non-empty array")
		}
		if len(bs) > MaxButtons {
			return "", "", overLimit(errcode.InvalidField, join(bp, "buttons"), MaxButtons, "at most %d buttons", MaxButtons)
		}
		for _, b := range bs {
			bo, ok := b.(map[string]any)
			if !ok {
				return "", "", fieldErr(errcode.InvalidField, join(bp, "buttons"), "each button must be an object")
			}
			if _, err = required(bo, join(bp, "buttons"), "title", MaxTextBytes); err != nil {
				return "", "", err
			}
			for _, k := range []string{"type", "payload"} {
				if _, err = text(bo, join(bp, "buttons"), k); err != nil {
					return "", "", err
				}
			}
		}
	}
	return msgID, replyTo, nil
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// str reads an optional string field of at most max bytes: "" when absent
// or null.
func str(m map[string]any, prefix, key string, max int) (string, *errcode.FieldError) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fieldErr(errcode.InvalidField, join(prefix, key), "must be a string, not %s", JSONType(v))
	}
	if len(s) > max || !utf8.ValidString(s) {
		return "", overLimit(errcode.FieldTooLong, join(prefix, key), max, "must be UTF-8 of at most %d bytes (limit %d)", max, max)
	}
	return s, nil
}

// required reads a required, non-empty string field of at most max bytes.
func required(m map[string]any, prefix, key string, max int) (string, *errcode.FieldError) {
	s, err := str(m, prefix, key, max)
	if err == nil && s == "" {
		err = fieldErr(errcode.MissingField, join(prefix, key), "is required")
	}
	return s, err
}

// id reads an optional id field (routing.MaxIDLength bytes).
func id(m map[string]any, prefix, key string) (string, *errcode.FieldError) {
	return str(m, prefix, key, routing.MaxIDLength)
}

// obj reads an optional object field: nil when absent or null.
func obj(m map[string]any, prefix, key string) (map[string]any, *errcode.FieldError) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		return nil, fieldErr(errcode.InvalidField, join(prefix, key), "must be an object, not %s", JSONType(v))
	}
	return o, nil
}

// JSONType names the JSON type of a decoded value (encoding/json's any)
// for refusals: "null", "an object", "an array", "a string", "a number",
// "a boolean". The agent desk's decoder names types the same way.
func JSONType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}
