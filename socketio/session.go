package socketio

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Engine.IO v4 packet types (engine.io-protocol, "Packet encoding").
const (
	engineOpen    = '0'
	engineClose   = '1'
	enginePing    = '2'
	enginePong    = '3'
	engineMessage = '4'
	engineUpgrade = '5'
	engineNoop    = '6'
)

// lingerTimeout is how long a session closed by the client's close packet
// over polling still answers one poll with a noop.
const lingerTimeout = time.Second

// recordSeparator joins packets in a long-polling payload.
const recordSeparator = 0x1e

// frame is one queued Engine.IO packet: a type and its data, or a binary
// message. Broadcasts share data between sessions; nobody writes to it.
type frame struct {
	typ    byte
	binary bool
	data   []byte
	// written, when set, is called once the frame was handed to the
	// connection (a websocket message written, or a poll answer).
	written func()
}

// notifyWritten calls the written callbacks of fs.
func notifyWritten(fs []frame) {
	for _, f := range fs {
		if f.written != nil {
			f.written()
		}
	}
}

func (f frame) size() int { return len(f.data) + 1 }

const (
	transportPolling = iota
	transportWebsocket
)

// session is one Engine.IO connection. Its incoming packets are handled one
// at a time, in order: by a handler goroutine that exists only while
// websocket messages wait (see readLoop), or under inMu for polling
// requests. Outgoing packets are queued under mu and written by
// the pending poll or by a writer goroutine that exists only while there is
// something to write.
type session struct {
	srv       *Server
	id        string
	addr      string
	handshake *Handshake

	inMu sync.Mutex // serializes incoming packets (polling POSTs)

	// The websocket messages read and not yet handled (readLoop), under
	// inboxMu; handling (below) says a handler goroutine drains them;
	// room, when set, is closed when a full inbox has room again.
	inboxMu sync.Mutex
	inbox   []inbound
	room    chan struct{}

	mu          sync.Mutex
	closeReason string
	ws          *websocket.Conn
	// upgradeEnd is closed when the upgrade in progress ends (switched
	// or failed); nil when none is in progress.
	upgradeEnd chan struct{}
	queue      []frame
	wmu        sync.Mutex // one websocket writer at a time
	queued     int        // bytes in queue
	pollWake   chan struct{}
	// pongDue is when an awaited pong is overdue (unix nanoseconds): the
	// ping's due time plus PingTimeout.
	pongDue int64
	// done is closed when the session closes; made by the first that
	// waits for it (doneLocked), as an idle websocket session never does
	// (a channel is about 100 bytes a desk).
	done chan struct{}
	gen  uint32 // heartbeat generation

	// The flags, side by side so that they share a word (the session is
	// 256 bytes, not 320, for each desk); handling is under inboxMu, the
	// others under mu.
	handling  bool
	closed    bool
	transport uint8
	upgrading bool
	probed    bool // the upgrade's probe was answered
	writing   bool // a websocket writer goroutine runs
	polling   bool // a GET is held
	awaitPong bool
	joined    bool // some namespace connected: no longer pending
	lingering bool // closed by the client, one racing poll to answer

	// Socket.IO layer (client.go), touched on the incoming path only,
	// except sockets, which close() reads under mu.
	// sockets are the connected namespaces' sockets, one per namespace:
	// a slice, as a session rarely has more than one or two (a map of one
	// entry kept about 200 bytes more for each desk).
	sockets []*Socket
	binary  *binaryPacket // an event waiting for its attachments
}

// newSession makes the session of a handshake over polling, or over
// websocket when polling is false. Only a polling session gets pollWake:
// a session on the websocket from its handshake never holds a poll (a
// send to the nil channel takes its select's default), and so keeps no
// channel for it (about 100 bytes).
func newSession(s *Server, id, addr string, r *http.Request, polling bool) *session {
	ss := &session{srv: s, id: id, addr: addr, handshake: newHandshake(r, addr, s.opts.Clock.Now(), s.keepHeaders, s.keepQuery)}
	if polling {
		ss.pollWake = make(chan struct{}, 1)
	}
	return ss
}

// start arms the first ping and the connect timeout.
func (ss *session) start() {
	ss.mu.Lock()
	gen := ss.gen
	ss.mu.Unlock()
	ss.srv.hb.schedule(ss, gen, timerPing, ss.srv.opts.PingInterval)
	ss.srv.hb.schedule(ss, 0, timerConnect, ss.srv.opts.ConnectTimeout)
}

