package extrouting

import (
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/omniroute/omniroute/errcode"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// AgentWorkBody is the body of POST /v1/agent-work:
//
//	{"pendingServiceRoutingId":"0JR...","userId":"alice","workItemId":"c1","serviceChannelId":"chat"}
//
// pendingServiceRoutingId and userId are required; workItemId and
// serviceChannelId, when given, must equal the PSR's (400 INVALID_ARGUMENT
// otherwise), as Salesforce checks them.
type AgentWorkBody struct {
	PendingServiceRoutingID string  `json:"pendingServiceRoutingId"`
	UserID                  string  `json:"userId"`
	WorkItemID              *string `json:"workItemId,omitempty"`
	ServiceChannelID        *string `json:"serviceChannelId,omitempty"`
}

// PSRView is a PendingServiceRouting as the native API shows it: the
// record (Salesforce field names) plus ExcludedUserIds, the agents that
// declined it or let its push time out (AssignWork refuses them with
// NOT_ELIGIBLE), read from the engine's request. Partners use it to map
// LastDeclinedAgentSession onto agents without knowing desk sessions.
type PSRView struct {
	PendingServiceRouting
	ExcludedUserIDs []string `json:"ExcludedUserIds"`
}

func writeV1Err(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errcode.Body{Error: errcode.Detail{Code: code, Message: msg}})
}

