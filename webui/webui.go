// Package webui serves omniroute's browser pages, embedded with go:embed
// (no build step at run time, no external request: scripts, styles and the
// vendored libraries are in static/):
//
//	GET /                 the supervisor wallboard (queues, agents, charts, at-risk alerts)
//	GET /desk             the reference agent desk (seed 004 over socket.io-client 4.4.0)
//	GET /chat/{queue}     the customer chat page
//	GET /history          the history page (15-minute intervals, CSV)
//	GET /ui/...           the pages' scripts, styles and vendored libraries
//	GET /ui/oidc/callback the browser login's redirect URI (login.go)
//
// and the JSON and Server-Sent Events routes behind them:
//
//	GET  /ui/api/login-options              the OpenID issuers the login form offers (login.go)
//	POST /ui/api/oidc/token                 {issuer, code, code_verifier, redirect_uri} -> {token, agent}
//	GET  /ui/api/me                         who the bearer token is (kind, agent, role, teams)
//	GET  /ui/api/board                      text/event-stream: "snapshot", then "update" (board.go)
//	PUT  /ui/api/agents/{id}/state          {state, reasonCode}: force an agent NOT_READY or LOGOUT
//	POST /ui/api/chat/{queue}               {name} -> 201 {id, key}: a customer starts a chat
//	GET  /ui/api/chat/{id}/events (X-Chat-Key) text/event-stream: "position" and "cimEvent"
//	POST /ui/api/chat/{id}/messages         {text}, header X-Chat-Key: a customer message
//	POST /ui/api/chat/{id}/leave            header X-Chat-Key: the customer left
//	GET  /v1/reports/queues[.csv]           15-minute queue intervals (history.go)
//	GET  /v1/reports/agents[.csv]           15-minute agent time in state and occupancy
//
// Auth is the API's: "Authorization: Bearer <token>", an admin token or an
// agent token from POST /agent-manager/agent/login (the pages' login form),
// or an OpenID token from the form's "Sign in with <issuer>" (the
// authorization code flow with PKCE, the code exchanged through
// POST /ui/api/oidc/token).
// An admin sees everything; an agent whose role is supervisor sees every
// queue and the agents of its teams, and may force those agents' state; any
// other agent gets 403 FORBIDDEN on the supervisor routes and uses /desk.
// The pages keep the token in sessionStorage and read the event streams
// with fetch (EventSource cannot send a header).
//
// The customer chat plays the web chat channel of the contact center: a
// trusted back end that creates the conversation and speaks for the
// customer (restapi's customer routes need an admin token for that reason).
// The browser holds only the conversation's key, an HMAC of its id under a
// secret of this process, valid for that conversation alone.
package webui

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omniroute/omniroute/clock"
	"github.com/omniroute/omniroute/erasure"

	"github.com/google/uuid"
	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/conversation"
	"github.com/omniroute/omniroute/errcode"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

//go:embed static
var static embed.FS

// Options configure New. The zero value works (history in memory only, no
// customer chat).
type Options struct {
	Logger *slog.Logger
	// Clock times the wallboard's flushes, the history's persistence and
	// the streams' keepalives (default clock.Real); Now, when set, is the
	// routing time the figures are computed at.
	Clock clock.Clock
	// CustomerKeys seals the chat page's customer object with its
	// customer's key (package erasure); nil: stored as given.
	CustomerKeys *erasure.Keyring
	// Now is the node's clock (default time.Now).
	Now func() time.Time
	// Customers is the conversation layer of the chat page (the server
	// passes its agentdesk.Server); nil: the chat routes answer 503.
	Customers conversation.CustomerSide
	// Targets are the per-queue service-level targets of the at-risk alert.
	Targets Targets
	// FlushInterval is the wallboard's coalescing delay (default
	// DefaultFlushInterval).
	FlushInterval time.Duration
	// Store keeps the history (nil: memory only; the server passes OpenKV's).
	Store Store
	// PersistEvery is how often changed history intervals are written
	// (default DefaultPersistEvery).
	PersistEvery time.Duration
	// ChatSecret signs chat keys (default: random per process, so a chat's
	// key ends with the process).
	ChatSecret []byte
	// NewID returns a conversation or request id (default a random UUID version 4).
	NewID func() string
}

