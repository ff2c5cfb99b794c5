package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Handshake is what a client presented when it connected. One Engine.IO
// session's sockets share it.
type Handshake struct {
	// Header is the handshake request's headers; Query its query.
	Header http.Header
	Query  url.Values
	// Address is the client's address (the TCP peer, or with
	// Options.TrustForwardedFor the first X-Forwarded-For entry).
	Address string
	// Time is when the session opened.
	Time time.Time
	// Auth is the CONNECT packet's payload of the namespace (an object,
	// "{}" when the client sent none); set per Socket; nil after the
	// middlewares with Options.ForgetAuth.
	Auth json.RawMessage
}

// newHandshake records r's handshake. keepHeader and keepQuery, when not
// nil, are the (canonical) header names and the query parameters kept
// (Options.HandshakeHeaders, HandshakeQuery); nothing else of r is
// referenced afterwards.
func newHandshake(r *http.Request, addr string, now time.Time, keepHeader, keepQuery []string) *Handshake {
	h := r.Header
	if keepHeader != nil {
		h = pick(r.Header, keepHeader)
	}
	q := r.URL.Query()
	if keepQuery != nil {
		q = url.Values(pick(q, keepQuery))
	}
	return &Handshake{Header: h, Query: q, Address: addr, Time: now}
}

// pick copies the entries of m named in keys (nil when none is there).
func pick(m map[string][]string, keys []string) map[string][]string {
	var out map[string][]string
	for _, k := range keys {
		if v, ok := m[k]; ok {
			if out == nil {
				out = make(map[string][]string, len(keys))
			}
			out[k] = slices.Clone(v)
		}
	}
	return out
}

// ConnectError refuses a namespace connection from a middleware: the client
// gets CONNECT_ERROR {"message": Message, "data": Data} (data left out when
// nil), socket.io-client's connect_error with err.message and err.data.
type ConnectError struct {
	Message string
	Data    any
}

func (e *ConnectError) Error() string { return e.Message }

// Middleware decides a namespace connection before the socket exists. An
// error refuses it (a *ConnectError to choose the data; another error's text
// becomes the message). It runs on the connection's incoming path.
type Middleware func(s *Socket) error

// Event is one event a client emitted.
type Event struct {
	// Name is the event name; Args the arguments after it, as JSON. Binary
	// attachments are {"_placeholder":true,"num":N} in Args and their bytes
	// in Attachments[N].
	Name        string
	Args        []json.RawMessage
	Attachments [][]byte

	ack func(att [][]byte, args []any) error
}

// HasAck reports whether the client asked for an acknowledgement.
func (e *Event) HasAck() bool { return e.ack != nil }

// ErrNoAck is returned by Ack on an event without an acknowledgement, and
// on the second call.
var ErrNoAck = errors.New("socketio: no acknowledgement to answer")

// Ack answers the event's acknowledgement; arguments encode as in
// Socket.Emit. At most once; errors: ErrNoAck, ErrDisconnected.
func (e *Event) Ack(args ...any) error { return e.AckAttached(nil, args...) }

// AckAttached is Ack with attachments that placeholders in raw arguments
// refer to ({"_placeholder":true,"num":N} is att[N]); []byte arguments are
// numbered after them.
func (e *Event) AckAttached(att [][]byte, args ...any) error {
	if e.ack == nil {
		return ErrNoAck
	}
	return e.ack(att, args)
}

// Namespace is a Socket.IO namespace: its middlewares, connection handler,
// sockets and rooms.
type Namespace struct {
	srv  *Server
	name string

	mu        sync.RWMutex
	mw        []Middleware
	onConnect func(*Socket)
	sockets   map[string]*Socket
	rooms     map[string]room
}

// roomListMax is how many members a room keeps in a list before it turns
// to a set.
const roomListMax = 8

// room is a room's members: a list while they are few (an agent desk's
// room holds the agent's one or two sockets), a set past roomListMax.
// A set of one kept about 150 bytes more than a list of one for each desk.
type room struct {
	list []*Socket
	set  map[*Socket]struct{}
}

// each calls f with every member, in no particular order.
func (r room) each(f func(*Socket)) {
	for _, sk := range r.list {
		f(sk)
	}
	for sk := range r.set {
		f(sk)
	}
}

