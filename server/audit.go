package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/omniroute/omniroute/audit"
	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/restapi"
)

// auditedRoutes are the changes the audit stream records when they
// succeed (2xx): definitions upserted through REST, agent tokens minted or
// revoked, an agent's state set by someone else (an admin through REST, a
// supervisor or admin through the wallboard), presence-sync partner
// mappings and GMS service definitions.
var auditedRoutes = []string{
	"PUT /v1/mrds/{id}",
	"PUT /v1/queues/{id}",
	"PUT /v1/agents/{id}",
	"PUT /v1/reason-codes/{id}",
	"POST /v1/agents/{id}/token",
	"POST /v1/agents/{id}/revoke-tokens",
	"PUT /v1/agents/{id}/state",
	"PUT /ui/api/agents/{id}/state",
	"PUT /v1/presence-sync/partners/{id}",
	"PUT /genesys/1/admin/services/{name}",
	"DELETE /genesys/1/admin/services/{name}",
}

// auditHandler records the audited routes' successful changes in s.audit
// before their answer goes out (durable before acknowledged): the entry is
// appended when the handler writes a 2xx status. An agent setting its own
// state is not a forced change and is not recorded.
func (s *Server) auditHandler(next http.Handler) http.Handler {
	match := http.NewServeMux()
	for _, p := range auditedRoutes {
		match.Handle(p, http.NotFoundHandler())
	}
	// Every other request matches the catch-all: a mux that finds no
	// pattern works out which methods the path would allow (a map, a
	// sort: 19 allocations instead of 7 for POST /v1/conversations).
	const unaudited = "/"
	match.Handle(unaudited, http.NotFoundHandler())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := match.Handler(r)
		if pattern == "" || pattern == unaudited {
			next.ServeHTTP(w, r)
			return
		}
		actor := s.auditActor(r)
		if actor == "" { // unauthenticated: the route refuses it
			next.ServeHTTP(w, r)
			return
		}
		if pattern == "PUT /v1/agents/{id}/state" &&
			actor == strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/agents/"), "/state") {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, restapi.MaxBodyBytes+1))
		if err != nil {
			http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		target := r.URL.Path
		aw := &auditWriter{ResponseWriter: w, record: func(status int) {
			e := audit.Entry{Time: time.Now().UTC(), Actor: actor, Action: pattern, Target: target,
				Status: status, Detail: audit.DetailOf(body)}
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
			defer cancel()
			if _, err := s.audit.Append(ctx, e); err != nil {
				s.log.Error("audit: entry not stored", "action", pattern, "target", target, "actor", actor, "err", err)
			}
		}}
		next.ServeHTTP(aw, r)
	})
}

// auditActor names the bearer of r: "admin" (or "admin:<agent>" for an
// OpenID admin naming an agent), the agent id of an agent or supervisor
// token, "" when there is no valid token.
func (s *Server) auditActor(r *http.Request) string {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	p, err := s.auth.Verify(strings.TrimSpace(tok))
	if err != nil {
		return ""
	}
	if p.Kind == auth.Admin {
		if p.AgentID != "" {
			return "admin:" + p.AgentID
		}
		return "admin"
	}
	return p.AgentID
}

// auditWriter calls record once, when a 2xx status is about to be sent.
type auditWriter struct {
	http.ResponseWriter
	record func(status int)
	done   bool
}

func (a *auditWriter) WriteHeader(status int) {
	if !a.done {
		a.done = true
		if status >= 200 && status < 300 {
			a.record(status)
		}
	}
	a.ResponseWriter.WriteHeader(status)
}

func (a *auditWriter) Write(b []byte) (int, error) {
	if !a.done {
		a.WriteHeader(http.StatusOK)
	}
	return a.ResponseWriter.Write(b)
}

// auditPage serves GET /v1/audit?after=SEQ&limit=N to admins:
// {"entries":[audit.Entry...],"next":SEQ} (next 0 on the last page);
// 401 UNAUTHORIZED without a valid token, 403 FORBIDDEN for any other
// token, 400 INVALID_ARGUMENT for a bad after or limit.
func (s *Server) auditPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail := func(status int, code, msg string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(restapi.ErrorBody{Error: restapi.ErrorDetail{Code: code, Message: msg}})
		}
		actor := s.auditActor(r)
		switch {
		case actor == "":
			fail(http.StatusUnauthorized, restapi.CodeUnauthorized, "an admin bearer token is required")
			return
		case actor != "admin" && !strings.HasPrefix(actor, "admin:"):
			fail(http.StatusForbidden, restapi.CodeForbidden, "the audit stream is for admins")
			return
		}
		var after uint64
		limit := audit.DefaultPage
		var err error
		if v := r.URL.Query().Get("after"); v != "" {
			if after, err = strconv.ParseUint(v, 10, 64); err != nil {
				fail(http.StatusBadRequest, "INVALID_ARGUMENT", "after must be an entry's seq")
				return
			}
		}
		if v := r.URL.Query().Get("limit"); v != "" {
			if limit, err = strconv.Atoi(v); err != nil || limit < 1 {
				fail(http.StatusBadRequest, "INVALID_ARGUMENT", "limit must be a positive number")
				return
			}
		}
		entries, next, err := s.audit.List(r.Context(), after, limit)
		if err != nil {
			fail(http.StatusServiceUnavailable, restapi.CodeUnavailable, err.Error())
			return
		}
		if entries == nil {
			entries = []audit.Entry{}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"entries": entries, "next": next})
	})
}
