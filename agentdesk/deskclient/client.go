// Package deskclient is a small Socket.IO v4 client over WebSocket only, for
// Go programs that act as agent desks against omniroute's Agent Manager API
// (package agentdesk): `omniroute replay --speed N`, the offer-latency
// benchmark and tests.
//
// It speaks Engine.IO v4 on the websocket transport (no long-polling, no
// upgrade, no binary packets) and Socket.IO v4 on the main namespace "/":
//
//	GET <path>/?EIO=4&transport=websocket     open packet 0{"sid","pingInterval","pingTimeout",...}
//	40{auth}                                   connect; answered 40{"sid"} or 44{"message","data"}
//	2 / 3                                      server ping, client pong
//	42["event",payload]                        events, both ways
//	42<id>["event",payload] / 43<id>[...]      events asking for an acknowledgement, and the answer
//
// The server side is package socketio; this client is its lean
// counterpart for tests and load tests, on github.com/gorilla/websocket.
//
// It is lean on purpose (1,000 connections in one process): one reader
// goroutine per connection runs the handlers, in arrival order; no
// goroutine per message.
package deskclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Defaults and limits.
const (
	// DefaultPath is the Socket.IO path used when Dial gets "".
	DefaultPath = "/socket.io"
	// DefaultMaxFrameBytes bounds one received WebSocket message and one
	// emitted packet (see WithMaxFrameBytes).
	DefaultMaxFrameBytes = 1 << 20
	// DefaultHandshakeTimeout bounds Dial when ctx has no deadline.
	DefaultHandshakeTimeout = 10 * time.Second
	// writeTimeout bounds one write.
	writeTimeout = 10 * time.Second
)

// Errors.
var (
	// ErrClosed: the connection was closed by Close.
	ErrClosed = errors.New("deskclient: connection closed")
	// ErrDisconnected: the server disconnected the socket or closed the
	// Engine.IO connection.
	ErrDisconnected = errors.New("deskclient: disconnected by the server")
	// ErrFrameTooLarge: an emitted packet is over the maximum frame size.
	ErrFrameTooLarge = errors.New("deskclient: packet over the maximum frame size")
)

// ConnectError is the server's refusal of the Socket.IO connection
// (connect_error): Message is its message, Code its data.code (agentdesk
// codes such as UNAUTHORIZED, AGENT_MISMATCH, UNKNOWN_AGENT), Data the whole
// data object (or nil).
type ConnectError struct {
	Message string
	Code    string
	Data    json.RawMessage
}

// Error returns the message and, when known, the code.
func (e *ConnectError) Error() string {
	if e.Code == "" {
		return "deskclient: connect_error: " + e.Message
	}
	return "deskclient: connect_error: " + e.Message + " (" + e.Code + ")"
}

// HandshakeError is an HTTP-level refusal of the WebSocket handshake (for
// example 403 when the server is at its connection limit).
type HandshakeError struct {
	StatusCode int
	Body       string
}

// Error returns the HTTP status and the start of the body.
func (e *HandshakeError) Error() string {
	return fmt.Sprintf("deskclient: websocket handshake refused: HTTP %d %s", e.StatusCode, e.Body)
}

// Handler receives one event's first argument (JSON null when the event has
// none). The slice is the handler's to keep.
type Handler func(payload json.RawMessage)

// Option configures Dial.
type Option func(*config)

type config struct {
	handlers  map[string][]Handler
	header    http.Header
	maxFrame  int64
	localAddr net.Addr
}

// WithHandler registers fn for event before the connection is made, so it
// also sees the events the server sends right after connecting (agentdesk's
// agentPresence and re-sent taskRequests). Same semantics as Conn.On.
func WithHandler(event string, fn Handler) Option {
	return func(c *config) { c.handlers[event] = append(c.handlers[event], fn) }
}

// WithHeader adds HTTP headers to the WebSocket handshake (for example
// Authorization: Bearer ...).
func WithHeader(h http.Header) Option {
	return func(c *config) {
		for k, vs := range h {
			for _, v := range vs {
				c.header.Add(k, v)
			}
		}
	}
}

// WithLocalIP dials from ip (e.g. 127.0.0.2): past about 28,000
// connections to one server address, a load test spreads its connections
// over several loopback source addresses, each with its own ephemeral ports.
func WithLocalIP(ip net.IP) Option {
	return func(c *config) { c.localAddr = &net.TCPAddr{IP: ip} }
}

