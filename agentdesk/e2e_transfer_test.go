package agentdesk_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestE2ETransfer runs e2e/agentdesk_transfer.test.mjs (node --test,
// socket.io-client 4.4.0: transfer, conference, supervisor, wrap-up)
// against agentdesk/internal/e2eserver, built here; skipped, like TestE2E,
// when node or e2e/node_modules is missing.
//
//	go test ./agentdesk/... -run TestE2ETransfer
func TestE2ETransfer(t *testing.T) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	e2e := filepath.Join(root, "e2e")
	if _, err := os.Stat(filepath.Join(e2e, "node_modules", "socket.io-client")); err != nil {
		t.Skip("e2e/node_modules missing: run `npm ci` in e2e/")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not in PATH")
	}
	server := filepath.Join(t.TempDir(), "e2eserver")
	build := exec.Command(goBin, "build", "-o", server, "./agentdesk/internal/e2eserver")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build e2eserver: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "--test", "--test-reporter=spec", "agentdesk_transfer.test.mjs")
	cmd.Dir = e2e
	cmd.Env = append(os.Environ(), "OMNIROUTE_E2ESERVER="+server)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	t.Logf("node --test agentdesk_transfer.test.mjs:\n%s", out.String())
	if runErr != nil {
		t.Fatalf("node test run failed: %v", runErr)
	}
}
