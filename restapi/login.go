package restapi

import (
	"context"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/guard"
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
//	 "keycloak_User":{"id":"alice","username":"alice","name":"Alice Adams","roles":["agent"],
//	                  "token":"..."}}}
//
// Failure: {"statusCode":401,"error":{"code":"UNAUTHORIZED","message":"..."}}
// (and 400, 413, 415, 429, and 503 IDENTITY_PROVIDER_UNAVAILABLE when an
// OpenID issuer taking passwords cannot be asked, likewise, with the HTTP
// status equal to statusCode).
type LoginResponse struct {
	StatusCode int          `json:"statusCode"`
	Data       *LoginData   `json:"data,omitempty"`
	Error      *ErrorDetail `json:"error,omitempty"`
}

// LoginData is the token and the user. Token is short-lived (auth
// tokenTtlSeconds); RefreshToken (refreshTtlSeconds) gets a new pair from
// POST /agent-manager/agent/refresh and is never a bearer token. For a
// login passed to an OpenID issuer (auth.oidc[].passwordGrant) Token is the
// issuer's token (its lifetime is the issuer's) and RefreshToken, when the
// issuer gave one, is the issuer's ("oidc~"..., auth.IssuerLogin), which
// the refresh route passes back to it.
type LoginData struct {
	Token        string       `json:"token"`
	RefreshToken string       `json:"refresh_token,omitempty"`
	AgentID      string       `json:"agentId"`
	KeycloakUser KeycloakUser `json:"keycloak_User"`
}

// KeycloakUser is the user as ExpertFlow desks expect it from Keycloak: id
// is the agent id; roles are ["agent"], or ["agent","supervisor"] for a
// supervisor (and "admin" for an OpenID admin by role). Token is the login's token again: seed 004 connects with
// io(origin, {path, auth: {agent: keycloak_User, fcm: ""}}) and nothing
// else, so the user object must carry what the Socket.IO handshake checks
// (agentdesk reads auth.agent.token).
type KeycloakUser struct {
	ID       string   `json:"id"`
	Username string   `json:"username"`
	Name     string   `json:"name"`
	Roles    []string `json:"roles"`
	Token    string   `json:"token"`
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
	// Backoff before bcrypt: a guessing client costs a map lookup, not a
	// core (docs/SECURITY.md "Limits").
	userKey, addrKey := "user:"+b.Username, "addr:"+guard.PeerAddr(r).String()
	if wait := max(s.loginBackoff.Wait(userKey), s.addrBackoff.Wait(addrKey)); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		return fail(errorf(http.StatusTooManyRequests, CodeTooManyRequests, "too many failed logins; retry in %s", wait.Round(time.Second)))
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	if s.auth.PasswordGrant() && !s.auth.HasLocalUser(b.Username) {
		return s.issuerLogin(ctx, w, r, b, userKey, addrKey, fail)
	}
	select {
	case s.logins <- struct{}{}:
	case <-ctx.Done():
		w.Header().Set("Retry-After", "1")
		return fail(errorf(http.StatusTooManyRequests, CodeTooManyRequests, "too many logins at once; retry"))
	}
	token, refresh, agentID, err := s.auth.LoginRefresh(b.Username, b.Password)
	<-s.logins
	if errors.Is(err, auth.ErrUnauthorized) {
		s.loginBackoff.Fail(userKey)
		s.addrBackoff.Fail(addrKey)
		return fail(errorf(http.StatusUnauthorized, CodeUnauthorized, "invalid username or password"))
	}
	if err != nil {
		return fail(err)
	}
	s.loginBackoff.Succeed(userKey)
	s.loginAnswer(w, r, token, refresh, agentID, b.Username)
	return nil
}

// issuerLogin passes a username that is not a local login, and its
// password, to the OpenID issuers that allow it (auth.PasswordLogin) and
// answers as for a local user, the token being the issuer's (verified as a
// bearer token; its refresh_token, when the issuer gave one, goes back to
// that issuer through POST /agent-manager/agent/refresh). A wrong password is the local login's 401 and counts for
// the backoff; an issuer that cannot be asked is 503
// IDENTITY_PROVIDER_UNAVAILABLE and does not count.
func (s *api) issuerLogin(ctx context.Context, w http.ResponseWriter, r *http.Request, b LoginBody, userKey, addrKey string, fail func(error) error) error {
	select {
	case s.issuerLogins <- struct{}{}:
	case <-ctx.Done():
		w.Header().Set("Retry-After", "1")
		return fail(errorf(http.StatusTooManyRequests, CodeTooManyRequests, "too many logins at once; retry"))
	}
	l, err := s.auth.PasswordLogin(ctx, b.Username, b.Password)
	<-s.issuerLogins
	switch {
	case errors.Is(err, auth.ErrUnauthorized):
		s.loginBackoff.Fail(userKey)
		s.addrBackoff.Fail(addrKey)
		return fail(errorf(http.StatusUnauthorized, CodeUnauthorized, "invalid username or password"))
	case err != nil:
		return fail(issuerError(w, err))
	}
	s.loginBackoff.Succeed(userKey)
	s.issuerAnswer(w, r, l, b.Username)
	return nil
}

// issuerError maps an issuer login's error other than ErrUnauthorized.
func issuerError(w http.ResponseWriter, err error) error {
	if errors.Is(err, auth.ErrIssuerUnavailable) {
		w.Header().Set("Retry-After", "5")
		return errorf(http.StatusServiceUnavailable, CodeIdentityProviderUnavailable,
			"the identity provider could not be reached; nothing was checked, try again")
	}
	return err
}

// issuerAnswer writes the login answer of a login passed to an issuer.
func (s *api) issuerAnswer(w http.ResponseWriter, r *http.Request, l auth.IssuerLogin, username string) {
	var extra []string
	if l.Principal.Supervisor {
		extra = append(extra, "supervisor")
	}
	if l.Principal.Kind == auth.Admin {
		extra = append(extra, "admin")
	}
	s.loginAnswer(w, r, l.Token, l.Refresh, l.Principal.AgentID, username, extra...)
}

// RefreshBody is POST /agent-manager/agent/refresh: {"refresh_token"},
// the login's refresh_token.
type RefreshBody struct {
	RefreshToken string `json:"refresh_token"`
}

// refresh exchanges a refresh token for a new token pair, answered as the
// login is; the refresh token of a login passed to an OpenID issuer goes to
// that issuer (refresh_token grant). Errors: 401 UNAUTHORIZED for an
// invalid, expired or revoked refresh token (an access token is not one),
// 503 IDENTITY_PROVIDER_UNAVAILABLE when the issuer cannot be asked.
func (s *api) refresh(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	var b RefreshBody
	if err := decodeBody(w, r, MaxBodyBytes, &b, true); err != nil {
		status, code, msg := s.classify(err)
		writeJSON(w, status, LoginResponse{StatusCode: status, Error: &ErrorDetail{Code: code, Message: msg}})
		return nil
	}
	if auth.IsIssuerRefresh(b.RefreshToken) {
		ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
		defer cancel()
		l, err := s.auth.RefreshIssuer(ctx, b.RefreshToken)
		if err != nil && !errors.Is(err, auth.ErrUnauthorized) {
			status, code, msg := s.classify(issuerError(w, err))
			writeJSON(w, status, LoginResponse{StatusCode: status, Error: &ErrorDetail{Code: code, Message: msg}})
			return nil
		}
		if err == nil {
			s.issuerAnswer(w, r, l, l.Principal.AgentID)
			return nil
		}
	}
	token, refresh, agentID, err := s.auth.Refresh(b.RefreshToken)
	if err != nil {
		writeJSON(w, http.StatusUnauthorized, LoginResponse{StatusCode: http.StatusUnauthorized,
			Error: &ErrorDetail{Code: CodeUnauthorized, Message: "invalid, expired or revoked refresh token"}})
		return nil
	}
	s.loginAnswer(w, r, token, refresh, agentID, agentID)
	return nil
}

// revokeTokens ends every token of an agent issued until now (admin only;
// also done when the agent goes LOGOUT). 204.
func (s *api) revokeTokens(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	if err := s.auth.Revoke(r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// loginAnswer writes the ExpertFlow login answer for agentID; roles are
// added to the user's ("agent", and "supervisor" for a supervisor of the
// routing state).
func (s *api) loginAnswer(w http.ResponseWriter, r *http.Request, token, refresh, agentID, username string, roles ...string) {
	user := KeycloakUser{ID: agentID, Username: username, Name: username, Roles: []string{"agent"}, Token: token}
	// The name and role are a courtesy for the desk: when the node cannot
	// answer quickly the login still succeeds with the username as name.
	vctx, vcancel := context.WithTimeout(r.Context(), time.Second)
	defer vcancel()
	// On a View error fn may still run later, so it fills its own variables,
	// read only after a successful View.
	var agent routing.AgentStatus
	var found bool
	if s.node.View(vctx, func(st routing.View) { agent, found = st.Agent(agentID) }) == nil && found {
		user.Name = agent.Agent.Name
		if agent.Agent.Role == routing.RoleSupervisor {
			user.Roles = append(user.Roles, "supervisor")
		}
	}
	for _, role := range roles {
		if !slices.Contains(user.Roles, role) {
			user.Roles = append(user.Roles, role)
		}
	}
	writeJSON(w, http.StatusOK, LoginResponse{StatusCode: http.StatusOK,
		Data: &LoginData{Token: token, RefreshToken: refresh, AgentID: agentID, KeycloakUser: user}})
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
	if err := s.node.View(ctx, func(st routing.View) { _, found = st.Agent(id) }); err != nil {
		return err
	}
	if !found {
		return &routing.Error{Code: routing.CodeAgentNotFound, Message: "agent " + strconv.Quote(id) + " does not exist"}
	}
	writeJSON(w, http.StatusOK, TokenResponse{Token: s.auth.Issue(id, 0), AgentID: id, ExpiresAt: s.wall().Add(s.auth.TokenTTL()).UTC()})
	return nil
}

// MeResponse is GET /v1/me: who the bearer token stands for, as omniroute
// understood it (kind "admin" or "agent", the agent id, the OpenID issuer
// and its roles, supervisor when the issuer's roles say so, and when the
// token expires, RFC 3339, absent for configured admin tokens).
type MeResponse struct {
	Kind       auth.Kind  `json:"kind"`
	AgentID    string     `json:"agentId,omitempty"`
	Issuer     string     `json:"issuer,omitempty"`
	Roles      []string   `json:"roles,omitempty"`
	Supervisor bool       `json:"supervisor,omitempty"`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
}

// me answers who the caller is; a web page uses it after the OpenID login.
func (s *api) me(w http.ResponseWriter, _ *http.Request, p auth.Principal) error {
	m := MeResponse{Kind: p.Kind, AgentID: p.AgentID, Issuer: p.Issuer, Roles: p.Roles, Supervisor: p.Supervisor}
	if !p.Expiry.IsZero() {
		e := p.Expiry.UTC()
		m.ExpiresAt = &e
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}
