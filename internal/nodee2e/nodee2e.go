// Package nodee2e runs a Node end-to-end test file (node --test) from a Go
// test, so that `go test` drives the JavaScript clients in e2e/ against a Go
// server built for the occasion.
//
// A typical caller:
//
//	func TestE2E(t *testing.T) {
//		nodee2e.Run(t, nodee2e.Options{
//			File:      "e2e/bayeux.test.mjs",
//			Packages:  []string{"cometd", "cometd-nodejs-client", "faye"},
//			Server:    "./bayeux/internal/e2eserver",
//			ServerEnv: "OMNIROUTE_BAYEUX_E2ESERVER",
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
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	// root (e.g. "./bayeux/internal/e2eserver"), built with `go build`
	// into a temporary directory; the binary's absolute path is passed to
	// node in the environment variable ServerEnv.
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
		goBin, err := exec.LookPath("go")
		if err != nil {
			t.Skip("go not in PATH")
		}
		name := filepath.Base(strings.TrimSuffix(o.Server, "/"))
		server := filepath.Join(t.TempDir(), name)
		build := exec.Command(goBin, "build", "-o", server, o.Server)
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", name, err, out)
		}
		env = append(env, o.ServerEnv+"="+server)
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
