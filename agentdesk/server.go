package agentdesk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omniroute/omniroute/clock"
	"github.com/omniroute/omniroute/erasure"

	"github.com/omniroute/omniroute/conversation"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/socketio"
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
	// Clock times the disconnect grace, the FCM retries and token expiry
	// (default clock.Real; tests give a clocktest.Clock). The Socket.IO
	// heartbeat stays on the wall clock: a test that leaps over a grace or
	// an expiry would otherwise leap over the clients' pongs too.
	Clock clock.Clock
	// VerifyExpiring, when set, verifies tokens instead of the
	// TokenVerifier and says when each expires: the socket is told
	// (tokenExpiring) TokenExpiryWarning before, and closed at expiry
	// unless the desk sends refreshToken (expiry.go).
	VerifyExpiring ExpiringVerifier
	// TokenExpiryWarning: how long before expiry tokenExpiring is sent
	// (default DefaultTokenExpiryWarning).
	TokenExpiryWarning time.Duration
	// CustomerKeys shows conversations' sealed customer objects unsealed
	// on the desk (package erasure); nil: shown as stored.
	CustomerKeys *erasure.Keyring
	// Path is where Socket.IO is served, the client's `path` option
	// (default "/socket.io"); mount Handler at Path + "/".
	Path string
	// MaxPayloadBytes bounds one Socket.IO message: one Engine.IO packet
	// (a WebSocket frame) and one long-polling request body, in bytes
	// (default DefaultMaxPayloadBytes; config agentDesk.maxMessageBytes).
	// The connection of a client that sends more is closed (WebSocket close
	// 1009, long-polling HTTP 413), as socket.io's server does over
	// maxHttpBufferSize; field limits (doc.go "Limits") are far below it and
	// answer with an errors event instead.
	MaxPayloadBytes int64
	// MaxConnections bounds the Engine.IO connections of the server
	// (default DefaultMaxConnections; config agentDesk.maxConnections); a
	// handshake over it is refused before any Socket.IO exchange with
	// {"code":4,"message":"too many connections"}, HTTP 403 to a
	// long-polling handshake and 400 to a WebSocket one, as socket.io's
	// allowRequest refusals are.
	MaxConnections int
	// MaxPendingPerAddress bounds the connections of one client address
	// that have not authenticated yet (default
	// socketio.DefaultMaxPendingPerAddress; config
	// agentDesk.maxPendingPerAddress); a handshake over it gets HTTP 429.
	// ConnectTimeout closes such a connection (default
	// DefaultConnectTimeout).
	MaxPendingPerAddress int
	ConnectTimeout       time.Duration
	// AllowedOrigins are the browser origins (CORS, websocket Origin) the
	// desk endpoint lets in (socketio.Options.AllowedOrigins); empty: any.
	AllowedOrigins []string
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
	// 25 s and 20 s, socket.io's).
	PingInterval, PingTimeout time.Duration

	// Conversations is the conversation layer (CIM messages, who may
	// publish and see them, transcripts). Nil: the Server makes one on an
	// in-memory transcript and closes it (tests); servers pass theirs,
	// which they close after the Server.
	Conversations *conversation.Conversations
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

	// Desks, in cluster mode, is the cluster's shared desk directory
	// (desks.go): FCM tokens registered on any node, and where each
	// agent's desk is connected. ClaimPush, in cluster mode, is asked
	// before each FCM push with a key equal on every node; only the node
	// it answers true sends (an error sends anyway). Nil: single node.
	Desks     DeskDirectory
	ClaimPush func(ctx context.Context, key string) (bool, error)

	// Registry, when set, gets the desk server's metrics
	// (omniroute_agentdesk_offer_latency_seconds and the gauge
	// omniroute_agentdesk_disconnect_graces: metrics.go). A
	// registration error fails New.
	Registry prometheus.Registerer
}

var errTooManyConnections = errors.New("too many connections")

// Defaults.
const (
	DefaultPath = "/socket.io"
	// DefaultMaxPayloadBytes is 1 MiB, socket.io's maxHttpBufferSize
	// default (1e6), so desks written for socket.io fit.
	DefaultMaxPayloadBytes    = 1 << 20
	DefaultMaxConnections     = 20_000
	DefaultMaxSocketsPerAgent = 8
	DefaultMaxEventsPerSecond = 50
	DefaultCommandTimeout     = 10 * time.Second
	// DefaultConnectTimeout: a desk authenticates right after its
	// handshake; one that has not after 10 s is closed.
	DefaultConnectTimeout = 10 * time.Second
)

