package bayeux

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

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
	index   map[string]map[*Client]struct{} // subscription pattern -> subscribers
	closed  bool
	wg      sync.WaitGroup // sweeper, HTTP requests in progress, websockets

	closing chan struct{}

	wsMu sync.Mutex
	ws   map[*websocket.Conn]struct{}
}

// Client is one Bayeux session, created by a successful /meta/handshake and
// ended by /meta/disconnect, expiry (no connect for Options.MaxInterval),
// queue overflow or Server.Close. Hooks receive it; its accessors are safe
// for concurrent use.
type Client struct {
	id         string
	identity   any
	remoteAddr string
	header     http.Header

	subs map[string]struct{} // guarded by Server.mu

	mu             sync.Mutex
	queue          []queued
	buffered       int // messages held in replaying buffers
	ack            bool
	batch          int64
	cur            *waiter // the held /meta/connect, if any
	lastActive     time.Time
	dead           bool
	endReason      string
	done           chan struct{}
	wake           chan struct{}
	replaying      map[string]*replayBuf
	replayDefaults map[string]int64
	// replayedTo is, per subscribed pattern, the highest Seq a replay
	// backlog delivered: a live message with a Seq at or below it was
	// already sent (published after the backlog was read but before it
	// reached the client's queue), so it is not sent twice.
	replayedTo map[string]int64
}

// queued is one encoded message waiting in a session. batch is 0 until the
// message is sent in a /meta/connect reply; with the ack extension it then
// holds that reply's batch number until the client acknowledges it.
type queued struct {
	raw   []byte
	batch int64
}

// replayBuf holds live messages for a subscription whose backlog is being
// fetched from the Replayer.
type replayBuf struct {
	items []bufItem
}

type bufItem struct {
	raw []byte
	seq int64
}

type waiter struct {
	release chan struct{}
}

// pendingConnect is a /meta/connect accepted and waiting for messages.
type pendingConnect struct {
	c       *Client
	w       *waiter
	m       *Message
	timeout time.Duration
}

// ID returns the session's clientId.
func (c *Client) ID() string { return c.id }

// Identity returns what Authorizer.Handshake returned for this session.
func (c *Client) Identity() any { return c.identity }

// RemoteAddr returns the network address of the handshake request.
func (c *Client) RemoteAddr() string { return c.remoteAddr }

// Header returns a copy of the handshake request's HTTP headers, kept
// because GMS sends gms_user on every request and an adapter may want it
// on subscribe.
func (c *Client) Header() http.Header { return c.header.Clone() }