// Defaults and limits.
const (
	DefaultFlushInterval = 500 * time.Millisecond
	DefaultPersistEvery  = 5 * time.Second
	// StreamKeepAlive is the comment interval of the event streams.
	StreamKeepAlive = 15 * time.Second
	// MaxBodyBytes bounds the pages' JSON bodies.
	MaxBodyBytes = 16 << 10
	// MaxChatTextBytes bounds one customer chat message.
	MaxChatTextBytes = 4 << 10
	// MaxNameBytes bounds the customer's name.
	MaxNameBytes = 128
	// MaxStreams bounds the open wallboard streams.
	MaxStreams = 1000
)

// UI is the web UI. Create with New; stop with Close.
type UI struct {
	node  *node.Node
	auth  *auth.Authenticator
	o     Options
	board *board
	hist  *History
	mux   *http.ServeMux
	// patterns are the routes registered on mux, in order (Routes).
	patterns []string
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	streams  atomic.Int64
	// viewSeq orders board reads: incremented inside node.View.
	viewSeq atomic.Uint64
	// codeLogins holds a token per code exchange running
	// (MaxConcurrentCodeLogins).
	codeLogins chan struct{}
}

// Patterns are the ServeMux patterns the server routes to Handler.
var Patterns = []string{"GET /{$}", "GET /desk", "GET /chat/{queue}", "GET /history", "/ui/", "/v1/reports/"}

// New starts the UI's board and history (reading stored intervals first).
func New(ctx context.Context, n *node.Node, a *auth.Authenticator, o Options) (*UI, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.Clock = clock.Or(o.Clock)
	if o.Now == nil {
		o.Now = o.Clock.Now
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.PersistEvery <= 0 {
		o.PersistEvery = DefaultPersistEvery
	}
	if o.NewID == nil {
		o.NewID = uuid.NewString
	}
	if len(o.ChatSecret) == 0 {
		o.ChatSecret = make([]byte, 32)
		_, _ = rand.Read(o.ChatSecret)
	}
	u := &UI{node: n, auth: a, o: o, mux: http.NewServeMux(), codeLogins: make(chan struct{}, MaxConcurrentCodeLogins)}
	thresholds := &thresholdCache{node: n}
	h, err := NewHistory(ctx, o.Store, o.Now(), thresholds.of, o.Logger)
	if err != nil {
		return nil, err
	}
	u.hist = h
	h.metrics.now = o.Now
	u.board = newBoard(n, h, o)
	u.board.seq = &u.viewSeq
	thresholds.board = u.board
	runCtx, cancel := context.WithCancel(context.Background())
	u.cancel = cancel
	events, unsub := n.Subscribe()
	u.wg.Add(2)
	go func() { defer u.wg.Done(); u.board.run(runCtx, events, unsub) }()
	go func() { defer u.wg.Done(); u.persistLoop(runCtx) }()
	u.routes()
	return u, nil
}

// thresholdCache reads queues' service-level thresholds from the board's
// definitions (History calls it with its lock held, on the board's
// goroutine, so it must not call the node).
type thresholdCache struct {
	node  *node.Node
	board *board
}

func (t *thresholdCache) of(queue string) time.Duration {
	t.board.mu.Lock()
	defer t.board.mu.Unlock()
	if d, ok := t.board.thresholds[queue]; ok {
		return d
	}
	return routing.DefaultServiceLevelThreshold
}

func (u *UI) persistLoop(ctx context.Context) {
	t := u.o.Clock.NewTicker(u.o.PersistEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			if err := u.hist.Persist(ctx, u.o.Now()); err != nil && ctx.Err() == nil {
				u.o.Logger.Error("webui: history not saved", "err", err)
			}
		}
	}
}

// History returns the UI's history (for reports and metrics).
func (u *UI) History() *History { return u.hist }

