package agentdesk

import (
	"container/heap"
	"math"
	"sync"
	"time"

	"github.com/omniroute/omniroute/clock"
	"github.com/omniroute/omniroute/errcode"
)

// A desk's token expires while its socket is open (agent tokens live 15
// minutes by default, OpenID tokens as their provider says). The socket is
// told before, and closed at expiry unless the desk hands over a new token
// of the same agent:
//
//	server -> desk  tokenExpiring {"expiresAt":"2026-...Z","expiresInSeconds":60}
//	                  Options.TokenExpiryWarning before expiry (at once when
//	                  less is left)
//	desk -> server  refreshToken {"token":"<new token>"}, with an ack:
//	                  {"ok":true}; {"ok":false,"code":"UNAUTHORIZED"} (the
//	                  token does not verify) or "AGENT_MISMATCH" (another
//	                  agent's); the socket keeps its old expiry then
//	server -> desk  tokenExpired {"code":"TOKEN_EXPIRED","message":...}, then
//	                  the server disconnects the socket (the disconnect grace
//	                  applies: a desk that logs in again and reconnects within
//	                  it keeps its state and work)
//
// The desk gets its new token where it got the first: POST
// /agent-manager/agent/refresh with its refresh token, or its OpenID
// provider. Expiry needs Options.VerifyExpiring; with the plain
// TokenVerifier sockets never expire. Timers run on Options.Clock.
const (
	// EventTokenExpiring: server -> desk, a TokenExpiring payload.
	EventTokenExpiring = "tokenExpiring"
	// EventTokenExpired: server -> desk, an ErrorEvent with CodeTokenExpired;
	// the socket is closed right after.
	EventTokenExpired = "tokenExpired"
	// EventRefreshToken: desk -> server, a RefreshToken payload.
	EventRefreshToken = "refreshToken"

	// CodeTokenExpired: the socket's token expired without a refresh.
	CodeTokenExpired = errcode.TokenExpired

	// DefaultTokenExpiryWarning is how long before its token expires a
	// socket gets tokenExpiring.
	DefaultTokenExpiryWarning = time.Minute
)

// ExpiringVerifier is a TokenVerifier that also says when the token
// expires (the zero time: never).
type ExpiringVerifier func(token string) (agentID string, expiry time.Time, err error)

// TokenExpiring is the tokenExpiring payload.
type TokenExpiring struct {
	ExpiresAt        string `json:"expiresAt"`
	ExpiresInSeconds int64  `json:"expiresInSeconds"`
}

// RefreshToken is the refreshToken payload.
type RefreshToken struct {
	Token string `json:"token"`
}

// expiry is one socket's token lifetime, guarded by the Server's
// expiries: the token's expiry, the step armed for it (the warning, then
// the expiry itself) and its place in the expiries' heap.
// Times are unix nanoseconds (unixNano), so the client stays at 112
// bytes.
type expiry struct {
	// gen moves on with every (re)arm and the close, so a step taken off
	// the heap before one of those does nothing.
	gen    uint64
	token  int64 // when the token expires
	at     int64 // when the armed step is due
	idx    int32 // in the heap; -1 none
	warned bool  // the armed step is the expiry (the warning went)
	closed bool
}

// unixNano is t in unix nanoseconds, the latest such time for a t past
// year 2262 (a token that expires then never expires here).
func unixNano(t time.Time) int64 {
	if t.After(time.Unix(0, math.MaxInt64)) {
		return math.MaxInt64
	}
	return t.UnixNano()
}

// expiries runs the token steps of every socket with one timer of the
// Server's clock, set to the earliest of a min-heap of sockets (one entry
// each at most: a re-arm or the disconnect takes the socket's entry out).
// One time.Timer and a closure for each desk kept about 190 bytes, an
// entry here 8.
type expiries struct {
	clk  clock.Clock
	mu   sync.Mutex
	h    expiryHeap
	t    clock.Timer // set to h[0].at; nil when h is empty or stopped
	stop bool
}

type expiryHeap []*client

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expiry.at < h[j].expiry.at }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].expiry.idx, h[j].expiry.idx = int32(i), int32(j)
}
func (h *expiryHeap) Push(x any) {
	c := x.(*client)
	c.expiry.idx = int32(len(*h))
	*h = append(*h, c)
}
func (h *expiryHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	c.expiry.idx = -1
	return c
}

// putLocked (re)places c's entry at its expiry.at and re-arms the timer
// when the earliest changed.
func (e *expiries) putLocked(c *client) {
	if c.expiry.idx >= 0 {
		heap.Fix(&e.h, int(c.expiry.idx))
	} else {
		heap.Push(&e.h, c)
	}
	if e.h[0] == c {
		e.armLocked()
	}
}

// dropLocked takes c's entry out, if it has one.
func (e *expiries) dropLocked(c *client) {
	if c.expiry.idx < 0 {
		return
	}
	first := c.expiry.idx == 0
	heap.Remove(&e.h, int(c.expiry.idx))
	if first {
		e.armLocked()
	}
}

