package agentdesk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"

	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/transcript"
)

// TokenVerifier turns a bearer token into the id of the agent it was issued
// to; any error refuses the connection with CodeUnauthorized (the error's
// text is logged, not sent). It may be called concurrently and should
// return quickly. The auth package provides the production verifier.
type TokenVerifier func(token string) (agentID string, err error)

// Options tune a Server. The zero value of every field selects its default;
// a negative limit means no limit.
type Options struct {
	// Logger receives connection refusals and failures (default slog.Default()).
	Logger *slog.Logger
	// Path is where Socket.IO is served, the client's `path` option
	// (default "/socket.io"); mount Handler at Path + "/".
	Path string
	// MaxPayloadBytes bounds one Engine.IO message and one long-polling
	// request body (default DefaultMaxPayloadBytes); the connection of a
	// client that sends more is closed.
	MaxPayloadBytes int64
	// MaxConnections bounds the Engine.IO connections of the server
	// (default DefaultMaxConnections); a handshake over it is refused before
	// any Socket.IO exchange with the message "too many connections" (the
	// library answers HTTP 403 to a long-polling handshake and 400 to a
	// WebSocket one).
	MaxConnections int
	// MaxSocketsPerAgent bounds the sockets one agent may hold open
	// (default DefaultMaxSocketsPerAgent); one more gets connect_error
	// CodeTooManySockets.
	MaxSocketsPerAgent int
	// MaxEventsPerSecond bounds the events one socket may send, averaged
	// over a burst of twice as many (default DefaultMaxEventsPerSecond);
	// events over it are answered with errors CodeRateLimited and dropped.
	MaxEventsPerSecond float64
	// CommandTimeout bounds each engine call made for a desk event
	// (default DefaultCommandTimeout).
	CommandTimeout time.Duration
	// PingInterval and PingTimeout are the Engine.IO heartbeat (defaults
	// 25 s and 20 s, the library's).
	PingInterval, PingTimeout time.Duration

	// Transcripts is where CIM messages and events go (cim.go). Nil: an
	// in-memory log the Server creates and closes (tests); servers pass a
	// log on transcript.JetStream, which they own.
	Transcripts *transcript.Log
	// MaxCimEventBytes bounds one CIM event as stored (default
	// DefaultMaxCimEventBytes); keep it at most the store's MaxEntryBytes.
	MaxCimEventBytes int
	// DisconnectGrace is how long an agent may have no socket before it is
	// made NOT_READY (reason DISCONNECTED) and its offers re-routed
	// (lifecycle.go; default DefaultDisconnectGrace, negative: never).
	DisconnectGrace time.Duration

	// FCM (fcm.go): pushes are on when FCMProject and FCMAccessToken or
	// FCMTokenSource are set. FCMEndpoint defaults to DefaultFCMEndpoint
	// (tests point it at an httptest server); FCMTokenSource returns an
	// OAuth 2 access token for the firebase.messaging scope, called before
	// every attempt (it should cache); FCMHTTPClient defaults to a client
	// with a 10 s timeout; FCMQueueSize (default DefaultFCMQueueSize),
	// FCMMaxAttempts (default DefaultFCMMaxAttempts) and FCMBackoff, the
	// first wait between attempts, doubling (default DefaultFCMBackoff).
	FCMEndpoint    string
	FCMProject     string
	FCMAccessToken string
	FCMTokenSource func(ctx context.Context) (string, error)
	FCMHTTPClient  *http.Client
	FCMQueueSize   int
	FCMMaxAttempts int
	FCMBackoff     time.Duration
}

// Defaults.
const (
	DefaultPath               = "/socket.io"
	DefaultMaxPayloadBytes    = 64 << 10
	DefaultMaxConnections     = 20_000
	DefaultMaxSocketsPerAgent = 8
	DefaultMaxEventsPerSecond = 50
	DefaultCommandTimeout     = 10 * time.Second
)

