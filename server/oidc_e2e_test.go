package server_test

import (
	"testing"

	"github.com/omniroute/omniroute/internal/nodee2e"
)

// TestOIDCE2E runs e2e/oidc.test.mjs: a real OpenID provider (npm
// oidc-provider) and `omniroute serve` configured with it as issuer: REST,
// Socket.IO, the password pass-through and the partner CometD handshake.
func TestOIDCE2E(t *testing.T) {
	nodee2e.Run(t, nodee2e.Options{
		File:      "e2e/oidc.test.mjs",
		Packages:  []string{"oidc-provider", "socket.io-client", "cometd", "cometd-nodejs-client", "faye"},
		Server:    "./cmd/omniroute",
		ServerEnv: "OMNIROUTE_BIN",
		SkipShort: true,
	})
}

// TestOIDCBrowserE2E runs e2e/oidc_browser.test.mjs: "Sign in with
// <issuer>" on the agent desk in Debian Chromium (playwright-core), the
// authorization code flow with PKCE at a real OpenID provider (npm
// oidc-provider), the code exchanged by `omniroute serve`; a tampered state
// and a user without the agent role refused on the page.
func TestOIDCBrowserE2E(t *testing.T) {
	nodee2e.Run(t, nodee2e.Options{
		File:         "e2e/oidc_browser.test.mjs",
		Packages:     []string{"oidc-provider", "playwright-core"},
		Server:       "./cmd/omniroute",
		ServerEnv:    "OMNIROUTE_BIN",
		SkipShort:    true,
		RequireFiles: []string{"/usr/bin/chromium"},
	})
}
