package server_test

import (
	"testing"
	"time"

	"github.com/omniroute/omniroute/internal/nodee2e"
)

// TestE2EDeskGaps runs e2e/deskgaps.test.mjs (socket.io-client 4.4.0
// playing what seed-004 desks send) against the real `omniroute serve`,
// built once per test process. Skipped with -short or
// without node and npm ci in e2e/.
//
//	go test ./server -run TestE2EDeskGaps
func TestE2EDeskGaps(t *testing.T) {
	nodee2e.Run(t, nodee2e.Options{
		File:      "e2e/deskgaps.test.mjs",
		Packages:  []string{"socket.io-client"},
		Server:    "./cmd/omniroute",
		ServerEnv: "OMNIROUTE_BIN",
		SkipShort: true,
		WaitDelay: 10 * time.Second,
	})
}