// NewServer returns a running Server configured by opts (zero fields take
// the defaults). Call Close to stop it.
func NewServer(opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{
		opts:    opts,
		auth:    opts.Authorizer,
		log:     opts.Logger,
		clients: make(map[string]*Client),
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

// Client returns the live session with the given clientId, or nil.
func (s *Server) Client(id string) *Client {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.clients[id]
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

// Publish sends data on channel to every session subscribed to it, directly
// or through a wildcard ("/foo/*", "/foo/**"); a session matched by several
// subscriptions gets the message once. data must be valid JSON (nil is sent
// as null). It returns the number of sessions the message was queued for,
// or an error when the channel is not a concrete non-meta channel or data
// or WithExt is not valid JSON. A session whose queue overflows is removed.
// WithFilter restricts the recipients to some of the subscribers.
func (s *Server) Publish(channel string, data json.RawMessage, opts ...PublishOption) (int, error) {
	d := Delivery{Channel: channel, Data: data}
	for _, o := range opts {
		o(&d)
	}
	raw, err := encodeDelivery(d)
	if err != nil {
		return 0, err
	}
	return s.deliver(channel, raw, d.Seq, d.filter), nil
}

// encodeDelivery validates d and encodes it once for every recipient.
func encodeDelivery(d Delivery) ([]byte, error) {
	if err := validChannel(d.Channel, false); err != nil {
		return nil, fmt.Errorf("bayeux: publish to %q: %w", d.Channel, err)
	}
	if isMeta(d.Channel) {
		return nil, fmt.Errorf("bayeux: publish to %q: meta channels are not publishable", d.Channel)
	}
	if d.Data != nil && !json.Valid(d.Data) {
		return nil, fmt.Errorf("bayeux: publish to %q: data is not valid JSON", d.Channel)
	}
	if d.Ext != nil {
		var obj map[string]json.RawMessage
		if json.Unmarshal(d.Ext, &obj) != nil {
			return nil, fmt.Errorf("bayeux: publish to %q: ext is not a JSON object", d.Channel)
		}
	}
	type wire struct {
		Channel string          `json:"channel"`
		Data    json.RawMessage `json:"data"`
		ID      string          `json:"id,omitempty"`
		Ext     json.RawMessage `json:"ext,omitempty"`
	}
	data := d.Data
	if data == nil {
		data = json.RawMessage("null")
	}
	return json.Marshal(wire{Channel: d.Channel, Data: data, ID: d.ID, Ext: d.Ext})
}

// deliver queues raw for every subscriber of channel that match (nil: all)
// accepts.
func (s *Server) deliver(channel string, raw []byte, seq int64, match func(*Client) bool) int {
	var pats [8]string
	patterns := matchPatterns(channel, pats[:0])
	var overflow []*Client
	n := 0
	s.mu.RLock()
	// Most publishes match one pattern's subscribers; only when several
	// patterns have subscribers is a per-publish set needed to deliver once.
	var matched map[*Client][]string
	single := -1
	for i, p := range patterns {
		if len(s.index[p]) == 0 {
			continue
		}
		if single == -1 && matched == nil {
			single = i
			continue
		}
		if matched == nil {
			matched = make(map[*Client][]string)
			for c := range s.index[patterns[single]] {
				matched[c] = []string{patterns[single]}
			}
		}
		for c := range s.index[p] {
			matched[c] = append(matched[c], p)
		}
	}
	if matched == nil && single >= 0 {
		one := patterns[single : single+1]
		for c := range s.index[patterns[single]] {
			if match != nil && !match(c) {
				continue
			}
			if c.offer(raw, seq, one, s.opts.MaxQueuedMessages) {
				overflow = append(overflow, c)
			}
			n++
		}
	}
	for c, ps := range matched {
		if match != nil && !match(c) {
			continue
		}
		if c.offer(raw, seq, ps, s.opts.MaxQueuedMessages) {
			overflow = append(overflow, c)
		}
		n++
	}
	s.mu.RUnlock()
	for _, c := range overflow {
		s.dropOverflow(c)
	}
	return n
}

// offer queues raw for c, or holds it in a replay buffer when every pattern
// it matched is still replaying. It reports whether the queue overflowed.
func (c *Client) offer(raw []byte, seq int64, patterns []string, limit int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return false
	}
	var buf *replayBuf
	for _, p := range patterns {
		b := c.replaying[p]
		if b == nil {
			buf = nil
			break
		}
		if buf == nil {
			buf = b
		}
	}
	if buf != nil {
		buf.items = append(buf.items, bufItem{raw: raw, seq: seq})
		c.buffered++
		return len(c.queue)+c.buffered > limit
	}
	if seq != 0 && len(c.replayedTo) > 0 {
		covered := true
		for _, p := range patterns {
			if seq > c.replayedTo[p] {
				covered = false
				break
			}
		}
		if covered {
			return false
		}
	}
	c.queue = append(c.queue, queued{raw: raw})
	c.signal()
	return len(c.queue)+c.buffered > limit
}

// signal wakes the held connect, if any; c.mu is held.
func (c *Client) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (s *Server) dropOverflow(c *Client) {
	c.mu.Lock()
	n := len(c.queue) + c.buffered
	c.mu.Unlock()
	s.log.Warn("bayeux: session dropped: queue overflow", "clientId", c.id,
		"queued", n, "limit", s.opts.MaxQueuedMessages)
	s.removeClient(c, "queue overflow")
}

// removeClient ends a session: unsubscribes it, wakes its held connect and
// calls OnSessionEnd. Only the first call for a session has an effect.
func (s *Server) removeClient(c *Client, reason string) {
	s.mu.Lock()
	if s.clients[c.id] != c {
		s.mu.Unlock()
		return
	}
	delete(s.clients, c.id)
	for p := range c.subs {
		s.unindex(p, c)
	}
	c.subs = nil
	s.mu.Unlock()

	c.mu.Lock()
	c.dead = true
	c.endReason = reason
	c.queue = nil
	c.replaying = nil
	c.buffered = 0
	close(c.done)
	c.mu.Unlock()
	s.log.Debug("bayeux: session ended", "clientId", c.id, "reason", reason)
	if s.opts.OnSessionEnd != nil {
		s.opts.OnSessionEnd(c, reason)
	}
}

// unindex removes c from pattern p; s.mu is held for writing.
func (s *Server) unindex(p string, c *Client) {
	set := s.index[p]
	delete(set, c)
	if len(set) == 0 {
		delete(s.index, p)
	}
}

// sweep removes sessions with no connect in progress for MaxInterval.
func (s *Server) sweep() {
	defer s.wg.Done()
	every := min(max(s.opts.MaxInterval/4, 10*time.Millisecond), time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case now := <-t.C:
			var expired []*Client
			s.mu.RLock()
			for _, c := range s.clients {
				c.mu.Lock()
				if c.cur == nil && now.Sub(c.lastActive) > s.opts.MaxInterval {
					expired = append(expired, c)
				}
				c.mu.Unlock()
			}
			s.mu.RUnlock()
			for _, c := range expired {
				s.log.Info("bayeux: session expired", "clientId", c.id, "maxInterval", s.opts.MaxInterval)
				s.removeClient(c, "expired")
			}
		}
	}
}

// ---------------------------------------------------------------- replies

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

func newClientID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Server) handshake(r *http.Request, m *Message, transport string) *reply {
	rep := replyTo(m)
	rep.ClientID = ""
	rep.Version = Version
	rep.MinimumVersion = Version
	rep.SupportedConnectionTypes = []string{ConnectionWebSocket, ConnectionLongPolling}
	if len(m.SupportedConnectionTypes) > 0 &&
		!slices.Contains(m.SupportedConnectionTypes, ConnectionLongPolling) &&
		!slices.Contains(m.SupportedConnectionTypes, ConnectionWebSocket) {
		rep.Advice = map[string]any{"reconnect": "none"}
		return rep.fail(400, "Unsupported connection types")
	}
	wantAck := false
	if raw, ok := m.Ext["ack"]; ok {
		_ = json.Unmarshal(raw, &wantAck) // anything but true means no
	}
	var replayDefaults map[string]int64
	_, wantReplay := m.Ext["replay"]
	if wantReplay && s.opts.Replayer != nil {
		var asMap map[string]int64
		if json.Unmarshal(m.Ext["replay"], &asMap) == nil {
			replayDefaults = asMap
		}
	}
	identity, err := s.auth.Handshake(r, m)
	if err != nil {
		rep.Advice = map[string]any{"reconnect": "none"}
		return rep.failErr(err, 403)
	}
	c := &Client{
		id:             newClientID(),
		identity:       identity,
		remoteAddr:     r.RemoteAddr,
		header:         r.Header.Clone(),
		subs:           make(map[string]struct{}),
		ack:            wantAck,
		lastActive:     time.Now(),
		done:           make(chan struct{}),
		wake:           make(chan struct{}, 1),
		replayDefaults: replayDefaults,
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		rep.Advice = map[string]any{"reconnect": "handshake", "interval": 1000}
		return rep.fail(503, "Server closing")
	case len(s.clients) >= s.opts.MaxClients:
		s.mu.Unlock()
		s.log.Warn("bayeux: handshake refused: too many clients", "limit", s.opts.MaxClients)
		rep.Advice = map[string]any{"reconnect": "handshake", "interval": max(s.opts.Interval.Milliseconds(), 1000)}
		return rep.fail(503, "Too many clients")
	}
	s.clients[c.id] = c
	s.mu.Unlock()
	s.log.Debug("bayeux: handshake", "clientId", c.id, "transport", transport, "ack", wantAck)

	rep.ClientID = c.id
	rep.Successful = true
	rep.Advice = s.advice()
	if wantAck || (wantReplay && s.opts.Replayer != nil) {
		rep.Ext = map[string]any{}
		if wantAck {
			rep.Ext["ack"] = true
		}
		if wantReplay && s.opts.Replayer != nil {
			rep.Ext["replay"] = true
		}
	}
	return rep
}