// Server is the Agent Manager Socket.IO server. Create with New, mount
// Handler, stop with Close (before shutting down the HTTP server).
type Server struct {
	n       *node.Node
	verify  TokenVerifier
	opts    Options
	log     *slog.Logger
	io      *socketio.Server
	nsp     *socketio.Namespace
	handler http.Handler

	// ctx ends at Close; every engine call derives from it.
	ctx    context.Context
	cancel context.CancelFunc

	mu sync.Mutex
	// sockets are each agent's connected sockets (agent id -> sockets): a
	// slice, as an agent holds one or a few (a set of one kept about 180
	// bytes more for each desk).
	sockets map[string][]*socketio.Socket

	quit         chan struct{}
	dispatchDone chan struct{}
	// deliverScratch: deliver's (dispatch.go), on the dispatch goroutine.
	deliverScratch deliverScratch
	deskCh         chan func(ctx context.Context) error // desk-directory writes (deskWrite)
	closeOnce      sync.Once

	// Conversations (cim.go), connection life (lifecycle.go), FCM (fcm.go).
	conv    *conversation.Conversations
	ownConv bool
	cimDone chan struct{}
	life    *lifecycle
	exps    *expiries // every socket's token expiry (expiry.go)
	fcm     *fcmNotifier
	metrics *metrics
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
	opts.Clock = clock.Or(opts.Clock)
	if opts.TokenExpiryWarning <= 0 {
		opts.TokenExpiryWarning = DefaultTokenExpiryWarning
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
		sockets: map[string][]*socketio.Socket{},
		quit:    make(chan struct{}), dispatchDone: make(chan struct{}), deskCh: make(chan func(context.Context) error, deskWrites)}
	var err error
	if s.metrics, err = newMetrics(opts.Registry, s.Graces); err != nil {
		return nil, fmt.Errorf("agentdesk: metrics: %w", err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if opts.Desks != nil {
		go s.writeDesks()
	}
	s.conv, s.ownConv = opts.Conversations, opts.Conversations == nil
	if s.ownConv {
		conv, err := conversation.New(n, conversation.Options{Logger: opts.Logger})
		if err != nil {
			return nil, err
		}
		s.conv = conv
	}
	s.cimDone = make(chan struct{})
	s.life = newLifecycle(s)
	s.exps = &expiries{clk: opts.Clock}
	s.fcm = newFCM(s)

	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	s.opts.ConnectTimeout = opts.ConnectTimeout
	so := socketio.Options{
		Path:                 opts.Path,
		PingInterval:         opts.PingInterval,
		PingTimeout:          opts.PingTimeout,
		ConnectTimeout:       opts.ConnectTimeout,
		MaxHTTPBufferSize:    opts.MaxPayloadBytes,
		MaxPendingPerAddress: opts.MaxPendingPerAddress,
		AllowedOrigins:       opts.AllowedOrigins,
		// The middleware reads only the Authorization header (bearerToken)
		// and no query parameter; the rest of the request would stay with
		// every desk for nothing.
		HandshakeHeaders: []string{"Authorization"},
		HandshakeQuery:   []string{},
		// Only the middleware reads auth (the token); what it learned is
		// the socket's data.
		ForgetAuth: true,
		Logger:     opts.Logger,
	}
	if opts.MaxPayloadBytes < 0 {
		so.MaxHTTPBufferSize = 1 << 62
	}
	if opts.MaxConnections > 0 {
		// Our own check, not socketio's MaxConnections, for the status
		// codes socket.io's allowRequest gives (see Options).
		so.AllowRequest = func(*http.Request) error {
			if s.io.Sessions() >= opts.MaxConnections {
				return errTooManyConnections
			}
			return nil
		}
	}
	s.io = socketio.NewServer(so)
	s.nsp = s.io.Of("/")
	s.nsp.Use(s.authenticate)
	s.nsp.OnConnection(s.onConnection)
	prefix := opts.Path + "/"
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, prefix) {
			http.NotFound(w, r)
			return
		}
		s.io.ServeHTTP(w, r)
	})

	events, cancel := n.Subscribe()
	go s.dispatch(events, cancel)
	entries, stopWatch := s.conv.Watch()
	go s.deliverCim(entries, stopWatch)
	if s.fcm != nil {
		go s.fcm.run()
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
		s.io.Close()
		close(s.quit)
		<-s.dispatchDone
		<-s.cimDone
		if s.fcm != nil {
			<-s.fcm.done
		}
		s.life.close()
		s.exps.close()
		if s.ownConv {
			s.conv.Close()
		}
	})
}

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

// deskWrites bounds the desk-directory writes waiting for the writer.
const deskWrites = 4096

// deskWrite queues a write of the desk directory: one goroutine writes
// them in order (a connect then a disconnect land in that order), never
// under s.mu. A full queue drops the write (logged).
func (s *Server) deskWrite(w func(ctx context.Context) error) {
	select {
	case s.deskCh <- w:
	default:
		s.log.Warn("agentdesk: desk directory queue full; a write was dropped")
	}
}

func (s *Server) writeDesks() {
	for {
		select {
		case w := <-s.deskCh:
			ctx, cancel := context.WithTimeout(s.ctx, deskWriteTimeout)
			if err := w(ctx); err != nil {
				s.log.Warn("agentdesk: desk directory not written", "err", err)
			}
			cancel()
		case <-s.quit:
			return
		}
	}
}

// register adds sock to agent's sockets unless that exceeds the limit.
func (s *Server) register(agent string, sock *socketio.Socket, fcm string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	socks := s.sockets[agent]
	if max := s.opts.MaxSocketsPerAgent; max > 0 && len(socks) >= max {
		return false
	}
	if !slices.Contains(socks, sock) {
		s.sockets[agent] = append(socks, sock)
	}
	s.life.connected(agent, fcm) // lifecycle.go: cancel the grace timer
	if d := s.opts.Desks; d != nil {
		s.deskWrite(func(ctx context.Context) error { return d.Connected(ctx, agent, fcm) })
	}
	return true
}

// unregister removes sock; idempotent.
func (s *Server) unregister(agent string, sock *socketio.Socket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if socks, ok := s.sockets[agent]; ok {
		i := slices.Index(socks, sock)
		had := i >= 0
		if had {
			socks = slices.Delete(socks, i, i+1)
			s.sockets[agent] = socks
		}
		if len(socks) == 0 {
			delete(s.sockets, agent)
			if had {
				s.life.gone(agent) // lifecycle.go: start the grace timer
				if d := s.opts.Desks; d != nil {
					s.deskWrite(func(ctx context.Context) error { return d.Gone(ctx, agent) })
				}
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
	for _, socks := range s.sockets {
		st.Sockets += len(socks)
	}
	return st
}

// socketCount returns how many sockets agent holds.
func (s *Server) socketCount(agent string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sockets[agent])
}

// commandCtx bounds one engine call.
func (s *Server) commandCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.ctx, s.opts.CommandTimeout)
}
