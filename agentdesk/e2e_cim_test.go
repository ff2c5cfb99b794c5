package agentdesk_test

import (
	"testing"

	"github.com/omniroute/omniroute/internal/nodee2e"
)

// TestE2ECIM runs e2e/agentdesk_cim.test.mjs (node --test, socket.io-client
// 4.4.0) against agentdesk/internal/e2eserver, built here: the agent and the
// customer exchange every body type, a reply by id, a whisper the customer
// never sees, the transcript after a reconnect, and the grace period. It is
// skipped when node or e2e/node_modules is missing.
func TestE2ECIM(t *testing.T) {
	nodee2e.Run(t, nodee2e.Options{
		File:      "e2e/agentdesk_cim.test.mjs",
		Packages:  []string{"socket.io-client"},
		Server:    "./agentdesk/internal/e2eserver",
		ServerEnv: "OMNIROUTE_E2ESERVER",
	})
}
