package webui_test

import (
	"testing"

	"github.com/omniroute/omniroute/internal/nodee2e"
)

// TestBrowser runs e2e/webui.test.mjs: the wallboard, desks and customer
// chats in Debian Chromium through playwright-core, on the real server
// (`omniroute serve`, built once per test process).
func TestBrowser(t *testing.T) {
	nodee2e.Run(t, nodee2e.Options{
		File:         "e2e/webui.test.mjs",
		Packages:     []string{"playwright-core"},
		Server:       "./cmd/omniroute",
		ServerEnv:    "OMNIROUTE_BIN",
		SkipShort:    true,
		RequireFiles: []string{"/usr/bin/chromium"},
	})
}
