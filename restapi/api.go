// Package restapi is omniroute's native HTTP API (DESIGN.md "Native API
// (v1)"): JSON over HTTP for definitions (MRDs, queues, agents, reason
// codes), conversations, queue statistics, agent presence and tasks, plus the
// ExpertFlow Agent Manager login (seed 004, PROTOCOLS.md), health, readiness,
// Prometheus metrics and the OpenAPI document (openapi.json, embedded).
//
// The package is an adapter (DESIGN.md "Principles" 5): it turns requests
// into routing commands submitted to the node and reads state only through
// node.View. Every input is bounded and every refusal has a stable code and
// changes nothing (Principles 6). Errors are
//
//	{"error":{"code":"STABLE_CODE","message":"..."}}
//
// with the status mapped from the code (see StatusFor). Every /v1 route but
// /v1/openapi.json needs "Authorization: Bearer <token>": an admin token from
// the config file, or an agent token from the login.
package restapi

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/omniroute/omniroute/clock"
	"github.com/omniroute/omniroute/erasure"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/conversation"
	"github.com/omniroute/omniroute/errcode"
	"github.com/omniroute/omniroute/guard"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// Limits and defaults.
const (
	// MaxBodyBytes bounds a request body (64 KiB): conversations, states,
	// logins, and MRD, reason code and agent definitions.
	MaxBodyBytes = 64 << 10
	// MaxQueueBodyBytes bounds a queue definition (4 MiB, a journal entry):
	// a queue may list up to routing.MaxMembersPerQueue member ids.
	MaxQueueBodyBytes = 4 << 20
	// DefaultRequestTimeout bounds how long a request waits for the node.
	DefaultRequestTimeout = 10 * time.Second
	// ReadyTimeout: /readyz answers 503 when the node does not answer a
	// View within it.
	ReadyTimeout = time.Second
	// MaxConcurrentLogins bounds logins running bcrypt at once, so a flood
	// of logins cannot take every core; the others wait up to the request
	// timeout, then get 429.
	MaxConcurrentLogins = 4
	// MaxConcurrentIssuerLogins bounds logins passed to OpenID issuers at
	// once (each a request to the provider's token endpoint); the others
	// wait up to the request timeout, then get 429.
	MaxConcurrentIssuerLogins = 16
	// LoginFreeFailures is how many wrong passwords a username may have
	// before each further one closes it for LoginBackoffBase, doubling up
	// to LoginBackoffMax; a successful login clears the count.
	LoginFreeFailures = 5
	// LoginAddressFreeFailures is the same per client address (higher: a
	// contact center's agents often share one NAT address).
	LoginAddressFreeFailures = 50
	LoginBackoffBase         = time.Second
	LoginBackoffMax          = 5 * time.Minute
)

// Stable error codes this package answers with besides the engine's
// (routing.Code*, which pass through unchanged); all are errcode's, where
// docs/ERRORS.md lists them.
const (
	CodeUnauthorized         = errcode.Unauthorized
	CodeForbidden            = errcode.Forbidden
	CodeInvalidJSON          = errcode.InvalidJSON
	CodeBodyTooLarge         = errcode.BodyTooLarge
	CodeUnsupportedMediaType = errcode.UnsupportedMediaType
	CodeNotFound             = errcode.NotFound
	CodeMethodNotAllowed     = errcode.MethodNotAllowed
	CodeRequestNotFound      = routing.CodeRequestNotFound
	CodeTooManyRequests      = errcode.TooManyRequests
	// CodeUnavailable: the node is closed, its journal failed, or it did not
	// answer within the request timeout (a change may then still apply).
	CodeUnavailable = errcode.Unavailable
	CodeInternal    = errcode.Internal
	// CodeIdentityProviderUnavailable: a login passed to an OpenID issuer
	// (auth.oidc[].passwordGrant) got no answer from it (503).
	CodeIdentityProviderUnavailable = errcode.IdentityProviderUnavailable
)

