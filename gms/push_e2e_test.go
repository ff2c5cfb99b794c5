package gms

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestE2EPush runs e2e/gms_push.test.mjs (node --test: the official CometD
// JavaScript client with cometd-nodejs-client, and Faye, over long-polling
// and websocket) against gms/internal/pushserver, built here. It is skipped
// with -short or when node or e2e/node_modules (npm ci in e2e/) is missing,
// and fails when the node test run fails.
//
//	go test ./gms/ -run TestE2EPush -v
func TestE2EPush(t *testing.T) {
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
	server := filepath.Join(t.TempDir(), "pushserver")
	build := exec.Command(goBin, "build", "-o", server, "./gms/internal/pushserver")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build pushserver: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "--test", "--test-reporter=spec", "gms_push.test.mjs")
	cmd.Dir = e2e
	cmd.Env = append(os.Environ(), "OMNIROUTE_GMS_PUSHSERVER="+server)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	t.Logf("node --test gms_push.test.mjs:\n%s", out.String())
	if runErr != nil {
		t.Fatalf("node test run failed: %v", runErr)
	}
}