func (r room) len() int { return len(r.list) + len(r.set) }

func (r room) has(s *Socket) bool {
	if r.set != nil {
		_, in := r.set[s]
		return in
	}
	return slices.Contains(r.list, s)
}

// with returns r with s added (s not a member).
func (r room) with(s *Socket) room {
	switch {
	case r.set != nil:
		r.set[s] = struct{}{}
	case len(r.list) < roomListMax:
		r.list = append(r.list, s)
	default:
		r.set = make(map[*Socket]struct{}, len(r.list)+1)
		for _, sk := range r.list {
			r.set[sk] = struct{}{}
		}
		r.set[s] = struct{}{}
		r.list = nil
	}
	return r
}

// without returns r with s removed.
func (r room) without(s *Socket) room {
	if r.set != nil {
		delete(r.set, s)
		return r
	}
	if i := slices.Index(r.list, s); i >= 0 {
		last := len(r.list) - 1
		r.list[i] = r.list[last]
		r.list[last] = nil
		r.list = r.list[:last]
	}
	return r
}

// Name is the namespace's name ("/", "/custom").
func (n *Namespace) Name() string { return n.name }

// Use adds a middleware; they run in order on each connection until one
// refuses.
func (n *Namespace) Use(m Middleware) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mw = append(n.mw, m)
}

// OnConnection sets the handler of new sockets. It runs on the connection's
// incoming path right after the CONNECT answer is queued, so what it emits
// reaches the client right after that answer and before anything else the
// client sent is handled.
func (n *Namespace) OnConnection(f func(*Socket)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.onConnect = f
}

// Sockets returns how many sockets are connected to the namespace.
func (n *Namespace) Sockets() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.sockets)
}

// To emits event to every socket in room, encoding the packet once. It
// reports how many sockets it was queued for. Arguments encode as in
// Socket.Emit (acks cannot be asked from a room).
func (n *Namespace) To(room string, event string, args ...any) (int, error) {
	return n.ToRooms([]string{room}, event, args...)
}

// ToRooms emits event to every connected socket in any of rooms, once per
// socket however many of the rooms it is in. The packet is encoded once
// and its bytes shared by every recipient (a CIM event for an agent and
// the supervisors monitoring the conversation costs one encoding, not one
// per recipient). It returns the number of sockets it was queued to, and
// an encoding error (nothing sent).
func (n *Namespace) ToRooms(rooms []string, event string, args ...any) (int, error) {
	return n.toRooms(rooms, nil, event, args)
}

// ToWritten is To that calls written, once per socket, when the
// packet's text frame was handed to that socket's connection (a websocket
// message written, or a poll answer written), from the writing goroutine:
// for latency figures that end on the wire rather than in the queue.
// written must be quick and must not call the namespace.
func (n *Namespace) ToWritten(room string, written func(), event string, args ...any) (int, error) {
	return n.toRooms([]string{room}, written, event, args)
}

func (n *Namespace) toRooms(rooms []string, written func(), event string, args []any) (int, error) {
	text, att, err := encodePacket(packetEvent, n.name, -1, &event, args, nil)
	if err != nil {
		return 0, err
	}
	fs := packetFrames(text, att)
	fs[0].written = written
	n.mu.RLock()
	var targets []*Socket
	if len(rooms) == 1 {
		members := n.rooms[rooms[0]]
		targets = make([]*Socket, 0, members.len())
		members.each(func(sk *Socket) { targets = append(targets, sk) })
	} else {
		seen := map[*Socket]bool{}
		for _, name := range rooms {
			n.rooms[name].each(func(sk *Socket) {
				if !seen[sk] {
					seen[sk] = true
					targets = append(targets, sk)
				}
			})
		}
	}
	n.mu.RUnlock()
	sent := 0
	for _, sk := range targets {
		if sk.connected.Load() && sk.ss.send(fs...) {
			sent++
		}
	}
	return sent, nil
}

// packetFrames turns an encoded packet into Engine.IO frames: the text as
// a message, then each attachment as a binary message.
func packetFrames(text []byte, att [][]byte) []frame {
	fs := make([]frame, 0, 1+len(att))
	fs = append(fs, frame{typ: engineMessage, data: text})
	for _, a := range att {
		fs = append(fs, frame{binary: true, data: a})
	}
	return fs
}