// Options configure New. The zero value works.
type Options struct {
	// Logger receives server-side failures (5xx) (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock for statistics (waits, EWT); it should be the node's
	// clock (default time.Now).
	Now func() time.Time
	// Clock times the customer streams' keepalives (default clock.Real).
	Clock clock.Clock
	// Wall is the clock of what is not routing time: login backoff and
	// token expiry (default Now). It differs from Now only when the node
	// runs on a scaled clock (omniroute demo).
	Wall func() time.Time
	// Registry is where the metrics collector registers and what /metrics
	// serves. Nil: a private registry with the Go and process collectors.
	Registry *prometheus.Registry
	// NewID returns a fresh conversation or request id (default:
	// uuid.NewString, a random UUID version 4, RFC 9562).
	NewID func() string
	// RequestTimeout bounds the wait for the node (default DefaultRequestTimeout).
	RequestTimeout time.Duration
	// Customers serves the customer side of conversations (customer.go);
	// nil: those routes answer 503 UNAVAILABLE.
	Customers conversation.CustomerSide
	// ReadyInfo, if set, adds fields to the /readyz answer (cluster mode:
	// role, term, leader, lag).
	ReadyInfo func() map[string]any
	// CustomerKeys seals the customer object of a new conversation with
	// its customer's key and shows it unsealed in every answer (package
	// erasure, dataAtRest.customerKeys); nil: stored as given.
	CustomerKeys *erasure.Keyring
}

// ErrorBody is every error response: {"error":{"code","message"}}.
type ErrorBody = errcode.Body

// ErrorDetail is the stable code and a message for a person.
type ErrorDetail = errcode.Detail

// Items wraps collections: {"items":[...]}, so the shape can grow (paging)
// without breaking clients.
type Items[T any] struct {
	Items []T `json:"items"`
}

// apiError is a refusal decided by this package.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errorf(status int, code, format string, args ...any) error {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// StatusFor is the HTTP status of an error code on /v1: errcode.V1Status,
// the one table REST, extrouting's native routes and the web UI share.
func StatusFor(code string) int { return errcode.V1Status(code) }

// access says who may call a route.
type access int

const (
	public        access = iota // no token
	authenticated               // admin or agent; handlers check "self"
	adminOnly
	// channelOrAdmin: an admin, or a channel token (auth.VerifyChannel)
	// for the conversations that channel created (channelMay).
	channelOrAdmin
	// anyPrincipal: an agent, an admin or a channel (POST /v1/tickets,
	// whose handler decides per scope).
	anyPrincipal
)

type handlerFunc func(w http.ResponseWriter, r *http.Request, p auth.Principal) error

type route struct {
	pattern string
	access  access
	h       handlerFunc
}

// api is the handler New returns.
type api struct {
	node    *node.Node
	auth    *auth.Authenticator
	log     *slog.Logger
	now     func() time.Time
	wall    func() time.Time
	clock   clock.Clock
	newID   func() string
	timeout time.Duration
	mux     *http.ServeMux
	routes  []route
	logins  chan struct{}
	// issuerLogins bounds password logins passed to an OpenID issuer.
	issuerLogins chan struct{}
	// loginBackoff (per username) and addrBackoff (per client address)
	// slow down password guessing before bcrypt runs.
	loginBackoff, addrBackoff *guard.Backoff

	customers conversation.CustomerSide
	keys      *erasure.Keyring
	// ticketScopes: the routes that take ?ticket= (tickets.go), by
	// pattern, and the scope a request to them needs.
	ticketScopes map[string]func(*http.Request) string
	readyInfo    func() map[string]any
}