// beginConnect registers m as c's held connect (releasing any earlier one)
// and applies the ack extension's acknowledgement. It returns a reply
// instead when the connect is refused.
func (s *Server) beginConnect(m *Message) (*pendingConnect, *reply) {
	c := s.Client(m.ClientID)
	if c == nil {
		return nil, replyTo(m).unknownClient()
	}
	timeout := s.opts.ConnectTimeout
	if m.adviceTimeout != nil && *m.adviceTimeout >= 0 {
		if t := time.Duration(*m.adviceTimeout * float64(time.Millisecond)); t < timeout {
			timeout = t
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return nil, replyTo(m).unknownClient()
	}
	if c.ack {
		// CometD ack extension: ext.ack is the last batch the client got.
		// Batches up to it are done; later ones were sent but lost, so
		// they are queued again, ahead of newer messages.
		if raw, ok := m.Ext["ack"]; ok {
			var acked int64
			if json.Unmarshal(raw, &acked) == nil {
				kept := c.queue[:0]
				for _, q := range c.queue {
					if q.batch != 0 && q.batch <= acked {
						continue
					}
					q.batch = 0
					kept = append(kept, q)
				}
				clear(c.queue[len(kept):])
				c.queue = kept
			}
		}
	}
	if c.cur != nil {
		close(c.cur.release)
	}
	w := &waiter{release: make(chan struct{})}
	c.cur = w
	c.lastActive = time.Now()
	return &pendingConnect{c: c, w: w, m: m, timeout: timeout}, nil
}

// abandonConnect forgets a held connect whose transport went away, so the
// session's MaxInterval starts counting.
func (s *Server) abandonConnect(p *pendingConnect) {
	c := p.c
	c.mu.Lock()
	if c.cur == p.w {
		c.cur = nil
		c.lastActive = time.Now()
	}
	c.mu.Unlock()
}

// connectReply builds the reply to a connect; ext is the ack extension's.
func (s *Server) connectReply(p *pendingConnect, ext map[string]any) *reply {
	rep := replyTo(p.m)
	rep.Successful = true
	rep.Advice = s.advice()
	rep.Ext = ext
	return rep
}

// waitConnect holds p until messages are queued, its timeout passes, a
// newer connect releases it, the session ends or ctx is done. It returns
// the messages and the connect reply, or ok=false when ctx ended first and
// nothing must be written.
func (s *Server) waitConnect(ctx context.Context, p *pendingConnect) (msgs [][]byte, rep *reply, ok bool) {
	c := p.c
	var timer *time.Timer
	var timeout <-chan time.Time
	if p.timeout > 0 {
		timer = time.NewTimer(p.timeout)
		defer timer.Stop()
		timeout = timer.C
	}
	expired := p.timeout <= 0
	for {
		c.mu.Lock()
		switch {
		case c.dead:
			reason := c.endReason
			c.mu.Unlock()
			rep := replyTo(p.m).unknownClient()
			if reason == "disconnect" {
				rep.Advice = map[string]any{"reconnect": "none"}
			}
			return nil, rep, true
		case c.cur != p.w:
			// Released by a newer connect: answer empty, without ext.ack,
			// so the client does not acknowledge a batch it never saw.
			c.mu.Unlock()
			return nil, s.connectReply(p, nil), true
		}
		unsent := 0
		for _, q := range c.queue {
			if q.batch == 0 {
				unsent++
			}
		}
		if unsent > 0 || expired {
			var ext map[string]any
			if c.ack {
				c.batch++
				for i := range c.queue {
					if c.queue[i].batch == 0 {
						c.queue[i].batch = c.batch
						msgs = append(msgs, c.queue[i].raw)
					}
				}
				ext = map[string]any{"ack": c.batch}
			} else {
				for _, q := range c.queue {
					msgs = append(msgs, q.raw)
				}
				clear(c.queue)
				c.queue = c.queue[:0]
			}
			c.cur = nil
			c.lastActive = time.Now()
			c.mu.Unlock()
			return msgs, s.connectReply(p, ext), true
		}
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-p.w.release:
		case <-c.done:
		case <-timeout:
			expired = true
		case <-ctx.Done():
			s.abandonConnect(p)
			return nil, nil, false
		}
	}
}

