package extrouting_test

import (
	"testing"
	"time"

	"github.com/omniroute/omniroute/internal/nodee2e"
)

// TestE2E runs e2e/extrouting.test.mjs (node --test: jsforce 3.10.8 and the
// official CometD client as the partner, socket.io-client 4.4.0 as the
// agents) against the real `omniroute serve`, built once per test
// process. It is skipped with -short, or when node, go or the e2e
// packages (npm ci in e2e/) are missing, and fails when the node test run
// fails.
//
//	go test ./extrouting/ -run TestE2E
func TestE2E(t *testing.T) {
	nodee2e.Run(t, nodee2e.Options{
		File:      "e2e/extrouting.test.mjs",
		Packages:  []string{"jsforce", "cometd", "cometd-nodejs-client", "socket.io-client"},
		Server:    "./cmd/omniroute",
		ServerEnv: "OMNIROUTE_BIN",
		SkipShort: true,
		WaitDelay: 10 * time.Second,
	})
}