func (ss *session) openPacket(polling bool) []byte {
	o := ss.srv.opts
	b := make([]byte, 0, 128)
	b = append(b, `0{"sid":"`...)
	b = append(b, ss.id...)
	if polling {
		b = append(b, `","upgrades":["websocket"],"pingInterval":`...)
	} else {
		b = append(b, `","upgrades":[],"pingInterval":`...)
	}
	b = strconv.AppendInt(b, o.PingInterval.Milliseconds(), 10)
	b = append(b, `,"pingTimeout":`...)
	b = strconv.AppendInt(b, o.PingTimeout.Milliseconds(), 10)
	b = append(b, `,"maxPayload":`...)
	b = strconv.AppendInt(b, o.MaxHTTPBufferSize, 10)
	return append(b, '}')
}

// timerFired runs on the heartbeat goroutine; due is when the timer was
// due (the heartbeat may come to it later on a busy machine).
func (ss *session) timerFired(gen uint32, kind timerKind, due int64) {
	ss.mu.Lock()
	if kind == timerForget {
		ss.lingering = false
		ss.mu.Unlock()
		ss.srv.forget(ss, false)
		return
	}
	if ss.closed {
		ss.mu.Unlock()
		return
	}
	switch kind {
	case timerConnect:
		joined := ss.joined
		ss.mu.Unlock()
		if !joined {
			go ss.close("connect timeout", true)
		}
		return
	case timerPing:
		if gen != ss.gen {
			ss.mu.Unlock()
			return
		}
		ss.awaitPong = true
		ss.gen++
		gen = ss.gen
		// The pong is due PingTimeout after the ping was, not after the
		// heartbeat came to it: the session's deadlines do not drift
		// with the machine's load.
		ss.pongDue = due + int64(ss.srv.opts.PingTimeout)
		ss.enqueueLocked(frame{typ: enginePing})
		ss.mu.Unlock()
		ss.srv.hb.scheduleAt(ss, gen, timerPong, ss.pongDue)
	case timerPong:
		late := gen == ss.gen && ss.awaitPong
		ss.mu.Unlock()
		if late {
			go ss.close("ping timeout", true)
		}
	}
}

// pingOverdueLocked reports whether the session awaits a pong that is
// overdue by the clock, though the heartbeat has not closed it yet (it
// runs on its own goroutine, late on a busy machine). A request of such a
// session is answered as the heartbeat would have left it: closed.
func (ss *session) pingOverdueLocked() bool {
	return !ss.closed && ss.awaitPong && ss.srv.opts.Clock.Now().UnixNano() >= ss.pongDue
}

// closeIfOverdue closes the session with "ping timeout" when its pong is
// overdue (pingOverdueLocked); it reports whether it did.
func (ss *session) closeIfOverdue() bool {
	ss.mu.Lock()
	overdue := ss.pingOverdueLocked()
	ss.mu.Unlock()
	if overdue {
		ss.close("ping timeout", true)
	}
	return overdue
}

// pong records the client's answer and schedules the next ping.
func (ss *session) pong() {
	ss.mu.Lock()
	if !ss.awaitPong || ss.closed {
		ss.mu.Unlock()
		return
	}
	ss.awaitPong = false
	ss.gen++
	gen := ss.gen
	ss.mu.Unlock()
	ss.srv.hb.schedule(ss, gen, timerPing, ss.srv.opts.PingInterval)
}

// send queues frames; false when the session is closed.
func (ss *session) send(fs ...frame) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return false
	}
	ss.enqueueLocked(fs...)
	return true
}

func (ss *session) enqueueLocked(fs ...frame) {
	for _, f := range fs {
		ss.queue = append(ss.queue, f)
		ss.queued += f.size()
	}
	if max := ss.srv.opts.MaxBufferedBytes; max > 0 && ss.queued > max {
		go ss.close("transport error", true)
		return
	}
	ss.kickLocked()
}

// kickLocked gets the queue written: a websocket writer, or the held poll.
func (ss *session) kickLocked() {
	if len(ss.queue) == 0 {
		return
	}
	if ss.transport == transportWebsocket {
		if !ss.writing && ss.ws != nil {
			ss.writing = true
			go ss.writeLoop(ss.ws)
		}
		return
	}
	select {
	case ss.pollWake <- struct{}{}:
	default:
	}
}

