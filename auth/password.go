package auth

import (
	"context"
	"errors"
	"fmt"

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

// PasswordLogin passes username and password to the issuers that allow it
// (Issuer.PasswordGrant, in configuration order) with the OAuth 2.0
// resource owner password grant at the token endpoint named by discovery,
// and verifies the token it returns exactly as a bearer token (VerifyContext:
// signature against the JWKS, iss, aud, exp, then the claim mapping). It
// returns that token (the ID token when the answer has one that verifies,
// else the access token) and its principal. Errors: ErrUnauthorized (every
// issuer said invalid_grant, or the token it gave does not verify or maps
// to no agent), ErrIssuerUnavailable (none said yes and one could not be
// asked).
func (a *Authenticator) PasswordLogin(ctx context.Context, username, password string) (string, Principal, error) {
	if username == "" || password == "" || len(password) > MaxIssuerPasswordBytes {
		return "", Principal{}, ErrUnauthorized
	}
	var unavailable error
	for _, oi := range a.passwordIssuers {
		tok, p, err := oi.passwordLogin(ctx, username, password)
		switch {
		case err == nil:
			return tok, p, nil
		case errors.Is(err, ErrIssuerUnavailable):
			unavailable = err
		}
	}
	if unavailable != nil {
		return "", Principal{}, unavailable
	}
	return "", Principal{}, ErrUnauthorized
}

// passwordLogin is PasswordLogin at one issuer.
func (o *oidcIssuer) passwordLogin(ctx context.Context, username, password string) (string, Principal, error) {
	if _, err := o.verifierFor(ctx); err != nil {
		return "", Principal{}, fmt.Errorf("%w: %s: discovery: %v", ErrIssuerUnavailable, o.cfg.URL, err)
	}
	o.mu.Lock()
	tokenURL := o.tokenURL
	o.mu.Unlock()
	if tokenURL == "" {
		return "", Principal{}, fmt.Errorf("%w: %s: discovery names no token_endpoint", ErrIssuerUnavailable, o.cfg.URL)
	}
	// A public client (no secret) names itself in the form; a confidential
	// one authenticates with HTTP Basic (client_secret_basic, the default
	// of RFC 6749 2.3.1). Never auto-detect: a refused first attempt would
	// send the password twice.
	style := oauth2.AuthStyleInHeader
	if o.cfg.ClientSecret == "" {
		style = oauth2.AuthStyleInParams
	}
	cfg := oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, Scopes: o.cfg.Scopes,
		Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: style}}
	tctx, cancel := context.WithTimeout(context.WithValue(ctx, oauth2.HTTPClient, o.client), DiscoveryTimeout)
	defer cancel()
	t, err := cfg.PasswordCredentialsToken(tctx, username, password)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			return "", Principal{}, ErrUnauthorized
		}
		o.log.Warn("auth: oidc password grant failed", "issuer", o.cfg.URL, "err", err)
		return "", Principal{}, fmt.Errorf("%w: %s: %v", ErrIssuerUnavailable, o.cfg.URL, err)
	}
	idToken, _ := t.Extra("id_token").(string)
	verr := errors.New("the answer holds no token")
	for _, raw := range []string{idToken, t.AccessToken} {
		if raw == "" || len(raw) > MaxJWTBytes || unverifiedIssuer(raw) != o.cfg.URL {
			continue
		}
		p, err := o.verify(ctx, raw)
		if err == nil {
			return raw, p, nil
		}
		verr = err
	}
	o.log.Warn("auth: oidc password grant gave no token that verifies", "issuer", o.cfg.URL, "err", verr)
	return "", Principal{}, fmt.Errorf("%w: %v", ErrUnauthorized, verr)
}
