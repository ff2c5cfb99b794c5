package bayeux

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
)

// Server is a Bayeux 1.0 server (CometD-compatible) for long-polling and
// websocket clients. It is a transport: it keeps sessions, subscriptions and
// per-session queues and knows nothing of what the channels mean.
//
// All methods are safe for concurrent use. No goroutine is started per
// message: one sweeper goroutine expires sessions, each held long-poll runs
// on its own HTTP request goroutine, and each websocket has one reader and
// one writer goroutine.
type Server struct {
	opts Options
	auth Authorizer
	log  *slog.Logger

	mu      sync.RWMutex
	clients map[string]*Client
	// perAddress counts live sessions by client address; guarded by mu.
	perAddress map[string]int
	index      map[string]map[*Client]struct{} // subscription pattern -> subscribers
	closed     bool
	wg         sync.WaitGroup // sweeper, HTTP requests in progress, websockets

	closing chan struct{}

	wsMu sync.Mutex
	ws   map[*websocket.Conn]struct{}
}

// NewServer returns a running Server configured by opts (zero fields take
// the defaults). Call Close to stop it.
func NewServer(opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{
		opts:    opts,
		auth:    opts.Authorizer,
		log:     opts.Logger,
		clients: make(map[string]*Client), perAddress: make(map[string]int),
		index:   make(map[string]map[*Client]struct{}),
		closing: make(chan struct{}),
		ws:      make(map[*websocket.Conn]struct{}),
	}
	if s.auth == nil {
		s.auth = AuthorizerFuncs{}
	}
	s.wg.Add(1)
	go s.sweep()
	return s
}

// Handler returns the HTTP handler for the Bayeux endpoint. Mount it at the
// base path and every path below it (CometD's JavaScript client appends
// "/handshake", "/connect", ... to long-polling URLs), e.g.
//
//	mux.Handle("/genesys/cometd", srv.Handler())
//	mux.Handle("/genesys/cometd/", srv.Handler())
//
// A websocket upgrade request on any of these paths opens the websocket
// transport; a POST is a long-polling request; other methods get 405.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// ClientCount returns the number of live sessions.
func (s *Server) ClientCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.clients)
}

// Close ends every session (held connects are answered with
// "402::Unknown client" and advice reconnect "handshake"), closes every
// websocket, refuses further requests with HTTP 503 and waits for the
// server's goroutines to finish. It is safe to call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.closing)
	all := make([]*Client, 0, len(s.clients))
	for _, c := range s.clients {
		all = append(all, c)
	}
	s.mu.Unlock()
	for _, c := range all {
		s.removeClient(c, "closed")
	}
	s.wsMu.Lock()
	for conn := range s.ws {
		_ = conn.Close()
	}
	s.wsMu.Unlock()
	s.wg.Wait()
}

// enter registers an in-progress request so Close can wait for it; it
// reports false once the server is closed.
func (s *Server) enter() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// reply is a server reply to a meta message or a publish.
type reply struct {
	Channel                  string          `json:"channel,omitempty"`
	ID                       json.RawMessage `json:"id,omitempty"`
	ClientID                 string          `json:"clientId,omitempty"`
	Successful               bool            `json:"successful"`
	Error                    string          `json:"error,omitempty"`
	Subscription             json.RawMessage `json:"subscription,omitempty"`
	Version                  string          `json:"version,omitempty"`
	MinimumVersion           string          `json:"minimumVersion,omitempty"`
	SupportedConnectionTypes []string        `json:"supportedConnectionTypes,omitempty"`
	Advice                   map[string]any  `json:"advice,omitempty"`
	Ext                      map[string]any  `json:"ext,omitempty"`
}

func (r *reply) encode() []byte {
	b, err := json.Marshal(r)
	if err != nil { // only reachable with a bug in this package
		panic(err)
	}
	return b
}

func replyTo(m *Message) *reply {
	return &reply{Channel: m.Channel, ID: m.rawID, ClientID: m.ClientID, Subscription: m.subscriptionJS}
}

func (r *reply) fail(code int, text string) *reply {
	r.Successful = false
	r.Error = fmt.Sprintf("%d::%s", code, text)
	return r
}

// failErr fails r with err's code when it is an *Error, otherwise with
// defaultCode and err's text.
func (r *reply) failErr(err error, defaultCode int) *reply {
	var be *Error
	if errors.As(err, &be) {
		return r.fail(be.Code, be.Message)
	}
	return r.fail(defaultCode, err.Error())
}

func (r *reply) unknownClient() *reply {
	r.fail(402, "Unknown client")
	r.Advice = map[string]any{"reconnect": "handshake", "interval": 0}
	return r
}

func (s *Server) advice() map[string]any {
	return map[string]any{
		"reconnect":   "retry",
		"interval":    s.opts.Interval.Milliseconds(),
		"timeout":     s.opts.ConnectTimeout.Milliseconds(),
		"maxInterval": s.opts.MaxInterval.Milliseconds(),
	}
}

func joinArray(parts [][]byte) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(p)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// requestError is the whole reply to a request that could not be decoded.
func requestError(text string) []byte {
	r := &reply{}
	return joinArray([][]byte{r.fail(400, text).encode()})
}

// ---------------------------------------------------------------- messages

// processBatch handles the messages of one request in order. It returns the
// encoded replies and the request's /meta/connect, if any, still to be
// answered (only the last connect of a batch is held; earlier ones are
// answered at once).
func (s *Server) processBatch(r *http.Request, transport string, items []decodedItem) ([][]byte, *pendingConnect) {
	var out [][]byte
	var pending *pendingConnect
	for _, it := range items {
		if it.bad != nil {
			rep := &reply{Channel: it.bad.channel, ID: it.bad.rawID}
			out = append(out, rep.fail(400, it.bad.reason).encode())
			continue
		}
		m := it.msg
		switch m.Channel {
		case ChannelHandshake:
			out = append(out, s.handshake(r, m, transport).encode())
		case ChannelConnect:
			p, rep := s.beginConnect(m)
			if rep != nil {
				out = append(out, rep.encode())
				continue
			}
			if pending != nil {
				s.abandonConnect(pending)
				out = append(out, s.connectReply(pending, nil).encode())
			}
			pending = p
		case ChannelSubscribe:
			out = append(out, s.subscribe(m).encode())
		case ChannelUnsubscribe:
			out = append(out, s.unsubscribe(m).encode())
		case ChannelDisconnect:
			out = append(out, s.disconnect(m).encode())
		default:
			if isMeta(m.Channel) {
				out = append(out, replyTo(m).fail(400, "Unknown meta channel").encode())
				continue
			}
			out = append(out, s.publishFromClient(m).encode())
		}
	}
	return out, pending
}

// releaseAddress gives back one session slot of addr; s.mu is held.
func (s *Server) releaseAddress(addr string) {
	if s.perAddress[addr]--; s.perAddress[addr] <= 0 {
		delete(s.perAddress, addr)
	}
}

// addressOf is the client address of r: the host of RemoteAddr (the port
// varies per connection), or RemoteAddr whole when it has no port.
func addressOf(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
