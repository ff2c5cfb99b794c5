package server_test

import (
	"testing"

	"github.com/omniroute/omniroute/internal/nodee2e"
	"github.com/omniroute/omniroute/internal/testca"
)

// TestTLSE2E runs e2e/tls.test.mjs against `omniroute serve` with a
// certificate from a test CA that Node is told to trust.
func TestTLSE2E(t *testing.T) {
	ca, err := testca.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	nodee2e.Run(t, nodee2e.Options{
		File:      "e2e/tls.test.mjs",
		Packages:  []string{"socket.io-client", "cometd", "cometd-nodejs-client", "jsforce"},
		Server:    "./cmd/omniroute",
		ServerEnv: "OMNIROUTE_BIN",
		Env:       []string{"NODE_EXTRA_CA_CERTS=" + ca.CA, "OMNIROUTE_TLS_CERT=" + ca.Cert, "OMNIROUTE_TLS_KEY=" + ca.Key},
		SkipShort: true,
	})
}

// TestTLSChromiumE2E runs e2e/tls_chromium.test.mjs: Debian's headless
// Chromium, told to trust the test certificate's key
// (--ignore-certificate-errors-spki-list with its SPKI hash), loads the
// agent desk from `omniroute serve` over https, logs in and connects the
// desk's Socket.IO over wss.
func TestTLSChromiumE2E(t *testing.T) {
	ca, err := testca.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	nodee2e.Run(t, nodee2e.Options{
		File:         "e2e/tls_chromium.test.mjs",
		Packages:     []string{"playwright-core"},
		Server:       "./cmd/omniroute",
		ServerEnv:    "OMNIROUTE_BIN",
		Env:          []string{"NODE_EXTRA_CA_CERTS=" + ca.CA, "OMNIROUTE_TLS_CERT=" + ca.Cert, "OMNIROUTE_TLS_KEY=" + ca.Key, "OMNIROUTE_TLS_SPKI=" + ca.CertSPKI},
		RequireFiles: []string{"/usr/bin/chromium"},
		SkipShort:    true,
	})
}