// Close stops the board and writes the history a last time.
func (u *UI) Close() error {
	u.cancel()
	u.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return u.hist.Persist(ctx, u.o.Now())
}

// Handler serves every route of Patterns.
func (u *UI) Handler() http.Handler { return u.mux }

// Routes lists the "METHOD /path" patterns the UI serves (the
// authorization matrix test, server.TestAuthorizationMatrix, walks them).
func (u *UI) Routes() []string { return u.patterns }

func (u *UI) handle(pattern string, h http.Handler) {
	u.patterns = append(u.patterns, pattern)
	u.mux.Handle(pattern, h)
}

func (u *UI) routes() {
	sub, _ := fs.Sub(static, "static")
	page := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, err := fs.ReadFile(sub, name)
			if err != nil {
				http.NotFound(w, r)
				return
			}
			securityHeaders(w)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(b)
		}
	}
	u.handle("GET /{$}", page("wallboard.html"))
	u.handle("GET /desk", page("desk.html"))
	u.handle("GET /chat/{queue}", page("chat.html"))
	u.handle("GET /history", page("history.html"))
	files := http.StripPrefix("/ui/", http.FileServerFS(sub))
	u.handle("GET /ui/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
	u.handle("GET "+CallbackPath, page("callback.html"))
	u.handle("GET /ui/api/login-options", u.api(u.loginOptions))
	u.handle("POST /ui/api/oidc/token", u.api(u.oidcToken))
	u.handle("GET /ui/api/me", u.api(u.me))
	u.handle("GET /ui/api/board", u.api(u.boardStream))
	u.handle("PUT /ui/api/agents/{id}/state", u.api(u.forceState))
	u.handle("POST /ui/api/chat/{queue}", u.api(u.startChat))
	u.handle("GET /ui/api/chat/{id}/events", u.api(u.chatEvents))
	u.handle("POST /ui/api/chat/{id}/messages", u.api(u.chatMessage))
	u.handle("POST /ui/api/chat/{id}/leave", u.api(u.chatLeave))
	u.handle("GET /v1/reports/queues", u.api(u.reportQueues))
	u.handle("GET /v1/reports/agents", u.api(u.reportAgents))
}

// securityHeaders: the pages load nothing from elsewhere, and say so to
// the browser.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// apiError is a refusal with a stable code (restapi's error shape).
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func apiErr(status int, code, format string, args ...any) error {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func (u *UI) api(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if err := h(w, r); err != nil {
			u.writeError(w, r, err)
		}
	})
}

