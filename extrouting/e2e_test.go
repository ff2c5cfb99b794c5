package extrouting_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestE2E runs e2e/extrouting.test.mjs (node --test: jsforce 3.10.8 and the
// official CometD client as the partner, socket.io-client 4.4.0 as the
// agents) against extrouting/internal/e2eserver (the real server.Start),
// built here. It is skipped with -short, or when node, go or the e2e
// packages (npm ci in e2e/) are missing, and fails when the node test run
// fails.
//
//	go test ./extrouting/ -run TestE2E
func TestE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: end-to-end run skipped")
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	e2e := filepath.Join(root, "e2e")
	for _, pkg := range []string{"jsforce", "cometd", "cometd-nodejs-client", "socket.io-client"} {
		if _, err := os.Stat(filepath.Join(e2e, "node_modules", pkg)); err != nil {
			t.Skipf("e2e/node_modules/%s missing: run `npm ci` in e2e/", pkg)
		}
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not in PATH")
	}
	server := filepath.Join(t.TempDir(), "e2eserver")
	build := exec.Command(goBin, "build", "-o", server, "./extrouting/internal/e2eserver")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build e2eserver: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "--test", "--test-reporter=spec", "extrouting.test.mjs")
	cmd.Dir = e2e
	cmd.Env = append(os.Environ(), "OMNIROUTE_EXTROUTING_E2ESERVER="+server)
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	t.Logf("node --test extrouting.test.mjs:\n%s", out.String())
	if runErr != nil {
		t.Fatalf("node test run failed: %v", runErr)
	}
}
