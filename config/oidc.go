package config

import (
	"fmt"
	"net/url"
	"slices"
	"unicode"
)

// MaxOIDCIssuers bounds auth.oidc (auth.MaxIssuers).
const MaxOIDCIssuers = 16

// OIDCIssuer is one entry of auth.oidc: an OpenID Connect provider whose
// tokens log agents, supervisors and admins in (package auth, Issuer).
//
//	auth:
//	  oidc:
//	    - issuer: https://sso.example.com/realms/contact-center   # Keycloak
//	      audience: omniroute
//	      agentClaim: preferred_username      # default
//	      rolesClaim: realm_access.roles      # default
//	      agentRoles: [agent]
//	      supervisorRoles: [supervisor]
//	      adminRoles: [omniroute-admin]
//	      passwordGrant: true                 # desk logins with a password
//	      browserLogin: true                  # "Sign in with Company SSO" on the pages
//	      name: Company SSO
//	    - issuer: https://login.microsoftonline.com/<tenant>/v2.0    # Azure AD
//	      audience: <application id>
//	      agentClaim: preferred_username
//	      rolesClaim: roles
type OIDCIssuer struct {
	// Issuer is the iss claim, exactly; discovery is read from
	// <issuer>/.well-known/openid-configuration.
	Issuer string `yaml:"issuer"`
	// Audience must be in the token's aud (usually the client id).
	Audience string `yaml:"audience"`
	// AgentClaim and RolesClaim name the claims (dotted paths) holding the
	// agent id and the roles; defaults preferred_username and
	// realm_access.roles (Keycloak).
	AgentClaim string `yaml:"agentClaim"`
	RolesClaim string `yaml:"rolesClaim"`
	// AgentRoles, when set, are required; SupervisorRoles and AdminRoles
	// map the provider's roles to omniroute's.
	AgentRoles      []string `yaml:"agentRoles"`
	SupervisorRoles []string `yaml:"supervisorRoles"`
	AdminRoles      []string `yaml:"adminRoles"`
	// PasswordGrant lets POST /agent-manager/agent/login pass a username
	// that is not a local login, and its password, to this issuer (OAuth 2.0
	// resource owner password grant at its token endpoint; Keycloak:
	// "Direct access grants" on the client). Default false.
	PasswordGrant bool `yaml:"passwordGrant"`
	// BrowserLogin puts a "Sign in with <name>" button on the login form of
	// the web pages (package webui): the authorization code flow with PKCE
	// (S256), the page's redirect URI being <its origin>/ui/oidc/callback,
	// which must be registered for the client at the provider. The code is
	// exchanged by omniroute at the token endpoint. Default false.
	BrowserLogin bool `yaml:"browserLogin"`
	// Name is what the button says after "Sign in with" (at most
	// MaxOIDCNameBytes, printable; default the issuer's host).
	Name string `yaml:"name"`
	// ClientID is the client of the password grant and of the browser login
	// (default audience); ClientSecret its secret (empty for a public
	// client); Scopes what it asks for (default [openid, profile]; with
	// browserLogin it must hold openid).
	ClientID     string   `yaml:"clientId"`
	ClientSecret string   `yaml:"clientSecret"`
	Scopes       []string `yaml:"scopes"`
}

// MaxOIDCNameBytes bounds auth.oidc[].name.
const MaxOIDCNameBytes = 64

func (c *Config) validateOIDC(p *problems) {
	if len(c.Auth.OIDC) > MaxOIDCIssuers {
		p.addf("auth.oidc", "%d issuers, more than the limit of %d", len(c.Auth.OIDC), MaxOIDCIssuers)
	}
	seen := map[string]bool{}
	for i, o := range c.Auth.OIDC {
		w := fmt.Sprintf("auth.oidc[%d]", i)
		u, err := url.Parse(o.Issuer)
		switch {
		case o.Issuer == "" || err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			p.addf(w, "issuer %q must be an https:// URL", o.Issuer)
		case seen[o.Issuer]:
			p.addf(w, "issuer %q is listed twice", o.Issuer)
		case u.Scheme == "http" && o.PasswordGrant:
			c.Warnings = append(c.Warnings, w+": passwordGrant over plain http sends agents' passwords in clear; use https outside tests")
		case u.Scheme == "http":
			c.Warnings = append(c.Warnings, w+": issuer over plain http; use https outside tests")
		}
		seen[o.Issuer] = true
		if len(o.Name) > MaxOIDCNameBytes || !printable(o.Name) {
			p.addf(w, "name %q must be printable and at most %d bytes", o.Name, MaxOIDCNameBytes)
		}
		if o.BrowserLogin && len(o.Scopes) > 0 && !slices.Contains(o.Scopes, "openid") {
			p.addf(w, "browserLogin needs the openid scope in scopes %q", o.Scopes)
		}
		if o.Audience == "" {
			p.addf(w, "audience is required (the client id the tokens are issued for)")
		}
	}
}

// printable: no control characters (a name shown on a page).
func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
