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
