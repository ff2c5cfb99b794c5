package socketio

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/omniroute/omniroute/clock"
)

// Defaults of Options (the reference server's, socket.io 4.x, where it has
// one).
const (
	DefaultPath              = "/socket.io"
	DefaultPingInterval      = 25 * time.Second
	DefaultPingTimeout       = 20 * time.Second
	DefaultConnectTimeout    = 45 * time.Second
	DefaultMaxHTTPBufferSize = 1_000_000
	DefaultUpgradeTimeout    = 10 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	// DefaultMaxPendingPerAddress bounds the sessions of one client address
	// that have not joined a namespace yet.
	DefaultMaxPendingPerAddress = 256
	// DefaultMaxBufferedBytes bounds the bytes queued for one session.
	DefaultMaxBufferedBytes = 8 << 20
)

// Options configure a Server. The zero value of each field selects its
// default; for the limits a negative value means no limit.
type Options struct {
	// Path is where the server answers (the client's `path`, default
	// DefaultPath); requests for other paths get 404.
	Path string
	// PingInterval and PingTimeout are the Engine.IO heartbeat: a ping
	// every PingInterval, a session whose pong is PingTimeout late is
	// closed with reason "ping timeout".
	PingInterval, PingTimeout time.Duration
	// ConnectTimeout closes a session that has joined no namespace that
	// long after its handshake (reference: connectTimeout).
	ConnectTimeout time.Duration
	// MaxHTTPBufferSize bounds one Engine.IO message and one long-polling
	// request body, in bytes (reference: maxHttpBufferSize, announced as
	// maxPayload). A websocket message over it closes the session (close
	// code 1009); a polling body over it is answered 413 and closes the
	// session.
	MaxHTTPBufferSize int64
	// MaxConnections bounds the open sessions; a handshake over it is
	// answered 503 {"code":4,"message":"too many connections"}.
	MaxConnections int
	// MaxPendingPerAddress bounds the sessions of one client address
	// (Handshake.Address) that have not joined a namespace yet (default
	// DefaultMaxPendingPerAddress): a handshake over it is answered 429
	// {"code":4,"message":"too many pending sessions from this address"}.
	// Such sessions hold no goroutine and are closed after ConnectTimeout.
	MaxPendingPerAddress int
	// MaxBufferedBytes bounds what is queued for one session and not yet
	// written (a polling client that stopped polling, a websocket that
	// stopped reading); over it the session is closed with reason
	// "transport error".
	MaxBufferedBytes int
	// UpgradeTimeout bounds the probe-to-upgrade exchange of a transport
	// upgrade; WriteTimeout bounds one websocket write.
	UpgradeTimeout, WriteTimeout time.Duration
	// GreetingDelay holds what a namespace's connection handler emits, on
	// a websocket, that long after the CONNECT answer (default 0: at once).
	// A client that handles one network read at a time and listens anew
	// after each message (the official protocol suite does) can read both
	// in one chunk and miss the second; the reference server, which writes
	// them one event-loop turn apart, loses that race too now and then.
	// The conformance server sets 5 ms.
	GreetingDelay time.Duration
	// AllowedOrigins are the origins CORS lets in ("*" any, the default
	// when empty). A request whose Origin is not listed gets no CORS
	// headers (browsers then refuse it); a websocket handshake from such an
	// origin is refused with 403.
	AllowedOrigins []string
	// AllowRequest, when set, sees each handshake (a request without sid)
	// before a session exists; an error refuses it with
	// {"code":4,"message":err.Error()}, HTTP 403 to a polling handshake and
	// 400 to a websocket one (the reference server's statuses).
	AllowRequest func(r *http.Request) error
	// TrustForwardedFor takes Handshake.Address from the first address of
	// X-Forwarded-For (behind a proxy). Off: the TCP peer.
	TrustForwardedFor bool
	// HandshakeHeaders names the request headers Handshake.Header keeps
	// for the life of the session (any case; http.CanonicalHeaderKey is
	// applied); nil keeps them all, as the reference server does. A server
	// holding many connections lists only what its middleware and handlers
	// read: a browser's headers are about 1 KB a connection.
	HandshakeHeaders []string
	// HandshakeQuery names the query parameters Handshake.Query keeps
	// (nil: all; empty: none). Even a query of two parameters is a map of
	// about 600 bytes a connection.
	HandshakeQuery []string
	// ForgetAuth lets go of a socket's Handshake.Auth once the namespace's
	// middlewares ran: they read it as usual, the connection handler and
	// everything after it see nil. The reference server keeps it; a
	// server that authenticates with it and keeps what it learned
	// (Socket.SetData) saves a copy of the CONNECT payload a connection
	// (with a bearer token in it, about 150 bytes).
	ForgetAuth bool
	// Logger gets transport errors at debug level (default slog.Default()).
	Logger *slog.Logger
	// Clock times the heartbeat (ping due, pong overdue), the namespace
	// connect timeout, a lingering closed session, GreetingDelay and a
	// poll's wait for an upgrade, and stamps Handshake.Time. nil is the
	// wall clock (clock.Real); tests drive the timeouts with a
	// clocktest.Clock. Socket read and write deadlines are the network's
	// and always read the wall clock.
	Clock clock.Clock
}