// WithMaxFrameBytes sets the largest WebSocket message the connection
// accepts (a larger one closes the connection) and the largest packet Emit
// sends (ErrFrameTooLarge). Default DefaultMaxFrameBytes.
func WithMaxFrameBytes(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.maxFrame = n
		}
	}
}

// Conn is one Socket.IO connection. Its methods are safe for concurrent use.
type Conn struct {
	ws       *websocket.Conn
	sid      string
	maxFrame int64
	// readTimeout is pingInterval + pingTimeout: the server pings within it.
	readTimeout time.Duration

	hmu      sync.RWMutex
	handlers map[string][]Handler

	wmu sync.Mutex // serializes writes

	amu     sync.Mutex
	nextAck uint64
	acks    map[uint64]chan []json.RawMessage

	done      chan struct{}
	errMu     sync.Mutex
	err       error
	closeOnce sync.Once
	// closing is set by Close before it writes the DISCONNECT: the server's
	// answering close frame may end the read loop first, and the
	// connection still ended by Close (Err is ErrClosed).
	closing atomic.Bool
}

// Share write buffers between idle connections.
var writeBufferPool = &sync.Pool{}

// Dial connects to the Socket.IO server at rawURL (http, https, ws or wss;
// its query is kept, e.g. ?token=...) under path (DefaultPath when ""),
// sending auth as the CONNECT packet's payload (nil: none). It returns once
// the server accepted the connection, or fails with a *ConnectError
// (connect_error), a *HandshakeError (HTTP refusal), ctx's error or a
// network error.
//
// Handlers: pass WithHandler options to see every event from the first
// one; On, after Dial returns, adds handlers for the events read from then
// on. Handlers run on the connection's reader goroutine, one at a time, in
// arrival order; a handler that blocks stops reading (and the server's
// pings go unanswered), so hand long work to another goroutine. A handler
// may call Emit.
func Dial(ctx context.Context, rawURL, path string, auth map[string]any, opts ...Option) (*Conn, error) {
	cfg := config{handlers: map[string][]Handler{}, header: http.Header{}, maxFrame: DefaultMaxFrameBytes}
	for _, o := range opts {
		o(&cfg)
	}
	u, err := endpoint(rawURL, path)
	if err != nil {
		return nil, err
	}
	d := websocket.Dialer{HandshakeTimeout: DefaultHandshakeTimeout, WriteBufferPool: writeBufferPool}
	if cfg.localAddr != nil {
		nd := &net.Dialer{LocalAddr: cfg.localAddr}
		d.NetDialContext = nd.DialContext
	}
	ws, resp, err := d.DialContext(ctx, u, cfg.header)
	if err != nil {
		if resp != nil {
			var body [512]byte
			n, _ := resp.Body.Read(body[:])
			_ = resp.Body.Close()
			return nil, &HandshakeError{StatusCode: resp.StatusCode, Body: strings.TrimSpace(string(body[:n]))}
		}
		return nil, fmt.Errorf("deskclient: dial %s: %w", u, err)
	}
	ws.SetReadLimit(cfg.maxFrame)
	c := &Conn{ws: ws, maxFrame: cfg.maxFrame, handlers: cfg.handlers, acks: map[uint64]chan []json.RawMessage{}, done: make(chan struct{})}
	if err := c.handshake(ctx, auth); err != nil {
		_ = ws.Close()
		return nil, err
	}
	go c.read()
	return c, nil
}