// Server is the Agent Manager Socket.IO server. Create with New, mount
// Handler, stop with Close (before shutting down the HTTP server).
type Server struct {
	n       *node.Node
	verify  TokenVerifier
	opts    Options
	log     *slog.Logger
	io      *socket.Server
	handler http.Handler

	// ctx ends at Close; every engine call derives from it.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	sockets map[string]map[*socket.Socket]struct{} // agent id -> its connected sockets

	quit         chan struct{}
	dispatchDone chan struct{}
	closeOnce    sync.Once

	// Conversations (cim.go), connection life (lifecycle.go), FCM (fcm.go).
	cim     *transcript.Log
	ownCim  bool
	cimDone chan struct{}
	sysDone chan struct{}
	life    *lifecycle
	fcm     *fcmNotifier
	fcmDone chan struct{}
}

// New builds a Server for the node n. verify checks bearer tokens (see
// TokenVerifier). It subscribes to n's events at once, so nothing published
// after New returns is missed. Errors: a nil node or verifier, or a Path
// that does not start with "/".
func New(n *node.Node, verify TokenVerifier, opts Options) (*Server, error) {
	if n == nil {
		return nil, errors.New("agentdesk: nil node")
	}
	if verify == nil {
		return nil, errors.New("agentdesk: nil TokenVerifier")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Path == "" {
		opts.Path = DefaultPath
	}
	if !strings.HasPrefix(opts.Path, "/") {
		return nil, fmt.Errorf("agentdesk: path %q must start with /", opts.Path)
	}
	opts.Path = strings.TrimRight(opts.Path, "/")
	if opts.MaxPayloadBytes == 0 {
		opts.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if opts.MaxConnections == 0 {
		opts.MaxConnections = DefaultMaxConnections
	}
	if opts.MaxSocketsPerAgent == 0 {
		opts.MaxSocketsPerAgent = DefaultMaxSocketsPerAgent
	}
	if opts.MaxEventsPerSecond == 0 {
		opts.MaxEventsPerSecond = DefaultMaxEventsPerSecond
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = DefaultCommandTimeout
	}
	if opts.MaxCimEventBytes <= 0 {
		opts.MaxCimEventBytes = DefaultMaxCimEventBytes
	}
	if opts.DisconnectGrace == 0 {
		opts.DisconnectGrace = DefaultDisconnectGrace
	}
	if opts.FCMEndpoint == "" {
		opts.FCMEndpoint = DefaultFCMEndpoint
	}
	if opts.FCMQueueSize <= 0 {
		opts.FCMQueueSize = DefaultFCMQueueSize
	}
	if opts.FCMMaxAttempts <= 0 {
		opts.FCMMaxAttempts = DefaultFCMMaxAttempts
	}
	if opts.FCMBackoff <= 0 {
		opts.FCMBackoff = DefaultFCMBackoff
	}

	s := &Server{n: n, verify: verify, opts: opts, log: opts.Logger,
		sockets: map[string]map[*socket.Socket]struct{}{},
		quit:    make(chan struct{}), dispatchDone: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.cim, s.ownCim = opts.Transcripts, opts.Transcripts == nil
	if s.ownCim {
		s.cim = transcript.NewLog(transcript.NewMemory(transcript.Limits{MaxEntryBytes: opts.MaxCimEventBytes}))
	}
	s.cimDone, s.sysDone, s.fcmDone = make(chan struct{}), make(chan struct{}), make(chan struct{})
	s.life = newLifecycle(s)
	s.fcm = newFCM(s)

	so := socket.DefaultServerOptions()
	so.SetPath(opts.Path)
	so.SetServeClient(false)
	so.SetCors(&types.Cors{Origin: "*"})
	if opts.MaxPayloadBytes > 0 {
		so.SetMaxHttpBufferSize(opts.MaxPayloadBytes)
	}
	if opts.PingInterval > 0 {
		so.SetPingInterval(opts.PingInterval)
	}
	if opts.PingTimeout > 0 {
		so.SetPingTimeout(opts.PingTimeout)
	}
	if opts.MaxConnections > 0 {
		// Runs for handshakes only (requests without a sid).
		so.SetAllowRequest(func(*types.HttpContext) error {
			if s.io.Engine().ClientsCount() >= uint64(opts.MaxConnections) {
				return errors.New("too many connections")
			}
			return nil
		})
	}
	s.io = socket.NewServer(nil, so)
	s.io.Use(s.authenticate)
	_ = s.io.On("connection", s.onConnection)
	inner := s.io.ServeHandler(nil)
	eng := s.io.Engine()
	g := newGate()
	g.watch(eng)
	prefix := opts.Path + "/"
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, prefix) {
			http.NotFound(w, r)
			return
		}
		g.serve(eng, inner, w, r)
	})

	events, cancel := n.Subscribe()
	go s.dispatch(events, cancel)
	entries, stopWatch := s.cim.Watch("", 0)
	go s.deliverCim(entries, stopWatch)
	sysEvents, sysCancel := n.Subscribe()
	go s.systemEvents(sysEvents, sysCancel)
	if s.fcm != nil {
		fcmEvents, fcmCancel := n.Subscribe()
		go s.fcm.pushEvents(fcmEvents, fcmCancel)
		go s.fcm.run()
	} else {
		close(s.fcmDone)
	}
	return s, nil
}

