package restapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/routing"
)

// LoginBody is POST /agent-manager/agent/login (ExpertFlow Agent Manager
// 4.9 login, seed 004 / PROTOCOLS.md): {"username","password"}. Unknown
// fields are ignored here, unlike in /v1, because real desks may send more.
type LoginBody struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// LoginResponse is the ExpertFlow login answer. Success (200):
//
//	{"statusCode":200,"data":{"token":"...","refresh_token":"...","agentId":"alice",
//	 "keycloak_User":{"id":"alice","username":"alice","name":"Alice Adams","roles":["agent"]}}}
//
// Failure: {"statusCode":401,"error":{"code":"UNAUTHORIZED","message":"..."}}
// (and 400, 413, 415, 429 likewise, with the HTTP status equal to statusCode).
type LoginResponse struct {
	StatusCode int          `json:"statusCode"`
	Data       *LoginData   `json:"data,omitempty"`
	Error      *ErrorDetail `json:"error,omitempty"`
}

// LoginData is the token and the user. RefreshToken equals Token: omniroute
// has no refresh flow yet (a desk logs in again when the token expires), and
// ExpertFlow clients expect the field.
type LoginData struct {
	Token        string       `json:"token"`
	RefreshToken string       `json:"refresh_token"`
	AgentID      string       `json:"agentId"`
	KeycloakUser KeycloakUser `json:"keycloak_User"`
}

// KeycloakUser is the user as ExpertFlow desks expect it from Keycloak: id
// is the agent id; roles are ["agent"], or ["agent","supervisor"] for a
// supervisor.
type KeycloakUser struct {
	ID       string   `json:"id"`
	Username string   `json:"username"`
	Name     string   `json:"name"`
	Roles    []string `json:"roles"`
}

// login checks the credentials (auth.Login, at most MaxConcurrentLogins at
// once) and answers in the ExpertFlow shape, errors included.
func (s *api) login(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	fail := func(err error) error {
		status, code, msg := s.classify(err)
		if status >= 500 {
			s.log.Error("restapi: login failed", "status", status, "err", err)
		}
		writeJSON(w, status, LoginResponse{StatusCode: status, Error: &ErrorDetail{Code: code, Message: msg}})
		return nil
	}
	var b LoginBody
	if err := decodeBody(w, r, MaxBodyBytes, &b, true); err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	select {
	case s.logins <- struct{}{}:
	case <-ctx.Done():
		w.Header().Set("Retry-After", "1")
		return fail(errorf(http.StatusTooManyRequests, CodeTooManyRequests, "too many logins at once; retry"))
	}
	token, agentID, err := s.auth.Login(b.Username, b.Password)
	<-s.logins
	if errors.Is(err, auth.ErrUnauthorized) {
		return fail(errorf(http.StatusUnauthorized, CodeUnauthorized, "invalid username or password"))
	}
	if err != nil {
		return fail(err)
	}
	user := KeycloakUser{ID: agentID, Username: b.Username, Name: b.Username, Roles: []string{"agent"}}
	// The name and role are a courtesy for the desk: when the node cannot
	// answer quickly the login still succeeds with the username as name.
	vctx, vcancel := context.WithTimeout(r.Context(), time.Second)
	defer vcancel()
	// On a View error fn may still run later, so it fills its own variables,
	// read only after a successful View.
	var agent routing.AgentStatus
	var found bool
	if s.node.View(vctx, func(st *routing.State) { agent, found = st.Agent(agentID) }) == nil && found {
		user.Name = agent.Agent.Name
		if agent.Agent.Role == routing.RoleSupervisor {
			user.Roles = append(user.Roles, "supervisor")
		}
	}
	writeJSON(w, http.StatusOK, LoginResponse{StatusCode: http.StatusOK,
		Data: &LoginData{Token: token, RefreshToken: token, AgentID: agentID, KeycloakUser: user}})
	return nil
}

// TokenResponse is the answer of POST /v1/agents/{id}/token: an agent token
// minted by an administrator, for agents without a password login (agents
// created over this API, the live replay's agents). ExpiresAt is RFC 3339.
type TokenResponse struct {
	Token     string    `json:"token"`
	AgentID   string    `json:"agentId"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// issueToken mints a token for an existing agent (admin only). Errors: 404
// AGENT_NOT_FOUND.
func (s *api) issueToken(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	var found bool
	if err := s.node.View(ctx, func(st *routing.State) { _, found = st.Agent(id) }); err != nil {
		return err
	}
	if !found {
		return &routing.Error{Code: routing.CodeAgentNotFound, Message: "agent " + strconv.Quote(id) + " does not exist"}
	}
	writeJSON(w, http.StatusOK, TokenResponse{Token: s.auth.Issue(id, 0), AgentID: id, ExpiresAt: s.now().Add(s.auth.TokenTTL()).UTC()})
	return nil
}