// Socket is a client's connection to one namespace.
type Socket struct {
	id        string
	nsp       *Namespace
	ss        *session
	handshake Handshake

	connected atomic.Bool
	data      atomic.Value

	mu           sync.Mutex
	rooms        []string
	onEvent      func(*Event)
	onDisconnect []func(reason string)
	acks         map[int64]func(args []json.RawMessage)
	nextAck      int64
}

// ID is the socket's id (the sid of the CONNECT answer; not the Engine.IO
// session id).
func (s *Socket) ID() string { return s.id }

// Namespace is the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// Handshake is what the client presented (Auth: this namespace's).
func (s *Socket) Handshake() *Handshake { return &s.handshake }

// SetData stores a value for the application (e.g. the authenticated
// user); Data returns it.
func (s *Socket) SetData(v any) { s.data.Store(&v) }

// Data returns what SetData stored, or nil.
func (s *Socket) Data() any {
	if p, ok := s.data.Load().(*any); ok {
		return *p
	}
	return nil
}

// Connected reports whether the socket is still connected.
func (s *Socket) Connected() bool { return s.connected.Load() }

// OnEvent sets the handler of the client's events. It runs on the
// connection's incoming path: one event at a time, in arrival order (a
// handler that blocks delays the connection's next packets, pongs
// included).
func (s *Socket) OnEvent(f func(*Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onEvent = f
}

// OnDisconnect adds a handler of the socket's disconnect; reason is the
// reference server's ("client namespace disconnect", "server namespace
// disconnect", "transport close", "transport error", "ping timeout",
// "parse error", "server shutting down"). It runs once, and at once if the
// socket is already disconnected.
func (s *Socket) OnDisconnect(f func(reason string)) {
	s.mu.Lock()
	if s.connected.Load() {
		s.onDisconnect = append(s.onDisconnect, f)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	f(s.ss.reason())
}

// ErrDisconnected is returned by Emit on a socket that is gone.
var ErrDisconnected = errors.New("socketio: socket disconnected")

// Emit sends event with args. Arguments: json.RawMessage as is, []byte or
// Binary as binary attachments, anything else through encoding/json. If the
// last argument is a func([]json.RawMessage), the client is asked for an
// acknowledgement and the function gets its arguments (on the connection's
// incoming path). Errors: ErrDisconnected, or the JSON encoder's.
func (s *Socket) Emit(event string, args ...any) error {
	return s.EmitAttached(event, nil, args...)
}

// EmitAttached is Emit with attachments that placeholders in raw arguments
// refer to ({"_placeholder":true,"num":N} is att[N]); []byte arguments are
// numbered after them.
func (s *Socket) EmitAttached(event string, att [][]byte, args ...any) error {
	id := int64(-1)
	if n := len(args); n > 0 {
		if cb, ok := args[n-1].(func([]json.RawMessage)); ok {
			args = args[:n-1]
			s.mu.Lock()
			id = s.nextAck
			s.nextAck++
			if s.acks == nil {
				s.acks = map[int64]func([]json.RawMessage){}
			}
			s.acks[id] = cb
			s.mu.Unlock()
		}
	}
	if !s.connected.Load() {
		return ErrDisconnected
	}
	text, all, err := encodePacket(packetEvent, s.nsp.name, id, &event, args, att)
	if err != nil {
		return err
	}
	if !s.ss.send(packetFrames(text, all)...) {
		return ErrDisconnected
	}
	return nil
}

// Join adds the socket to room; Leave removes it.
func (s *Socket) Join(room string) {
	n := s.nsp
	n.mu.Lock()
	defer n.mu.Unlock()
	if !s.connected.Load() {
		return
	}
	r := n.rooms[room]
	if r.has(s) {
		return
	}
	n.rooms[room] = r.with(s)
	s.mu.Lock()
	s.rooms = append(s.rooms, room)
	s.mu.Unlock()
}

// Leave removes the socket from room.
func (s *Socket) Leave(room string) {
	n := s.nsp
	n.mu.Lock()
	defer n.mu.Unlock()
	n.leaveLocked(s, room)
	s.mu.Lock()
	for i, r := range s.rooms {
		if r == room {
			s.rooms = append(s.rooms[:i], s.rooms[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
}

func (n *Namespace) leaveLocked(s *Socket, room string) {
	r, ok := n.rooms[room]
	if !ok {
		return
	}
	if r = r.without(s); r.len() == 0 {
		delete(n.rooms, room)
	} else {
		n.rooms[room] = r
	}
}

// Disconnect disconnects the socket from its namespace (the client gets a
// DISCONNECT packet; reason "server namespace disconnect"). With
// closeSession the whole Engine.IO session closes too.
func (s *Socket) Disconnect(closeSession bool) {
	if s.connected.Load() {
		s.ss.send(frame{typ: engineMessage, data: controlPacket(packetDisconnect, s.nsp.name, nil)})
		s.ss.detach(s)
		s.closed("server namespace disconnect")
	}
	if closeSession {
		s.ss.close("forced server close", true)
	}
}

// closed runs the disconnect once: out of the namespace and its rooms,
// pending acks dropped, handlers called.
func (s *Socket) closed(reason string) {
	if !s.connected.CompareAndSwap(true, false) {
		return
	}
	n := s.nsp
	n.mu.Lock()
	delete(n.sockets, s.id)
	s.mu.Lock()
	for _, r := range s.rooms {
		n.leaveLocked(s, r)
	}
	s.rooms = nil
	hs := s.onDisconnect
	s.onDisconnect = nil
	s.acks = nil
	s.mu.Unlock()
	n.mu.Unlock()
	for _, f := range hs {
		f(reason)
	}
}

func (ss *session) reason() string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closeReason != "" {
		return ss.closeReason
	}
	return "server namespace disconnect"
}

// ---- the session's Socket.IO side ----

// binaryPacket is an event or ack waiting for its attachments.
type binaryPacket struct {
	p   packet
	att [][]byte
}

// onMessage handles one Engine.IO message: a Socket.IO packet, or an
// attachment of the packet before it.
func (ss *session) onMessage(data []byte, binary bool) error {
	if binary {
		bp := ss.binary
		if bp == nil {
			return ErrParse
		}
		bp.att = append(bp.att, bytes.Clone(data))
		if len(bp.att) == bp.p.attachments {
			ss.binary = nil
			return ss.dispatch(bp.p, bp.att)
		}
		return nil
	}
	if ss.binary != nil {
		return ErrParse // text before the announced attachments
	}
	p, err := decodePacket(data)
	if err != nil {
		return err
	}
	// data is the reader's buffer, reused after this call: what outlives
	// it is copied (event and ack arguments by encoding/json, the auth
	// payload and a packet waiting for attachments here).
	if p.attachments > 0 {
		p.data = bytes.Clone(p.data)
		ss.binary = &binaryPacket{p: p}
		return nil
	}
	return ss.dispatch(p, nil)
}

func (ss *session) socket(nsp string) *Socket {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, sk := range ss.sockets {
		if sk.nsp.name == nsp {
			return sk
		}
	}
	return nil
}

func (ss *session) detach(s *Socket) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if i := slices.Index(ss.sockets, s); i >= 0 {
		ss.sockets = slices.Delete(ss.sockets, i, i+1)
	}
}

func (ss *session) dispatch(p packet, att [][]byte) error {
	switch p.typ {
	case packetConnect:
		ss.connect(p)
	case packetDisconnect:
		if sk := ss.socket(p.nsp); sk != nil {
			ss.detach(sk)
			sk.closed("client namespace disconnect")
		}
	case packetEvent, packetBinaryEvent:
		sk := ss.socket(p.nsp)
		if sk == nil {
			return nil // not connected to that namespace: ignored
		}
		name, args, err := eventArgs(p.data)
		if err != nil {
			return err
		}
		ev := &Event{Name: name, Args: args, Attachments: att}
		if p.id >= 0 {
			ev.ack = sk.acker(p.id)
		}
		sk.mu.Lock()
		h := sk.onEvent
		sk.mu.Unlock()
		if h != nil && sk.connected.Load() {
			h(ev)
		}
	case packetAck, packetBinaryAck:
		sk := ss.socket(p.nsp)
		if sk == nil {
			return nil
		}
		args, err := ackArgs(p.data)
		if err != nil {
			return err
		}
		sk.mu.Lock()
		cb := sk.acks[p.id]
		delete(sk.acks, p.id)
		sk.mu.Unlock()
		if cb != nil {
			if len(att) > 0 {
				args = append(args, attachmentsArg(att)...)
			}
			cb(args)
		}
	default:
		return ErrParse // a client never sends CONNECT_ERROR
	}
	return nil
}

// attachmentsArg passes an ack's attachments to its callback after its
// arguments, each as a JSON string of base64 (callbacks that expect binary
// acks decode them).
func attachmentsArg(att [][]byte) []json.RawMessage {
	out := make([]json.RawMessage, len(att))
	for i, a := range att {
		b, _ := json.Marshal(a)
		out[i] = b
	}
	return out
}

// acker answers the ack id once.
func (s *Socket) acker(id int64) func(att [][]byte, args []any) error {
	var once atomic.Bool
	return func(att [][]byte, args []any) error {
		if !once.CompareAndSwap(false, true) {
			return ErrNoAck
		}
		if !s.connected.Load() {
			return ErrDisconnected
		}
		text, all, err := encodePacket(packetAck, s.nsp.name, id, nil, args, att)
		if err != nil {
			return err
		}
		if !s.ss.send(packetFrames(text, all)...) {
			return ErrDisconnected
		}
		return nil
	}
}

// connect handles CONNECT: an unknown namespace gets CONNECT_ERROR, the
// middlewares decide, then the socket joins and OnConnection runs.
func (ss *session) connect(p packet) {
	n := ss.srv.namespace(p.nsp)
	if n == nil {
		ss.send(frame{typ: engineMessage, data: controlPacket(packetConnectError, p.nsp, []byte(`{"message":"Invalid namespace"}`))})
		return
	}
	if ss.socket(p.nsp) != nil {
		return // already connected: the reference server ignores it
	}
	auth := json.RawMessage(`{}`)
	if p.data != nil {
		auth = bytes.Clone(p.data)
	}
	sk := &Socket{id: newID(), nsp: n, ss: ss, handshake: *ss.handshake}
	sk.handshake.Auth = auth
	n.mu.RLock()
	mw := n.mw
	onConnect := n.onConnect
	n.mu.RUnlock()
	for _, m := range mw {
		if err := m(sk); err != nil {
			ss.send(frame{typ: engineMessage, data: controlPacket(packetConnectError, p.nsp, connectErrorJSON(err))})
			return
		}
	}
	if ss.srv.opts.ForgetAuth {
		sk.handshake.Auth = nil
	}
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return
	}
	ss.sockets = append(ss.sockets, sk)
	wasPending := !ss.joined
	ss.joined = true
	sk.connected.Store(true)
	answer := frame{typ: engineMessage, data: controlPacket(packetConnect, p.nsp, []byte(`{"sid":"`+sk.id+`"}`))}
	ws := ss.ws
	if ws == nil {
		ss.enqueueLocked(answer)
		ss.mu.Unlock()
	} else {
		// The CONNECT answer goes out in a write of its own, before
		// anything the connection handler emits (see GreetingDelay).
		ss.queue = append(ss.queue, answer)
		ss.queued += answer.size()
		d := ss.srv.opts.GreetingDelay
		held := d > 0 && !ss.writing
		if held {
			ss.writing = true
		}
		ss.mu.Unlock()
		ss.flushWS(ws, false)
		if held {
			ss.srv.opts.Clock.AfterFunc(d, func() {
				ss.mu.Lock()
				defer ss.mu.Unlock()
				ss.writing = false
				ss.kickLocked()
			})
		} else {
			ss.mu.Lock()
			ss.kickLocked()
			ss.mu.Unlock()
		}
	}
	if wasPending {
		ss.srv.unpend(ss.addr)
	}
	n.mu.Lock()
	n.sockets[sk.id] = sk
	n.mu.Unlock()
	if onConnect != nil {
		onConnect(sk)
	}
}

func connectErrorJSON(err error) []byte {
	var ce *ConnectError
	if !errors.As(err, &ce) {
		ce = &ConnectError{Message: err.Error()}
	}
	v := struct {
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{ce.Message, ce.Data}
	b, jerr := json.Marshal(v)
	if jerr != nil {
		b = []byte(`{"message":` + strconv.Quote(ce.Message) + `}`)
	}
	return b
}