func (u *UI) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := http.StatusInternalServerError, errcode.Internal, "internal error"
	var ae *apiError
	var re *routing.Error
	switch {
	case errors.As(err, &ae):
		status, code, msg = ae.status, ae.code, ae.msg
	case errors.As(err, &re):
		status, code, msg = errcode.V1Status(re.Code), re.Code, re.Message
		switch re.Code {
		case "CONVERSATION_CLOSED", "CUSTOMER_LEFT":
			status = http.StatusConflict
		case "PAYLOAD_TOO_LARGE":
			status = http.StatusRequestEntityTooLarge
		}
	case errors.Is(err, node.ErrClosed), errors.Is(err, node.ErrJournal),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		status, code, msg = http.StatusServiceUnavailable, errcode.Unavailable, "the routing node did not answer"
	}
	if status >= 500 {
		u.o.Logger.Error("webui: request failed", "path", r.URL.Path, "status", status, "err", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="omniroute"`)
	}
	writeJSON(w, status, errcode.Body{Error: errcode.Detail{Code: code, Message: msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return apiErr(http.StatusRequestEntityTooLarge, errcode.BodyTooLarge, "the body is over %d bytes", MaxBodyBytes)
		}
		return apiErr(http.StatusBadRequest, errcode.InvalidJSON, "%v", err)
	}
	return nil
}

// Viewer is who a bearer token is, with the agent's role and teams.
type Viewer struct {
	Kind  auth.Kind    `json:"kind"`
	Agent string       `json:"agent,omitempty"`
	Name  string       `json:"name,omitempty"`
	Role  routing.Role `json:"role,omitempty"`
	Teams []string     `json:"teams,omitempty"`
}

// Supervises says whether v may watch and force an agent of teams.
func (v Viewer) Supervises(teams []string) bool {
	if v.Kind == auth.Admin {
		return true
	}
	if v.Role != routing.RoleSupervisor {
		return false
	}
	for _, t := range teams {
		if slices.Contains(v.Teams, t) {
			return true
		}
	}
	return false
}

// isSupervisor: admins and agents with role supervisor.
func (v Viewer) isSupervisor() bool { return v.Kind == auth.Admin || v.Role == routing.RoleSupervisor }

func (u *UI) viewer(r *http.Request) (Viewer, error) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Viewer{}, apiErr(http.StatusUnauthorized, errcode.Unauthorized, "missing Authorization: Bearer <token>")
	}
	p, err := u.auth.Verify(strings.TrimSpace(token))
	if err != nil {
		return Viewer{}, apiErr(http.StatusUnauthorized, errcode.Unauthorized, "invalid or expired token")
	}
	v := Viewer{Kind: p.Kind, Agent: p.AgentID}
	if p.Kind == auth.Admin {
		return v, nil
	}
	found := false
	if err := u.node.View(r.Context(), func(st routing.View) {
		a, ok := st.Agent(p.AgentID)
		if ok {
			found, v.Name, v.Role, v.Teams = true, a.Agent.Name, a.Agent.Role, a.Agent.Teams
		}
	}); err != nil {
		return Viewer{}, err
	}
	if !found {
		return Viewer{}, apiErr(http.StatusUnauthorized, errcode.Unauthorized, "the token's agent does not exist")
	}
	if v.Role == "" {
		v.Role = routing.RoleAgent
	}
	return v, nil
}

func (u *UI) supervisor(r *http.Request) (Viewer, error) {
	v, err := u.viewer(r)
	if err != nil {
		return v, err
	}
	if !v.isSupervisor() {
		return v, apiErr(http.StatusForbidden, errcode.Forbidden, "a supervisor or admin token is required")
	}
	return v, nil
}

func (u *UI) me(w http.ResponseWriter, r *http.Request) error {
	v, err := u.viewer(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// forceState is PUT /ui/api/agents/{id}/state: a supervisor forces an agent
// of its teams NOT_READY (with a reason) or LOGOUT (Omni Supervisor's
// "change status", Genesys' "log out agent").
func (u *UI) forceState(w http.ResponseWriter, r *http.Request) error {
	v, err := u.supervisor(r)
	if err != nil {
		return err
	}
	var body struct {
		State      routing.AgentState `json:"state"`
		ReasonCode string             `json:"reasonCode"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.State != routing.AgentNotReady && body.State != routing.AgentLogout {
		return apiErr(http.StatusBadRequest, routing.CodeInvalidArgument, "a supervisor may force NOT_READY or LOGOUT, not %q", body.State)
	}
	id := r.PathValue("id")
	cmd := routing.SetAgentState{Agent: id, State: body.State, ReasonCode: body.ReasonCode}
	if v.Kind != auth.Admin {
		// The engine checks, when the command runs, that the viewer still
		// supervises one of the agent's teams.
		cmd.Supervisor = v.Agent
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	_, err = u.node.Submit(ctx, cmd)
	var re *routing.Error
	switch {
	case errors.As(err, &re) && re.Code == routing.CodeAgentNotFound:
		return &routing.Error{Code: routing.CodeAgentNotFound, Message: "agent " + id + " does not exist"}
	case errors.As(err, &re) && re.Code == routing.CodeTeamMismatch:
		return apiErr(http.StatusForbidden, errcode.Forbidden, "agent %s is in none of your teams", id)
	case errors.As(err, &re) && re.Code == routing.CodeNotSupervisor:
		return apiErr(http.StatusForbidden, errcode.Forbidden, "a supervisor or admin token is required")
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"agent": id, "state": string(body.State)})
	return nil
}

// sse is one Server-Sent Events response.
type sse struct {
	mu sync.Mutex
	w  io.Writer
	f  http.Flusher
	rc *http.ResponseController
	// bytes counts what was written (benchmarks read it).
	bytes int64
}

func startSSE(w http.ResponseWriter) (*sse, error) {
	f, ok := w.(http.Flusher)
	if !ok {
		return nil, apiErr(http.StatusInternalServerError, errcode.Internal, "streaming is not supported")
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &sse{w: w, f: f, rc: http.NewResponseController(w)}
	return s, s.raw(": omniroute\n\n")
}

func (s *sse) raw(text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	n, err := io.WriteString(s.w, text)
	s.bytes += int64(n)
	if err == nil {
		s.f.Flush()
	}
	return err
}

func (s *sse) event(name string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	n, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", name, data)
	s.bytes += int64(n)
	if err == nil {
		s.f.Flush()
	}
	return err
}

// keepAlive writes a comment every StreamKeepAlive until ctx ends; a failed
// write cancels.
func (s *sse) keepAlive(ctx context.Context, c clock.Clock, cancel func()) {
	t := c.NewTicker(StreamKeepAlive)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			if s.raw(": keep-alive\n\n") != nil {
				cancel()
				return
			}
		}
	}
}

