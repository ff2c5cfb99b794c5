package bayeux

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"
)

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
	created        time.Time
	address        string // client address, the key of Server.perAddress
	connected      bool   // a /meta/connect was seen
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

// Client returns the live session with the given clientId, or nil.
func (s *Server) Client(id string) *Client {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.clients[id]
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
	s.releaseAddress(c.address)
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

// sweep removes sessions with no connect in progress for MaxInterval, and
// sessions that never connected after UnconnectedTimeout.
func (s *Server) sweep() {
	defer s.wg.Done()
	every := min(max(min(s.opts.MaxInterval, s.opts.UnconnectedTimeout)/4, 10*time.Millisecond), time.Second)
	t := s.opts.Clock.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-t.C():
			// The clock's reading, not the tick's: a tick left unread while
			// the clock moved on (a fake clock advanced past several ticks)
			// carries an instant already passed.
			now := s.opts.Clock.Now()
			var expired, ended []*Client
			s.mu.RLock()
			for _, c := range s.clients {
				if ex, ok := c.identity.(Expiring); ok {
					if at := ex.Expiry(); !at.IsZero() && !now.Before(at) {
						ended = append(ended, c)
						continue
					}
				}
				c.mu.Lock()
				if c.cur == nil && now.Sub(c.lastActive) > s.opts.MaxInterval ||
					!c.connected && now.Sub(c.created) > s.opts.UnconnectedTimeout {
					expired = append(expired, c)
				}
				c.mu.Unlock()
			}
			s.mu.RUnlock()
			for _, c := range expired {
				s.log.Info("bayeux: session expired", "clientId", c.id, "maxInterval", s.opts.MaxInterval)
				s.removeClient(c, "expired")
			}
			for _, c := range ended {
				s.log.Info("bayeux: session ended: credentials expired", "clientId", c.id)
				s.removeClient(c, "credentials expired")
			}
		}
	}
}

// ---------------------------------------------------------------- replies

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
	// The address's slot is taken before the Authorizer runs, so a refused
	// flood never reaches it (an Authorizer may count sessions itself and
	// would never hear of a session refused after it).
	addr := addressOf(r)
	s.mu.Lock()
	if s.perAddress[addr] >= s.opts.MaxClientsPerAddress {
		s.mu.Unlock()
		s.log.Info("bayeux: handshake refused: too many clients from one address", "address", addr, "limit", s.opts.MaxClientsPerAddress)
		rep.Advice = map[string]any{"reconnect": "handshake", "interval": max(s.opts.Interval.Milliseconds(), 1000)}
		return rep.fail(503, "Too many clients from this address")
	}
	s.perAddress[addr]++
	s.mu.Unlock()
	registered := false
	defer func() {
		if !registered {
			s.mu.Lock()
			s.releaseAddress(addr)
			s.mu.Unlock()
		}
	}()
	identity, err := s.auth.Handshake(r, m)
	if err != nil {
		rep.Advice = map[string]any{"reconnect": "none"}
		return rep.failErr(err, 403)
	}
	now := s.opts.Clock.Now()
	c := &Client{
		id:             newClientID(),
		identity:       identity,
		remoteAddr:     r.RemoteAddr,
		header:         r.Header.Clone(),
		subs:           make(map[string]struct{}),
		ack:            wantAck,
		lastActive:     now,
		created:        now,
		address:        addr,
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
	registered = true
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
