package restapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/internal/testidp"
)

// withIssuer replaces e's authenticator by one that also passes logins to
// idp (auth.oidc[].passwordGrant), the local users kept.
func (e *env) withIssuer(t *testing.T, idp *testidp.Provider) {
	t.Helper()
	var users []auth.User
	for id, h := range passwordHashes() {
		users = append(users, auth.User{Username: id, AgentID: id, PasswordHash: h})
	}
	a, err := auth.New(auth.Options{AdminTokens: []string{adminToken}, Users: users,
		Secret: bytes.Repeat([]byte("s"), 32), TokenTTL: time.Hour, Now: e.clock.Now,
		Issuers: []auth.Issuer{{URL: idp.URL, Audience: "omniroute", AgentRoles: []string{"agent"},
			SupervisorRoles: []string{"supervisor"}, PasswordGrant: true}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e.auth = a
	e.h = New(e.node, a, Options{Now: e.clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// TestLoginPassThrough: a username that is not a local login goes to the
// issuer; its token comes back in the local login's shape and works as a
// bearer token, and its refresh token goes back to the issuer; local users
// still log in locally (the issuer is not
// asked); a wrong password at the issuer is the local 401 and counts for
// the backoff; an issuer that fails is 503 IDENTITY_PROVIDER_UNAVAILABLE,
// which does not count.
func TestLoginPassThrough(t *testing.T) {
	idp := testidp.Start(t, "omniroute", map[string]testidp.User{
		"alice": {Password: "idp-alice-pass", Roles: []string{"agent"}},
		"carol": {Password: "carol-pass", Roles: []string{"agent", "supervisor"}},
	})
	e := newEnv(t)
	e.withIssuer(t, idp)
	const addr = "192.0.2.30:4000"

	w := e.loginFrom(addr, "carol", "carol-pass")
	var lr LoginResponse
	if err := json.Unmarshal(w.Body.Bytes(), &lr); err != nil || w.Code != 200 || lr.Data == nil {
		t.Fatalf("issuer login: %d %s", w.Code, w.Body)
	}
	d := lr.Data
	if d.AgentID != "carol" || d.Token == "" || !auth.IsIssuerRefresh(d.RefreshToken) || d.KeycloakUser.ID != "carol" ||
		d.KeycloakUser.Token != d.Token || !slices.Equal(d.KeycloakUser.Roles, []string{"agent", "supervisor"}) {
		t.Fatalf("issuer login answer %s", w.Body)
	}
	e.ok(200, "GET", "/v1/me", d.Token, "")
	// Its refresh token goes back to the issuer and gives a new pair in
	// the same shape; a used one is refused as a bad local one is.
	var rr LoginResponse
	e.ok(200, "POST", "/agent-manager/agent/refresh", "", `{"refresh_token":"`+d.RefreshToken+`"}`).decode(t, &rr)
	if rr.Data == nil || rr.Data.AgentID != "carol" || rr.Data.Token == "" || !auth.IsIssuerRefresh(rr.Data.RefreshToken) ||
		rr.Data.RefreshToken == d.RefreshToken || !slices.Equal(rr.Data.KeycloakUser.Roles, []string{"agent", "supervisor"}) {
		t.Fatalf("issuer refresh answer %+v", rr)
	}
	e.ok(200, "GET", "/v1/me", rr.Data.Token, "")
	used := e.do("POST", "/agent-manager/agent/refresh", "", `{"refresh_token":"`+d.RefreshToken+`"}`)
	bad := e.do("POST", "/agent-manager/agent/refresh", "", `{"refresh_token":"garbage"}`)
	if used.status != 401 || string(used.body) != string(bad.body) {
		t.Fatalf("a used issuer refresh token: %d %s (a bad one: %s)", used.status, used.body, bad.body)
	}

	// A local user is checked locally, even when the issuer knows the name.
	asked := idp.TokenRequests.Load()
	if w := e.loginFrom(addr, "alice", "alice-pass"); w.Code != 200 {
		t.Fatalf("local login: %d %s", w.Code, w.Body)
	}
	if w := e.loginFrom(addr, "alice", "idp-alice-pass"); w.Code != 401 {
		t.Fatalf("a local user's issuer password: %d %s", w.Code, w.Body)
	}
	if idp.TokenRequests.Load() != asked {
		t.Fatal("a local user's login was passed to the issuer")
	}

	// A wrong password at the issuer: the same answer as a local one.
	local := e.loginFrom("192.0.2.31:4000", "bob", "wrong")
	remote := e.loginFrom("192.0.2.31:4000", "carol", "wrong")
	if local.Code != 401 || remote.Code != 401 || local.Body.String() != remote.Body.String() {
		t.Fatalf("wrong passwords: local %d %s, issuer %d %s", local.Code, local.Body, remote.Code, remote.Body)
	}

	// The issuer failing: 503 with a stable code, no backoff counted.
	idp.Set(func(b *testidp.Behavior) { b.TokenStatus, b.TokenError = 500, "server_error" })
	for range LoginFreeFailures + 2 {
		w := e.loginFrom(addr, "carol", "carol-pass")
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), `"code":"`+CodeIdentityProviderUnavailable+`"`) ||
			w.Header().Get("Retry-After") == "" {
			t.Fatalf("issuer down: %d %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
		}
	}
	if r := e.do("POST", "/agent-manager/agent/refresh", "", `{"refresh_token":"`+rr.Data.RefreshToken+`"}`); r.status != 503 || r.errorCode() != CodeIdentityProviderUnavailable {
		t.Fatalf("refresh with the issuer down: %d %s", r.status, r.body)
	}
	idp.Set(func(b *testidp.Behavior) { b.TokenStatus = 0 })
	if w := e.loginFrom(addr, "carol", "carol-pass"); w.Code != 200 {
		t.Fatalf("after the issuer came back: %d %s", w.Code, w.Body)
	}

	// Backoff: wrong passwords at the issuer close the username; then even
	// the right one waits, and the issuer is not asked.
	for i := range LoginFreeFailures + 1 {
		if w := e.loginFrom(addr, "carol", "guess"); w.Code != 401 {
			t.Fatalf("wrong password %d: %d %s", i, w.Code, w.Body)
		}
	}
	asked = idp.TokenRequests.Load()
	if w := e.loginFrom(addr, "carol", "carol-pass"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("right password during the backoff: %d %s", w.Code, w.Body)
	}
	if idp.TokenRequests.Load() != asked {
		t.Fatal("the issuer was asked during the backoff")
	}
	e.clock.Advance(LoginBackoffBase)
	if w := e.loginFrom(addr, "carol", "carol-pass"); w.Code != 200 {
		t.Fatalf("after the backoff: %d %s", w.Code, w.Body)
	}

	// Down: discovery fails.
	down := testidp.Start(t, "omniroute", nil)
	down.Close()
	e.withIssuer(t, down)
	if w := e.loginFrom(addr, "carol", "carol-pass"); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), CodeIdentityProviderUnavailable) {
		t.Fatalf("issuer unreachable: %d %s", w.Code, w.Body)
	}
}