// boardStream is GET /ui/api/board: "snapshot" with every row the viewer
// may see, then "update" with the rows that changed (a "snapshot" again
// after the board resubscribed). Each is
//
//	{"at":RFC3339,"queues":[QueueRow...],"agents":[AgentRow...]}
func (u *UI) boardStream(w http.ResponseWriter, r *http.Request) error {
	v, err := u.supervisor(r)
	if err != nil {
		return err
	}
	if u.streams.Add(1) > MaxStreams {
		u.streams.Add(-1)
		return apiErr(http.StatusTooManyRequests, errcode.TooManyRequests, "more than %d wallboard streams", MaxStreams)
	}
	defer u.streams.Add(-1)
	updates, cancelSub := u.board.subscribe()
	defer cancelSub()
	snap, err := u.board.snapshot(r.Context())
	if err != nil {
		return err
	}
	s, err := startSSE(w)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go s.keepAlive(ctx, u.o.Clock, cancel)
	if s.event("snapshot", boardMessage(snap, v)) != nil {
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case up, ok := <-updates:
			if !ok {
				return nil // too slow: the browser reconnects for a snapshot
			}
			if up.seq < snap.seq {
				continue // read before the snapshot: already in it
			}
			name := "update"
			if up.full {
				name = "snapshot"
			}
			if s.event(name, boardMessage(up, v)) != nil {
				return nil
			}
		}
	}
}

// boardMessage joins the pre-encoded rows the viewer may see.
func boardMessage(up update, v Viewer) []byte {
	var b strings.Builder
	at, _ := up.at.MarshalJSON()
	b.WriteString(`{"at":`)
	b.Write(at)
	b.WriteString(`,"queues":[`)
	for i, q := range up.queues {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(q.json)
	}
	b.WriteString(`],"agents":[`)
	n := 0
	for _, a := range up.agents {
		if v.Kind != auth.Admin && !v.Supervises(a.teams) {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.Write(a.json)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// chatKey is the customer's key of one conversation.
func (u *UI) chatKey(conv string) string {
	m := hmac.New(sha256.New, u.o.ChatSecret)
	m.Write([]byte(conv))
	return hex.EncodeToString(m.Sum(nil))
}

func (u *UI) checkChatKey(r *http.Request, conv string) error {
	// The key comes only in its header, never in the URL (URLs end up in
	// logs and Referer headers).
	key := r.Header.Get("X-Chat-Key")
	if !hmac.Equal([]byte(key), []byte(u.chatKey(conv))) {
		return apiErr(http.StatusUnauthorized, errcode.Unauthorized, "this chat's key is missing or wrong")
	}
	if u.o.Customers == nil {
		return apiErr(http.StatusServiceUnavailable, errcode.Unavailable, "chats are not served by this server")
	}
	return nil
}