// subscribeReplay is one channel of a subscribe that asked for replay.
type subscribeReplay struct {
	channel string
	id      int64
	isNew   bool
}

func (s *Server) subscribe(m *Message) *reply {
	rep := replyTo(m)
	if len(m.Subscriptions) == 0 {
		return rep.fail(400, "Missing subscription")
	}
	c := s.Client(m.ClientID)
	if c == nil {
		return rep.unknownClient()
	}
	var replayMap map[string]int64
	if s.opts.Replayer != nil {
		if raw, ok := m.Ext["replay"]; ok {
			if err := json.Unmarshal(raw, &replayMap); err != nil {
				return rep.fail(400, "ext.replay must map channels to replay ids")
			}
		}
	}
	for _, ch := range m.Subscriptions {
		if err := validChannel(ch, true); err != nil {
			return rep.fail(400, "Bad subscription "+ch+": "+err.Error())
		}
		if isMeta(ch) || ch == "/*" || ch == "/**" {
			return rep.fail(403, "Cannot subscribe to "+ch)
		}
		if err := s.auth.Subscribe(c, ch); err != nil {
			return rep.failErr(err, 403)
		}
	}
	var replays []subscribeReplay
	s.mu.Lock()
	if s.clients[c.id] != c {
		s.mu.Unlock()
		return rep.unknownClient()
	}
	added := 0
	for _, ch := range m.Subscriptions {
		if _, ok := c.subs[ch]; !ok {
			added++
		}
	}
	if len(c.subs)+added > s.opts.MaxSubscriptionsPerClient {
		s.mu.Unlock()
		return rep.fail(403, fmt.Sprintf("Too many subscriptions (limit %d)", s.opts.MaxSubscriptionsPerClient))
	}
	c.mu.Lock()
	for _, ch := range m.Subscriptions {
		_, had := c.subs[ch]
		if !had {
			c.subs[ch] = struct{}{}
			set := s.index[ch]
			if set == nil {
				set = make(map[*Client]struct{})
				s.index[ch] = set
			}
			set[c] = struct{}{}
		}
		if s.opts.Replayer == nil {
			continue
		}
		id, ok := replayMap[ch]
		if !ok {
			id, ok = c.replayDefaults[ch]
		}
		if !ok || c.replaying[ch] != nil {
			continue
		}
		if c.replaying == nil {
			c.replaying = make(map[string]*replayBuf)
		}
		c.replaying[ch] = &replayBuf{}
		replays = append(replays, subscribeReplay{channel: ch, id: id, isNew: !had})
	}
	c.mu.Unlock()
	s.mu.Unlock()

	var failed error
	for _, rp := range replays {
		var backlog []Delivery
		var err error
		if failed == nil {
			backlog, err = s.opts.Replayer.Replay(c, rp.channel, rp.id)
			if err != nil {
				failed = err
			}
		}
		if failed != nil {
			s.finishReplay(c, rp.channel, nil, false)
			if rp.isNew {
				s.mu.Lock()
				if c.subs != nil {
					delete(c.subs, rp.channel)
					s.unindex(rp.channel, c)
				}
				s.mu.Unlock()
			}
			continue
		}
		s.finishReplay(c, rp.channel, backlog, true)
	}
	if failed != nil {
		return rep.failErr(failed, 500)
	}
	if s.opts.OnSubscribe != nil {
		s.opts.OnSubscribe(c, m.Subscriptions)
	}
	rep.Successful = true
	return rep
}

