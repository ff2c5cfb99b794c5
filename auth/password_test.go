package auth

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/internal/testidp"
)

// passwordAuth is an Authenticator with one local user (alice) and idp as
// an issuer taking passwords (when grant), agents needing role "agent".
func passwordAuth(t *testing.T, idp *testidp.Provider, grant bool) *Authenticator {
	t.Helper()
	a, err := New(Options{Secret: secret,
		Users: []User{{Username: "alice", AgentID: "alice", PasswordHash: hash(t, "alice-pass")}},
		Issuers: []Issuer{{URL: idp.URL, Audience: "omniroute", AgentRoles: []string{"agent"},
			SupervisorRoles: []string{"supervisor"}, AdminRoles: []string{"cc-admin"}, PasswordGrant: grant}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var idpUsers = map[string]testidp.User{
	"carol":   {Password: "carol-pass", Roles: []string{"agent", "supervisor"}},
	"root":    {Password: "root-pass", Roles: []string{"cc-admin"}},
	"mallory": {Password: "mallory-pass", Roles: []string{"visitor"}},
}

// TestPasswordLogin: a password grant at the issuer gives a token that
// VerifyContext accepts as a bearer token, with the issuer's claim mapping
// (agent, supervisor, admin); the grant is made for the audience as a
// public client, with the openid and profile scopes.
func TestPasswordLogin(t *testing.T) {
	idp := testidp.Start(t, "omniroute", idpUsers)
	a := passwordAuth(t, idp, true)
	if !a.PasswordGrant() || !a.HasLocalUser("alice") || a.HasLocalUser("carol") {
		t.Fatalf("PasswordGrant %v, HasLocalUser alice %v carol %v", a.PasswordGrant(), a.HasLocalUser("alice"), a.HasLocalUser("carol"))
	}
	ctx := context.Background()
	l, err := a.PasswordLogin(ctx, "carol", "carol-pass")
	if err != nil {
		t.Fatal(err)
	}
	tok, p := l.Token, l.Principal
	if p.Kind != Agent || p.AgentID != "carol" || !p.Supervisor || p.Issuer != idp.URL || p.Expiry.IsZero() {
		t.Fatalf("principal %+v", p)
	}
	if v, err := a.VerifyContext(ctx, tok); err != nil || v.AgentID != "carol" {
		t.Fatalf("the login's token as a bearer token: %+v %v", v, err)
	}
	form := idp.LastForm()
	if got := form["client_id"]; len(got) != 1 || got[0] != "omniroute" {
		t.Errorf("client_id %v", got)
	}
	if got := form["scope"]; len(got) != 1 || got[0] != "openid profile" {
		t.Errorf("scope %v", got)
	}
	if l, err = a.PasswordLogin(ctx, "root", "root-pass"); err != nil || l.Principal.Kind != Admin || l.Principal.AgentID != "root" {
		t.Fatalf("admin by role: %+v %v", l, err)
	}
	// An answer with only an access token (a JWT) is verified the same.
	idp.Set(func(b *testidp.Behavior) { b.OnlyAccessToken = true })
	if l, err = a.PasswordLogin(ctx, "carol", "carol-pass"); err != nil || l.Principal.AgentID != "carol" {
		t.Fatalf("access token only: %+v %v", l, err)
	}
}

// TestPasswordLoginRefusals: every way a password login at an issuer
// fails is ErrUnauthorized (the password or the token it got is wrong) or
// ErrIssuerUnavailable (nobody could say), and an issuer without
// passwordGrant is never asked.
func TestPasswordLoginRefusals(t *testing.T) {
	ctx := context.Background()
	idp := testidp.Start(t, "omniroute", idpUsers)

	t.Run("not allowed", func(t *testing.T) {
		a := passwordAuth(t, idp, false)
		before := idp.TokenRequests.Load()
		if _, err := a.PasswordLogin(ctx, "carol", "carol-pass"); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("got %v", err)
		}
		if a.PasswordGrant() || idp.TokenRequests.Load() != before {
			t.Fatal("an issuer without passwordGrant was asked")
		}
	})

	unauthorized := []struct {
		name       string
		user, pass string
		set        func(b *testidp.Behavior)
	}{
		{"wrong password", "carol", "guess", nil},
		{"unknown user", "nobody", "guess", nil},
		{"empty password", "carol", "", nil},
		{"no agent role", "mallory", "mallory-pass", nil},
		{"signed by another key", "carol", "carol-pass", func(b *testidp.Behavior) { b.SignWith = testidp.NewKey(t) }},
		{"another audience", "carol", "carol-pass", func(b *testidp.Behavior) { b.Audience = "someone-else" }},
		{"another issuer in the token", "carol", "carol-pass", func(b *testidp.Behavior) { b.Issuer = "https://other.example" }},
		{"expired token", "carol", "carol-pass", func(b *testidp.Behavior) { b.TTL = -time.Minute }},
	}
	for _, c := range unauthorized {
		t.Run(c.name, func(t *testing.T) {
			idp.Set(func(b *testidp.Behavior) { *b = testidp.Behavior{Users: idpUsers} })
			if c.set != nil {
				idp.Set(c.set)
			}
			a := passwordAuth(t, idp, true)
			l, err := a.PasswordLogin(ctx, c.user, c.pass)
			if !errors.Is(err, ErrUnauthorized) || l.Token != "" || l.Refresh != "" || l.Principal.AgentID != "" {
				t.Fatalf("got %+v %v, want ErrUnauthorized", l, err)
			}
		})
	}
	idp.Set(func(b *testidp.Behavior) { *b = testidp.Behavior{Users: idpUsers} })

	unavailable := []struct {
		name   string
		status int
		code   string
	}{
		{"token endpoint fails", 500, "server_error"},
		{"client refused", 401, "invalid_client"},
		{"grant not enabled for the client", 400, "unauthorized_client"},
	}
	for _, c := range unavailable {
		t.Run(c.name, func(t *testing.T) {
			idp.Set(func(b *testidp.Behavior) { b.TokenStatus, b.TokenError = c.status, c.code })
			defer idp.Set(func(b *testidp.Behavior) { b.TokenStatus = 0 })
			a := passwordAuth(t, idp, true)
			if _, err := a.PasswordLogin(ctx, "carol", "carol-pass"); !errors.Is(err, ErrIssuerUnavailable) {
				t.Fatalf("got %v, want ErrIssuerUnavailable", err)
			}
		})
	}

	t.Run("provider down", func(t *testing.T) {
		down := testidp.Start(t, "omniroute", idpUsers)
		down.Close()
		a := passwordAuth(t, down, true)
		if _, err := a.PasswordLogin(ctx, "carol", "carol-pass"); !errors.Is(err, ErrIssuerUnavailable) {
			t.Fatalf("got %v, want ErrIssuerUnavailable", err)
		}
	})
}

// TestRefreshIssuer: an issuer login's refresh token (the issuer's, with
// the issuer in front) gets a new login from that issuer, verified as the
// first; a used, garbled or foreign refresh token is ErrUnauthorized, a
// user whose roles were taken away too, and an issuer down is
// ErrIssuerUnavailable.
func TestRefreshIssuer(t *testing.T) {
	ctx := context.Background()
	users := map[string]testidp.User{"carol": idpUsers["carol"], "dora": {Password: "dora-pass", Roles: []string{"agent"}}}
	idp := testidp.Start(t, "omniroute", users)
	a := passwordAuth(t, idp, true)
	l, err := a.PasswordLogin(ctx, "carol", "carol-pass")
	if err != nil || !IsIssuerRefresh(l.Refresh) || IsIssuerRefresh(l.Token) {
		t.Fatalf("login %+v %v", l, err)
	}
	r, err := a.RefreshIssuer(ctx, l.Refresh)
	if err != nil || r.Principal.AgentID != "carol" || !r.Principal.Supervisor || r.Refresh == "" || r.Refresh == l.Refresh {
		t.Fatalf("refresh %+v %v", r, err)
	}
	if _, err := a.VerifyContext(ctx, r.Token); err != nil {
		t.Fatalf("the refreshed token as a bearer token: %v", err)
	}
	if _, _, _, err := a.Refresh(r.Refresh); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("an issuer refresh token at Refresh: %v", err)
	}
	for name, tok := range map[string]string{
		"used":           l.Refresh,
		"garbled":        "oidc~%%%~x",
		"no token":       "oidc~" + strings.Split(l.Refresh, "~")[1] + "~",
		"another issuer": "oidc~aHR0cHM6Ly9ldmlsLmV4YW1wbGU~" + strings.Split(r.Refresh, "~")[2],
		"a local one":    "not-an-issuer-refresh",
	} {
		if _, err := a.RefreshIssuer(ctx, tok); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s refresh token: %v", name, err)
		}
	}
	// The user lost the agent role at the issuer: the refreshed token is
	// refused by the mapping.
	d, err := a.PasswordLogin(ctx, "dora", "dora-pass")
	if err != nil {
		t.Fatal(err)
	}
	idp.Set(func(b *testidp.Behavior) {
		b.Users = map[string]testidp.User{"dora": {Password: "dora-pass", Roles: []string{"visitor"}}}
	})
	if _, err := a.RefreshIssuer(ctx, d.Refresh); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("refresh of a user without the agent role: %v", err)
	}
	idp.Close()
	if _, err := a.RefreshIssuer(ctx, r.Refresh); !errors.Is(err, ErrIssuerUnavailable) {
		t.Fatalf("issuer down: %v", err)
	}
}