// Server is a Socket.IO v5 server over Engine.IO v4 (websocket and HTTP
// long-polling with upgrade). Create it with NewServer, add namespaces with
// Of (the main namespace "/" exists), serve it as an http.Handler, stop it
// with Close.
type Server struct {
	opts     Options
	log      *slog.Logger
	hb       *heartbeat
	upgrader websocket.Upgrader
	bufPool  sync.Pool // websocket write buffers, shared between sessions
	// keepHeaders: Options.HandshakeHeaders, canonical (nil: all).
	keepHeaders []string
	keepQuery   []string // Options.HandshakeQuery

	mu       sync.Mutex
	sessions map[string]*session
	pending  map[string]int // client address -> sessions with no namespace yet
	closed   bool

	nspMu sync.RWMutex
	nsps  map[string]*Namespace

	open atomic.Int64 // len(sessions)
}

// NewServer returns a Server with the main namespace "/".
func NewServer(opts Options) *Server {
	if opts.Path == "" {
		opts.Path = DefaultPath
	}
	opts.Path = strings.TrimRight(opts.Path, "/")
	if opts.PingInterval <= 0 {
		opts.PingInterval = DefaultPingInterval
	}
	if opts.PingTimeout <= 0 {
		opts.PingTimeout = DefaultPingTimeout
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.MaxHTTPBufferSize == 0 {
		opts.MaxHTTPBufferSize = DefaultMaxHTTPBufferSize
	}
	if opts.MaxPendingPerAddress == 0 {
		opts.MaxPendingPerAddress = DefaultMaxPendingPerAddress
	}
	if opts.MaxBufferedBytes == 0 {
		opts.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	if opts.UpgradeTimeout <= 0 {
		opts.UpgradeTimeout = DefaultUpgradeTimeout
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if len(opts.AllowedOrigins) == 0 {
		opts.AllowedOrigins = []string{"*"}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	opts.Clock = clock.Or(opts.Clock)
	s := &Server{opts: opts, log: opts.Logger,
		sessions: map[string]*session{}, pending: map[string]int{}, nsps: map[string]*Namespace{}}
	if opts.HandshakeHeaders != nil {
		s.keepHeaders = make([]string, len(opts.HandshakeHeaders))
		for i, h := range opts.HandshakeHeaders {
			s.keepHeaders[i] = http.CanonicalHeaderKey(h)
		}
	}
	s.keepQuery = opts.HandshakeQuery
	s.hb = newHeartbeat(opts.Clock)
	s.bufPool.New = func() any { return nil }
	s.upgrader = websocket.Upgrader{
		// A small read buffer of our own: the 4 KiB one net/http allocated
		// for the request is let go. 128 bytes is about gorilla's floor
		// (it peeks a control frame's payload, at most 125 bytes, whole);
		// a message's payload past what is buffered is read straight into
		// the pooled message buffer (readLoop), so a larger one only
		// saved a read call for messages of 128-512 bytes, and cost 384
		// bytes for every idle desk. Writes borrow a pooled buffer only
		// while a frame is written.
		ReadBufferSize:  128,
		WriteBufferSize: 4096,
		WriteBufferPool: &s.bufPool,
		CheckOrigin:     func(r *http.Request) bool { return s.originAllowed(r.Header.Get("Origin")) },
	}
	s.Of("/")
	return s
}

// Of returns the namespace named name ("/" the main one), creating it.
// Clients may join only namespaces created with Of; another gets
// CONNECT_ERROR {"message":"Invalid namespace"}.
func (s *Server) Of(name string) *Namespace {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	s.nspMu.Lock()
	defer s.nspMu.Unlock()
	if n := s.nsps[name]; n != nil {
		return n
	}
	n := &Namespace{srv: s, name: name, sockets: map[string]*Socket{}, rooms: map[string]room{}}
	s.nsps[name] = n
	return n
}

func (s *Server) namespace(name string) *Namespace {
	s.nspMu.RLock()
	defer s.nspMu.RUnlock()
	return s.nsps[name]
}

// Sessions returns how many Engine.IO sessions are open.
func (s *Server) Sessions() int { return int(s.open.Load()) }

// Close closes every session (reason "server shutting down"), ending
// pending long-polling requests, and stops the heartbeat. Requests after
// Close get 503. Safe to call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	all := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.Unlock()
	for _, ss := range all {
		ss.close("server shutting down", true)
	}
	s.hb.stop()
}

// Engine.IO error codes of the reference server, in the JSON body of a
// refused request: {"code":N,"message":"..."}.
const (
	codeUnknownTransport = 0
	codeUnknownSID       = 1
	codeBadHandshake     = 2
	codeBadRequest       = 3
	codeForbidden        = 4
	codeUnsupported      = 5
)

var codeMessages = map[int]string{
	codeUnknownTransport: "Transport unknown",
	codeUnknownSID:       "Session ID unknown",
	codeBadHandshake:     "Bad handshake method",
	codeBadRequest:       "Bad request",
	codeForbidden:        "Forbidden",
	codeUnsupported:      "Unsupported protocol version",
}

func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status, code int, message string) {
	if message == "" {
		message = codeMessages[code]
	}
	s.cors(w, r)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, message})
	_, _ = w.Write(b)
}

