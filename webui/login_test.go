package webui

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/internal/testidp"
	"github.com/omniroute/omniroute/journal/memjournal"
	"github.com/omniroute/omniroute/node"
)

// loginEnv serves a UI whose authenticator has idp as an issuer with
// browserLogin (agents need role "agent"), on the fixture's contact center.
func loginEnv(t *testing.T, idp *testidp.Provider) *httptest.Server {
	t.Helper()
	n, err := node.Open(context.Background(), node.Config{Journal: memjournal.New(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(fixture))
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range cfg.Commands() {
		if _, err := n.Submit(context.Background(), cmd); err != nil {
			t.Fatal(err)
		}
	}
	a, err := auth.New(auth.Options{Secret: bytes.Repeat([]byte("s"), 32), Logger: quiet,
		Issuers: []auth.Issuer{{URL: idp.URL, Audience: "omniroute", AgentRoles: []string{"agent"}, BrowserLogin: true, Name: "Test SSO"}}})
	if err != nil {
		t.Fatal(err)
	}
	ui, err := New(context.Background(), n, a, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ui.Handler())
	t.Cleanup(func() {
		srv.Close()
		ui.Close()
		n.Close()
	})
	return srv
}

const (
	pkceVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	pkceRedirect = "http://127.0.0.1:8080" + CallbackPath
)

func postJSON(t *testing.T, url, body string) (*http.Response, map[string]any) {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res, m
}

func codeBody(issuer, code, verifier, redirect string) string {
	b, _ := json.Marshal(codeRequest{Issuer: issuer, Code: code, CodeVerifier: verifier, RedirectURI: redirect})
	return string(b)
}

// TestOIDCLoginRoutes: GET /ui/api/login-options lists the issuer with its
// discovered authorization endpoint, and POST /ui/api/oidc/token exchanges
// a code for a token the pages' routes accept (GET /ui/api/me).
func TestOIDCLoginRoutes(t *testing.T) {
	idp := testidp.Start(t, "omniroute", map[string]testidp.User{"alice": {Roles: []string{"agent"}}})
	srv := loginEnv(t, idp)
	res, err := http.Get(srv.URL + "/ui/api/login-options")
	if err != nil {
		t.Fatal(err)
	}
	var opts struct{ Issuers []auth.BrowserLogin }
	_ = json.NewDecoder(res.Body).Decode(&opts)
	res.Body.Close()
	if len(opts.Issuers) != 1 || opts.Issuers[0].Name != "Test SSO" || opts.Issuers[0].AuthorizationEndpoint != idp.URL+"/auth" ||
		opts.Issuers[0].ClientID != "omniroute" {
		t.Fatalf("login options %+v", opts)
	}
	res, body := postJSON(t, srv.URL+"/ui/api/oidc/token", codeBody(idp.URL, idp.Code("alice", pkceVerifier, pkceRedirect), pkceVerifier, pkceRedirect))
	if res.StatusCode != 200 || body["agent"] != "alice" {
		t.Fatalf("exchange: %d %v", res.StatusCode, body)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/ui/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+body["token"].(string))
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var me Viewer
	_ = json.NewDecoder(res.Body).Decode(&me)
	res.Body.Close()
	if res.StatusCode != 200 || me.Agent != "alice" || me.Name != "Alice" {
		t.Fatalf("me: %d %+v", res.StatusCode, me)
	}
	res, err = http.Get(srv.URL + CallbackPath)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("callback page: %d %v", res.StatusCode, res.Header)
	}
}

// TestOIDCTokenRefusals: every refusal of POST /ui/api/oidc/token has its
// status and code, gives no token, and malformed bodies never reach the
// provider.
func TestOIDCTokenRefusals(t *testing.T) {
	users := map[string]testidp.User{"alice": {Roles: []string{"agent"}}, "mallory": {Roles: []string{"visitor"}}}
	idp := testidp.Start(t, "omniroute", users)
	srv := loginEnv(t, idp)
	route := srv.URL + "/ui/api/oidc/token"
	code := func(user string) string { return idp.Code(user, pkceVerifier, pkceRedirect) }
	used := code("alice")
	if res, _ := postJSON(t, route, codeBody(idp.URL, used, pkceVerifier, pkceRedirect)); res.StatusCode != 200 {
		t.Fatalf("first exchange: %d", res.StatusCode)
	}
	for _, c := range []struct {
		name, body string
		status     int
		code       string
		asked      bool
		set        func(b *testidp.Behavior)
	}{
		{"not JSON", "{", 400, "INVALID_JSON", false, nil},
		{"unknown field", `{"issuer":"x","code":"c","code_verifier":"v","redirect_uri":"r","nonce":"n"}`, 400, "INVALID_JSON", false, nil},
		{"missing verifier", codeBody(idp.URL, "c", "", pkceRedirect), 400, "MISSING_FIELD", false, nil},
		{"another callback path", codeBody(idp.URL, "c", pkceVerifier, "http://127.0.0.1:8080/desk"), 400, "INVALID_FIELD", false, nil},
		{"relative redirect", codeBody(idp.URL, "c", pkceVerifier, CallbackPath), 400, "INVALID_FIELD", false, nil},
		{"short verifier", codeBody(idp.URL, "c", "abc", pkceRedirect), 400, "INVALID_FIELD", false, nil},
		{"too large", codeBody(idp.URL, strings.Repeat("c", MaxBodyBytes), pkceVerifier, pkceRedirect), 413, "BODY_TOO_LARGE", false, nil},
		{"unknown issuer", codeBody("https://other.example", "c", pkceVerifier, pkceRedirect), 401, "UNAUTHORIZED", false, nil},
		{"used code", codeBody(idp.URL, used, pkceVerifier, pkceRedirect), 401, "UNAUTHORIZED", true, nil},
		{"wrong verifier", codeBody(idp.URL, code("alice"), strings.Repeat("v", 43), pkceRedirect), 401, "UNAUTHORIZED", true, nil},
		{"another redirect URI", codeBody(idp.URL, code("alice"), pkceVerifier, "http://127.0.0.1:9999"+CallbackPath), 401, "UNAUTHORIZED", true, nil},
		{"no agent role", codeBody(idp.URL, code("mallory"), pkceVerifier, pkceRedirect), 401, "UNAUTHORIZED", true, nil},
		{"token for another audience", codeBody(idp.URL, code("alice"), pkceVerifier, pkceRedirect), 401, "UNAUTHORIZED", true,
			func(b *testidp.Behavior) { b.Audience = "someone-else" }},
		{"expired token", codeBody(idp.URL, code("alice"), pkceVerifier, pkceRedirect), 401, "UNAUTHORIZED", true,
			func(b *testidp.Behavior) { b.TTL = -time.Minute }},
		{"client refused", codeBody(idp.URL, code("alice"), pkceVerifier, pkceRedirect), 503, "IDENTITY_PROVIDER_UNAVAILABLE", true,
			func(b *testidp.Behavior) { b.TokenStatus, b.TokenError = 401, "invalid_client" }},
	} {
		idp.Set(func(b *testidp.Behavior) { *b = testidp.Behavior{Users: users} })
		if c.set != nil {
			idp.Set(c.set)
		}
		before := idp.TokenRequests.Load()
		res, body := postJSON(t, route, c.body)
		errBody, _ := body["error"].(map[string]any)
		if res.StatusCode != c.status || errBody["code"] != c.code || body["token"] != nil {
			t.Errorf("%s: %d %v, want %d %s", c.name, res.StatusCode, body, c.status, c.code)
		}
		if asked := idp.TokenRequests.Load() != before; asked != c.asked {
			t.Errorf("%s: provider asked %v, want %v", c.name, asked, c.asked)
		}
		if c.status == 503 && res.Header.Get("Retry-After") != "5" {
			t.Errorf("%s: Retry-After %q", c.name, res.Header.Get("Retry-After"))
		}
	}
}

// FuzzDecodeCodeRequest: any body is a codeRequest with every field set
// and the callback path, or an apiError of status 400 or 413.
func FuzzDecodeCodeRequest(f *testing.F) {
	f.Add(codeBody("https://sso.example", "c", pkceVerifier, pkceRedirect))
	f.Add(`{"issuer":1}`)
	f.Add(`{"issuer":"i","code":"c","code_verifier":"v","redirect_uri":"//h/ui/oidc/callback"}`)
	f.Add("")
	f.Fuzz(func(t *testing.T, body string) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/ui/api/oidc/token", strings.NewReader(body))
		b, err := decodeCodeRequest(w, r)
		if err != nil {
			ae, ok := err.(*apiError)
			if !ok || (ae.status != 400 && ae.status != 413) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if u, err := url.Parse(b.RedirectURI); b.Issuer == "" || b.Code == "" || b.CodeVerifier == "" || err != nil || u.EscapedPath() != CallbackPath {
			t.Fatalf("accepted %+v", b)
		}
	})
}
