package presencesync

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestBrowser runs e2e/presencesync.test.mjs (node --test, playwright-core
// driving Debian's headless /usr/bin/chromium) against
// presencesync/internal/crmtestserver, built here: the seed 002 connector
// in a cross-origin iframe of a test CRM page, both modes, work on either
// side, a wrong-origin postMessage. It is skipped when node, Chromium or
// e2e/node_modules/playwright-core (npm ci in e2e/) is missing, and fails
// when the node test run fails.
//
//	go test ./presencesync/... -run TestBrowser
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Skip("/usr/bin/chromium missing")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	e2e := filepath.Join(root, "e2e")
	if _, err := os.Stat(filepath.Join(e2e, "node_modules", "playwright-core")); err != nil {
		t.Skip("e2e/node_modules/playwright-core missing: run `npm ci` in e2e/")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not in PATH")
	}
	server := filepath.Join(t.TempDir(), "crmtestserver")
	build := exec.Command(goBin, "build", "-o", server, "./presencesync/internal/crmtestserver")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build crmtestserver: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "--test", "--test-reporter=spec", "presencesync.test.mjs")
	cmd.Dir = e2e
	cmd.Env = append(os.Environ(), "OMNIROUTE_CRMTESTSERVER="+server)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	t.Logf("node --test presencesync.test.mjs:\n%s", out.String())
	if runErr != nil {
		t.Fatalf("node test run failed: %v", runErr)
	}
}
