package agentdesk_test

import (
	"testing"
	"time"

	"github.com/omniroute/omniroute/internal/nodee2e"
)

// TestE2ETransfer runs e2e/agentdesk_transfer.test.mjs (node --test,
// socket.io-client 4.4.0: transfer, conference, supervisor, wrap-up)
// against the real `omniroute serve` on the desk fixture's configuration
// (e2e/lib/deskfixture.mjs), built once per test process; skipped, like TestE2E,
// when node or e2e/node_modules is missing.
//
//	go test ./agentdesk/... -run TestE2ETransfer
func TestE2ETransfer(t *testing.T) {
	nodee2e.Run(t, nodee2e.Options{
		File:      "e2e/agentdesk_transfer.test.mjs",
		Packages:  []string{"socket.io-client"},
		Server:    "./cmd/omniroute",
		ServerEnv: "OMNIROUTE_BIN",
		WaitDelay: 10 * time.Second,
	})
}