func (s *Server) originAllowed(origin string) bool {
	if origin == "" {
		return true
	}
	for _, o := range s.opts.AllowedOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// cors sets the CORS headers of a polling response.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" || !s.originAllowed(origin) {
		return
	}
	h := w.Header()
	// The request's origin, not "*": the client may send credentials.
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Add("Vary", "Origin")
}

// ServeHTTP answers Engine.IO requests under Options.Path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != s.opts.Path && r.URL.Path != s.opts.Path+"/" {
		http.NotFound(w, r)
		return
	}
	if r.Method == http.MethodOptions {
		s.cors(w, r)
		if h := r.Header.Get("Access-Control-Request-Headers"); h != "" {
			w.Header().Set("Access-Control-Allow-Headers", h)
		}
		w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	q := r.URL.Query()
	if q.Get("EIO") != "4" {
		s.refuse(w, r, http.StatusBadRequest, codeUnsupported, "")
		return
	}
	transport := q.Get("transport")
	if transport != "polling" && transport != "websocket" {
		s.refuse(w, r, http.StatusBadRequest, codeUnknownTransport, "")
		return
	}
	isWS := websocket.IsWebSocketUpgrade(r)
	if transport == "websocket" && !isWS {
		s.refuse(w, r, http.StatusBadRequest, codeBadRequest, "")
		return
	}
	sid := q.Get("sid")
	if sid == "" {
		if transport == "polling" && r.Method != http.MethodGet {
			s.refuse(w, r, http.StatusBadRequest, codeBadHandshake, "")
			return
		}
		s.handshake(w, r, transport)
		return
	}
	s.mu.Lock()
	ss := s.sessions[sid]
	s.mu.Unlock()
	if ss == nil {
		s.refuse(w, r, http.StatusBadRequest, codeUnknownSID, "")
		return
	}
	if transport == "websocket" {
		ss.serveUpgrade(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
		ss.servePoll(w, r)
	case http.MethodPost:
		ss.servePost(w, r)
	default:
		s.refuse(w, r, http.StatusBadRequest, codeBadRequest, "")
	}
}

// clientAddress is the address a session counts against for
// MaxPendingPerAddress.
func (s *Server) clientAddress(r *http.Request) string {
	if s.opts.TrustForwardedFor {
		if f := r.Header.Get("X-Forwarded-For"); f != "" {
			first, _, _ := strings.Cut(f, ",")
			return strings.TrimSpace(first)
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

var errServerClosed = errors.New("socketio: server closed")

// admit reserves a session slot for a handshake from addr, or returns the
// status and message to refuse it with.
func (s *Server) admit(addr string) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return http.StatusServiceUnavailable, errServerClosed.Error()
	case s.opts.MaxConnections > 0 && len(s.sessions) >= s.opts.MaxConnections:
		return http.StatusServiceUnavailable, "too many connections"
	case s.opts.MaxPendingPerAddress > 0 && s.pending[addr] >= s.opts.MaxPendingPerAddress:
		return http.StatusTooManyRequests, "too many pending sessions from this address"
	}
	s.pending[addr]++
	return 0, ""
}

func (s *Server) unpend(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.pending[addr] - 1; n > 0 {
		s.pending[addr] = n
	} else {
		delete(s.pending, addr)
	}
}

func (s *Server) handshake(w http.ResponseWriter, r *http.Request, transport string) {
	if s.opts.AllowRequest != nil {
		if err := s.opts.AllowRequest(r); err != nil {
			// The reference server's statuses: 403 to a polling
			// handshake, 400 to every refused websocket upgrade.
			status := http.StatusForbidden
			if transport == "websocket" {
				status = http.StatusBadRequest
			}
			s.refuse(w, r, status, codeForbidden, err.Error())
			return
		}
	}
	if transport == "websocket" && !s.originAllowed(r.Header.Get("Origin")) {
		s.refuse(w, r, http.StatusForbidden, codeForbidden, "origin not allowed")
		return
	}
	addr := s.clientAddress(r)
	if status, msg := s.admit(addr); status != 0 {
		s.refuse(w, r, status, codeForbidden, msg)
		return
	}
	ss := newSession(s, newID(), addr, r, transport != "websocket")
	var ws *websocket.Conn
	if transport == "websocket" {
		var err error
		ws, err = s.upgrader.Upgrade(w, r, nil)
		if err != nil {
			s.unpend(addr)
			return // the upgrader answered
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.unpend(addr)
		if ws != nil {
			_ = ws.Close()
		}
		return
	}
	s.sessions[ss.id] = ss
	s.open.Store(int64(len(s.sessions)))
	s.mu.Unlock()
	ss.start()
	if ws == nil {
		// The open packet is the first poll's answer.
		s.cors(w, r)
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		_, _ = w.Write(ss.openPacket(true))
		return
	}
	// The reader gets a goroutine of its own so that this one returns:
	// net/http then lets go of the connection's 4 KiB read and write
	// buffers and its response, which a hijacked connection never uses
	// (about 10 KiB per connection).
	ss.startWebsocket(ws, ss.openPacket(false))
	go ss.readLoop(ws)
}

// forget removes a closed session.
func (s *Server) forget(ss *session, wasPending bool) {
	s.mu.Lock()
	if s.sessions[ss.id] == ss {
		delete(s.sessions, ss.id)
		s.open.Store(int64(len(s.sessions)))
	}
	s.mu.Unlock()
	if wasPending {
		s.unpend(ss.addr)
	}
}

// newID returns a random 20-character URL-safe id (120 bits).
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