// finishReplay queues the backlog, then the live messages buffered while it
// was fetched (minus those the backlog already holds, by Seq), and makes the
// subscription live.
func (s *Server) finishReplay(c *Client, channel string, backlog []Delivery, ok bool) {
	var encoded [][]byte
	var maxSeq int64
	for _, d := range backlog {
		raw, err := encodeDelivery(d)
		if err != nil {
			s.log.Error("bayeux: replayer returned a bad message; skipped", "clientId", c.id, "channel", channel, "err", err)
			continue
		}
		encoded = append(encoded, raw)
		maxSeq = max(maxSeq, d.Seq)
	}
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return
	}
	buf := c.replaying[channel]
	delete(c.replaying, channel)
	if ok {
		for _, raw := range encoded {
			c.queue = append(c.queue, queued{raw: raw})
		}
		if maxSeq > 0 {
			if c.replayedTo == nil {
				c.replayedTo = make(map[string]int64)
			}
			c.replayedTo[channel] = maxSeq
		}
	}
	if buf != nil {
		c.buffered -= len(buf.items)
		for _, it := range buf.items {
			if ok && maxSeq > 0 && it.seq != 0 && it.seq <= maxSeq {
				continue
			}
			c.queue = append(c.queue, queued{raw: it.raw})
		}
	}
	over := len(c.queue)+c.buffered > s.opts.MaxQueuedMessages
	c.signal()
	c.mu.Unlock()
	if over {
		s.dropOverflow(c)
	}
}