// New returns the HTTP handler of the native API (n and a must not be nil), the login, health,
// readiness, metrics and OpenAPI routes (see openapi.json for every route
// and shape). It registers a metrics collector in opts.Registry; a failed
// registration (a second New on the same registry) is logged and /metrics
// then serves what the registry has.
func New(n *node.Node, a *auth.Authenticator, opts Options) http.Handler {
	s := &api{node: n, auth: a, log: opts.Logger, now: opts.Now, wall: opts.Wall, clock: clock.Or(opts.Clock), newID: opts.NewID,
		timeout: opts.RequestTimeout, mux: http.NewServeMux(), logins: make(chan struct{}, MaxConcurrentLogins),
		issuerLogins: make(chan struct{}, MaxConcurrentIssuerLogins),
		customers:    opts.Customers, readyInfo: opts.ReadyInfo, keys: opts.CustomerKeys}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.wall == nil {
		s.wall = s.now
	}
	if s.newID == nil {
		s.newID = uuid.NewString
	}
	if s.timeout <= 0 {
		s.timeout = DefaultRequestTimeout
	}
	s.loginBackoff = guard.NewBackoff(LoginFreeFailures, LoginBackoffBase, LoginBackoffMax, s.wall)
	s.addrBackoff = guard.NewBackoff(LoginAddressFreeFailures, LoginBackoffBase, LoginBackoffMax, s.wall)
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if err := reg.Register(newCollector(n, s.now)); err != nil {
		s.log.Error("restapi: metrics collector not registered", "err", err)
	}
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	})

	s.routes = []route{
		{"GET /healthz", public, s.healthz},
		{"GET /readyz", public, s.readyz},
		{"GET /metrics", public, func(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
			metrics.ServeHTTP(w, r)
			return nil
		}},
		{"GET /v1/openapi.json", public, serveOpenAPI},
		{"POST /agent-manager/agent/login", public, s.login},
		{"POST /agent-manager/agent/refresh", public, s.refresh},
		{"GET /v1/me", authenticated, s.me},
		{"POST /v1/tickets", anyPrincipal, s.mintTicket},
		{"POST /v1/agents/{id}/revoke-tokens", adminOnly, s.revokeTokens},

		{"POST /v1/conversations", channelOrAdmin, s.createConversation},
		{"GET /v1/conversations", authenticated, s.listConversations},
		{"GET /v1/conversations/{id}", authenticated, s.getConversation},
		{"POST /v1/conversations/{id}/close", adminOnly, s.closeConversation},
		{"POST /v1/conversations/{id}/abandon", adminOnly, s.abandonConversation},
		{"POST /v1/conversations/{id}/messages", channelOrAdmin, s.postCustomerMessage},
		{"POST /v1/conversations/{id}/customer-left", channelOrAdmin, s.postCustomerLeft},
		{"GET /v1/conversations/{id}/events", channelOrAdmin, s.customerEvents},

		{"GET /v1/queues/{id}/stats", authenticated, s.queueStats},
		{"GET /v1/requests/{id}/position", authenticated, s.position},
		{"PATCH /v1/requests/{id}", adminOnly, s.patchRequest},

		{"POST /v1/agents/{id}/token", adminOnly, s.issueToken},
		{"GET /v1/agents/{id}/state", authenticated, s.getAgentState},
		{"PUT /v1/agents/{id}/state", authenticated, s.setAgentState},
		{"PUT /v1/agents/{id}/mrds/{mrd}/state", authenticated, s.setMRDState},
		{"GET /v1/tasks", authenticated, s.listTasks},
		{"POST /v1/tasks/{id}/accept", authenticated, s.taskAction("accept")},
		{"POST /v1/tasks/{id}/decline", authenticated, s.taskAction("decline")},
		{"POST /v1/tasks/{id}/close", authenticated, s.taskAction("close")},
	}
	s.routes = append(s.routes, definitionRoutes(s, "/v1/mrds", mrdKind)...)
	s.routes = append(s.routes, definitionRoutes(s, "/v1/queues", queueKind)...)
	s.routes = append(s.routes, definitionRoutes(s, "/v1/agents", agentKind)...)
	s.routes = append(s.routes, definitionRoutes(s, "/v1/reason-codes", reasonKind)...)
	s.ticketScopes = map[string]func(*http.Request) string{
		"GET /v1/conversations/{id}/events": func(r *http.Request) string { return auth.ScopeConversationEvents(r.PathValue("id")) },
	}
	for _, rt := range s.routes {
		s.mux.Handle(rt.pattern, s.wrap(rt))
	}
	return s
}

// Patterns lists the "METHOD /path" patterns of every route New registers
// (the server's authorization matrix test walks them).
func (s *api) Patterns() []string {
	out := make([]string, len(s.routes))
	for i, rt := range s.routes {
		out[i] = rt.pattern
	}
	return out
}

