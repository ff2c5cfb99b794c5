// Package auth authenticates callers of omniroute's HTTP APIs: admin bearer
// tokens from the config file, and agents who log in with a username and
// password (ExpertFlow Agent Manager login, seed 004 / PROTOCOLS.md) and get
// a stateless signed token.
//
// An agent token is
//
//	base64url(agentID "|" expiryUnix) "." base64url(HMAC-SHA256(secret, agentID "|" expiryUnix))
//
// (RawURLEncoding, no padding). Stateless, so any node holding the secret
// verifies it without a session store; the price is that a token stays valid
// until it expires (or the secret changes, or the agent loses its login).
package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
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
)

// Principal is the verified caller.
type Principal struct {
	Kind Kind
	// AgentID is set for Agent principals.
	AgentID string
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
	// DefaultTokenTTL is an agent token's lifetime when Options leave it 0.
	DefaultTokenTTL = 12 * time.Hour
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
	// TokenTTL is an agent token's lifetime (default DefaultTokenTTL).
	TokenTTL time.Duration
	// Now is the clock (default time.Now); tests inject one.
	Now func() time.Time
}

// Authenticator checks credentials and tokens. It is immutable after New and
// safe for concurrent use.
type Authenticator struct {
	admins  [][sha256.Size]byte
	users   map[string]User     // by username
	agents  map[string]struct{} // agent ids with a login
	secret  []byte
	ttl     time.Duration
	now     func() time.Time
	encoder *base64.Encoding
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
	if a.now == nil {
		a.now = time.Now
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
	o := Options{AdminTokens: c.Auth.AdminTokens, Secret: secret, Now: now,
		TokenTTL: config.Seconds(c.Auth.TokenTTLSeconds)}
	if c.Auth.TokenSecret != "" {
		o.Secret = []byte(c.Auth.TokenSecret)
	}
	for _, ag := range c.Agents {
		if ag.Username == "" {
			continue
		}
		if ag.PasswordHash == "" {
			return nil, fmt.Errorf("auth: agent %q has no passwordHash (load the config with config.Parse)", ag.ID)
		}
		o.Users = append(o.Users, User{Username: ag.Username, AgentID: ag.ID, PasswordHash: []byte(ag.PasswordHash)})
	}
	return New(o)
}

// TokenTTL returns the lifetime of the tokens Login issues.
func (a *Authenticator) TokenTTL() time.Duration { return a.ttl }

// Login checks a username and password and returns a signed agent token
// valid for TokenTTL, and the agent's id. Unknown usernames and wrong
// passwords both return ErrUnauthorized after one bcrypt comparison, so they
// take similar time.
func (a *Authenticator) Login(username, password string) (token, agentID string, err error) {
	u, known := a.users[username]
	hash := dummyHash
	if known {
		hash = u.PasswordHash
	}
	match := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	if !known || !match || len(password) > MaxPasswordBytes {
		return "", "", ErrUnauthorized
	}
	return a.issue(u.AgentID, a.now().Add(a.ttl)), u.AgentID, nil
}

// mintedMark ends the payload of a token minted by Issue rather than by
// Login: such an agent need not have a password login (agents created over
// the REST API, replay agents), so Verify does not require one.
const mintedMark = "|m"

// Issue mints a signed agent token for agentID, valid for ttl (TokenTTL
// when ttl <= 0). It is what an administrator (POST /v1/agents/{id}/token)
// or a trusted integration uses for agents without a password login; the
// caller must have checked that the agent exists and that it may act.
func (a *Authenticator) Issue(agentID string, ttl time.Duration) string {
	if ttl <= 0 {
		ttl = a.ttl
	}
	exp := a.now().Add(ttl)
	payload := agentID + "|" + strconv.FormatInt(exp.Unix(), 10) + mintedMark
	return a.encoder.EncodeToString([]byte(payload)) + "." + a.encoder.EncodeToString(a.mac(payload))
}

// issue signs a token for agentID expiring at exp (whole seconds).
func (a *Authenticator) issue(agentID string, exp time.Time) string {
	payload := agentID + "|" + strconv.FormatInt(exp.Unix(), 10)
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
	// Only the base64url alphabet and one dot: the decoder alone would skip
	// newlines, and a token must have exactly one spelling.
	if strings.ContainsFunc(token, func(r rune) bool { return !isTokenChar(r) }) {
		return Principal{}, ErrUnauthorized
	}
	b64payload, b64mac, ok := strings.Cut(token, ".")
	if !ok {
		return Principal{}, ErrUnauthorized
	}
	payload, err1 := a.encoder.DecodeString(b64payload)
	mac, err2 := a.encoder.DecodeString(b64mac)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, a.mac(string(payload))) {
		return Principal{}, ErrUnauthorized
	}
	// The MAC is good, so the payload is one we issued; parse it anyway as
	// if it were hostile, since the secret may have been reused elsewhere.
	minted := bytes.HasSuffix(payload, []byte(mintedMark))
	if minted {
		payload = payload[:len(payload)-len(mintedMark)]
	}
	i := bytes.LastIndexByte(payload, '|')
	if i <= 0 {
		return Principal{}, ErrUnauthorized
	}
	agentID := string(payload[:i])
	exp, err := strconv.ParseInt(string(payload[i+1:]), 10, 64)
	if err != nil || a.now().Unix() >= exp {
		return Principal{}, ErrUnauthorized
	}
	if _, ok := a.agents[agentID]; !ok && !minted {
		return Principal{}, ErrUnauthorized
	}
	return Principal{Kind: Agent, AgentID: agentID}, nil
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