// writeLoop writes the queue to the websocket until it is empty.
func (ss *session) writeLoop(ws *websocket.Conn) {
	for {
		if !ss.flushWS(ws, true) {
			return
		}
	}
}

// flushWS writes what is queued, in order: the queue is taken under wmu,
// so concurrent flushes never reorder frames. From the writer goroutine
// (loop), an empty queue ends it; false: stop.
func (ss *session) flushWS(ws *websocket.Conn, loop bool) bool {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	ss.mu.Lock()
	if len(ss.queue) == 0 {
		if loop {
			ss.writing = false
			// The writer ends: an idle session keeps no queue (it held
			// about 100 bytes each desk); the next burst allocates one.
			ss.queue = nil
		}
		ss.mu.Unlock()
		return false
	}
	batch := ss.queue
	ss.queue, ss.queued = nil, 0
	ss.mu.Unlock()
	err := ss.writeFrames(ws, batch)
	if err == nil {
		notifyWritten(batch)
	}
	clear(batch)
	ss.mu.Lock()
	if ss.queue == nil && !ss.closed {
		ss.queue = batch[:0] // reused while the writer goes on
	}
	if err != nil && loop {
		ss.writing = false
	}
	ss.mu.Unlock()
	if err != nil {
		ss.close("transport error", true)
		return false
	}
	return true
}

func (ss *session) writeFrames(ws *websocket.Conn, fs []frame) error {
	_ = ws.SetWriteDeadline(time.Now().Add(ss.srv.opts.WriteTimeout))
	for _, f := range fs {
		if f.binary {
			if err := ws.WriteMessage(websocket.BinaryMessage, f.data); err != nil {
				return err
			}
			continue
		}
		w, err := ws.NextWriter(websocket.TextMessage)
		if err != nil {
			return err
		}
		if _, err := w.Write([]byte{f.typ}); err != nil {
			return err
		}
		if _, err := w.Write(f.data); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	return nil
}

// close ends the session once: the namespaces' sockets disconnect with
// reason, a held poll is answered with a noop, the websocket is closed.
// sendClose tells the client first (an Engine.IO close packet) where the
// transport allows.
func (ss *session) close(reason string, sendClose bool) {
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return
	}
	ss.closed = true
	ss.closeReason = reason
	ss.gen++
	ws := ss.ws
	wasPending := !ss.joined
	// A client's close packet over polling can overtake the poll it has in
	// flight; the session stays findable for lingerTimeout so that poll
	// gets its noop instead of an unknown-session error.
	linger := reason == "transport close" && ws == nil && !ss.polling && !sendClose
	ss.lingering = linger
	socks := slices.Clone(ss.sockets)
	ss.queue, ss.queued = nil, 0
	if ss.done != nil {
		close(ss.done)
	}
	ss.mu.Unlock()

	if linger {
		if wasPending {
			ss.srv.unpend(ss.addr)
		}
		ss.srv.hb.schedule(ss, 0, timerForget, lingerTimeout)
	} else {
		ss.srv.forget(ss, wasPending)
	}
	if ws != nil {
		if sendClose {
			_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		}
		_ = ws.Close()
	}
	for _, sk := range socks {
		sk.closed(reason)
	}
}

// doneLocked returns the channel closed when the session closes (ss.mu
// held), made on the first call.
func (ss *session) doneLocked() <-chan struct{} {
	if ss.done == nil {
		ss.done = make(chan struct{})
		if ss.closed {
			close(ss.done)
		}
	}
	return ss.done
}

// isClosed reports whether the session closed.
func (ss *session) isClosed() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.closed
}

// handlePacket handles one incoming Engine.IO packet; an error closes the
// session with reason "parse error".
func (ss *session) handlePacket(typ byte, data []byte, binary bool) error {
	if binary {
		return ss.onMessage(data, true)
	}
	switch typ {
	case enginePong:
		ss.pong()
	case engineClose:
		ss.close("transport close", false)
	case engineMessage:
		return ss.onMessage(data, false)
	case enginePing, engineNoop, engineUpgrade:
		// A client never pings in v4; ignore like the reference server.
	default:
		return ErrParse
	}
	return nil
}

// ---- long-polling ----