// ServeHTTP routes r; unknown routes and wrong methods get JSON errors
// (404 NOT_FOUND, 405 METHOD_NOT_ALLOWED with Allow) instead of the
// ServeMux's plain text.
func (s *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern == "" {
		w = &fallbackWriter{ResponseWriter: w, api: s, r: r}
	}
	s.mux.ServeHTTP(w, r)
}

// fallbackWriter turns the ServeMux's own 404 and 405 answers into JSON
// errors; anything else (a redirect to the clean path) passes through.
type fallbackWriter struct {
	http.ResponseWriter
	api      *api
	r        *http.Request
	replaced bool
}

func (f *fallbackWriter) WriteHeader(code int) {
	switch code {
	case http.StatusNotFound:
		f.replaced = true
		f.api.writeError(f.ResponseWriter, f.r, errorf(code, CodeNotFound, "no route %s %s", f.r.Method, f.r.URL.Path))
	case http.StatusMethodNotAllowed:
		f.replaced = true
		f.api.writeError(f.ResponseWriter, f.r, errorf(code, CodeMethodNotAllowed,
			"%s is not allowed on %s (allowed: %s)", f.r.Method, f.r.URL.Path, f.Header().Get("Allow")))
	default:
		f.ResponseWriter.WriteHeader(code)
	}
}

func (f *fallbackWriter) Write(b []byte) (int, error) {
	if f.replaced {
		return len(b), nil
	}
	return f.ResponseWriter.Write(b)
}

