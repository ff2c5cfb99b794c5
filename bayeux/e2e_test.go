package bayeux

import (
	"testing"

	"github.com/omniroute/omniroute/internal/nodee2e"
)

// TestE2E runs e2e/bayeux.test.mjs (node --test: the official CometD
// JavaScript client with cometd-nodejs-client, and Faye, over long-polling
// and websocket, plus the CometD AckExtension across a forced reconnect)
// against bayeux/internal/e2eserver, built here. It is skipped when node or
// e2e/node_modules (npm ci in e2e/) is missing, and fails when the node test
// run fails.
//
//	go test ./bayeux/ -run TestE2E -v
func TestE2E(t *testing.T) {
	nodee2e.Run(t, nodee2e.Options{
		File:      "e2e/bayeux.test.mjs",
		Packages:  []string{"cometd", "cometd-nodejs-client", "faye"},
		Server:    "./bayeux/internal/e2eserver",
		ServerEnv: "OMNIROUTE_BAYEUX_E2ESERVER",
		SkipShort: true,
	})
}
