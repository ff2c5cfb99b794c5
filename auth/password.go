package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/oauth2"
)

// ErrIssuerUnavailable is PasswordLogin's error when no issuer that takes
// passwords could say yes or no: its discovery or token endpoint did not
// answer (down, timed out, a 5xx), or it refused the client itself
// (invalid_client, unauthorized_client: a configuration to fix at the
// provider or in auth.oidc). The password was neither accepted nor refused.
var ErrIssuerUnavailable = errors.New("auth: identity provider unavailable")

// MaxIssuerPasswordBytes bounds a password passed to an issuer (longer is
// ErrUnauthorized without a request).
const MaxIssuerPasswordBytes = 1024

// HasLocalUser reports whether username is a local login (Options.Users);
// such a username is never passed to an issuer.
func (a *Authenticator) HasLocalUser(username string) bool {
	_, ok := a.users[username]
	return ok
}

// PasswordGrant reports whether any issuer takes passwords
// (Issuer.PasswordGrant).
func (a *Authenticator) PasswordGrant() bool { return len(a.passwordIssuers) > 0 }

// IssuerLogin is a login passed to an issuer: its token (verified as a
// bearer token), the principal it stands for, and a refresh token for
// RefreshIssuer (empty when the issuer gave none): the issuer's own refresh
// token with the issuer's URL in front, "oidc~" base64url(issuer) "~" token,
// so that a refresh goes back to the issuer that issued it.
type IssuerLogin struct {
	Token     string
	Refresh   string
	Principal Principal
}

// issuerRefreshPrefix starts the refresh tokens of IssuerLogin.
const issuerRefreshPrefix = "oidc~"

// IsIssuerRefresh reports whether refresh is an IssuerLogin's refresh
// token (not one of Login's).
func IsIssuerRefresh(refresh string) bool { return strings.HasPrefix(refresh, issuerRefreshPrefix) }

// PasswordLogin passes username and password to the issuers that allow it
// (Issuer.PasswordGrant, in configuration order) with the OAuth 2.0
// resource owner password grant at the token endpoint named by discovery,
// and verifies the token it returns exactly as a bearer token (VerifyContext:
// signature against the JWKS, iss, aud, exp, then the claim mapping). The
// login's token is the ID token when the answer has one that verifies, else
// the access token. Errors: ErrUnauthorized (every issuer said
// invalid_grant, or the token it gave does not verify or maps to no agent),
// ErrIssuerUnavailable (none said yes and one could not be asked).
func (a *Authenticator) PasswordLogin(ctx context.Context, username, password string) (IssuerLogin, error) {
	if username == "" || password == "" || len(password) > MaxIssuerPasswordBytes {
		return IssuerLogin{}, ErrUnauthorized
	}
	var unavailable error
	for _, oi := range a.passwordIssuers {
		l, err := oi.grant(ctx, func(cfg *oauth2.Config, ctx context.Context) (*oauth2.Token, error) {
			return cfg.PasswordCredentialsToken(ctx, username, password)
		})
		switch {
		case err == nil:
			return l, nil
		case errors.Is(err, ErrIssuerUnavailable):
			unavailable = err
		}
	}
	if unavailable != nil {
		return IssuerLogin{}, unavailable
	}
	return IssuerLogin{}, ErrUnauthorized
}

// RefreshIssuer exchanges an IssuerLogin's refresh token at the issuer
// that gave it (OAuth 2.0 refresh_token grant) for a new login, verified as
// PasswordLogin's. Errors: ErrUnauthorized (not such a token, an issuer not
// configured or without PasswordGrant, the issuer refusing it with
// invalid_grant: expired, revoked, or the user disabled; a token that does
// not verify), ErrIssuerUnavailable.
func (a *Authenticator) RefreshIssuer(ctx context.Context, refresh string) (IssuerLogin, error) {
	rest, ok := strings.CutPrefix(refresh, issuerRefreshPrefix)
	enc, raw, ok2 := strings.Cut(rest, "~")
	if !ok || !ok2 || raw == "" || len(refresh) > MaxJWTBytes {
		return IssuerLogin{}, ErrUnauthorized
	}
	url, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return IssuerLogin{}, ErrUnauthorized
	}
	for _, oi := range a.passwordIssuers {
		if oi.cfg.URL == string(url) {
			return oi.grant(ctx, func(cfg *oauth2.Config, ctx context.Context) (*oauth2.Token, error) {
				return cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: raw}).Token()
			})
		}
	}
	return IssuerLogin{}, ErrUnauthorized
}

// grant runs one grant at the issuer's token endpoint and verifies the
// token it answers.
func (o *oidcIssuer) grant(ctx context.Context, run func(*oauth2.Config, context.Context) (*oauth2.Token, error)) (IssuerLogin, error) {
	if _, err := o.verifierFor(ctx); err != nil {
		return IssuerLogin{}, fmt.Errorf("%w: %s: discovery: %v", ErrIssuerUnavailable, o.cfg.URL, err)
	}
	o.mu.Lock()
	tokenURL := o.tokenURL
	o.mu.Unlock()
	if tokenURL == "" {
		return IssuerLogin{}, fmt.Errorf("%w: %s: discovery names no token_endpoint", ErrIssuerUnavailable, o.cfg.URL)
	}
	// A public client (no secret) names itself in the form; a confidential
	// one authenticates with HTTP Basic (client_secret_basic, the default
	// of RFC 6749 2.3.1). Never auto-detect: a refused first attempt would
	// send the password twice.
	style := oauth2.AuthStyleInHeader
	if o.cfg.ClientSecret == "" {
		style = oauth2.AuthStyleInParams
	}
	cfg := &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, Scopes: o.cfg.Scopes,
		Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: style}}
	tctx, cancel := context.WithTimeout(context.WithValue(ctx, oauth2.HTTPClient, o.client), DiscoveryTimeout)
	defer cancel()
	t, err := run(cfg, tctx)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			return IssuerLogin{}, ErrUnauthorized
		}
		o.log.Warn("auth: oidc grant failed", "issuer", o.cfg.URL, "err", err)
		return IssuerLogin{}, fmt.Errorf("%w: %s: %v", ErrIssuerUnavailable, o.cfg.URL, err)
	}
	idToken, _ := t.Extra("id_token").(string)
	verr := errors.New("the answer holds no token")
	for _, raw := range []string{idToken, t.AccessToken} {
		if raw == "" || len(raw) > MaxJWTBytes || unverifiedIssuer(raw) != o.cfg.URL {
			continue
		}
		p, err := o.verify(ctx, raw)
		if err == nil {
			l := IssuerLogin{Token: raw, Principal: p}
			if t.RefreshToken != "" {
				l.Refresh = issuerRefreshPrefix + base64.RawURLEncoding.EncodeToString([]byte(o.cfg.URL)) + "~" + t.RefreshToken
			}
			return l, nil
		}
		verr = err
	}
	o.log.Warn("auth: oidc grant gave no token that verifies", "issuer", o.cfg.URL, "err", verr)
	return IssuerLogin{}, fmt.Errorf("%w: %v", ErrUnauthorized, verr)
}
