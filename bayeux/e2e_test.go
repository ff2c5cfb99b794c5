package bayeux

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
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
	if testing.Short() {
		t.Skip("-short")
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
	for _, pkg := range []string{"cometd", "cometd-nodejs-client", "faye"} {
		if _, err := os.Stat(filepath.Join(e2e, "node_modules", pkg)); err != nil {
			t.Skipf("e2e/node_modules/%s missing: run `npm ci` in e2e/", pkg)
		}
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not in PATH")
	}
	server := filepath.Join(t.TempDir(), "e2eserver")
	build := exec.Command(goBin, "build", "-o", server, "./bayeux/internal/e2eserver")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build e2eserver: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "--test", "--test-reporter=spec", "bayeux.test.mjs")
	cmd.Dir = e2e
	cmd.Env = append(os.Environ(), "OMNIROUTE_BAYEUX_E2ESERVER="+server)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	t.Logf("node --test bayeux.test.mjs:\n%s", out.String())
	if runErr != nil {
		t.Fatalf("node test run failed: %v", runErr)
	}
}