func (s *Server) unsubscribe(m *Message) *reply {
	rep := replyTo(m)
	if len(m.Subscriptions) == 0 {
		return rep.fail(400, "Missing subscription")
	}
	c := s.Client(m.ClientID)
	if c == nil {
		return rep.unknownClient()
	}
	for _, ch := range m.Subscriptions {
		if err := validChannel(ch, true); err != nil {
			return rep.fail(400, "Bad subscription "+ch+": "+err.Error())
		}
	}
	s.mu.Lock()
	if s.clients[c.id] != c {
		s.mu.Unlock()
		return rep.unknownClient()
	}
	for _, ch := range m.Subscriptions {
		if _, ok := c.subs[ch]; ok {
			delete(c.subs, ch)
			s.unindex(ch, c)
		}
	}
	s.mu.Unlock()
	c.mu.Lock()
	for _, ch := range m.Subscriptions {
		delete(c.replayedTo, ch) // a later subscribe replays afresh
	}
	c.mu.Unlock()
	rep.Successful = true
	return rep
}

func (s *Server) disconnect(m *Message) *reply {
	rep := replyTo(m)
	c := s.Client(m.ClientID)
	if c == nil {
		return rep.unknownClient()
	}
	s.removeClient(c, "disconnect")
	rep.Successful = true
	return rep
}

func (s *Server) publishFromClient(m *Message) *reply {
	rep := replyTo(m)
	rep.Subscription = nil
	c := s.Client(m.ClientID)
	if c == nil {
		return rep.unknownClient()
	}
	if err := s.auth.Publish(c, m); err != nil {
		return rep.failErr(err, 403)
	}
	if !isService(m.Channel) {
		raw, err := encodeDelivery(Delivery{Channel: m.Channel, Data: m.Data, ID: m.ID})
		if err != nil {
			return rep.fail(400, err.Error())
		}
		s.deliver(m.Channel, raw, 0, nil)
	}
	rep.Successful = true
	return rep
}
