package agentdesk_test

import (
	"testing"
	"time"

	"github.com/omniroute/omniroute/internal/nodee2e"
)

// TestE2E runs e2e/agentdesk.test.mjs (node --test, socket.io-client 4.4.0)
// against the real `omniroute serve` on the desk fixture's configuration
// (e2e/lib/deskfixture.mjs), built once per test process. It is skipped when node
// or e2e/node_modules (npm ci in e2e/) is missing, and fails when the node
// test run fails.
//
//	go test ./agentdesk/... -run TestE2E
func TestE2E(t *testing.T) {
	nodee2e.Run(t, nodee2e.Options{
		File:      "e2e/agentdesk.test.mjs",
		Packages:  []string{"socket.io-client"},
		Server:    "./cmd/omniroute",
		ServerEnv: "OMNIROUTE_BIN",
		WaitDelay: 10 * time.Second,
	})
}
