// Package auth authenticates callers of omniroute's HTTP APIs: admin bearer
// tokens from the config file, and agents who log in with a username and
// password (ExpertFlow Agent Manager login, seed 004 / PROTOCOLS.md) and get
// a stateless signed token.
//
// An agent token is
//
//	base64url(payload) "." base64url(HMAC-SHA256(secret, payload))
//	payload = agentID "|" expiryUnix "|" issuedUnixMilli [ "|m" minted | "|r" refresh ]
//
// (RawURLEncoding, no padding). Stateless to verify, so any node holding the
// secret checks it without a session store; revocation (Revoke: at LOGOUT,
// or by an admin) is a per-agent "issued before" time, kept in a small file
// when Options.RevocationFile is set. Login returns a short-lived access
// token and a refresh token ("|r", longer-lived, never accepted as a bearer
// token) that Refresh exchanges for a new pair.
package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/omniroute/omniroute/config"
)

// ErrUnauthorized is the one error of Login and Verify: bad username, bad
// password, garbled, forged or expired token alike, so a caller learns
// nothing about which part was wrong.
var ErrUnauthorized = errors.New("auth: unauthorized")

// Kind says what a Principal may do.
type Kind string

// Principal kinds.
const (
	// Admin: an admin bearer token; every right.
	Admin Kind = "admin"
	// Agent: a logged-in agent; acts for itself only.
	Agent Kind = "agent"
	// ChannelKind: a customer channel's back end (channel.go). Never
	// returned by Verify; restapi's customer side builds it from
	// VerifyChannel.
	ChannelKind Kind = "channel"
)

// Principal is the verified caller.
type Principal struct {
	Kind Kind
	// AgentID is set for Agent principals, and for Admins who logged in
	// through an OpenID provider (who they are, for the audit).
	AgentID string
	// Issuer is the OpenID issuer that vouched for the principal; empty
	// for local logins and configured tokens.
	Issuer string
	// Roles are the token's roles as the issuer named them (RolesClaim).
	Roles []string
	// Supervisor: the issuer's roles make this agent a supervisor.
	Supervisor bool
	// Expiry is when the token stops being valid (zero: never, for
	// configured admin tokens).
	Expiry time.Time
	// Channel is the channel of a ChannelKind principal.
	Channel Channel
}

// CanActFor says whether p may act for the agent agentID: admins for
// anyone, agents for themselves.
func (p Principal) CanActFor(agentID string) bool {
	return p.Kind == Admin || (p.Kind == Agent && p.AgentID == agentID)
}

// Limits and defaults.
const (
	// SecretBytes is the size of a generated secret and the minimum size of
	// any secret (an HMAC-SHA256 key).
	SecretBytes = 32
	// MaxTokenBytes bounds what Verify looks at; longer is unauthorized
	// without further work.
	MaxTokenBytes = 2048
	// MaxPasswordBytes is bcrypt's limit; longer passwords never match
	// (bcrypt would silently compare only the first 72 bytes).
	MaxPasswordBytes = 72
	// DefaultTokenTTL is an agent access token's lifetime when Options
	// leave it 0: short, since a desk refreshes it.
	DefaultTokenTTL = 15 * time.Minute
	// DefaultRefreshTTL is a refresh token's lifetime when Options leave it 0.
	DefaultRefreshTTL = 12 * time.Hour
)

// dummyHash is a bcrypt hash (cost 10, config.PasswordCost) of a random
// string: Login compares against it when the username is unknown, so an
// unknown user costs the same time as a wrong password.
var dummyHash = []byte("$2a$10$I3Ghq8n099ABqUyjjt66yOdoCHaKcJvSmFmU1dNKRWRzQi8zl26va")

// User is one local login.
type User struct {
	Username string
	AgentID  string
	// PasswordHash is a bcrypt hash.
	PasswordHash []byte
}

