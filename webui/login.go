package webui

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/errcode"
)

// CallbackPath is where the browser login's provider sends the user back
// (the redirect URI is the page's origin + CallbackPath, to be registered
// for the client at the provider).
const CallbackPath = "/ui/oidc/callback"

// MaxConcurrentCodeLogins bounds code exchanges running at once (each a
// request to a provider's token endpoint, so the route cannot be used to
// flood it); the others wait up to their request's end, then get 429.
const MaxConcurrentCodeLogins = 16

// loginOptions is GET /ui/api/login-options: the issuers the login form
// offers (auth.Authenticator.BrowserLogins), for anyone (it is what the
// login form shows before a sign-in).
//
//	200 {"issuers": [{"issuer", "name", "authorizationEndpoint", "clientId", "scopes": [..]}]}
//	    (an empty list when none has browserLogin, or none is reachable)
func (u *UI) loginOptions(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, struct {
		Issuers []auth.BrowserLogin `json:"issuers"`
	}{u.auth.BrowserLogins(r.Context())})
	return nil
}

// codeRequest is the body of POST /ui/api/oidc/token.
type codeRequest struct {
	Issuer       string `json:"issuer"`
	Code         string `json:"code"`
	CodeVerifier string `json:"code_verifier"`
	RedirectURI  string `json:"redirect_uri"`
}

// decodeCodeRequest reads and checks a codeRequest: every field set, the
// redirect URI an absolute http(s) URL whose path is CallbackPath.
// Errors (apiError): 413 BODY_TOO_LARGE, 400 INVALID_JSON, 400
// MISSING_FIELD, 400 INVALID_FIELD.
func decodeCodeRequest(w http.ResponseWriter, r *http.Request) (codeRequest, error) {
	var b codeRequest
	if err := decodeJSON(w, r, &b); err != nil {
		return b, err
	}
	if b.Issuer == "" || b.Code == "" || b.CodeVerifier == "" || b.RedirectURI == "" {
		return b, apiErr(http.StatusBadRequest, errcode.MissingField, "issuer, code, code_verifier and redirect_uri are required")
	}
	if u, err := url.Parse(b.RedirectURI); err != nil || u.EscapedPath() != CallbackPath || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return b, apiErr(http.StatusBadRequest, errcode.InvalidField, "redirect_uri must be <origin>%s", CallbackPath)
	}
	return b, nil
}

// oidcToken is POST /ui/api/oidc/token: the browser login's callback page
// hands the authorization code, its PKCE code verifier and the redirect
// URI; omniroute exchanges them at the issuer's token endpoint and
// verifies the token it gets exactly as a bearer token
// (auth.Authenticator.CodeLogin). No token is needed to call it.
//
//	{"issuer", "code", "code_verifier", "redirect_uri"}
//	-> 200 {"token", "agent"}: the bearer token (the ID token, else a JWT
//	   access token) and the agent it maps to
//	   400 INVALID_JSON, MISSING_FIELD, INVALID_FIELD; 413 BODY_TOO_LARGE
//	   401 UNAUTHORIZED: not an issuer with browserLogin, the provider
//	       refused the code (wrong, used, expired; another verifier or
//	       redirect URI), the token does not verify or maps to no agent
//	   429 TOO_MANY_REQUESTS: MaxConcurrentCodeLogins exchanges running
//	   503 IDENTITY_PROVIDER_UNAVAILABLE (Retry-After: 5): the provider
//	       did not answer or refused the client
func (u *UI) oidcToken(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeCodeRequest(w, r)
	if err != nil {
		return err
	}
	select {
	case u.codeLogins <- struct{}{}:
	case <-r.Context().Done():
		w.Header().Set("Retry-After", "1")
		return apiErr(http.StatusTooManyRequests, errcode.TooManyRequests, "too many sign-ins at once; retry")
	}
	token, p, err := u.auth.CodeLogin(r.Context(), b.Issuer, b.Code, b.CodeVerifier, b.RedirectURI)
	<-u.codeLogins
	switch {
	case errors.Is(err, auth.ErrInvalidCodeRequest):
		return apiErr(http.StatusBadRequest, errcode.InvalidField, "%v", err)
	case errors.Is(err, auth.ErrIssuerUnavailable):
		w.Header().Set("Retry-After", "5")
		return apiErr(http.StatusServiceUnavailable, errcode.IdentityProviderUnavailable,
			"the identity provider could not be reached; nothing was checked, try again")
	case errors.Is(err, auth.ErrUnauthorized):
		u.o.Logger.Info("webui: browser sign-in refused", "issuer", b.Issuer, "err", err)
		return apiErr(http.StatusUnauthorized, errcode.Unauthorized, "sign-in refused: the code was not accepted (used, expired, not issued for this sign-in) or its token does not verify or maps to no agent")
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Token string `json:"token"`
		Agent string `json:"agent"`
	}{token, p.AgentID})
	return nil
}
