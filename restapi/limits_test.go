package restapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// loginFrom posts a login from the client address addr.
func (e *env) loginFrom(addr, user, pass string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/agent-manager/agent/login", strings.NewReader(fmt.Sprintf(`{"username":%q,"password":%q}`, user, pass)))
	r.Header.Set("Content-Type", "application/json")
	r.RemoteAddr = addr
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// TestLoginBackoffPerUser: after LoginFreeFailures wrong passwords the
// next failure closes the username; while closed even the right password
// gets 429 with Retry-After and no bcrypt runs; when the backoff has passed
// the right password works and clears the count.
func TestLoginBackoffPerUser(t *testing.T) {
	e := newEnv(t)
	const addr = "192.0.2.10:4000"
	for i := range LoginFreeFailures + 1 {
		if w := e.loginFrom(addr, "alice", "wrong"); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d %s", i, w.Code, w.Body)
		}
	}
	w := e.loginFrom(addr, "alice", "alice-pass")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), CodeTooManyRequests) {
		t.Fatalf("right password during the backoff: %d %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	// Another user from the same address is not held back.
	if w := e.loginFrom(addr, "bob", "bob-pass"); w.Code != http.StatusOK {
		t.Fatalf("another user: %d %s", w.Code, w.Body)
	}
	// One more failure after the window doubles it.
	e.clock.Advance(LoginBackoffBase)
	if w := e.loginFrom(addr, "alice", "wrong"); w.Code != http.StatusUnauthorized {
		t.Fatalf("failure after the window: %d", w.Code)
	}
	e.clock.Advance(LoginBackoffBase)
	if w := e.loginFrom(addr, "alice", "alice-pass"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("the doubled backoff was not in force: %d", w.Code)
	}
	e.clock.Advance(LoginBackoffBase)
	if w := e.loginFrom(addr, "alice", "alice-pass"); w.Code != http.StatusOK {
		t.Fatalf("after the backoff: %d %s", w.Code, w.Body)
	}
	if w := e.loginFrom(addr, "alice", "wrong"); w.Code != http.StatusUnauthorized {
		t.Fatalf("a success did not clear the count: %d", w.Code)
	}
}

// TestLoginBackoffPerAddress: one address guessing across many usernames
// is closed after LoginAddressFreeFailures; other addresses are not.
func TestLoginBackoffPerAddress(t *testing.T) {
	e := newEnv(t)
	const guesser = "198.51.100.7:5000"
	for i := range LoginAddressFreeFailures + 1 {
		if w := e.loginFrom(guesser, fmt.Sprintf("user%d", i), "guess"); w.Code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, w.Code)
		}
	}
	if w := e.loginFrom(guesser, "alice", "alice-pass"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("the guessing address was not held back: %d", w.Code)
	}
	if w := e.loginFrom("192.0.2.20:4000", "alice", "alice-pass"); w.Code != http.StatusOK {
		t.Fatalf("another address: %d %s", w.Code, w.Body)
	}
}

// TestRefreshAndRevokeTokens: the login's refresh_token gets a new pair
// (and is refused as a bearer token); an admin's revoke-tokens ends the
// agent's access and refresh tokens at once; an agent may not revoke.
func TestRefreshAndRevokeTokens(t *testing.T) {
	e := newEnv(t)
	var lr LoginResponse
	e.ok(200, "POST", "/agent-manager/agent/login", "", `{"username":"alice","password":"alice-pass"}`).decode(t, &lr)
	e.refused(401, CodeUnauthorized, "GET", "/v1/me", lr.Data.RefreshToken, "")
	var rr LoginResponse
	e.ok(200, "POST", "/agent-manager/agent/refresh", "", `{"refresh_token":"`+lr.Data.RefreshToken+`"}`).decode(t, &rr)
	if rr.Data == nil || rr.Data.AgentID != "alice" || rr.Data.Token == "" {
		t.Fatalf("refresh answer %+v", rr)
	}
	e.ok(200, "GET", "/v1/me", rr.Data.Token, "")
	if r := e.do("POST", "/agent-manager/agent/refresh", "", `{"refresh_token":"`+lr.Data.Token+`"}`); r.status != 401 {
		t.Fatalf("an access token as refresh token: %d", r.status)
	}
	e.refused(403, CodeForbidden, "POST", "/v1/agents/alice/revoke-tokens", rr.Data.Token, "")
	e.clock.Advance(time.Millisecond)
	if r := e.do("POST", "/v1/agents/alice/revoke-tokens", adminToken, ""); r.status != 204 {
		t.Fatalf("admin revoke: %d %s", r.status, r.body)
	}
	for _, tok := range []string{lr.Data.Token, rr.Data.Token} {
		e.refused(401, CodeUnauthorized, "GET", "/v1/me", tok, "")
	}
	if r := e.do("POST", "/agent-manager/agent/refresh", "", `{"refresh_token":"`+rr.Data.RefreshToken+`"}`); r.status != 401 {
		t.Fatalf("refresh after revocation: %d", r.status)
	}
}
