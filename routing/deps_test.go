package routing_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// modulePath is this module; packages of it outside routing/ are adapters
// or infrastructure that the engine must not depend on.
const modulePath = "github.com/omniroute/omniroute"

// forbiddenImports are the standard packages (and their subtrees) that the
// engine and its helper packages may not import (DESIGN.md "Principles" 1:
// no goroutine coordination, clocks beyond time values, I/O, randomness or
// logging). time is allowed: it only carries the instants commands bring.
var forbiddenImports = []string{"net", "os", "sync", "log", "math/rand", "syscall"}

// listedPackage is the part of `go list -json` the check needs.
type listedPackage struct {
	ImportPath string
	Imports    []string // direct imports of the non-test files
	Deps       []string // every dependency, transitively
	Error      *struct{ Err string }
}

// importViolations returns one line per rule a package breaks: a direct
// import of a forbidden standard package, or a dependency (direct or not)
// on a package of this module outside routing/.
func importViolations(pkgs []listedPackage) []string {
	var out []string
	for _, p := range pkgs {
		for _, imp := range p.Imports {
			for _, f := range forbiddenImports {
				if imp == f || strings.HasPrefix(imp, f+"/") {
					out = append(out, p.ImportPath+" imports "+imp)
				}
			}
		}
		for _, dep := range p.Deps {
			if (dep == modulePath || strings.HasPrefix(dep, modulePath+"/")) &&
				dep != modulePath+"/routing" && !strings.HasPrefix(dep, modulePath+"/routing/") {
				out = append(out, p.ImportPath+" depends on "+dep)
			}
		}
	}
	return out
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// TestDependencies fails when package routing or any non-test package under
// routing/ imports net, os, sync, log, math/rand (or their subpackages),
// syscall, or any package of this module outside routing/ (an adapter).
// Transitive standard imports (fmt uses os) are not the engine's doing and
// are not checked; transitive module imports are.
func TestDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	cmd := exec.Command(goTool(), "list", "-e", "-json", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if p.Error != nil {
			t.Errorf("%s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	found := map[string]bool{}
	for _, p := range pkgs {
		found[p.ImportPath] = true
	}
	for _, want := range []string{modulePath + "/routing", modulePath + "/routing/routingtest"} {
		if !found[want] {
			t.Errorf("go list did not report %s", want)
		}
	}
	for _, v := range importViolations(pkgs) {
		t.Error(v)
	}
}

// TestImportViolations proves the rule can fail.
func TestImportViolations(t *testing.T) {
	bad := []listedPackage{
		{ImportPath: modulePath + "/routing", Imports: []string{"fmt", "os", "time", "net/http", "math/rand/v2", "log/slog", "sync"},
			Deps: []string{"fmt", modulePath + "/routing/target", modulePath + "/node"}},
		{ImportPath: modulePath + "/routing/target", Imports: []string{"strings"}, Deps: []string{modulePath + "/agentdesk"}},
		{ImportPath: modulePath + "/routing/ok", Imports: []string{"time", "encoding/json", "netip"},
			Deps: []string{modulePath + "/routing", "os"}},
	}
	got := importViolations(bad)
	want := []string{
		modulePath + "/routing imports os",
		modulePath + "/routing imports net/http",
		modulePath + "/routing imports math/rand/v2",
		modulePath + "/routing imports log/slog",
		modulePath + "/routing imports sync",
		modulePath + "/routing depends on " + modulePath + "/node",
		modulePath + "/routing/target depends on " + modulePath + "/agentdesk",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
