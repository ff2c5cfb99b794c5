package config

import (
	"slices"
	"strings"
	"testing"
)

// TestOIDCPasswordGrant: auth.oidc[].passwordGrant and the client fields
// parse (default off), and a password grant over plain http is warned
// about as sending passwords in clear.
func TestOIDCPasswordGrant(t *testing.T) {
	c, err := Parse([]byte(`
auth:
  oidc:
    - {issuer: "https://sso.example.com/realms/cc", audience: omniroute}
    - issuer: "http://127.0.0.1:8080/realms/cc"
      audience: omniroute
      passwordGrant: true
      clientId: desk
      clientSecret: s3cret
      scopes: [openid, profile, roles]
`))
	if err != nil {
		t.Fatal(err)
	}
	o := c.Auth.OIDC
	if o[0].PasswordGrant || !o[1].PasswordGrant || o[1].ClientID != "desk" || o[1].ClientSecret != "s3cret" ||
		!slices.Equal(o[1].Scopes, []string{"openid", "profile", "roles"}) {
		t.Fatalf("parsed %+v", o)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "auth.oidc[1]: passwordGrant over plain http") {
		t.Fatalf("warnings %q", c.Warnings)
	}
}

// TestOIDCBrowserLogin: auth.oidc[].browserLogin and name parse (default
// off); a name with control characters or over MaxOIDCNameBytes, and a
// browser login whose scopes lack openid, are refused.
func TestOIDCBrowserLogin(t *testing.T) {
	c, err := Parse([]byte(`
auth:
  oidc:
    - {issuer: "https://sso.example.com/realms/cc", audience: omniroute}
    - {issuer: "https://login.example.com", audience: omniroute, browserLogin: true, name: Company SSO}
`))
	if err != nil {
		t.Fatal(err)
	}
	o := c.Auth.OIDC
	if o[0].BrowserLogin || !o[1].BrowserLogin || o[1].Name != "Company SSO" {
		t.Fatalf("parsed %+v", o)
	}
	for _, bad := range []struct{ entry, want string }{
		{`{issuer: "https://a.example.com", audience: x, name: "a\u0007b"}`, "must be printable"},
		{`{issuer: "https://a.example.com", audience: x, name: "` + strings.Repeat("n", MaxOIDCNameBytes+1) + `"}`, "at most 64 bytes"},
		{`{issuer: "https://a.example.com", audience: x, browserLogin: true, scopes: [profile]}`, "needs the openid scope"},
	} {
		_, err := Parse([]byte("auth:\n  oidc:\n    - " + bad.entry + "\n"))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want %q", bad.entry, err, bad.want)
		}
	}
}