// servePoll holds a GET until frames are queued (or the session closes,
// then a noop), and answers them as one payload.
func (ss *session) servePoll(w http.ResponseWriter, r *http.Request) {
	ss.closeIfOverdue()
	ss.mu.Lock()
	if ss.closed && ss.lingering {
		ss.lingering = false
		ss.mu.Unlock()
		ss.srv.forget(ss, false)
		ss.srv.cors(w, r)
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		_, _ = w.Write([]byte{engineNoop})
		return
	}
	if end := ss.upgradeEnd; end != nil && !ss.closed && !ss.polling {
		done := ss.doneLocked()
		ss.mu.Unlock()
		t := ss.srv.opts.Clock.NewTimer(upgradePollWait)
		select {
		case <-end:
		case <-t.C():
		case <-done:
		case <-r.Context().Done():
		}
		t.Stop()
		ss.mu.Lock()
	}
	if ss.closed || ss.transport != transportPolling || ss.polling {
		overlap := !ss.closed && ss.polling
		ss.mu.Unlock()
		ss.srv.refuse(w, r, http.StatusBadRequest, codeBadRequest, "")
		if overlap {
			ss.close("transport error", false)
		}
		return
	}
	ss.polling = true
	ss.mu.Unlock()
	var fs []frame
	for {
		ss.mu.Lock()
		switch {
		case ss.closed:
			fs = []frame{{typ: engineNoop}}
		case ss.transport != transportPolling || (ss.probed && len(ss.queue) == 0):
			// Released for an upgrade: once the probe is answered the
			// client pauses polling; a poll it had in flight returns at
			// once. Before that, polls are held as usual.
			fs = []frame{{typ: engineNoop}}
		case len(ss.queue) > 0:
			fs, ss.queue, ss.queued = ss.queue, nil, 0
		}
		if fs != nil {
			ss.polling = false
			ss.mu.Unlock()
			break
		}
		done := ss.doneLocked()
		ss.mu.Unlock()
		select {
		case <-ss.pollWake:
			continue
		case <-done:
			continue
		case <-r.Context().Done():
			ss.mu.Lock()
			ss.polling = false
			ss.mu.Unlock()
			ss.close("transport close", false)
			return
		}
	}
	ss.srv.cors(w, r)
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	if _, err := w.Write(encodePayload(fs)); err == nil {
		notifyWritten(fs)
	}
}

// encodePayload joins frames for a poll answer; binary data goes as "b" +
// base64.
func encodePayload(fs []frame) []byte {
	n := 0
	for _, f := range fs {
		n += 2 + len(f.data)
		if f.binary {
			n += base64.StdEncoding.EncodedLen(len(f.data))
		}
	}
	out := make([]byte, 0, n)
	for i, f := range fs {
		if i > 0 {
			out = append(out, recordSeparator)
		}
		if f.binary {
			out = append(out, 'b')
			out = base64.StdEncoding.AppendEncode(out, f.data)
			continue
		}
		out = append(out, f.typ)
		out = append(out, f.data...)
	}
	return out
}

var errTooLarge = errors.New("socketio: payload too large")

// servePost reads a payload of packets and handles them in order.
func (ss *session) servePost(w http.ResponseWriter, r *http.Request) {
	if ss.closeIfOverdue() || ss.isClosed() {
		ss.srv.refuse(w, r, http.StatusBadRequest, codeBadRequest, "")
		return
	}
	max := ss.srv.opts.MaxHTTPBufferSize
	if max > 0 && r.ContentLength > max {
		ss.srv.refuse(w, r, http.StatusRequestEntityTooLarge, codeBadRequest, errTooLarge.Error())
		ss.close("transport error", false)
		return
	}
	body := io.Reader(r.Body)
	if max > 0 {
		body = io.LimitReader(r.Body, max+1)
	}
	data, err := io.ReadAll(body)
	if err != nil {
		ss.srv.refuse(w, r, http.StatusBadRequest, codeBadRequest, "")
		ss.close("transport error", false)
		return
	}
	if max > 0 && int64(len(data)) > max {
		ss.srv.refuse(w, r, http.StatusRequestEntityTooLarge, codeBadRequest, errTooLarge.Error())
		ss.close("transport error", false)
		return
	}
	ss.inMu.Lock()
	perr := ss.handlePayload(data)
	ss.inMu.Unlock()
	if perr != nil {
		ss.srv.refuse(w, r, http.StatusBadRequest, codeBadRequest, "")
		ss.close("parse error", false)
		return
	}
	ss.srv.cors(w, r)
	w.Header().Set("Content-Type", "text/html")
	_, _ = w.Write([]byte("ok"))
}