// wrap authenticates and authorizes, recovers from a panic as 500, and
// writes the handler's error: the one place errors become responses.
func (s *api) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		var p auth.Principal
		if rt.access != public {
			var err error
			if r, err = s.withTicket(r, s.ticketScopes[rt.pattern]); err != nil {
				s.writeError(w, r, err)
				return
			}
			if ch, ok := s.channelOf(r, rt.access); ok {
				p = auth.Principal{Kind: auth.ChannelKind, Channel: ch}
			} else if p, err = s.authenticate(r); err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="omniroute"`)
				s.writeError(w, r, err)
				return
			}
			if (rt.access == adminOnly || rt.access == channelOrAdmin) && p.Kind != auth.Admin && p.Kind != auth.ChannelKind {
				s.writeError(w, r, errorf(http.StatusForbidden, CodeForbidden, "an admin token is required"))
				return
			}
		}
		if err := rt.h(w, r, p); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// channelOf returns the channel whose token r bears, on a route that
// admits channels.
func (s *api) channelOf(r *http.Request, a access) (auth.Channel, bool) {
	if a != channelOrAdmin && a != anyPrincipal {
		return auth.Channel{}, false
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return auth.Channel{}, false
	}
	ch, err := s.auth.VerifyChannel(strings.TrimSpace(token))
	return ch, err == nil
}

// channelMay refuses a channel principal any conversation it did not
// create (auth.ChannelAttribute), as not found; others pass.
func (s *api) channelMay(r *http.Request, p auth.Principal, id string) error {
	if p.Kind != auth.ChannelKind {
		return nil
	}
	owned := false
	if err := s.view(r, func(st routing.View) {
		c, ok := st.Conversation(id)
		owned = ok && c.Attributes[auth.ChannelAttribute] == p.Channel.ID
	}); err != nil {
		return err
	}
	if !owned {
		return &routing.Error{Code: routing.CodeConversationNotFound, Message: "conversation " + quote(id) + " does not exist"}
	}
	return nil
}

func (s *api) authenticate(r *http.Request) (auth.Principal, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" {
		return auth.Principal{}, errorf(http.StatusUnauthorized, CodeUnauthorized, "missing Authorization: Bearer <token>")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return auth.Principal{}, errorf(http.StatusUnauthorized, CodeUnauthorized, "the Authorization header must be Bearer <token>")
	}
	p, err := s.auth.VerifyContext(r.Context(), strings.TrimSpace(token))
	if err != nil {
		return auth.Principal{}, errorf(http.StatusUnauthorized, CodeUnauthorized, "invalid or expired token")
	}
	return p, nil
}

// writeError maps err to a status and stable code and writes the error
// body; server-side failures (5xx) are logged here and only here.
func (s *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := s.classify(err)
	if status >= 500 {
		s.log.Error("restapi: request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	writeJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: msg}})
}

func (s *api) classify(err error) (status int, code, msg string) {
	var ae *apiError
	var re *routing.Error
	switch {
	case errors.As(err, &ae):
		return ae.status, ae.code, ae.message
	case errors.As(err, &re):
		return StatusFor(re.Code), re.Code, re.Message
	case errors.Is(err, node.ErrCommandTooLarge):
		return http.StatusUnprocessableEntity, routing.CodeLimitExceeded, "the change is too large for one journal entry"
	case errors.Is(err, node.ErrClosed), errors.Is(err, node.ErrJournal):
		return http.StatusServiceUnavailable, CodeUnavailable, "the routing node is not running; nothing was changed"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, CodeUnavailable, "the routing node did not answer in time; the change may still be applied"
	default:
		return http.StatusInternalServerError, CodeInternal, "internal error"
	}
}

// writeJSON writes v with status. An encoding failure is a bug in a
// response type; a write failure means the client left: neither has anyone
// left to tell.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeBody decodes the request body, a JSON object, into v: the
// Content-Type must be application/json (415), the body at most limit bytes
// (413), and unknown fields, wrong types and trailing data are 400
// INVALID_JSON unless lenient (unknown fields allowed).
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any, lenient bool) error {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "Content-Type must be application/json, not %q", ct)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	var raw json.RawMessage
	err := dec.Decode(&raw)
	if err == nil {
		var extra json.RawMessage
		if e := dec.Decode(&extra); !errors.Is(e, io.EOF) {
			err = e
			if err == nil {
				err = errors.New("trailing data after the JSON object")
			}
		}
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "the body is over %d bytes", limit)
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, CodeInvalidJSON, "the body is empty; a JSON object is required")
	case err != nil:
		return errorf(http.StatusBadRequest, CodeInvalidJSON, "%v", err)
	case raw[0] != '{':
		return errorf(http.StatusBadRequest, CodeInvalidJSON, "the body must be a JSON object")
	}
	obj := json.NewDecoder(bytes.NewReader(raw))
	if !lenient {
		obj.DisallowUnknownFields()
	}
	if err := obj.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, CodeInvalidJSON, "%v", err)
	}
	return nil
}

// submit applies cmd through the node, bounded by the request timeout.
func (s *api) submit(r *http.Request, cmd routing.Command) ([]routing.Event, error) {
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	return s.node.Submit(ctx, cmd)
}

// submitThen applies cmd and runs then on the state it left, in the
// command's writer turn (node.SubmitWith), bounded by the request timeout:
// the answer comes with the command, never from a later View.
func (s *api) submitThen(r *http.Request, cmd routing.Command, then func(routing.View)) ([]routing.Event, error) {
	return s.submitWith(r, cmd, node.Reads{After: func(st routing.View, _ []routing.Event) { then(st) }})
}

// submitWith is node.SubmitWith, bounded by the request timeout.
func (s *api) submitWith(r *http.Request, cmd routing.Command, reads node.Reads) ([]routing.Event, error) {
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	return s.node.SubmitWith(ctx, cmd, reads)
}

// view reads the state through the node, bounded by the request timeout.
func (s *api) view(r *http.Request, fn func(routing.View)) error {
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	return s.node.View(ctx, fn)
}

func (s *api) healthz(w http.ResponseWriter, _ *http.Request, _ auth.Principal) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *api) readyz(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
	defer cancel()
	if err := s.node.View(ctx, func(routing.View) {}); err != nil {
		return errorf(http.StatusServiceUnavailable, CodeUnavailable, "the routing node did not answer: %v", err)
	}
	body := map[string]any{"status": "ready"}
	if s.readyInfo != nil {
		for k, v := range s.readyInfo() {
			body[k] = v
		}
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the embedded OpenAPI 3.0 document served at
// GET /v1/openapi.json.
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

// serveOpenAPI is public, unlike the rest of /v1: the document holds no data,
// and API tools fetch it before they have a token.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request, _ auth.Principal) error {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
	return nil
}
