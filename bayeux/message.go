package bayeux

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Meta channel names (Bayeux 1.0, section 4 "Meta Message Definitions").
const (
	ChannelHandshake   = "/meta/handshake"
	ChannelConnect     = "/meta/connect"
	ChannelSubscribe   = "/meta/subscribe"
	ChannelUnsubscribe = "/meta/unsubscribe"
	ChannelDisconnect  = "/meta/disconnect"
)

// Connection types this server supports, as named in Bayeux 1.0 section 3.1
// ("long-polling") and by the CometD and Faye clients ("websocket").
const (
	ConnectionLongPolling = "long-polling"
	ConnectionWebSocket   = "websocket"
)

// Version is the Bayeux protocol version this server speaks; it is sent as
// "version" and "minimumVersion" in handshake replies.
const Version = "1.0"

// Message is one decoded Bayeux message from a client, as the hooks see it
// (Bayeux 1.0 section 5 "Message Field Definitions"). Fields the server does
// not use are dropped; Data and Ext keep the client's JSON unchanged so an
// adapter decides what they mean (for example Salesforce's ext.replay or a
// Genesys ext.authentication).
type Message struct {
	// Channel is the channel name, e.g. "/meta/handshake" or "/_genesys".
	Channel string
	// ID is the client's message id ("id"), or "" when absent. The Bayeux
	// spec makes it a string; a JSON number is accepted and kept as its text
	// because some older clients send numbers.
	ID string
	// ClientID is the "clientId" field (empty in a handshake).
	ClientID string
	// Data is the raw "data" value of a publish, or nil.
	Data json.RawMessage
	// Ext is the "ext" object, one raw JSON value per key, or nil.
	Ext map[string]json.RawMessage
	// Subscriptions holds the "subscription" field of /meta/subscribe and
	// /meta/unsubscribe: one channel, or several when the client sent an
	// array (allowed by Bayeux 1.0 section 4.5).
	Subscriptions []string
	// ConnectionType is the "connectionType" of /meta/connect.
	ConnectionType string
	// SupportedConnectionTypes is the handshake's list of connection types.
	SupportedConnectionTypes []string

	rawID          json.RawMessage // echoed in the reply exactly as received
	subscriptionJS json.RawMessage // echoed in the reply exactly as received
	adviceTimeout  *float64        // client's advice.timeout in ms, if any
}

// wireMessage is the JSON shape decoded from the wire. Types are strict:
// a field of the wrong JSON type makes the whole message a 400 error.
type wireMessage struct {
	Channel                  *string                    `json:"channel"`
	ID                       json.RawMessage            `json:"id"`
	ClientID                 string                     `json:"clientId"`
	Data                     json.RawMessage            `json:"data"`
	Ext                      map[string]json.RawMessage `json:"ext"`
	Subscription             json.RawMessage            `json:"subscription"`
	ConnectionType           string                     `json:"connectionType"`
	SupportedConnectionTypes []string                   `json:"supportedConnectionTypes"`
	Advice                   *struct {
		Timeout *float64 `json:"timeout"`
	} `json:"advice"`
}

// badMessage is a message that could be located in the request but not
// decoded; the server answers it with a 400 reply carrying whatever id and
// channel could be recovered.
type badMessage struct {
	rawID   json.RawMessage
	channel string
	reason  string
}

// decodedItem is one element of a request: either a message or a bad one.
type decodedItem struct {
	msg *Message
	bad *badMessage
}

// errRequest is a request-level decoding failure (not even a JSON array or
// object of messages). It maps to a single 400 reply.
type errRequest struct{ reason string }

func (e *errRequest) Error() string { return e.reason }

// decodeRequest decodes a request body: a JSON array of messages or a single
// message object (Bayeux 1.0 section 3.3 allows both). maxMessages bounds the
// array length (0 = no bound). Each element is decoded on its own so that
// one bad message does not hide the others' replies.
func decodeRequest(body []byte, maxMessages int) ([]decodedItem, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, &errRequest{"empty request"}
	}
	var raws []json.RawMessage
	switch body[0] {
	case '[':
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, &errRequest{"malformed JSON: " + jsonErrText(err)}
		}
	case '{':
		if !json.Valid(body) {
			return nil, &errRequest{"malformed JSON"}
		}
		raws = []json.RawMessage{body}
	default:
		return nil, &errRequest{"request must be a JSON array of messages"}
	}
	if maxMessages > 0 && len(raws) > maxMessages {
		return nil, &errRequest{fmt.Sprintf("too many messages in one request: %d, limit %d", len(raws), maxMessages)}
	}
	items := make([]decodedItem, 0, len(raws))
	for _, raw := range raws {
		m, bad := decodeMessage(raw)
		items = append(items, decodedItem{msg: m, bad: bad})
	}
	return items, nil
}