func (ss *session) handlePayload(data []byte) error {
	for len(data) > 0 {
		pk := data
		if i := bytes.IndexByte(data, recordSeparator); i >= 0 {
			pk, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(pk) == 0 {
			return ErrParse
		}
		if pk[0] == 'b' {
			bin, err := base64.StdEncoding.DecodeString(string(pk[1:]))
			if err != nil {
				return ErrParse
			}
			if err := ss.handlePacket(0, bin, true); err != nil {
				return err
			}
			continue
		}
		if err := ss.handlePacket(pk[0], pk[1:], false); err != nil {
			return err
		}
		if ss.isClosed() {
			return nil
		}
	}
	return nil
}

// ---- websocket ----

// startWebsocket puts a session that is on the websocket from its
// handshake there, its open packet first in the queue; the caller then
// starts its reader (readLoop).
func (ss *session) startWebsocket(ws *websocket.Conn, open []byte) {
	ws.SetReadLimit(ss.srv.opts.MaxHTTPBufferSize)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.transport = transportWebsocket
	ss.ws = ws
	ss.queue = append([]frame{{typ: open[0], data: open[1:]}}, ss.queue...)
	ss.queued += len(open)
	ss.kickLocked()
}

// maxInbox bounds the websocket messages a session has read and not yet
// handled: past it the reader waits for the handler, so a client that
// sends faster than its messages are handled is slowed down by TCP, not
// buffered without bound.
const maxInbox = 32

// inbound is one websocket message read and waiting for its handler; buf
// is the pooled buffer data lives in.
type inbound struct {
	mt   int
	data []byte
	buf  *bytes.Buffer
}

// readLoop reads the websocket's messages until it fails or the session
// closes, and hands them to a handler goroutine started when the first
// one waits and gone when none does (drain). It is the reader
// goroutine's first function, and waits for the next message right in
// it, with the rest of its work in functions it calls (received,
// readFailed): the chain of frames below the wait is then about 1 KiB,
// which fits a 2 KiB stack with the runtime's guard, so the reader's
// stack stays at the smallest size while it waits, which is most of a
// desk's life. Handling a message in the reading goroutine grew every
// connection's stack to the depth of the deepest handler (8 KiB a desk),
// for good; a larger frame here (the inbox logic, and one more call
// between this function and the wait) kept it at 4 KiB.
func (ss *session) readLoop(ws *websocket.Conn) {
	for {
		mt, r, err := ws.NextReader()
		if err != nil {
			ss.readFailed(err)
			return
		}
		buf := readBufs.Get().(*bytes.Buffer)
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			readBufs.Put(buf)
			ss.readFailed(err)
			return
		}
		if !ss.received(mt, buf) {
			return
		}
	}
}

// readFailed closes the session whose websocket read failed with err.
func (ss *session) readFailed(err error) {
	reason := "transport close"
	var ce *websocket.CloseError
	if errors.As(err, &ce) && ce.Code == websocket.CloseMessageTooBig || errors.Is(err, websocket.ErrReadLimit) {
		reason = "transport error"
	}
	ss.close(reason, false)
}

// received takes a message that readLoop read into buf (pooled): a pong
// at once, anything else to the inbox, once it has room. false: the
// session closed, stop reading.
func (ss *session) received(mt int, buf *bytes.Buffer) bool {
	data := buf.Bytes()
	if mt == websocket.TextMessage && len(data) == 1 && data[0] == enginePong {
		// A pong is shallow and order-free: taken here, it is not held
		// up by a slow handler, so a busy desk is not timed out.
		readBufs.Put(buf)
		ss.pong()
		return true
	}
	ss.inboxMu.Lock()
	for len(ss.inbox) >= maxInbox {
		if ss.room == nil {
			ss.room = make(chan struct{})
		}
		room := ss.room
		ss.mu.Lock()
		done := ss.doneLocked()
		ss.mu.Unlock()
		ss.inboxMu.Unlock()
		select {
		case <-room:
		case <-done:
			readBufs.Put(buf)
			return false
		}
		ss.inboxMu.Lock()
	}
	ss.inbox = append(ss.inbox, inbound{mt: mt, data: data, buf: buf})
	start := !ss.handling
	ss.handling = true
	ss.inboxMu.Unlock()
	if start {
		go ss.drain()
	}
	return !ss.isClosed()
}