func (e *expiries) armLocked() {
	if e.t != nil {
		e.t.Stop()
		e.t = nil
	}
	if len(e.h) == 0 || e.stop {
		return
	}
	e.t = e.clk.AfterFunc(max(time.Duration(e.h[0].expiry.at-unixNano(e.clk.Now())), 0), e.fire)
}

// fire takes the steps that are due, in order of their time.
func (e *expiries) fire() {
	type step struct {
		c      *client
		gen    uint64
		token  int64
		warned bool
	}
	var due []step
	e.mu.Lock()
	now := unixNano(e.clk.Now())
	for len(e.h) > 0 && e.h[0].expiry.at <= now {
		c := heap.Pop(&e.h).(*client)
		due = append(due, step{c, c.expiry.gen, c.expiry.token, c.expiry.warned})
	}
	e.armLocked()
	e.mu.Unlock()
	for _, d := range due {
		if d.warned {
			d.c.expire(d.gen)
		} else {
			d.c.warnExpiry(d.gen, d.token)
		}
	}
}

// close stops the timer for good (Server.Close).
func (e *expiries) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stop = true
	e.armLocked()
}

// armExpiry (re)starts c's token steps for a token expiring at exp: the
// warning Options.TokenExpiryWarning before (at once when less is left),
// then the expiry; the zero time stops them.
func (c *client) armExpiry(exp time.Time) {
	e := c.srv.exps
	e.mu.Lock()
	defer e.mu.Unlock()
	c.expiry.gen++
	if exp.IsZero() || c.expiry.closed {
		e.dropLocked(c)
		return
	}
	c.expiry.token, c.expiry.warned = unixNano(exp), false
	c.expiry.at = max(c.expiry.token-int64(c.srv.opts.TokenExpiryWarning), unixNano(e.clk.Now()))
	e.putLocked(c)
}

// warnExpiry tells the desk its token expires at token (unix
// nanoseconds), then arms the expiry itself, unless a refresh or the
// disconnect came first.
func (c *client) warnExpiry(gen uint64, token int64) {
	if !c.current(gen) {
		return
	}
	exp := time.Unix(0, token)
	in := exp.Sub(c.srv.opts.Clock.Now())
	c.emit(EventTokenExpiring, TokenExpiring{ExpiresAt: exp.UTC().Format(time.RFC3339), ExpiresInSeconds: int64(max(in, 0) / time.Second)})
	e := c.srv.exps
	e.mu.Lock()
	defer e.mu.Unlock()
	if c.expiry.closed || c.expiry.gen != gen {
		return
	}
	c.expiry.warned, c.expiry.at = true, token
	e.putLocked(c)
}

// expire closes the socket whose token expired, unless a refresh or the
// disconnect came first.
func (c *client) expire(gen uint64) {
	if !c.current(gen) {
		return
	}
	c.srv.log.Info("agentdesk: token expired, socket closed", "agent", c.agent)
	c.emit(EventTokenExpired, ErrorEvent{Code: CodeTokenExpired, Message: "the token expired; log in or refresh, then reconnect"})
	// A namespace disconnect, queued after the event: closing the
	// Engine.IO session at once would drop both. The official
	// client closes its connection once no namespace is left.
	c.sock.Disconnect(false)
}

// current says whether steps of generation gen still stand.
func (c *client) current(gen uint64) bool {
	e := c.srv.exps
	e.mu.Lock()
	defer e.mu.Unlock()
	return !c.expiry.closed && c.expiry.gen == gen
}

// closeExpiry stops c's token steps for good (the socket is gone).
func (c *client) closeExpiry() {
	e := c.srv.exps
	e.mu.Lock()
	defer e.mu.Unlock()
	c.expiry.closed = true
	c.expiry.gen++
	e.dropLocked(c)
}

// refreshToken is the refreshToken event: a new token of the socket's
// agent replaces the old one's expiry.
func (c *client) refreshToken(args []any) Ack {
	const ev = EventRefreshToken
	if len(args) == 0 {
		return c.fail(ev, nil, CodeInvalidPayload, "refreshToken takes {\"token\"}", "")
	}
	m, ok := args[0].(map[string]any)
	if !ok {
		return c.fail(ev, nil, CodeInvalidPayload, "refreshToken takes {\"token\"}", "")
	}
	tok, _ := m["token"].(string)
	if tok == "" {
		return c.fail(ev, nil, CodeMissingField, "token is required", "token")
	}
	if len(tok) > MaxTokenBytes {
		return c.fail(ev, nil, CodeUnauthorized, "bearer token too long", "token")
	}
	agent, exp, err := c.srv.verifyToken(tok)
	if err != nil || agent == "" {
		return c.fail(ev, nil, CodeUnauthorized, "invalid bearer token", "token")
	}
	if agent != c.agent {
		return c.fail(ev, nil, CodeAgentMismatch, "the token is another agent's", "token")
	}
	c.armExpiry(exp)
	return Ack{OK: true}
}

// verifyToken verifies a bearer token with Options.VerifyExpiring when
// set, else with the TokenVerifier (no expiry).
func (s *Server) verifyToken(tok string) (string, time.Time, error) {
	if s.opts.VerifyExpiring != nil {
		return s.opts.VerifyExpiring(tok)
	}
	agent, err := s.verify(tok)
	return agent, time.Time{}, err
}
