package gms

import (
	"testing"
	"time"

	"github.com/omniroute/omniroute/internal/nodee2e"
)

// TestE2EPush runs e2e/gms_push.test.mjs (node --test: the official CometD
// JavaScript client with cometd-nodejs-client, and Faye, over long-polling
// and websocket) against the real `omniroute serve` (one chat-delay service,
// one agent), built once per test process. It is skipped
// with -short or when node or e2e/node_modules (npm ci in e2e/) is missing,
// and fails when the node test run fails.
//
//	go test ./gms/ -run TestE2EPush -v
func TestE2EPush(t *testing.T) {
	nodee2e.Run(t, nodee2e.Options{
		File:      "e2e/gms_push.test.mjs",
		Packages:  []string{"cometd", "cometd-nodejs-client", "faye"},
		Server:    "./cmd/omniroute",
		ServerEnv: "OMNIROUTE_BIN",
		SkipShort: true,
		WaitDelay: 10 * time.Second,
	})
}