// decodeMessage decodes and validates one message object.
func decodeMessage(raw json.RawMessage) (*Message, *badMessage) {
	var w wireMessage
	if err := json.Unmarshal(raw, &w); err != nil {
		bad := &badMessage{reason: "bad message: " + jsonErrText(err)}
		// Recover id and channel loosely so the client can correlate.
		var loose map[string]json.RawMessage
		if json.Unmarshal(raw, &loose) == nil {
			if validID(loose["id"]) {
				bad.rawID = loose["id"]
			}
			var ch string
			if json.Unmarshal(loose["channel"], &ch) == nil {
				bad.channel = ch
			}
		}
		return nil, bad
	}
	bad := &badMessage{}
	if validID(w.ID) {
		bad.rawID = w.ID
	} else if len(w.ID) > 0 && string(w.ID) != "null" {
		bad.reason = "bad message: id must be a string"
		return nil, bad
	}
	if w.Channel == nil || *w.Channel == "" {
		bad.reason = "bad message: missing channel"
		return nil, bad
	}
	bad.channel = *w.Channel
	if err := validChannel(*w.Channel, false); err != nil {
		bad.reason = "bad channel: " + err.Error()
		return nil, bad
	}
	m := &Message{
		Channel:                  *w.Channel,
		ClientID:                 w.ClientID,
		Data:                     w.Data,
		Ext:                      w.Ext,
		ConnectionType:           w.ConnectionType,
		SupportedConnectionTypes: w.SupportedConnectionTypes,
		rawID:                    bad.rawID,
	}
	if len(m.rawID) > 0 {
		var s string
		if json.Unmarshal(m.rawID, &s) == nil {
			m.ID = s
		} else {
			m.ID = string(m.rawID)
		}
	}
	if w.Advice != nil {
		m.adviceTimeout = w.Advice.Timeout
	}
	if len(w.Subscription) > 0 && string(w.Subscription) != "null" {
		m.subscriptionJS = w.Subscription
		var one string
		if err := json.Unmarshal(w.Subscription, &one); err == nil {
			m.Subscriptions = []string{one}
		} else if err := json.Unmarshal(w.Subscription, &m.Subscriptions); err != nil {
			bad.reason = "bad message: subscription must be a channel name or an array of them"
			return nil, bad
		}
	}
	return m, nil
}

// validID reports whether raw is a JSON string or number (the id types
// clients send).
func validID(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return true
	}
	var f float64
	return json.Unmarshal(raw, &f) == nil
}

func jsonErrText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se.Error() + " at offset " + strconv.FormatInt(se.Offset, 10)
	}
	return err.Error()
}

// validChannel checks a channel name against the Bayeux 1.0 grammar (section
// 2.2): "/" segment { "/" segment }, segment characters alpha, digit and the
// marks - _ ! ~ ( ) $ @, plus "." which CometD and Salesforce channel names
// use. When wildcard is true the last segment may be "*" or "**" (section
// 2.2.1); otherwise wildcards are refused because a message is published to
// one concrete channel.
func validChannel(name string, wildcard bool) error {
	if len(name) > 1024 {
		return errors.New("channel name longer than 1024 bytes")
	}
	if !strings.HasPrefix(name, "/") {
		return errors.New("channel name must start with /")
	}
	segs := strings.Split(name[1:], "/")
	for i, seg := range segs {
		if seg == "" {
			return errors.New("empty channel segment")
		}
		if seg == "*" || seg == "**" {
			if !wildcard {
				return errors.New("wildcard not allowed here")
			}
			if i != len(segs)-1 {
				return errors.New("wildcard only allowed as the last segment")
			}
			continue
		}
		for _, r := range seg {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			case strings.ContainsRune("-_!~()$@.", r):
			default:
				return fmt.Errorf("character %q not allowed in channel name", r)
			}
		}
	}
	return nil
}

// isMeta reports whether name is a /meta/ channel.
func isMeta(name string) bool { return name == "/meta" || strings.HasPrefix(name, "/meta/") }

// isService reports whether name is a /service/ channel: Bayeux 1.0 section
// 2.2.3 says messages there go to the server only, never to subscribers.
func isService(name string) bool { return name == "/service" || strings.HasPrefix(name, "/service/") }

// matchPatterns returns the subscription patterns that match a concrete
// channel: the channel itself, its parent with "/*", and every ancestor with
// "/**" (Bayeux 1.0 section 2.2.1). "/a/b/c" gives "/a/b/c", "/a/b/*",
// "/a/b/**", "/a/**", "/**".
func matchPatterns(channel string, dst []string) []string {
	dst = append(dst, channel)
	last := strings.LastIndexByte(channel, '/')
	dst = append(dst, channel[:last]+"/*")
	for i := last; i >= 0; i = strings.LastIndexByte(channel[:i], '/') {
		dst = append(dst, channel[:i]+"/**")
		if i == 0 {
			break
		}
	}
	return dst
}
