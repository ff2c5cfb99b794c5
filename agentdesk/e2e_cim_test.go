package agentdesk_test

import (
	"testing"
	"time"

	"github.com/omniroute/omniroute/internal/nodee2e"
)

// TestE2ECIM runs e2e/agentdesk_cim.test.mjs (node --test, socket.io-client
// 4.4.0) against the real `omniroute serve` on the desk fixture's configuration
// (e2e/lib/deskfixture.mjs), built once per test process: the agent and the
// customer exchange every body type, a reply by id, a whisper the customer
// never sees, the transcript after a reconnect, and the grace period. It is
// skipped when node or e2e/node_modules is missing.
func TestE2ECIM(t *testing.T) {
	nodee2e.Run(t, nodee2e.Options{
		File:      "e2e/agentdesk_cim.test.mjs",
		Packages:  []string{"socket.io-client"},
		Server:    "./cmd/omniroute",
		ServerEnv: "OMNIROUTE_BIN",
		WaitDelay: 10 * time.Second,
	})
}
