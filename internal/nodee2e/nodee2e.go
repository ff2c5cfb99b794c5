// Package nodee2e runs a Node end-to-end test file (node --test) from a Go
// test, so that `go test` drives the JavaScript clients in e2e/ against a Go
// server: the real `omniroute serve` (Server "./cmd/omniroute", ServerEnv
// "OMNIROUTE_BIN"; e2e/lib/server.mjs startOmniroute) for every suite about
// the server, or a component server with fault injection
// (internal/testserver). Build builds each once per test process.
//
// A typical caller:
//
//	func TestE2E(t *testing.T) {
//		nodee2e.Run(t, nodee2e.Options{
//			File:      "e2e/extrouting.test.mjs",
//			Packages:  []string{"jsforce", "cometd", "socket.io-client"},
//			Server:    "./cmd/omniroute",
//			ServerEnv: "OMNIROUTE_BIN",
//			SkipShort: true,
//		})
//	}
//
// Run skips the test when node (or, with a Server, go) is not in PATH, when
// any of the npm packages is missing from node_modules next to the test file
// (run `npm ci` in e2e/), when a required file is missing, or when Skip says
// so; it fails the test when the server does not build or when the node test
// run exits non-zero, and always logs the node output.
//
// This package is meant to be imported from _test.go files only.
package nodee2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DefaultTimeout bounds a node test run when Options.Timeout is zero.
const DefaultTimeout = 5 * time.Minute

// Options describes one node test run.
type Options struct {
	// File is the .mjs test file, relative to the repository root (the
	// directory holding go.mod), e.g. "e2e/agentdesk.test.mjs". node runs
	// in the file's directory with its base name:
	// node --test --test-reporter=spec <base>.
	File string

	// Packages are npm packages that must exist under node_modules in the
	// file's directory; the test is skipped when any is missing.
	Packages []string

	// Server, when set, is a Go package path relative to the repository
	// root (e.g. "./cmd/omniroute"), built once per test process (Build);
	// the binary's absolute path is passed to node in the environment
	// variable ServerEnv.
	Server    string
	ServerEnv string

	// Env holds extra "KEY=value" entries appended to os.Environ() (after
	// ServerEnv).
	Env []string

	// SkipShort skips the test under `go test -short`.
	SkipShort bool

	// RequireFiles are paths (absolute, or relative to the test's working
	// directory) that must exist; the test is skipped otherwise, e.g.
	// "/usr/bin/chromium".
	RequireFiles []string

	// Skip, when set, is called before anything is run; a non-empty result
	// skips the test with that reason.
	Skip func() string

	// Timeout bounds the node run; zero means DefaultTimeout.
	Timeout time.Duration

	// WaitDelay, when non-zero, is set as exec.Cmd.WaitDelay on the node
	// command (how long to wait for its output pipes after it is killed
	// or exits).
	WaitDelay time.Duration
}

// Run runs the node test file described by o as part of t; see the package
// documentation for when it skips and when it fails.
func Run(t testing.TB, o Options) {
	t.Helper()
	if o.File == "" {
		t.Fatal("nodee2e: Options.File is empty")
	}
	if o.Server != "" && o.ServerEnv == "" {
		t.Fatal("nodee2e: Options.Server set without Options.ServerEnv")
	}
	if o.SkipShort && testing.Short() {
		t.Skip("-short: node end-to-end run skipped")
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	for _, f := range o.RequireFiles {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("%s missing", f)
		}
	}
	if o.Skip != nil {
		if reason := o.Skip(); reason != "" {
			t.Skip(reason)
		}
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, filepath.FromSlash(filepath.Dir(o.File)))
	base := filepath.Base(o.File)
	for _, pkg := range o.Packages {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg)); err != nil {
			rel, _ := filepath.Rel(root, filepath.Join(dir, "node_modules", pkg))
			relDir, _ := filepath.Rel(root, dir)
			t.Skipf("%s missing: run `npm ci` in %s/", filepath.ToSlash(rel), filepath.ToSlash(relDir))
		}
	}

	env := os.Environ()
	if o.Server != "" {
		env = append(env, o.ServerEnv+"="+Build(t, o.Server))
	}
	env = append(env, o.Env...)

	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "--test", "--test-reporter=spec", base)
	cmd.Dir = dir
	cmd.Env = env
	// node and the servers it starts form one process group, ended as a
	// whole when the run ends or times out: no server outlives its test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	defer func() {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}()
	if o.WaitDelay > 0 {
		cmd.WaitDelay = o.WaitDelay
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	t.Logf("node --test %s:\n%s", base, out.String())
	if runErr != nil {
		if ctx.Err() != nil {
			t.Fatalf("node test run failed after the %v timeout: %v", timeout, runErr)
		}
		t.Fatalf("node test run failed: %v", runErr)
	}
}

// builds holds one build per Go package path, per test process.
var builds sync.Map // package path -> func() (string, error)

// Build builds the Go package pkg (a path relative to the repository root,
// e.g. "./cmd/omniroute", the real server binary every end-to-end suite
// starts) once per test process and returns the binary's path; a failed
// build fails t, and later callers see the same failure. The binary lives
// in a directory of the system's temporary directory named for the
// repository, replaced atomically, so parallel test processes share one
// file per package instead of leaving one each behind. It skips t when go
// is not in PATH.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not in PATH")
	}
	once, _ := builds.LoadOrStore(pkg, sync.OnceValues(func() (string, error) { return build(goBin, pkg) }))
	bin, err := once.(func() (string, error))()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func build(goBin, pkg string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	h := fnv.New64a()
	h.Write([]byte(root))
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("omniroute-e2e-bin-%x", h.Sum64()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// The whole package path names the file: the component servers of
	// several packages may share a base name, and their test processes
	// run at the same time.
	name := strings.NewReplacer("./", "", "/", "-").Replace(strings.TrimSuffix(pkg, "/"))
	bin := filepath.Join(dir, name)
	tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	cmd := exec.Command(goBin, "build", "-o", tmp, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	return bin, nil
}

// RepoRoot returns the nearest directory, starting at the working directory
// and walking up, that holds a go.mod file.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("nodee2e: no go.mod found above the working directory")
		}
		dir = parent
	}
}