// endpoint builds the WebSocket URL.
func endpoint(rawURL, path string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("deskclient: bad url: %w", err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("deskclient: bad url scheme %q", u.Scheme)
	}
	if path == "" {
		path = DefaultPath
	}
	u.Path = strings.TrimRight(path, "/") + "/"
	q := u.Query()
	q.Set("EIO", "4")
	q.Set("transport", "websocket")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// handshake reads the Engine.IO open packet, sends the Socket.IO CONNECT
// and waits for its answer.
func (c *Conn) handshake(ctx context.Context, auth map[string]any) error {
	deadline, fromCtx := ctx.Deadline()
	if !fromCtx {
		deadline = time.Now().Add(DefaultHandshakeTimeout)
	}
	_ = c.ws.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.ws.SetReadDeadline(time.Now()) })
	defer stop()
	fail := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ne net.Error
		if fromCtx && errors.As(err, &ne) && ne.Timeout() {
			// The read deadline is ctx's: report it as such.
			return context.DeadlineExceeded
		}
		return err
	}

	data, err := c.readText()
	if err != nil {
		return fail(fmt.Errorf("deskclient: reading the open packet: %w", err))
	}
	if len(data) == 0 || data[0] != '0' {
		return fmt.Errorf("deskclient: expected an Engine.IO open packet, got %q", truncate(data))
	}
	var open struct {
		Sid          string `json:"sid"`
		PingInterval int64  `json:"pingInterval"`
		PingTimeout  int64  `json:"pingTimeout"`
	}
	if err := json.Unmarshal(data[1:], &open); err != nil {
		return fmt.Errorf("deskclient: bad open packet: %w", err)
	}
	c.readTimeout = time.Duration(open.PingInterval+open.PingTimeout) * time.Millisecond
	if c.readTimeout <= 0 {
		c.readTimeout = 45 * time.Second
	}

	connect := []byte("40")
	if auth != nil {
		b, err := json.Marshal(auth)
		if err != nil {
			return fmt.Errorf("deskclient: encode auth: %w", err)
		}
		connect = append(connect, b...)
	}
	if err := c.write(connect); err != nil {
		return fail(err)
	}
	for {
		data, err := c.readText()
		if err != nil {
			return fail(fmt.Errorf("deskclient: waiting for the connect answer: %w", err))
		}
		switch {
		case bytes.Equal(data, []byte("2")):
			if err := c.write([]byte("3")); err != nil {
				return fail(err)
			}
		case bytes.HasPrefix(data, []byte("40")):
			var ok struct {
				Sid string `json:"sid"`
			}
			_ = json.Unmarshal(data[2:], &ok)
			c.sid = ok.Sid
			return nil
		case bytes.HasPrefix(data, []byte("44")):
			var ce struct {
				Message string          `json:"message"`
				Data    json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(data[2:], &ce); err != nil {
				return &ConnectError{Message: string(truncate(data[2:]))}
			}
			e := &ConnectError{Message: ce.Message}
			if len(ce.Data) > 0 && string(ce.Data) != "null" {
				e.Data = ce.Data
				var d struct {
					Code string `json:"code"`
				}
				_ = json.Unmarshal(ce.Data, &d)
				e.Code = d.Code
			}
			return e
		case len(data) > 0 && data[0] == '1':
			return ErrDisconnected
		}
	}
}

func truncate(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}

// readText reads the next text message, skipping binary ones.
func (c *Conn) readText() ([]byte, error) {
	for {
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			return nil, err
		}
		if mt == websocket.TextMessage {
			return data, nil
		}
	}
}

func (c *Conn) write(data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	return c.ws.WriteMessage(websocket.TextMessage, data)
}

// read is the reader goroutine.
func (c *Conn) read() {
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(c.readTimeout))
		data, err := c.readText()
		if err != nil {
			c.shutdown(fmt.Errorf("deskclient: read: %w", err))
			return
		}
		if len(data) == 0 {
			continue
		}
		switch data[0] {
		case '2': // ping
			if err := c.write([]byte("3")); err != nil {
				c.shutdown(fmt.Errorf("deskclient: pong: %w", err))
				return
			}
		case '4': // Socket.IO packet
			if err := c.packet(data[1:]); err != nil {
				c.shutdown(err)
				return
			}
		case '1': // Engine.IO close
			c.shutdown(ErrDisconnected)
			return
		}
	}
}

// packet handles one Socket.IO packet (without the Engine.IO "4").
func (c *Conn) packet(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	typ, rest := p[0], p[1:]
	// Namespaces other than "/" are not used; skip one if present.
	if len(rest) > 0 && rest[0] == '/' {
		if i := bytes.IndexByte(rest, ','); i >= 0 {
			rest = rest[i+1:]
		}
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	var id uint64
	hasID := i > 0
	if hasID {
		id, _ = strconv.ParseUint(string(rest[:i]), 10, 64)
	}
	body := rest[i:]
	switch typ {
	case '2': // EVENT
		var args []json.RawMessage
		if err := json.Unmarshal(body, &args); err != nil || len(args) == 0 {
			return nil // not an event we can read; ignore it
		}
		var name string
		if json.Unmarshal(args[0], &name) != nil {
			return nil
		}
		payload := json.RawMessage("null")
		if len(args) > 1 {
			payload = args[1]
		}
		c.hmu.RLock()
		hs := c.handlers[name]
		c.hmu.RUnlock()
		for _, h := range hs {
			h(payload)
		}
		if hasID { // the server asked for an acknowledgement: send an empty one
			return c.write([]byte("43" + strconv.FormatUint(id, 10) + "[]"))
		}
	case '3': // ACK
		var args []json.RawMessage
		_ = json.Unmarshal(body, &args)
		c.amu.Lock()
		ch := c.acks[id]
		delete(c.acks, id)
		c.amu.Unlock()
		if ch != nil {
			ch <- args
		}
	case '1': // DISCONNECT
		return ErrDisconnected
	case '4': // CONNECT_ERROR after connecting
		return &ConnectError{Message: string(truncate(body))}
	}
	return nil
}

// On registers fn for event. Several handlers of one event run in
// registration order. A handler registered after Dial sees the events read
// after On returns; use WithHandler for the ones sent on connect.
func (c *Conn) On(event string, fn Handler) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	// Copy on write: the reader may be calling the old list.
	c.handlers[event] = append(slices.Clone(c.handlers[event]), fn)
}

