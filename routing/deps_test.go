package routing_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/omniroute/omniroute/internal/reporules"
)

// modulePath is this module; packages of it outside routing/ are adapters
// or infrastructure that the engine must not depend on.
const modulePath = "github.com/omniroute/omniroute"

// forbiddenImports are the standard packages (and their subtrees) that the
// engine and its helper packages may not import (DESIGN.md "Principles" 1:
// no goroutine coordination, clocks beyond time values, I/O, randomness or
// logging). time is allowed: it only carries the instants commands bring
// (clockCalls lists what of it is not).
var forbiddenImports = []string{"net", "os", "sync", "log", "math/rand", "crypto/rand", "syscall"}

// clockCalls are the functions of package time that read the wall clock or
// wait on it; the engine gets every instant from its commands.
var clockCalls = []string{"Now", "Since", "Until", "Sleep", "After", "AfterFunc", "NewTimer", "NewTicker", "Tick"}

// listedPackage is the part of `go list -json` the check needs.
type listedPackage struct {
	ImportPath string
	Imports    []string // direct imports of the non-test files
	Deps       []string // every dependency, transitively
	Dir        string
	GoFiles    []string
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

// clockViolations returns one line per call (or function value) of a
// clockCalls function of package time in src, a Go file named name: the
// clock is read through whatever name the file imports "time" as. The
// parsing is the repo rules' (reporules.TimeCalls).
func clockViolations(name string, src []byte) ([]string, error) {
	return reporules.TimeCalls(name, src, clockCalls, "")
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
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
	for _, p := range pkgs {
		for _, name := range p.GoFiles {
			path := filepath.Join(p.Dir, name)
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			vs, err := clockViolations(path, src)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vs {
				t.Error(v)
			}
		}
	}
}

// TestClockViolations proves the clock rule can fail, also under another
// import name, and leaves time's values and types alone.
func TestClockViolations(t *testing.T) {
	src := `package routing

import (
	"time"
	clk "time"
)

var deadline time.Duration = time.Second

func f(at time.Time) time.Time {
	_ = time.Unix(0, 0)
	_ = clk.Since(at)
	later := time.AfterFunc
	_ = later
	return time.Now()
}
`
	got, err := clockViolations("f.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"f.go:12:6 uses time.Since", "f.go:13:11 uses time.AfterFunc", "f.go:15:9 uses time.Now"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
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