// Handler serves Engine.IO/Socket.IO (long-polling and WebSocket). Mount it
// at Options.Path + "/" (default "/socket.io/"); other paths get 404.
func (s *Server) Handler() http.Handler { return s.handler }

// Path is the Socket.IO path in use (Options.Path without a trailing slash).
func (s *Server) Path() string { return s.opts.Path }

// Close disconnects every socket ("server shutting down"), closes the
// Engine.IO connections (ending pending long-polling requests), cancels
// engine calls in flight and stops following the node. Call it before
// shutting down the HTTP server; it does not close the node. Safe to call
// more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		done := make(chan struct{})
		s.io.Close(func(error) { close(done) })
		<-done
		close(s.quit)
		<-s.dispatchDone
		<-s.cimDone
		<-s.sysDone
		<-s.fcmDone
		if s.fcm != nil {
			<-s.fcm.done
		}
		s.life.close()
		if s.ownCim {
			_ = s.cim.Close()
		}
	})
}

// room is the Socket.IO room of an agent's sockets. The prefix keeps agent
// ids apart from socket ids, which are rooms too.
func room(agent string) socket.Room { return socket.Room("agent:" + agent) }

// connected reports whether agent has at least one socket.
func (s *Server) connected(agent string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sockets[agent]) > 0
}

// connectedAgents returns the agents with at least one socket.
func (s *Server) connectedAgents() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.sockets))
	for a := range s.sockets {
		out = append(out, a)
	}
	return out
}

// register adds sock to agent's sockets unless that exceeds the limit.
func (s *Server) register(agent string, sock *socket.Socket) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.sockets[agent]
	if max := s.opts.MaxSocketsPerAgent; max > 0 && len(set) >= max {
		return false
	}
	if set == nil {
		set = map[*socket.Socket]struct{}{}
		s.sockets[agent] = set
	}
	set[sock] = struct{}{}
	s.life.connected(agent, sock) // lifecycle.go: cancel the grace timer
	return true
}

// unregister removes sock; idempotent.
func (s *Server) unregister(agent string, sock *socket.Socket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if set := s.sockets[agent]; set != nil {
		_, had := set[sock]
		delete(set, sock)
		if len(set) == 0 {
			delete(s.sockets, agent)
			if had {
				s.life.gone(agent) // lifecycle.go: start the grace timer
			}
		}
	}
}

// Stats are gauges for metrics.
type Stats struct {
	// Sockets counts connected sockets; Agents the agents with at least one.
	Sockets, Agents int
}

// Stats returns the current gauges.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Agents: len(s.sockets)}
	for _, set := range s.sockets {
		st.Sockets += len(set)
	}
	return st
}

// socketCount returns how many sockets agent holds.
func (s *Server) socketCount(agent string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sockets[agent])
}

// toAgent emits ev to every socket of agent. Safe from any goroutine.
func (s *Server) toAgent(agent, ev string, payload any) {
	if err := s.io.To(room(agent)).Emit(ev, payload); err != nil {
		s.log.Warn("agentdesk: emit failed", "agent", agent, "event", ev, "err", err)
	}
}

// commandCtx bounds one engine call.
func (s *Server) commandCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.ctx, s.opts.CommandTimeout)
}
