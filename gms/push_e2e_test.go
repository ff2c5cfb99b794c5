package gms

import (
	"testing"

	"github.com/omniroute/omniroute/internal/nodee2e"
)

// TestE2EPush runs e2e/gms_push.test.mjs (node --test: the official CometD
// JavaScript client with cometd-nodejs-client, and Faye, over long-polling
// and websocket) against gms/internal/pushserver, built here. It is skipped
// with -short or when node or e2e/node_modules (npm ci in e2e/) is missing,
// and fails when the node test run fails.
//
//	go test ./gms/ -run TestE2EPush -v
func TestE2EPush(t *testing.T) {
	nodee2e.Run(t, nodee2e.Options{
		File:      "e2e/gms_push.test.mjs",
		Packages:  []string{"cometd", "cometd-nodejs-client", "faye"},
		Server:    "./gms/internal/pushserver",
		ServerEnv: "OMNIROUTE_GMS_PUSHSERVER",
		SkipShort: true,
	})
}