// drain handles the waiting websocket messages in order, then ends. A
// message that cannot be parsed closes the session ("parse error"), and
// what waits behind it is dropped.
func (ss *session) drain() {
	for {
		ss.inboxMu.Lock()
		if len(ss.inbox) == 0 || ss.isClosed() {
			ss.inbox, ss.handling = nil, false
			ss.inboxMu.Unlock()
			return
		}
		m := ss.inbox[0]
		ss.inbox[0] = inbound{}
		ss.inbox = ss.inbox[1:]
		if ss.room != nil {
			close(ss.room)
			ss.room = nil
		}
		ss.inboxMu.Unlock()
		var err error
		if m.mt == websocket.BinaryMessage {
			err = ss.handlePacket(0, m.data, true)
		} else if len(m.data) == 0 {
			err = ErrParse
		} else {
			err = ss.handlePacket(m.data[0], m.data[1:], false)
		}
		readBufs.Put(m.buf)
		if err != nil {
			ss.close("parse error", true)
		}
	}
}

// readBufs holds message buffers between reads, shared by every session:
// an idle connection keeps none. What a handler keeps is copied out first
// (onMessage).
var readBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// endUpgradeLocked ends the upgrade in progress (ss.mu held): switched
// when ss.transport says websocket, failed otherwise.
func (ss *session) endUpgradeLocked() {
	ss.upgrading, ss.probed = false, false
	if ss.upgradeEnd != nil {
		close(ss.upgradeEnd)
		ss.upgradeEnd = nil
	}
}

// upgradePollWait bounds how long a poll that arrives during an upgrade
// waits for the upgrade to end before it is served as usual. The client
// may have sent "5" already, its websocket frame still unread: the poll is
// then refused (400) as after the upgrade, not answered on the old
// transport. The reference server releases such polls with a noop on a
// 100 ms check, so a client whose poll was in flight (it sends "5" only
// after that poll returns) waits no longer than there.
const upgradePollWait = 100 * time.Millisecond

// serveUpgrade takes a polling session to a websocket: probe ping "2probe"
// answered "3probe", the held poll released with a noop, then "5" switches
// the session over and flushes its queue there.
func (ss *session) serveUpgrade(w http.ResponseWriter, r *http.Request) {
	ss.mu.Lock()
	ok := !ss.closed && ss.transport == transportPolling && !ss.upgrading
	if ok {
		ss.upgrading = true
		ss.upgradeEnd = make(chan struct{})
	}
	ss.mu.Unlock()
	ws, err := ss.srv.upgrader.Upgrade(w, r, nil)
	if err != nil {
		if ok {
			ss.mu.Lock()
			ss.endUpgradeLocked()
			ss.mu.Unlock()
		}
		return
	}
	if !ok {
		// Upgraded, upgrading or closed already: the reference server
		// completes the websocket handshake and closes it at once.
		_ = ws.Close()
		return
	}
	ws.SetReadLimit(ss.srv.opts.MaxHTTPBufferSize)
	fail := func() {
		ss.mu.Lock()
		ss.endUpgradeLocked()
		ss.mu.Unlock()
		_ = ws.Close()
	}
	_ = ws.SetReadDeadline(time.Now().Add(ss.srv.opts.UpgradeTimeout))
	for {
		mt, data, err := ws.ReadMessage()
		if err != nil || mt != websocket.TextMessage {
			fail()
			return
		}
		switch string(data) {
		case "2probe":
			_ = ws.SetWriteDeadline(time.Now().Add(ss.srv.opts.WriteTimeout))
			if err := ws.WriteMessage(websocket.TextMessage, []byte("3probe")); err != nil {
				fail()
				return
			}
			// Release the held poll so the client can pause polling.
			ss.mu.Lock()
			ss.probed = true
			select {
			case ss.pollWake <- struct{}{}:
			default:
			}
			ss.mu.Unlock()
			continue
		case "5":
		default:
			fail()
			return
		}
		break
	}
	_ = ws.SetReadDeadline(time.Time{})
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		_ = ws.Close()
		return
	}
	ss.transport = transportWebsocket
	ss.endUpgradeLocked()
	ss.ws = ws
	ss.kickLocked()
	ss.mu.Unlock()
	select { // a poll still held returns its noop now
	case ss.pollWake <- struct{}{}:
	default:
	}
	go ss.readLoop(ws) // and let net/http's buffers go (see handshake)
}