// encode builds 42[<ack id>]["event",payload].
func (c *Conn) encode(event string, payload any, id string) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("42")
	buf.WriteString(id)
	ev, err := json.Marshal(event)
	if err != nil {
		return nil, err
	}
	buf.WriteByte('[')
	buf.Write(ev)
	buf.WriteByte(',')
	if err := json.NewEncoder(&buf).Encode(payload); err != nil {
		return nil, fmt.Errorf("deskclient: encode %s: %w", event, err)
	}
	b := bytes.TrimRight(buf.Bytes(), "\n")
	b = append(b, ']')
	if int64(len(b)) > c.maxFrame {
		return nil, ErrFrameTooLarge
	}
	return b, nil
}

// Emit sends event with payload (encoded with encoding/json). It returns
// once the packet is written (not when the server handled it); errors:
// ErrFrameTooLarge, an encoding error, or the connection's failure.
func (c *Conn) Emit(event string, payload any) error {
	b, err := c.encode(event, payload, "")
	if err != nil {
		return err
	}
	select {
	case <-c.done:
		return c.Err()
	default:
	}
	return c.write(b)
}

// EmitWithAck sends event with payload and an acknowledgement request and
// waits for the server's answer: the acknowledgement's arguments (agentdesk
// answers one Ack object). Errors as Emit, or ctx's error, or the
// connection's failure while waiting.
func (c *Conn) EmitWithAck(ctx context.Context, event string, payload any) ([]json.RawMessage, error) {
	ch := make(chan []json.RawMessage, 1)
	c.amu.Lock()
	id := c.nextAck
	c.nextAck++
	c.acks[id] = ch
	c.amu.Unlock()
	forget := func() {
		c.amu.Lock()
		delete(c.acks, id)
		c.amu.Unlock()
	}
	b, err := c.encode(event, payload, strconv.FormatUint(id, 10))
	if err == nil {
		select {
		case <-c.done:
			err = c.Err()
		default:
			err = c.write(b)
		}
	}
	if err != nil {
		forget()
		return nil, err
	}
	select {
	case args := <-ch:
		return args, nil
	case <-ctx.Done():
		forget()
		return nil, ctx.Err()
	case <-c.done:
		forget()
		return nil, c.Err()
	}
}

// ID is the Socket.IO socket id the server assigned.
func (c *Conn) ID() string { return c.sid }

// Done is closed when the connection ends (Close, server disconnect,
// network failure); Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended (ErrClosed after Close), nil while
// it is open.
func (c *Conn) Err() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.err
}

func (c *Conn) shutdown(err error) {
	c.closeOnce.Do(func() {
		if c.closing.Load() {
			err = ErrClosed
		}
		c.errMu.Lock()
		c.err = err
		c.errMu.Unlock()
		_ = c.ws.Close()
		close(c.done)
	})
}

// Close disconnects the socket (a Socket.IO DISCONNECT, then a WebSocket
// close) and closes the connection: nothing more is read, though a handler
// already running finishes. It may be called from a handler, and more than
// once.
func (c *Conn) Close() error {
	select {
	case <-c.done:
		return nil
	default:
	}
	c.closing.Store(true)
	c.wmu.Lock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(time.Second))
	_ = c.ws.WriteMessage(websocket.TextMessage, []byte("41"))
	_ = c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	c.wmu.Unlock()
	c.shutdown(ErrClosed)
	return nil
}
