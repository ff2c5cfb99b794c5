package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"sync"
)

// Socket.IO v5 packet types (socket.io-protocol, "Packet format").
const (
	packetConnect      = '0'
	packetDisconnect   = '1'
	packetEvent        = '2'
	packetAck          = '3'
	packetConnectError = '4'
	packetBinaryEvent  = '5'
	packetBinaryAck    = '6'
)

// maxAttachments bounds the binary attachments one packet may announce; a
// packet announcing more is a parse error (a client could otherwise make the
// server wait for, and buffer, any number of frames).
const maxAttachments = 64

// ErrParse is the error of a malformed Socket.IO packet; the connection that
// sent it is closed with reason "parse error".
var ErrParse = errors.New("socketio: malformed packet")

// packet is one decoded Socket.IO packet. data is the JSON payload as sent
// (nil when absent); for events it is the array [name, args...].
type packet struct {
	typ         byte
	nsp         string
	id          int64 // -1: none
	attachments int
	data        []byte
}

// decodePacket parses the text of one Socket.IO packet:
//
//	<type>[<attachments>-][<namespace>,][<ack id>][JSON payload]
//
// and checks the payload's shape for the type (CONNECT: an object or
// nothing; DISCONNECT: nothing; EVENT: an array, which eventArgs checks is
// non-empty and starts with a string; ACK: an array). Errors: ErrParse.
func decodePacket(s []byte) (packet, error) {
	p := packet{id: -1}
	if len(s) == 0 || s[0] < packetConnect || s[0] > packetBinaryAck {
		return p, ErrParse
	}
	p.typ = s[0]
	i := 1
	if p.typ == packetBinaryEvent || p.typ == packetBinaryAck {
		j := bytes.IndexByte(s[i:], '-')
		if j <= 0 {
			return p, ErrParse
		}
		n, err := strconv.Atoi(string(s[i : i+j]))
		if err != nil || n < 0 || n > maxAttachments {
			return p, ErrParse
		}
		p.attachments = n
		i += j + 1
	}
	p.nsp = "/"
	if i < len(s) && s[i] == '/' {
		j := bytes.IndexByte(s[i:], ',')
		if j < 0 {
			p.nsp = string(s[i:])
			i = len(s)
		} else {
			p.nsp = string(s[i : i+j])
			i += j + 1
		}
	}
	if j := i; j < len(s) && isDigit(s[j]) {
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		id, err := strconv.ParseInt(string(s[i:j]), 10, 64)
		if err != nil {
			return p, ErrParse
		}
		p.id = id
		i = j
	}
	if i < len(s) {
		p.data = s[i:]
	}
	// Events and acks are parsed once, by eventArgs or ackArgs, which fail
	// on bad JSON; other payloads are checked here.
	if p.data != nil && p.typ != packetEvent && p.typ != packetBinaryEvent && p.typ != packetAck && p.typ != packetBinaryAck && !json.Valid(p.data) {
		return p, ErrParse
	}
	if !payloadValid(p) {
		return p, ErrParse
	}
	return p, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// payloadValid checks the payload's JSON kind for the packet type, as the
// reference parser does (socket.io-parser isPayloadValid).
func payloadValid(p packet) bool {
	first := byte(0)
	if d := bytes.TrimLeft(p.data, " \t\r\n"); len(d) > 0 {
		first = d[0]
	}
	switch p.typ {
	case packetConnect:
		return p.data == nil || first == '{'
	case packetDisconnect:
		return p.data == nil
	case packetConnectError:
		return first == '{' || first == '"'
	case packetEvent, packetBinaryEvent:
		return first == '[' // the name is checked by eventArgs
	case packetAck, packetBinaryAck:
		return first == '['
	}
	return false
}

// eventArgs splits an event payload [name, args...] into the name and the
// raw arguments.
func eventArgs(data []byte) (string, []json.RawMessage, error) {
	var all []json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil || len(all) == 0 {
		return "", nil, ErrParse
	}
	var name string
	if err := json.Unmarshal(all[0], &name); err != nil {
		return "", nil, ErrParse
	}
	return name, all[1:], nil
}

// ackArgs splits an ack payload [args...] into raw arguments.
func ackArgs(data []byte) ([]json.RawMessage, error) {
	var all []json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return nil, ErrParse
	}
	return all, nil
}

// encoder builds one outgoing packet. Arguments are encoded once; a
// broadcast shares the result between recipients. Encoders are pooled
// (encoders): the JSON goes straight into the pooled buffer through one
// json.Encoder, so a packet costs one allocation of its own (the returned
// text) instead of one per argument plus the buffer's growth.
type encoder struct {
	buf         bytes.Buffer
	json        *json.Encoder // writes to buf
	attachments [][]byte
}

