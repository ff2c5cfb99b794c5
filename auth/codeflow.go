package auth

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"golang.org/x/oauth2"
)

// BrowserLogin is what a web page needs to start the authorization code
// flow with PKCE at one issuer (Issuer.BrowserLogin): the page sends the
// user to AuthorizationEndpoint with response_type=code, ClientID, its
// redirect URI, Scopes (space-separated), an S256 code challenge and a
// state, then hands the code to CodeLogin.
type BrowserLogin struct {
	// Issuer is the issuer URL (Issuer.URL), which names it to CodeLogin.
	Issuer string `json:"issuer"`
	// Name is the issuer's name on the login form (Issuer.Name, default
	// the URL's host).
	Name string `json:"name"`
	// AuthorizationEndpoint is the discovery document's
	// authorization_endpoint.
	AuthorizationEndpoint string   `json:"authorizationEndpoint"`
	ClientID              string   `json:"clientId"`
	Scopes                []string `json:"scopes"`
}

// ErrInvalidCodeRequest is CodeLogin's error for a request malformed
// before any issuer is asked: an empty or oversized code, a code verifier
// that is not RFC 7636's (43 to 128 characters of A-Z a-z 0-9 - . _ ~), a
// redirect URI that is not an absolute http(s) URL.
var ErrInvalidCodeRequest = errors.New("auth: invalid authorization code request")

// Limits of CodeLogin's input.
const (
	// MaxAuthCodeBytes bounds an authorization code.
	MaxAuthCodeBytes = 4 << 10
	// MaxRedirectURIBytes bounds a redirect URI.
	MaxRedirectURIBytes = 2 << 10
)

// BrowserLogins lists the issuers offered on the web pages
// (Issuer.BrowserLogin), in configuration order, discovering each when
// needed; an issuer whose discovery fails (or names no authorization
// endpoint) is left out, so a provider that is down hides its button.
func (a *Authenticator) BrowserLogins(ctx context.Context) []BrowserLogin {
	out := []BrowserLogin{}
	for _, oi := range a.browserIssuers {
		if _, err := oi.verifierFor(ctx); err != nil {
			continue
		}
		oi.mu.Lock()
		authURL := oi.authURL
		oi.mu.Unlock()
		if authURL == "" {
			continue
		}
		name := oi.cfg.Name
		if name == "" {
			if u, err := url.Parse(oi.cfg.URL); err == nil {
				name = u.Host
			}
		}
		out = append(out, BrowserLogin{Issuer: oi.cfg.URL, Name: name, AuthorizationEndpoint: authURL,
			ClientID: oi.cfg.ClientID, Scopes: oi.cfg.Scopes})
	}
	return out
}

// CodeLogin exchanges an authorization code of the browser login at the
// token endpoint of issuer (one with Issuer.BrowserLogin) with its PKCE
// code verifier and the redirect URI the code was issued for (RFC 6749
// 4.1.3, RFC 7636 4.5; golang.org/x/oauth2 Config.Exchange with
// VerifierOption), and verifies the token it returns exactly as a bearer
// token (VerifyContext; the provider's refresh token, if any, is
// dropped). It returns that token (the ID token when the
// answer has one that verifies, else the access token) and its principal.
// Errors: ErrInvalidCodeRequest (malformed input, nothing sent),
// ErrUnauthorized (an issuer not offered for browser logins; the provider
// said invalid_grant: a wrong, used or expired code, a verifier that does
// not match the challenge, another redirect URI; or the token does not
// verify or maps to no agent), ErrIssuerUnavailable (discovery or the
// token endpoint did not answer, or the provider refused the client).
func (a *Authenticator) CodeLogin(ctx context.Context, issuer, code, verifier, redirectURI string) (string, Principal, error) {
	if err := checkCodeRequest(code, verifier, redirectURI); err != nil {
		return "", Principal{}, err
	}
	var oi *oidcIssuer
	for _, b := range a.browserIssuers {
		if b.cfg.URL == issuer {
			oi = b
		}
	}
	if oi == nil {
		return "", Principal{}, fmt.Errorf("%w: %q is not an issuer with browserLogin", ErrUnauthorized, issuer)
	}
	l, err := oi.grant(ctx, func(cfg *oauth2.Config, ctx context.Context) (*oauth2.Token, error) {
		cfg.RedirectURL = redirectURI
		return cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	})
	if err != nil {
		return "", Principal{}, err
	}
	// A refresh token the provider may have given stays here: the pages do
	// not refresh, they sign in again.
	return l.Token, l.Principal, nil
}

// checkCodeRequest is CodeLogin's input check (ErrInvalidCodeRequest).
func checkCodeRequest(code, verifier, redirectURI string) error {
	if code == "" || len(code) > MaxAuthCodeBytes {
		return fmt.Errorf("%w: the code is empty or over %d bytes", ErrInvalidCodeRequest, MaxAuthCodeBytes)
	}
	if len(verifier) < 43 || len(verifier) > 128 {
		return fmt.Errorf("%w: the code verifier has %d characters, not 43 to 128", ErrInvalidCodeRequest, len(verifier))
	}
	for _, c := range []byte(verifier) {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return fmt.Errorf("%w: the code verifier holds %q", ErrInvalidCodeRequest, c)
		}
	}
	u, err := url.Parse(redirectURI)
	if len(redirectURI) > MaxRedirectURIBytes || err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.Fragment != "" {
		return fmt.Errorf("%w: the redirect URI is not an absolute http(s) URL of at most %d bytes", ErrInvalidCodeRequest, MaxRedirectURIBytes)
	}
	return nil
}
