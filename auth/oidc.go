package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Issuer is one OpenID Connect provider whose tokens are accepted
// (config auth.oidc[]): Keycloak, Azure AD (Entra ID), Okta and any other
// certified provider. Tokens are JWTs (ID tokens, or JWT access tokens as
// Keycloak issues them) verified against the issuer's JWKS, which
// github.com/coreos/go-oidc fetches after discovery, caches, and fetches
// again when a token names a key id it has not seen (key rotation).
type Issuer struct {
	// URL is the issuer identifier, exactly as in the tokens' iss claim
	// ("https://sso.example.com/realms/contact-center").
	URL string
	// Audience must be in the token's aud claim (often the client id;
	// Keycloak access tokens name the client in azp and "account" in aud
	// unless an audience mapper is set).
	Audience string
	// AgentClaim names the claim holding the agent id: Keycloak
	// "preferred_username", Azure "oid" or "preferred_username". A dotted
	// path reaches into objects. Default "preferred_username".
	AgentClaim string
	// RolesClaim names the claim holding the roles, a string array:
	// Keycloak "realm_access.roles", Azure and Okta "roles" (or "groups").
	// Default "realm_access.roles".
	RolesClaim string
	// AgentRoles: when not empty, a token must carry one of them to be
	// accepted at all. Empty: every verified token of the issuer is an
	// agent.
	AgentRoles []string
	// SupervisorRoles mark the agent a supervisor (Principal.Supervisor).
	SupervisorRoles []string
	// AdminRoles make the principal an Admin.
	AdminRoles []string
	// PasswordGrant lets POST /agent-manager/agent/login pass a username
	// and password that is not a local login to this issuer's token
	// endpoint (OAuth 2.0 resource owner password grant, RFC 6749 4.3;
	// Keycloak's "direct access grants"). Default false.
	PasswordGrant bool
	// ClientID is the client the password grant is made for (default
	// Audience); ClientSecret is its secret, empty for a public client.
	ClientID     string
	ClientSecret string
	// Scopes asked for in the password grant and the browser login
	// (default openid, profile).
	Scopes []string
	// BrowserLogin offers the issuer on the web pages' login form: the
	// authorization code flow with PKCE, the code exchanged by CodeLogin.
	// Default false.
	BrowserLogin bool
	// Name is the issuer's name on that form (default the URL's host).
	Name string
}

// Limits of OIDC verification.
const (
	// MaxIssuers bounds the configured issuers.
	MaxIssuers = 16
	// DiscoveryTimeout bounds one discovery or JWKS fetch.
	DiscoveryTimeout = 10 * time.Second
	// DiscoveryRetry is the least time between two discovery attempts for
	// an issuer that failed, so a down provider is not hammered by every
	// token presented meanwhile.
	DiscoveryRetry = 5 * time.Second
	// MaxJWTBytes bounds a JWT looked at (larger is unauthorized).
	MaxJWTBytes = 16 << 10
)

// oidcIssuer verifies one issuer's tokens; discovery runs on first use and
// again after a failure, so the server starts while the provider is down.
type oidcIssuer struct {
	cfg    Issuer
	now    func() time.Time
	log    *slog.Logger
	client *http.Client // discovery, JWKS and token endpoint requests

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	tokenURL string // the token endpoint, from discovery
	authURL  string // the authorization endpoint, from discovery
	failedAt time.Time
	ctx      context.Context // long-lived: the key set's fetches
}

func newOIDCIssuer(cfg Issuer, now func() time.Time, log *slog.Logger) (*oidcIssuer, error) {
	if cfg.URL == "" || cfg.Audience == "" {
		return nil, fmt.Errorf("auth: oidc issuer %q: issuer URL and audience are required", cfg.URL)
	}
	if cfg.AgentClaim == "" {
		cfg.AgentClaim = "preferred_username"
	}
	if cfg.RolesClaim == "" {
		cfg.RolesClaim = "realm_access.roles"
	}
	if cfg.ClientID == "" {
		cfg.ClientID = cfg.Audience
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "profile"}
	}
	client := &http.Client{Timeout: DiscoveryTimeout}
	return &oidcIssuer{cfg: cfg, now: now, log: log, client: client, ctx: oidc.ClientContext(context.Background(), client)}, nil
}