// maxPooledEncoderBytes keeps an encoder that built a large packet (a
// long transcript in onTopicData, say) out of the pool, so one big packet
// does not pin its buffer for good.
const maxPooledEncoderBytes = 64 << 10

var encoders = sync.Pool{New: func() any {
	e := new(encoder)
	e.json = json.NewEncoder(&e.buf)
	return e
}}

func getEncoder() *encoder { return encoders.Get().(*encoder) }

func putEncoder(e *encoder) {
	if e.buf.Cap() > maxPooledEncoderBytes {
		return
	}
	e.buf.Reset()
	clear(e.attachments)
	e.attachments = e.attachments[:0]
	encoders.Put(e)
}

// Binary marks an argument to be sent as a binary attachment (a
// {"_placeholder":true,"num":N} in the JSON, the bytes in a frame of their
// own). A plain []byte argument is sent the same way.
type Binary []byte

// encodeArgs appends "[" + name? + args + "]". Arguments: json.RawMessage
// as is, []byte and Binary as attachments, anything else through
// encoding/json (with json.Marshal's escaping: the bytes are the same).
func (e *encoder) encodeArgs(name *string, args []any) error {
	e.buf.WriteByte('[')
	if name != nil {
		if err := e.value(*name); err != nil {
			return err
		}
	}
	for i, a := range args {
		if i > 0 || name != nil {
			e.buf.WriteByte(',')
		}
		switch v := a.(type) {
		case json.RawMessage:
			if len(v) == 0 {
				e.buf.WriteString("null")
			} else {
				e.buf.Write(v)
			}
		case []byte:
			e.placeholder(v)
		case Binary:
			e.placeholder(v)
		default:
			if err := e.value(v); err != nil {
				return err
			}
		}
	}
	e.buf.WriteByte(']')
	return nil
}

// value appends v's JSON. An event name that needs no escaping (the
// usual case) is written as is.
func (e *encoder) value(v any) error {
	if s, ok := v.(string); ok && plainJSONString(s) {
		e.buf.WriteByte('"')
		e.buf.WriteString(s)
		e.buf.WriteByte('"')
		return nil
	}
	if err := e.json.Encode(v); err != nil {
		return err
	}
	e.buf.Truncate(e.buf.Len() - 1) // Encode's trailing newline
	return nil
}

// plainJSONString says whether s is printable ASCII that JSON (with
// json.Marshal's HTML escaping) writes unchanged between quotes.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func (e *encoder) placeholder(b []byte) {
	e.buf.WriteString(`{"_placeholder":true,"num":`)
	e.buf.WriteString(strconv.Itoa(len(e.attachments)))
	e.buf.WriteByte('}')
	e.attachments = append(e.attachments, b)
}

// encodePacket returns the text of a packet of type typ (packetEvent or
// packetAck; promoted to the binary type when the arguments hold
// attachments, or when extra attachments are given) and its attachments.
// name is the event name (nil for acks); id is the ack id or -1.
func encodePacket(typ byte, nsp string, id int64, name *string, args []any, extra [][]byte) ([]byte, [][]byte, error) {
	body := getEncoder()
	defer putEncoder(body)
	body.attachments = append(body.attachments, extra...)
	if err := body.encodeArgs(name, args); err != nil {
		return nil, nil, err
	}
	out := make([]byte, 0, body.buf.Len()+len(nsp)+24)
	var att [][]byte
	if n := len(body.attachments); n > 0 {
		att = slices.Clone(body.attachments)
		if typ == packetEvent {
			typ = packetBinaryEvent
		} else if typ == packetAck {
			typ = packetBinaryAck
		}
		out = append(out, typ)
		out = strconv.AppendInt(out, int64(n), 10)
		out = append(out, '-')
	} else {
		out = append(out, typ)
	}
	if nsp != "/" {
		out = append(out, nsp...)
		out = append(out, ',')
	}
	if id >= 0 {
		out = strconv.AppendInt(out, id, 10)
	}
	out = append(out, body.buf.Bytes()...)
	return out, att, nil
}

// controlPacket encodes a packet with an optional JSON payload (CONNECT,
// DISCONNECT, CONNECT_ERROR).
func controlPacket(typ byte, nsp string, payload []byte) []byte {
	out := make([]byte, 0, 2+len(nsp)+len(payload))
	out = append(out, typ)
	if nsp != "/" {
		out = append(out, nsp...)
		out = append(out, ',')
	}
	return append(out, payload...)
}
