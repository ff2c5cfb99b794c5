package config

import (
	"fmt"
	"net/url"
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
	// ClientID is the client of the password grant (default audience);
	// ClientSecret its secret (empty for a public client); Scopes what it
	// asks for (default [openid, profile]).
	ClientID     string   `yaml:"clientId"`
	ClientSecret string   `yaml:"clientSecret"`
	Scopes       []string `yaml:"scopes"`
}

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
		if o.Audience == "" {
			p.addf(w, "audience is required (the client id the tokens are issued for)")
		}
	}
}
