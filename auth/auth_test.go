package auth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/omniroute/omniroute/clock/clocktest"
	"github.com/omniroute/omniroute/config"
)

var (
	secret = bytes.Repeat([]byte("k"), SecretBytes)
	t0     = time.Unix(1_700_000_000, 0)
)

const adminToken = "admin-token-0123456789"

func hash(t testing.TB, pw string) []byte {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func newAuth(t testing.TB, c *clocktest.Clock) *Authenticator {
	t.Helper()
	a, err := New(Options{
		AdminTokens: []string{adminToken, "second-admin-token"},
		Users: []User{
			{Username: "alice", AgentID: "alice", PasswordHash: hash(t, "alice-pass")},
			{Username: "bob.b", AgentID: "agent|bob", PasswordHash: hash(t, strings.Repeat("p", 72))},
		},
		Secret: secret, TokenTTL: time.Hour, Now: c.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAdminTokens(t *testing.T) {
	a := newAuth(t, clocktest.New(t0))
	for _, tok := range []string{adminToken, "second-admin-token"} {
		p, err := a.Verify(tok)
		if err != nil || p.Kind != Admin || !p.CanActFor("anyone") {
			t.Fatalf("%q: %+v %v", tok, p, err)
		}
	}
	for _, tok := range []string{"", "admin-token", adminToken + "x", strings.ToUpper(adminToken), " " + adminToken} {
		if _, err := a.Verify(tok); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("%q: %v", tok, err)
		}
	}
}

func TestLoginAndVerify(t *testing.T) {
	c := clocktest.New(t0)
	a := newAuth(t, c)
	tok, id, err := a.Login("alice", "alice-pass")
	if err != nil || id != "alice" {
		t.Fatalf("login: %q %v", id, err)
	}
	p, err := a.Verify(tok)
	if err != nil || p.Kind != Agent || p.AgentID != "alice" || p.Expiry.IsZero() {
		t.Fatalf("verify: %+v %v", p, err)
	}
	if !p.CanActFor("alice") || p.CanActFor("bob") {
		t.Fatal("CanActFor")
	}
	// An agent id with the separator in it still round-trips.
	tok2, id2, err := a.Login("bob.b", strings.Repeat("p", 72))
	if err != nil || id2 != "agent|bob" {
		t.Fatalf("login bob: %q %v", id2, err)
	}
	if p, err := a.Verify(tok2); err != nil || p.AgentID != "agent|bob" {
		t.Fatalf("verify bob: %+v %v", p, err)
	}
	// Valid until the expiry second, not at it.
	c.Set(t0.Add(time.Hour - time.Second))
	if _, err := a.Verify(tok); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	c.Set(t0.Add(time.Hour))
	if _, err := a.Verify(tok); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("expired token accepted: %v", err)
	}
}

func TestLoginFailures(t *testing.T) {
	a := newAuth(t, clocktest.New(t0))
	for _, tc := range []struct{ user, pw string }{
		{"alice", "wrong"},
		{"alice", ""},
		{"Alice", "alice-pass"},
		{"nobody", "alice-pass"},
		{"", ""},
		// bcrypt compares only 72 bytes; a 73-byte password that shares
		// them must still fail.
		{"bob.b", strings.Repeat("p", 73)},
	} {
		tok, id, err := a.Login(tc.user, tc.pw)
		if !errors.Is(err, ErrUnauthorized) || tok != "" || id != "" {
			t.Fatalf("%q/%q: %q %q %v", tc.user, tc.pw, tok, id, err)
		}
	}
}

// TestUnknownUserCostsABcrypt: an unknown username runs a real bcrypt
// comparison, so it cannot be told from a wrong password by timing.
func TestUnknownUserCostsABcrypt(t *testing.T) {
	if c, err := bcrypt.Cost(dummyHash); err != nil || c != config.PasswordCost {
		t.Fatalf("dummy hash: cost %d %v", c, err)
	}
	a := newAuth(t, clocktest.New(t0))
	start := time.Now()
	a.Login("nobody", "x")
	// A cost-10 bcrypt takes tens of milliseconds on any machine; a fast
	// path for unknown users would take microseconds.
	if d := time.Since(start); d < 10*time.Millisecond {
		t.Fatalf("unknown user answered in %v: no bcrypt ran", d)
	}
}

func TestForgedAndGarbledTokens(t *testing.T) {
	c := clocktest.New(t0)
	a := newAuth(t, c)
	tok, _, err := a.Login("alice", "alice-pass")
	if err != nil {
		t.Fatal(err)
	}
	other, err := New(Options{Users: []User{{Username: "alice", AgentID: "alice", PasswordHash: hash(t, "x")}},
		Secret: bytes.Repeat([]byte("z"), SecretBytes), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	foreign, _, err := other.Login("alice", "x")
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	payload, mac, _ := strings.Cut(tok, ".")
	forgedPayload := enc.EncodeToString([]byte("bob.b|99999999999")) + "." + mac
	longer := enc.EncodeToString([]byte("alice|99999999999")) + "." + mac
	// A correctly signed payload without an expiry, or naming an agent with
	// no login, is refused too.
	noExp := enc.EncodeToString([]byte("alice")) + "." + enc.EncodeToString(a.mac("alice"))
	badExp := enc.EncodeToString([]byte("alice|soon")) + "." + enc.EncodeToString(a.mac("alice|soon"))
	ghost := a.issue("ghost", t0.Add(time.Hour))
	for name, bad := range map[string]string{
		"foreign secret":   foreign,
		"forged payload":   forgedPayload,
		"extended expiry":  longer,
		"no mac":           payload,
		"empty mac":        payload + ".",
		"padded":           payload + "=." + mac,
		"two dots":         tok + ".x",
		"flipped mac":      payload + "." + flip(mac),
		"no expiry":        noExp,
		"bad expiry":       badExp,
		"unknown agent":    ghost,
		"too long":         strings.Repeat("a", MaxTokenBytes+1),
		"garbage":          "%%%.%%%",
		"std base64":       base64.StdEncoding.EncodeToString([]byte("alice|99999999999")) + "." + mac,
		"truncated":        tok[:len(tok)-2],
		"trailing newline": tok + "\n",
	} {
		if p, err := a.Verify(bad); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s accepted: %+v %v", name, p, err)
		}
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

func TestNewErrors(t *testing.T) {
	for name, o := range map[string]Options{
		"short secret":   {Secret: []byte("short")},
		"empty admin":    {Secret: secret, AdminTokens: []string{""}},
		"empty username": {Secret: secret, Users: []User{{AgentID: "a"}}},
		"empty agent":    {Secret: secret, Users: []User{{Username: "a"}}},
		"duplicate user": {Secret: secret, Users: []User{{Username: "a", AgentID: "a"}, {Username: "a", AgentID: "b"}}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestFromConfig(t *testing.T) {
	c, err := config.Load(filepath.Join("..", "examples", "omniroute.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktest.New(t0)
	a, err := FromConfig(c, secret, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	if a.TokenTTL() != 15*time.Minute || a.RefreshTTL() != 12*time.Hour {
		t.Fatalf("ttl %v, refresh %v", a.TokenTTL(), a.RefreshTTL())
	}
	if p, err := a.Verify("dev-admin-token"); err != nil || p.Kind != Admin {
		t.Fatalf("admin: %v", err)
	}
	tok, id, err := a.Login("carol", "carol-pass")
	if err != nil || id != "carol" {
		t.Fatalf("login: %v", err)
	}
	// tokenSecret in the file wins over the caller's secret.
	c.Auth.TokenSecret = strings.Repeat("s", 32)
	b, err := FromConfig(c, secret, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(tok); !errors.Is(err, ErrUnauthorized) {
		t.Fatal("token signed with the caller's secret verified under tokenSecret")
	}
	c.Auth.TokenSecret = ""
	if _, err := FromConfig(c, nil, nil); err == nil {
		t.Fatal("no secret at all accepted")
	}
	c.Agents[0].PasswordHash, c.Agents[0].Password = "", "plain"
	if _, err := FromConfig(c, secret, nil); err == nil {
		t.Fatal("unhashed password accepted")
	}
}

func TestLoadOrCreateSecret(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "token-secret")
	s1, err := LoadOrCreateSecret(path)
	if err != nil || len(s1) != SecretBytes {
		t.Fatalf("create: %d %v", len(s1), err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v %v", fi.Mode(), err)
	}
	s2, err := LoadOrCreateSecret(path)
	if err != nil || !bytes.Equal(s1, s2) {
		t.Fatalf("reload differs: %v", err)
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSecret(path); err == nil {
		t.Fatal("short secret file accepted")
	}
}

func FuzzVerify(f *testing.F) {
	c := clocktest.New(t0)
	a := newAuth(f, c)
	tok, _, err := a.Login("alice", "alice-pass")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add(adminToken)
	f.Add("")
	f.Add(".")
	f.Add(tok[:len(tok)/2])
	f.Add(a.issue("agent|bob", t0.Add(-time.Second)))
	f.Fuzz(func(t *testing.T, s string) {
		p, err := a.Verify(s)
		if err != nil {
			if !errors.Is(err, ErrUnauthorized) || !reflect.DeepEqual(p, Principal{}) {
				t.Fatalf("error %v with principal %+v", err, p)
			}
			return
		}
		switch p.Kind {
		case Admin:
			if s != adminToken && s != "second-admin-token" {
				t.Fatalf("%q verified as admin", s)
			}
		case Agent:
			// Only a token we would issue verifies: re-issuing it from its
			// own claims must give back the same string.
			payload, _, _ := strings.Cut(s, ".")
			raw, _ := base64.RawURLEncoding.DecodeString(payload)
			if p.AgentID != "alice" && p.AgentID != "agent|bob" || !strings.HasPrefix(string(raw), p.AgentID+"|") {
				t.Fatalf("%q verified as %+v", s, p)
			}
			if s != tok && !bytes.Equal([]byte(s), []byte(tok)) {
				exp := strings.TrimPrefix(string(raw), p.AgentID+"|")
				if want := enc(string(raw)) + "." + enc(string(a.mac(p.AgentID+"|"+exp))); s != want {
					t.Fatalf("%q verified but is not canonical (%q)", s, want)
				}
			}
		default:
			t.Fatalf("kind %q", p.Kind)
		}
	})
}

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestIssuedTokenNeedsNoLogin(t *testing.T) {
	c := clocktest.New(time.Unix(1_700_000_000, 0))
	a := newAuth(t, c)
	tok := a.Issue("replay-agent", time.Minute)
	p, err := a.Verify(tok)
	if err != nil || p.Kind != Agent || p.AgentID != "replay-agent" {
		t.Fatalf("Verify(issued) = %+v, %v", p, err)
	}
	// A login-shaped token for the same agent (no minted mark) is refused:
	// the mark is covered by the MAC and cannot be stripped.
	payload, _, _ := strings.Cut(tok, ".")
	if _, err := a.Verify(payload + "." + strings.Repeat("A", 43)); err == nil {
		t.Fatal("forged MAC accepted")
	}
	c.Advance(2 * time.Minute)
	if _, err := a.Verify(tok); err == nil {
		t.Fatal("expired issued token accepted")
	}
}
