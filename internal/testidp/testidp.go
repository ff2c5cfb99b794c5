// Package testidp is a small OpenID provider for Go tests of the password
// pass-through (auth.PasswordLogin, POST /agent-manager/agent/login) and of
// the browser login's code exchange (auth.CodeLogin, POST
// /ui/api/oidc/token): the discovery document, a JWKS and a token endpoint
// taking the resource owner password grant, the refresh token grant
// (refresh tokens used once) and the authorization code grant with PKCE
// (codes made by Provider.Code, no login page), signing ID tokens (ES256)
// with go-jose. The certified
// provider (npm oidc-provider) is what the end-to-end tests use; this one
// lets unit tests make it answer as a broken or hostile provider would.
package testidp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// User is an account of the provider.
type User struct {
	Password string
	Roles    []string // the realm_access.roles claim
}

// Behavior is how the provider answers; change it with Provider.Set.
type Behavior struct {
	// Audience goes in the tokens' aud (default the client id).
	Audience string
	// Users by username.
	Users map[string]User
	// TTL is the tokens' lifetime (0: an hour; negative: already expired).
	TTL time.Duration
	// TokenStatus, when set, is the token endpoint's answer status for
	// every request (with {"error":TokenError}); 0 answers normally.
	TokenStatus int
	TokenError  string
	// Issuer, when set, is put in the tokens' iss instead of the URL.
	Issuer string
	// SignWith, when set, signs tokens with another key than the
	// published one.
	SignWith *ecdsa.PrivateKey
	// OnlyAccessToken answers without an id_token.
	OnlyAccessToken bool
}

// Provider is a running test provider.
type Provider struct {
	// URL is the issuer (http://127.0.0.1:port).
	URL string
	// ClientID is the only client the token endpoint accepts (public, no
	// secret).
	ClientID string
	// TokenRequests counts token endpoint requests.
	TokenRequests atomic.Int64

	mu       sync.Mutex
	b        Behavior
	lastForm map[string][]string
	refresh  map[string]string // live refresh tokens -> username
	codes    map[string]grant  // authorization codes not yet redeemed

	key *ecdsa.PrivateKey
	srv *httptest.Server
}

// Set changes the provider's behavior for the requests that follow.
func (p *Provider) Set(fn func(b *Behavior)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(&p.b)
}

// Start serves a provider for t (closed at its end).
func Start(t testing.TB, clientID string, users map[string]User) *Provider {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{ClientID: clientID, b: Behavior{Users: users}, key: key, refresh: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewServer(mux)
	p.URL = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// NewKey returns a fresh key (for SignWith).
func NewKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// grant is what an authorization code was issued for.
type grant struct{ user, challenge, redirectURI string }

// Code issues a one-time authorization code for user, as the provider's
// authorization endpoint would after a login: bound to the S256 challenge
// of verifier (RFC 7636) and to redirectURI.
func (p *Provider) Code(user, verifier, redirectURI string) string {
	sum := sha256.Sum256([]byte(verifier))
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	code := base64.RawURLEncoding.EncodeToString(b)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.codes == nil {
		p.codes = map[string]grant{}
	}
	p.codes[code] = grant{user: user, challenge: base64.RawURLEncoding.EncodeToString(sum[:]), redirectURI: redirectURI}
	return code
}

// Close stops the provider (it is then unreachable).
func (p *Provider) Close() { p.srv.Close() }

// LastForm returns the form of the last token request.
func (p *Provider) LastForm() map[string][]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastForm
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, 200, map[string]any{
		"issuer": p.URL, "jwks_uri": p.URL + "/jwks", "token_endpoint": p.URL + "/token",
		"authorization_endpoint": p.URL + "/auth", "grant_types_supported": []string{"password", "refresh_token", "authorization_code"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, 200, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	p.TokenRequests.Add(1)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid_request"})
		return
	}
	p.mu.Lock()
	p.lastForm = r.PostForm
	b := p.b
	p.mu.Unlock()
	if b.TokenStatus != 0 {
		writeJSON(w, b.TokenStatus, map[string]string{"error": b.TokenError})
		return
	}
	if r.PostForm.Get("client_id") != p.ClientID {
		writeJSON(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	var name string
	switch r.PostForm.Get("grant_type") {
	case "password":
		name = r.PostForm.Get("username")
		if u, ok := b.Users[name]; !ok || u.Password != r.PostForm.Get("password") {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "invalid credentials"})
			return
		}
	case "refresh_token":
		// Refresh tokens are used once: each refresh gives a new one.
		p.mu.Lock()
		name = p.refresh[r.PostForm.Get("refresh_token")]
		delete(p.refresh, r.PostForm.Get("refresh_token"))
		p.mu.Unlock()
		if name == "" {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "unknown or used refresh token"})
			return
		}
	case "authorization_code":
		p.mu.Lock()
		g, ok := p.codes[r.PostForm.Get("code")]
		delete(p.codes, r.PostForm.Get("code"))
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		switch {
		case !ok:
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "unknown or used code"})
			return
		case g.redirectURI != r.PostForm.Get("redirect_uri"):
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "redirect_uri mismatch"})
			return
		case g.challenge != base64.RawURLEncoding.EncodeToString(sum[:]):
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "PKCE verification failed"})
			return
		}
		name = g.user
	default:
		writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	u := b.Users[name]
	tok, err := p.sign(b, name, u.Roles)
	if err != nil {
		writeJSON(w, 500, map[string]string{"error": "server_error"})
		return
	}
	ttl := b.ttl()
	rt := rand.Text()
	p.mu.Lock()
	p.refresh[rt] = name
	p.mu.Unlock()
	answer := map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(ttl.Seconds()), "id_token": tok, "refresh_token": rt}
	if b.OnlyAccessToken {
		delete(answer, "id_token")
	}
	writeJSON(w, 200, answer)
}

func (b Behavior) ttl() time.Duration {
	if b.TTL != 0 {
		return b.TTL
	}
	return time.Hour
}

// sign returns a token for user with roles (ES256, kid k1).
func (p *Provider) sign(b Behavior, user string, roles []string) (string, error) {
	key := p.key
	if b.SignWith != nil {
		key = b.SignWith
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	iss, aud := p.URL, b.Audience
	if b.Issuer != "" {
		iss = b.Issuer
	}
	if aud == "" {
		aud = p.ClientID
	}
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{"iss": iss, "aud": aud, "sub": user, "preferred_username": user,
		"realm_access": map[string]any{"roles": roles}, "iat": now.Unix(), "exp": now.Add(b.ttl()).Unix()})
	jws, err := sig.Sign(claims)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}