// Options configure New.
type Options struct {
	// AdminTokens are accepted as Admin principals.
	AdminTokens []string
	// Users may log in.
	Users []User
	// Secret signs agent tokens; at least SecretBytes bytes.
	Secret []byte
	// TokenTTL is an agent access token's lifetime (default DefaultTokenTTL).
	TokenTTL time.Duration
	// RefreshTTL is a refresh token's lifetime (default DefaultRefreshTTL).
	RefreshTTL time.Duration
	// TicketTTL is a ticket's lifetime (ticket.go); 0 is DefaultTicketTTL.
	TicketTTL time.Duration
	// RevocationFile, when set, keeps revocations across restarts (JSON,
	// written atomically); empty: in memory only.
	RevocationFile string
	// Now is the clock (default time.Now); tests inject one.
	Now func() time.Time
	// Issuers are the OpenID Connect providers whose tokens are accepted.
	Issuers []Issuer
	// Logger receives OIDC discovery failures (default slog.Default()).
	Logger *slog.Logger
	// Channels are the customer channels' tokens (channel.go).
	Channels []Channel
}

// Authenticator checks credentials and tokens. Only its revocations and
// tickets change after New; it is safe for concurrent use.
type Authenticator struct {
	refreshTTL time.Duration
	revocations
	tickets tickets

	admins  [][sha256.Size]byte
	users   map[string]User     // by username
	agents  map[string]struct{} // agent ids with a login
	secret  []byte
	ttl     time.Duration
	now     func() time.Time
	encoder *base64.Encoding
	issuers map[string]*oidcIssuer // by issuer URL
	// passwordIssuers take passwords (Issuer.PasswordGrant), in
	// configuration order.
	passwordIssuers []*oidcIssuer
	// browserIssuers are offered on the web pages (Issuer.BrowserLogin),
	// in configuration order.
	browserIssuers []*oidcIssuer
	// channels are the channel tokens (channel.go), by digest.
	channels []channelToken
}