// verifierFor returns the issuer's verifier, discovering it when needed.
func (o *oidcIssuer) verifierFor(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.verifier != nil {
		return o.verifier, nil
	}
	if !o.failedAt.IsZero() && o.now().Sub(o.failedAt) < DiscoveryRetry {
		return nil, errors.New("auth: oidc discovery failed recently")
	}
	dctx, cancel := context.WithTimeout(o.ctx, DiscoveryTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	p, err := oidc.NewProvider(dctx, o.cfg.URL)
	if err != nil {
		o.failedAt = o.now()
		o.log.Warn("auth: oidc discovery failed", "issuer", o.cfg.URL, "err", err)
		return nil, err
	}
	o.tokenURL = p.Endpoint().TokenURL
	o.authURL = p.Endpoint().AuthURL
	// The provider's key set keeps the context it was made with for its
	// fetches: the long-lived one, not this request's.
	jwks, algs := keySetOf(p)
	p = (&oidc.ProviderConfig{IssuerURL: o.cfg.URL, JWKSURL: jwks, Algorithms: algs}).NewProvider(o.ctx)
	o.verifier = p.VerifierContext(o.ctx, &oidc.Config{ClientID: o.cfg.Audience, Now: o.now})
	return o.verifier, nil
}

// keySetOf reads the JWKS URL and the ID token signing algorithms (empty:
// go-oidc's default, RS256) from the discovery document.
func keySetOf(p *oidc.Provider) (jwks string, algs []string) {
	var c struct {
		JWKS string   `json:"jwks_uri"`
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	_ = p.Claims(&c)
	for _, a := range c.Algs {
		if slices.Contains(signingAlgs, a) {
			algs = append(algs, a)
		}
	}
	return c.JWKS, algs
}

// signingAlgs are the asymmetric JWS algorithms a token may be signed with
// (never "none" nor an HMAC, whatever discovery says).
var signingAlgs = []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}

// verify checks raw and maps its claims to a Principal.
func (o *oidcIssuer) verify(ctx context.Context, raw string) (Principal, error) {
	v, err := o.verifierFor(ctx)
	if err != nil {
		return Principal{}, err
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		return Principal{}, err
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return Principal{}, err
	}
	agent, _ := claimAt(claims, o.cfg.AgentClaim).(string)
	if agent == "" {
		return Principal{}, fmt.Errorf("auth: token has no %s claim", o.cfg.AgentClaim)
	}
	roles := stringList(claimAt(claims, o.cfg.RolesClaim))
	has := func(want []string) bool {
		return slices.ContainsFunc(roles, func(r string) bool { return slices.Contains(want, r) })
	}
	p := Principal{Kind: Agent, AgentID: agent, Issuer: o.cfg.URL, Roles: roles, Expiry: tok.Expiry}
	switch {
	case has(o.cfg.AdminRoles):
		p.Kind = Admin
	case len(o.cfg.AgentRoles) > 0 && !has(o.cfg.AgentRoles) && !has(o.cfg.SupervisorRoles):
		return Principal{}, fmt.Errorf("auth: token of %s carries none of the agent roles", agent)
	}
	p.Supervisor = has(o.cfg.SupervisorRoles)
	return p, nil
}

// claimAt follows a dotted path ("realm_access.roles") into claims.
func claimAt(claims map[string]any, path string) any {
	var v any = claims
	for part := range strings.SplitSeq(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	return v
}

// stringList reads a claim that is a string array, or one string.
func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// unverifiedIssuer reads the iss claim of a JWT without verifying it, only
// to pick the issuer whose keys will verify it. Empty when raw is not a
// JWT.
func unverifiedIssuer(raw string) string {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(b, &c) != nil {
		return ""
	}
	return c.Iss
}
