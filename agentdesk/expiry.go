package agentdesk

import (
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

// expiry is one socket's token lifetime: its timer and a generation that
// makes a timer armed before a refresh do nothing. One timer at a time:
// the warning's, which arms the expiry's when it fires (two timers armed
// side by side kept about 150 bytes more for each desk).
type expiry struct {
	gen    uint64
	t      clock.Timer
	closed bool
}

// armExpiry (re)starts c's timer for a token expiring at exp; the zero
// time stops it.
func (c *client) armExpiry(exp time.Time) {
	c.exp.Lock()
	defer c.exp.Unlock()
	c.stopExpiryLocked()
	if exp.IsZero() || c.expiry.closed {
		return
	}
	gen := c.expiry.gen
	clk := c.srv.opts.Clock
	warnIn := max(exp.Sub(clk.Now())-c.srv.opts.TokenExpiryWarning, 0)
	c.expiry.t = clk.AfterFunc(warnIn, func() { c.warnExpiry(gen, exp) })
}

// warnExpiry tells the desk its token expires at exp, then arms the
// expiry itself, unless a refresh or the disconnect came first.
func (c *client) warnExpiry(gen uint64, exp time.Time) {
	if !c.current(gen) {
		return
	}
	clk := c.srv.opts.Clock
	in := exp.Sub(clk.Now())
	c.emit(EventTokenExpiring, TokenExpiring{ExpiresAt: exp.UTC().Format(time.RFC3339), ExpiresInSeconds: int64(max(in, 0) / time.Second)})
	c.exp.Lock()
	defer c.exp.Unlock()
	if c.expiry.closed || c.expiry.gen != gen {
		return
	}
	c.expiry.t = clk.AfterFunc(max(exp.Sub(clk.Now()), 0), func() { c.expire(gen) })
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

// current says whether timers of generation gen still stand.
func (c *client) current(gen uint64) bool {
	c.exp.Lock()
	defer c.exp.Unlock()
	return !c.expiry.closed && c.expiry.gen == gen
}

func (c *client) stopExpiryLocked() {
	c.expiry.gen++
	if c.expiry.t != nil {
		c.expiry.t.Stop()
		c.expiry.t = nil
	}
}

// closeExpiry stops c's timer for good (the socket is gone).
func (c *client) closeExpiry() {
	c.exp.Lock()
	defer c.exp.Unlock()
	c.expiry.closed = true
	c.stopExpiryLocked()
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