// New builds an Authenticator. Errors: a secret shorter than SecretBytes, an
// empty username or agent id, a duplicate username, an empty admin token.
func New(o Options) (*Authenticator, error) {
	if len(o.Secret) < SecretBytes {
		return nil, fmt.Errorf("auth: secret has %d bytes, need at least %d", len(o.Secret), SecretBytes)
	}
	a := &Authenticator{users: map[string]User{}, agents: map[string]struct{}{},
		secret: bytes.Clone(o.Secret), ttl: o.TokenTTL, now: o.Now, encoder: base64.RawURLEncoding.Strict()}
	if a.ttl <= 0 {
		a.ttl = DefaultTokenTTL
	}
	a.refreshTTL = o.RefreshTTL
	a.tickets.ttl = o.TicketTTL
	if a.tickets.ttl <= 0 {
		a.tickets.ttl = DefaultTicketTTL
	}
	if a.refreshTTL <= 0 {
		a.refreshTTL = DefaultRefreshTTL
	}
	if err := a.revocations.load(o.RevocationFile); err != nil {
		return nil, err
	}
	if a.now == nil {
		a.now = time.Now
	}
	if len(o.Issuers) > MaxIssuers {
		return nil, fmt.Errorf("auth: %d OIDC issuers, more than %d", len(o.Issuers), MaxIssuers)
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	a.issuers = map[string]*oidcIssuer{}
	for _, is := range o.Issuers {
		if _, dup := a.issuers[is.URL]; dup {
			return nil, fmt.Errorf("auth: OIDC issuer %q twice", is.URL)
		}
		oi, err := newOIDCIssuer(is, a.now, log)
		if err != nil {
			return nil, err
		}
		a.issuers[is.URL] = oi
		if is.PasswordGrant {
			a.passwordIssuers = append(a.passwordIssuers, oi)
		}
		if is.BrowserLogin {
			a.browserIssuers = append(a.browserIssuers, oi)
		}
	}
	if err := a.addChannels(o.Channels); err != nil {
		return nil, err
	}
	for i, t := range o.AdminTokens {
		if t == "" {
			return nil, fmt.Errorf("auth: admin token %d is empty", i)
		}
		// Comparing fixed-size digests keeps the comparison constant-time
		// even in the tokens' lengths.
		a.admins = append(a.admins, sha256.Sum256([]byte(t)))
	}
	for _, u := range o.Users {
		if u.Username == "" || u.AgentID == "" {
			return nil, fmt.Errorf("auth: user %q for agent %q: empty username or agent id", u.Username, u.AgentID)
		}
		if _, dup := a.users[u.Username]; dup {
			return nil, fmt.Errorf("auth: duplicate username %q", u.Username)
		}
		u.PasswordHash = bytes.Clone(u.PasswordHash)
		a.users[u.Username] = u
		a.agents[u.AgentID] = struct{}{}
	}
	return a, nil
}

// FromConfig builds an Authenticator from a parsed configuration: its admin
// tokens, its agents' usernames and password hashes, its token TTL, and its
// auth.tokenSecret or, when that is empty, secret (which the server
// generates once and keeps under dataDir: see LoadOrCreateSecret). now may
// be nil. Errors: as New, and an agent whose plain password was not hashed
// (a Config not made by config.Parse).
func FromConfig(c *config.Config, secret []byte, now func() time.Time) (*Authenticator, error) {
	o, err := OptionsFromConfig(c, secret, now)
	if err != nil {
		return nil, err
	}
	return New(o)
}

// OptionsFromConfig is FromConfig's Options, for a caller that sets more
// (RevocationFile, Logger) before New.
func OptionsFromConfig(c *config.Config, secret []byte, now func() time.Time) (Options, error) {
	o := Options{AdminTokens: c.Auth.AdminTokens, Secret: secret, Now: now,
		TokenTTL: config.Seconds(c.Auth.TokenTTLSeconds), RefreshTTL: config.Seconds(c.Auth.RefreshTTLSeconds)}
	if c.Auth.TokenSecret != "" {
		o.Secret = []byte(c.Auth.TokenSecret)
	}
	for _, is := range c.Auth.OIDC {
		o.Issuers = append(o.Issuers, Issuer{URL: is.Issuer, Audience: is.Audience, AgentClaim: is.AgentClaim,
			RolesClaim: is.RolesClaim, AgentRoles: is.AgentRoles, SupervisorRoles: is.SupervisorRoles, AdminRoles: is.AdminRoles,
			PasswordGrant: is.PasswordGrant, ClientID: is.ClientID, ClientSecret: is.ClientSecret, Scopes: is.Scopes,
			BrowserLogin: is.BrowserLogin, Name: is.Name})
	}
	for _, ch := range c.Auth.Channels {
		o.Channels = append(o.Channels, Channel{ID: ch.ID, Token: ch.Token, Queues: ch.Queues})
	}
	for _, ag := range c.Agents {
		if ag.Username == "" {
			continue
		}
		if ag.PasswordHash == "" {
			return Options{}, fmt.Errorf("auth: agent %q has no passwordHash (load the config with config.Parse)", ag.ID)
		}
		o.Users = append(o.Users, User{Username: ag.Username, AgentID: ag.ID, PasswordHash: []byte(ag.PasswordHash)})
	}
	return o, nil
}

// TokenTTL returns the lifetime of the tokens Login issues.
func (a *Authenticator) TokenTTL() time.Duration { return a.ttl }

// Login checks a username and password and returns a signed agent token
// valid for TokenTTL, and the agent's id. Unknown usernames and wrong
// passwords both return ErrUnauthorized after one bcrypt comparison, so they
// take similar time. LoginRefresh also returns a refresh token.
func (a *Authenticator) Login(username, password string) (token, agentID string, err error) {
	token, _, agentID, err = a.LoginRefresh(username, password)
	return token, agentID, err
}

// LoginRefresh is Login returning also a refresh token (valid RefreshTTL)
// for Refresh.
func (a *Authenticator) LoginRefresh(username, password string) (token, refresh, agentID string, err error) {
	u, known := a.users[username]
	hash := dummyHash
	if known {
		hash = u.PasswordHash
	}
	match := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	if !known || !match || len(password) > MaxPasswordBytes {
		return "", "", "", ErrUnauthorized
	}
	now := a.now()
	return a.sign(u.AgentID, now.Add(a.ttl), now, ""), a.sign(u.AgentID, now.Add(a.refreshTTL), now, refreshMark), u.AgentID, nil
}

// Refresh exchanges a refresh token for a new access token and refresh
// token. Errors: ErrUnauthorized for anything but a valid, unexpired,
// unrevoked refresh token of an agent that still has a login.
func (a *Authenticator) Refresh(refresh string) (token, newRefresh, agentID string, err error) {
	agentID, mark, err := a.parse(refresh)
	if err != nil || mark != refreshMark {
		return "", "", "", ErrUnauthorized
	}
	if _, ok := a.agents[agentID]; !ok {
		return "", "", "", ErrUnauthorized
	}
	now := a.now()
	return a.sign(agentID, now.Add(a.ttl), now, ""), a.sign(agentID, now.Add(a.refreshTTL), now, refreshMark), agentID, nil
}

// RefreshTTL is the lifetime of refresh tokens.
func (a *Authenticator) RefreshTTL() time.Duration { return a.refreshTTL }

// Token kinds, the payload's last field: minted by Issue (such an agent
// need not have a password login: agents created over the REST API, replay
// agents, so Verify does not require one), and refresh tokens (accepted by
// Refresh only).
const (
	mintedMark  = "m"
	refreshMark = "r"
)

// Issue mints a signed agent token for agentID, valid for ttl (TokenTTL
// when ttl <= 0). It is what an administrator (POST /v1/agents/{id}/token)
// or a trusted integration uses for agents without a password login; the
// caller must have checked that the agent exists and that it may act.
func (a *Authenticator) Issue(agentID string, ttl time.Duration) string {
	if ttl <= 0 {
		ttl = a.ttl
	}
	now := a.now()
	return a.sign(agentID, now.Add(ttl), now, mintedMark)
}

// issue signs a login token for agentID expiring at exp (whole seconds).
func (a *Authenticator) issue(agentID string, exp time.Time) string {
	return a.sign(agentID, exp, a.now(), "")
}

// sign builds agentID|exp|iat[|mark] and its MAC.
func (a *Authenticator) sign(agentID string, exp, iat time.Time, mark string) string {
	payload := agentID + "|" + strconv.FormatInt(exp.Unix(), 10) + "|" + strconv.FormatInt(iat.UnixMilli(), 10)
	if mark != "" {
		payload += "|" + mark
	}
	return a.encoder.EncodeToString([]byte(payload)) + "." + a.encoder.EncodeToString(a.mac(payload))
}

func (a *Authenticator) mac(payload string) []byte {
	m := hmac.New(sha256.New, a.secret)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// Verify returns the principal a bearer token stands for: an admin token
// (compared in constant time against every configured one), or an agent
// token that is well-formed, signed with this secret, not expired, and
// names an agent that still has a login. Anything else is ErrUnauthorized.
func (a *Authenticator) Verify(token string) (Principal, error) {
	ctx, cancel := context.WithTimeout(context.Background(), DiscoveryTimeout)
	defer cancel()
	return a.VerifyContext(ctx, token)
}

// VerifyContext is Verify with a context bounding an OIDC issuer's
// discovery or key fetch. A JWT whose iss names a configured issuer is
// verified by that issuer (signature against its JWKS, aud, exp) and mapped
// to a Principal by its claims; a JWT of any other issuer is
// ErrUnauthorized.
func (a *Authenticator) VerifyContext(ctx context.Context, token string) (Principal, error) {
	if len(a.issuers) > 0 && len(token) <= MaxJWTBytes && strings.Count(token, ".") == 2 {
		if iss := unverifiedIssuer(token); iss != "" {
			oi, ok := a.issuers[iss]
			if !ok {
				return Principal{}, ErrUnauthorized
			}
			p, err := oi.verify(ctx, token)
			if err != nil {
				return Principal{}, fmt.Errorf("%w: %v", ErrUnauthorized, err)
			}
			return p, nil
		}
	}
	if token == "" || len(token) > MaxTokenBytes {
		return Principal{}, ErrUnauthorized
	}
	sum := sha256.Sum256([]byte(token))
	admin := 0
	for i := range a.admins {
		admin |= subtle.ConstantTimeCompare(sum[:], a.admins[i][:])
	}
	if admin == 1 {
		return Principal{Kind: Admin}, nil
	}
	agentID, mark, err := a.parse(token)
	if err != nil || mark == refreshMark {
		return Principal{}, ErrUnauthorized
	}
	if _, ok := a.agents[agentID]; !ok && mark != mintedMark {
		return Principal{}, ErrUnauthorized
	}
	exp, _ := a.expiry(token)
	return Principal{Kind: Agent, AgentID: agentID, Expiry: exp}, nil
}

// parse checks an agent or refresh token's MAC, expiry and revocation and
// returns its agent and kind mark ("", mintedMark, refreshMark).
func (a *Authenticator) parse(token string) (agentID, mark string, err error) {
	f, err := a.fields(token)
	if err != nil {
		return "", "", err
	}
	if a.now().Unix() >= f.exp || a.revokedAt(f.agent, f.iat) {
		return "", "", ErrUnauthorized
	}
	return f.agent, f.mark, nil
}

type tokenFields struct {
	agent    string
	exp, iat int64 // Unix seconds, Unix milliseconds
	mark     string
}

// fields verifies the MAC and splits the payload.
func (a *Authenticator) fields(token string) (tokenFields, error) {
	if token == "" || len(token) > MaxTokenBytes {
		return tokenFields{}, ErrUnauthorized
	}
	// Only the base64url alphabet and one dot: the decoder alone would skip
	// newlines, and a token must have exactly one spelling.
	if strings.ContainsFunc(token, func(r rune) bool { return !isTokenChar(r) }) {
		return tokenFields{}, ErrUnauthorized
	}
	b64payload, b64mac, ok := strings.Cut(token, ".")
	if !ok {
		return tokenFields{}, ErrUnauthorized
	}
	payload, err1 := a.encoder.DecodeString(b64payload)
	mac, err2 := a.encoder.DecodeString(b64mac)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, a.mac(string(payload))) {
		return tokenFields{}, ErrUnauthorized
	}
	// The MAC is good, so the payload is one we issued; parse it anyway as
	// if it were hostile, since the secret may have been reused elsewhere.
	p := string(payload)
	var f tokenFields
	if i := strings.LastIndexByte(p, '|'); i > 0 && (p[i+1:] == mintedMark || p[i+1:] == refreshMark) {
		f.mark, p = p[i+1:], p[:i]
	}
	i := strings.LastIndexByte(p, '|')
	if i <= 0 {
		return tokenFields{}, ErrUnauthorized
	}
	iat, err := strconv.ParseInt(p[i+1:], 10, 64)
	p = p[:i]
	j := strings.LastIndexByte(p, '|')
	if err != nil || j <= 0 {
		return tokenFields{}, ErrUnauthorized
	}
	exp, err := strconv.ParseInt(p[j+1:], 10, 64)
	if err != nil {
		return tokenFields{}, ErrUnauthorized
	}
	f.agent, f.exp, f.iat = p[:j], exp, iat
	return f, nil
}

// expiry is a verified token's expiry.
func (a *Authenticator) expiry(token string) (time.Time, error) {
	f, err := a.fields(token)
	return time.Unix(f.exp, 0), err
}

func isTokenChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
}

// NewSecret returns SecretBytes random bytes from crypto/rand.
func NewSecret() ([]byte, error) {
	b := make([]byte, SecretBytes)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("auth: random secret: %w", err)
	}
	return b, nil
}

// LoadOrCreateSecret returns the token secret kept in the file at path,
// creating it (NewSecret, mode 0600, written to a temporary file and renamed
// so a crash never leaves half a secret) when it does not exist. Keeping the
// secret across restarts keeps agents' tokens valid. Errors: the file cannot
// be read or written, or holds fewer than SecretBytes bytes.
func LoadOrCreateSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if len(b) < SecretBytes {
			return nil, fmt.Errorf("auth: secret file %s has %d bytes, need at least %d", path, len(b), SecretBytes)
		}
		return b, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("auth: read secret: %w", err)
	}
	b, err = NewSecret()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("auth: secret directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secret-*")
	if err != nil {
		return nil, fmt.Errorf("auth: create secret: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: write secret: %w", err)
	}
	return b, nil
}