func writeV1(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// NativeHandler serves the native external routing routes, mounted by the
// server next to restapi (patterns "/v1/agent-work", "/v1/agent-work/",
// "/v1/pending-service-routing", "/v1/pending-service-routing/"):
//
//	POST /v1/agent-work                     AgentWorkBody -> 201 AgentWork (Location /v1/agent-work/{id})
//	GET  /v1/agent-work/{id}                -> 200 AgentWork
//	GET  /v1/pending-service-routing/{id}   -> 200 PSRView
//	GET  /v1/pending-service-routing        -> 200 {"items":[PSRView...]} open PSRs a partner routes, oldest first
//
// Records use Salesforce's field names (AgentWork, PendingServiceRouting).
// Authentication: "Authorization: Bearer <token>" with a partner token or
// a token admin accepts (an admin token of the server; nil admin: partner
// tokens only). Errors are {"error":{"code","message"}}: 401 UNAUTHORIZED,
// 404 NOT_FOUND (no such route or record) or REQUEST_NOT_FOUND (the PSR of
// a create is not open) or AGENT_NOT_FOUND, 405 METHOD_NOT_ALLOWED (with
// Allow), 400 INVALID_JSON / INVALID_ARGUMENT (missing field, mismatching
// workItemId or serviceChannelId), 413 BODY_TOO_LARGE (over MaxBodyBytes),
// 409 NOT_ELIGIBLE / INVALID_TRANSITION / ALREADY_EXISTS, 503 UNAVAILABLE.
type route struct {
	pattern string
	h       http.HandlerFunc
}

func (a *Adapter) nativeRoutes() []route {
	return []route{
		{"POST /v1/agent-work", a.v1CreateWork},
		{"GET /v1/agent-work/{id}", a.v1GetWork},
		{"GET /v1/pending-service-routing/{id}", a.v1GetPSR},
		{"GET /v1/pending-service-routing", a.v1ListPSRs},
	}
}

// salesforceRoutes are the Salesforce-style routes Handler serves (matched
// by restPath and cometdPath, so listed by hand: keep in step with them).
var salesforceRoutes = []string{
	"POST /cometd/{version}",
	"POST /services/data/v{version}/sobjects/AgentWork",
	"GET /services/data/v{version}/sobjects/AgentWork/{id}",
	"GET /services/data/v{version}/sobjects/PendingServiceRouting/{id}",
}

// Routes lists the "METHOD /path" patterns Handler and NativeHandler serve
// (the OpenAPI document must describe each; server tests check it).
func (a *Adapter) Routes() []string {
	out := append([]string(nil), salesforceRoutes...)
	for _, rt := range a.nativeRoutes() {
		out = append(out, rt.pattern)
	}
	return out
}

func (a *Adapter) NativeHandler(admin func(token string) bool) http.Handler {
	mux := http.NewServeMux()
	for _, rt := range a.nativeRoutes() {
		mux.HandleFunc(rt.pattern, rt.h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.v1Authorized(r, admin) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="omniroute"`)
			writeV1Err(w, http.StatusUnauthorized, errcode.Unauthorized, "a partner or admin bearer token is required")
			return
		}
		h, pattern := mux.Handler(r)
		if pattern == "" {
			rec := &statusOnly{header: http.Header{}}
			h.ServeHTTP(rec, r)
			if rec.status == http.StatusMethodNotAllowed {
				w.Header().Set("Allow", rec.header.Get("Allow"))
				writeV1Err(w, http.StatusMethodNotAllowed, errcode.MethodNotAllowed,
					r.Method+" is not allowed on "+r.URL.Path+" (allowed: "+rec.header.Get("Allow")+")")
				return
			}
			writeV1Err(w, http.StatusNotFound, errcode.NotFound, "no route "+r.Method+" "+r.URL.Path)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// statusOnly records the ServeMux's own 404/405 answer (status, Allow).
type statusOnly struct {
	header http.Header
	status int
}

func (s *statusOnly) Header() http.Header         { return s.header }
func (s *statusOnly) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusOnly) WriteHeader(code int)        { s.status = code }

func (a *Adapter) v1Authorized(r *http.Request, admin func(string) bool) bool {
	if a.partner(r) != "" {
		return true
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || admin == nil {
		return false
	}
	tok = strings.TrimSpace(tok)
	return tok != "" && admin(tok)
}

func (a *Adapter) v1CreateWork(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		writeV1Err(w, http.StatusBadRequest, errcode.InvalidJSON, "cannot read the request body")
		return
	}
	if len(body) > MaxBodyBytes {
		writeV1Err(w, http.StatusRequestEntityTooLarge, errcode.BodyTooLarge, "request body over 65536 bytes")
		return
	}
	var b AgentWorkBody
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		writeV1Err(w, http.StatusBadRequest, errcode.InvalidJSON, "body: "+trunc(err.Error()))
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		writeV1Err(w, http.StatusBadRequest, errcode.InvalidJSON, "body: trailing data after the JSON object")
		return
	}
	var missing []string
	if b.PendingServiceRoutingID == "" {
		missing = append(missing, "pendingServiceRoutingId")
	}
	if b.UserID == "" {
		missing = append(missing, "userId")
	}
	if missing != nil {
		writeV1Err(w, http.StatusBadRequest, routing.CodeInvalidArgument, "required: "+strings.Join(missing, ", "))
		return
	}
	aw, err := a.assign(r.Context(), b.PendingServiceRoutingID, b.UserID, b.WorkItemID, b.ServiceChannelID)
	var rerr *routing.Error
	var mismatch *fieldMismatch
	switch {
	case errors.Is(err, errNoPSR):
		writeV1Err(w, http.StatusNotFound, routing.CodeRequestNotFound,
			"no open pending service routing "+trunc(b.PendingServiceRoutingID))
	case errors.As(err, &mismatch):
		f := map[string]string{"WorkItemId": "workItemId", "ServiceChannelId": "serviceChannelId"}[mismatch.field]
		writeV1Err(w, http.StatusBadRequest, routing.CodeInvalidArgument, f+" does not match the pending service routing's")
	case errors.As(err, &rerr):
		writeV1Err(w, errcode.V1Status(rerr.Code), rerr.Code, rerr.Message)
	case errors.Is(err, node.ErrClosed), errors.Is(err, node.ErrJournal):
		writeV1Err(w, http.StatusServiceUnavailable, errcode.Unavailable, "the routing node is not running; nothing was changed")
	case err != nil:
		writeV1Err(w, http.StatusServiceUnavailable, errcode.Unavailable, "the routing node did not answer in time; the change may still be applied")
	default:
		w.Header().Set("Location", "/v1/agent-work/"+aw.ID)
		writeV1(w, http.StatusCreated, aw)
	}
}

func (a *Adapter) v1GetWork(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a.mu.Lock()
	var aw *AgentWork
	if p := a.works[id]; p != nil {
		cp := *p
		aw = &cp
	}
	a.mu.Unlock()
	if aw == nil {
		writeV1Err(w, http.StatusNotFound, errcode.NotFound, "agent work "+trunc(id)+" does not exist or was forgotten")
		return
	}
	writeV1(w, http.StatusOK, aw)
}

// views returns the PSRs ids (nil: every open one a partner routes) with
// their exclusions from the engine, oldest first.
func (a *Adapter) views(r *http.Request, ids []string) ([]PSRView, error) {
	a.mu.Lock()
	var out []PSRView
	if ids == nil {
		for id, p := range a.psrs {
			if !a.hidden[id] {
				out = append(out, PSRView{PendingServiceRouting: *p})
			}
		}
	} else {
		for _, id := range ids {
			if p := a.psrs[id]; p != nil {
				out = append(out, PSRView{PendingServiceRouting: *p})
			}
		}
	}
	a.mu.Unlock()
	err := a.n.View(r.Context(), func(s routing.View) {
		for i := range out {
			if req, ok := s.Request(out[i].request); ok {
				out[i].ExcludedUserIDs = slices.Clone(req.Excluded)
			}
		}
	})
	for i := range out {
		if out[i].ExcludedUserIDs == nil {
			out[i].ExcludedUserIDs = []string{}
		}
	}
	slices.SortFunc(out, func(x, y PSRView) int {
		if c := time.Time(x.CreatedDate).Compare(time.Time(y.CreatedDate)); c != 0 {
			return c
		}
		if c := cmp.Compare(x.Serial, y.Serial); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	return out, err
}

func (a *Adapter) v1GetPSR(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	v, err := a.views(r, []string{id})
	switch {
	case err != nil:
		writeV1Err(w, http.StatusServiceUnavailable, errcode.Unavailable, "the routing node did not answer")
	case len(v) == 0:
		writeV1Err(w, http.StatusNotFound, errcode.NotFound, "pending service routing "+trunc(id)+" does not exist or has ended")
	default:
		writeV1(w, http.StatusOK, v[0])
	}
}

func (a *Adapter) v1ListPSRs(w http.ResponseWriter, r *http.Request) {
	v, err := a.views(r, nil)
	if err != nil {
		writeV1Err(w, http.StatusServiceUnavailable, errcode.Unavailable, "the routing node did not answer")
		return
	}
	if v == nil {
		v = []PSRView{}
	}
	writeV1(w, http.StatusOK, struct {
		Items []PSRView `json:"items"`
	}{v})
}
