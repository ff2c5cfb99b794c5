package auth

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/omniroute/omniroute/internal/testidp"
)

// browserAuth is an Authenticator with idp as an issuer offered on the
// web pages (when browser) under name.
func browserAuth(t *testing.T, idp *testidp.Provider, browser bool, name string) *Authenticator {
	t.Helper()
	a, err := New(Options{Secret: secret,
		Issuers: []Issuer{{URL: idp.URL, Audience: "omniroute", AgentRoles: []string{"agent"},
			SupervisorRoles: []string{"supervisor"}, AdminRoles: []string{"cc-admin"}, BrowserLogin: browser, Name: name}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

const (
	testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" // RFC 7636 appendix B
	testRedirect = "http://127.0.0.1:8080/ui/oidc/callback"
)

// TestCodeLogin: the browser login lists the issuer with its discovered
// authorization endpoint (name defaulting to the host), and a code is
// exchanged with its verifier and redirect URI for a token VerifyContext
// accepts, as a public client.
func TestCodeLogin(t *testing.T) {
	ctx := context.Background()
	idp := testidp.Start(t, "omniroute", idpUsers)
	a := browserAuth(t, idp, true, "")
	u, _ := url.Parse(idp.URL)
	want := BrowserLogin{Issuer: idp.URL, Name: u.Host, AuthorizationEndpoint: idp.URL + "/auth", ClientID: "omniroute", Scopes: []string{"openid", "profile"}}
	if got := a.BrowserLogins(ctx); len(got) != 1 || got[0].Issuer != want.Issuer || got[0].Name != want.Name ||
		got[0].AuthorizationEndpoint != want.AuthorizationEndpoint || got[0].ClientID != want.ClientID || strings.Join(got[0].Scopes, " ") != "openid profile" {
		t.Fatalf("BrowserLogins %+v, want [%+v]", got, want)
	}
	if got := browserAuth(t, idp, true, "Company SSO").BrowserLogins(ctx); len(got) != 1 || got[0].Name != "Company SSO" {
		t.Fatalf("named: %+v", got)
	}
	tok, p, err := a.CodeLogin(ctx, idp.URL, idp.Code("carol", testVerifier, testRedirect), testVerifier, testRedirect)
	if err != nil {
		t.Fatal(err)
	}
	if p.AgentID != "carol" || !p.Supervisor || p.Issuer != idp.URL {
		t.Fatalf("principal %+v", p)
	}
	if v, err := a.VerifyContext(ctx, tok); err != nil || v.AgentID != "carol" {
		t.Fatalf("the exchanged token as a bearer token: %+v %v", v, err)
	}
	form := idp.LastForm()
	for k, v := range map[string]string{"grant_type": "authorization_code", "client_id": "omniroute", "code_verifier": testVerifier, "redirect_uri": testRedirect} {
		if got := form[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s %v, want %q", k, got, v)
		}
	}
}

// TestCodeLoginRefusals: malformed input is ErrInvalidCodeRequest and an
// issuer not offered for browser logins ErrUnauthorized, both without a
// request to the provider; a code refused by the provider (wrong
// verifier, used, another redirect URI) or a token that does not verify is
// ErrUnauthorized; a provider refusing the client or down is
// ErrIssuerUnavailable, and BrowserLogins then leaves it out.
func TestCodeLoginRefusals(t *testing.T) {
	ctx := context.Background()
	idp := testidp.Start(t, "omniroute", idpUsers)
	a := browserAuth(t, idp, true, "")
	code := func() string { return idp.Code("carol", testVerifier, testRedirect) }

	for _, c := range []struct{ name, code, verifier, redirect string }{
		{"empty code", "", testVerifier, testRedirect},
		{"oversized code", strings.Repeat("c", MaxAuthCodeBytes+1), testVerifier, testRedirect},
		{"short verifier", "c", testVerifier[:42], testRedirect},
		{"long verifier", "c", strings.Repeat("v", 129), testRedirect},
		{"verifier with a space", "c", testVerifier[:42] + " ", testRedirect},
		{"relative redirect", "c", testVerifier, "/ui/oidc/callback"},
		{"javascript redirect", "c", testVerifier, "javascript://x/alert(1)"},
	} {
		before := idp.TokenRequests.Load()
		if _, _, err := a.CodeLogin(ctx, idp.URL, c.code, c.verifier, c.redirect); !errors.Is(err, ErrInvalidCodeRequest) {
			t.Errorf("%s: %v, want ErrInvalidCodeRequest", c.name, err)
		}
		if idp.TokenRequests.Load() != before {
			t.Errorf("%s: the provider was asked", c.name)
		}
	}
	before := idp.TokenRequests.Load()
	if _, _, err := browserAuth(t, idp, false, "").CodeLogin(ctx, idp.URL, code(), testVerifier, testRedirect); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("issuer without browserLogin: %v", err)
	}
	if _, _, err := a.CodeLogin(ctx, "https://other.example", code(), testVerifier, testRedirect); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("unknown issuer: %v", err)
	}
	if idp.TokenRequests.Load() != before {
		t.Error("the provider was asked for an issuer not offered")
	}
	if got := browserAuth(t, idp, false, "").BrowserLogins(ctx); len(got) != 0 {
		t.Errorf("BrowserLogins without browserLogin: %+v", got)
	}

	used := code()
	if _, _, err := a.CodeLogin(ctx, idp.URL, used, testVerifier, testRedirect); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, code, verifier, redirect string
		set                            func(b *testidp.Behavior)
	}{
		{"wrong verifier", code(), strings.Repeat("v", 43), testRedirect, nil},
		{"used code", used, testVerifier, testRedirect, nil},
		{"another redirect URI", code(), testVerifier, "http://127.0.0.1:9090/ui/oidc/callback", nil},
		{"another audience", code(), testVerifier, testRedirect, func(b *testidp.Behavior) { b.Audience = "someone-else" }},
		{"signed by another key", code(), testVerifier, testRedirect, func(b *testidp.Behavior) { b.SignWith = testidp.NewKey(t) }},
		{"expired token", code(), testVerifier, testRedirect, func(b *testidp.Behavior) { b.TTL = -60e9 }},
	} {
		idp.Set(func(b *testidp.Behavior) { *b = testidp.Behavior{Users: idpUsers} })
		if c.set != nil {
			idp.Set(c.set)
		}
		tok, p, err := a.CodeLogin(ctx, idp.URL, c.code, c.verifier, c.redirect)
		if !errors.Is(err, ErrUnauthorized) || tok != "" || p.AgentID != "" {
			t.Errorf("%s: %q %+v %v, want ErrUnauthorized", c.name, tok, p, err)
		}
	}
	idp.Set(func(b *testidp.Behavior) {
		*b = testidp.Behavior{Users: idpUsers, TokenStatus: 401, TokenError: "invalid_client"}
	})
	if _, _, err := a.CodeLogin(ctx, idp.URL, code(), testVerifier, testRedirect); !errors.Is(err, ErrIssuerUnavailable) {
		t.Errorf("invalid_client: %v", err)
	}
	down := testidp.Start(t, "omniroute", idpUsers)
	b := browserAuth(t, down, true, "")
	down.Close()
	if _, _, err := b.CodeLogin(ctx, down.URL, "c", testVerifier, testRedirect); !errors.Is(err, ErrIssuerUnavailable) {
		t.Errorf("provider down: %v", err)
	}
	if got := b.BrowserLogins(ctx); len(got) != 0 {
		t.Errorf("BrowserLogins with the provider down: %+v", got)
	}
}

// FuzzCheckCodeRequest: any input is accepted or ErrInvalidCodeRequest,
// and what is accepted has the RFC 7636 verifier shape.
func FuzzCheckCodeRequest(f *testing.F) {
	f.Add("code", testVerifier, testRedirect)
	f.Add("", "", "")
	f.Add("c", strings.Repeat("~", 128), "https://h/p?q#f")
	f.Fuzz(func(t *testing.T, code, verifier, redirect string) {
		err := checkCodeRequest(code, verifier, redirect)
		if err != nil && !errors.Is(err, ErrInvalidCodeRequest) {
			t.Fatalf("error %v", err)
		}
		if err == nil && (len(verifier) < 43 || len(verifier) > 128 || code == "" || strings.ContainsAny(verifier, " +/=")) {
			t.Fatalf("accepted verifier %q code %q", verifier, code)
		}
	})
}
