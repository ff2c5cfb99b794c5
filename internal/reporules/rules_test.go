package reporules

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// natsPending are the adapters that still hold a JetStream store of their
// own, each to become a storage package's (DESIGN.md "Layout"): none now
// (extrouting's PSR event stream and webhook cursors are a natsstore.Log
// and its Cursors; gms, presencesync and webui keep their records in
// natsstore Buckets). TestNATSImports fails once an entry is no longer
// needed, so the list only shrinks.
var natsPending []string

// list runs `go list -json` over the module from its root.
func list(t *testing.T) []Package {
	t.Helper()
	if testing.Short() {
		t.Skip("runs go list")
	}
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Name,Doc,Imports,Dir,GoFiles,Error", "./...")
	cmd.Dir = root(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []Package
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			Package
			Error *struct{ Err string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if p.Error != nil {
			t.Errorf("%s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p.Package)
	}
	if len(pkgs) < 10 || !slices.ContainsFunc(pkgs, func(p Package) bool { return p.ImportPath == Module+"/routing" }) {
		t.Fatalf("go list found %d packages and not routing: not run from the module", len(pkgs))
	}
	return pkgs
}

// root is the module's root directory.
func root(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func report(t *testing.T, violations []string) {
	t.Helper()
	for _, v := range violations {
		t.Error(v)
	}
}

func TestPackageDocs(t *testing.T) { report(t, MissingDocs(list(t))) }

func TestAdapterImports(t *testing.T) { report(t, AdapterCrossImports(list(t))) }

// TestArchitectureTable fails when a package is missing from the package
// table of docs/ARCHITECTURE.md, or the table names one that is gone.
func TestArchitectureTable(t *testing.T) {
	pkgs := list(t)
	doc, err := os.ReadFile(filepath.Join(root(t), "docs", "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	listed := TablePackages(string(doc))
	if len(listed) < 10 {
		t.Fatalf("found %d names in the package table: %q", len(listed), listed)
	}
	report(t, UnlistedPackages(pkgs, listed))
}

// TestRaceExclusions fails when .ci/run's norace array (the packages kept
// out of the -race run) is gone or names a package that is not there.
func TestRaceExclusions(t *testing.T) {
	pkgs := list(t)
	script, err := os.ReadFile(filepath.Join(root(t), ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	excluded, ok := RaceExclusions(string(script))
	if !ok {
		t.Fatal(".ci/run has no norace=( ... ) array")
	}
	report(t, StaleRaceExclusions(pkgs, excluded))
}

func TestConfigImports(t *testing.T) { report(t, ConfigImports(list(t))) }

func TestNATSImports(t *testing.T) {
	pkgs := list(t)
	report(t, NATSImports(pkgs, natsPending))
	for _, a := range natsPending {
		if len(NATSImports(pkgs, slices.DeleteFunc(slices.Clone(natsPending), func(s string) bool { return s == a }))) == 0 {
			t.Errorf("%s no longer imports NATS: remove it from natsPending", a)
		}
	}
}

// TestAdapterTimers fails when an adapter's or a transport's own package
// waits on the wall clock (time.AfterFunc, NewTimer, After, NewTicker,
// Tick, Sleep) instead of its injected clock.Clock.
func TestAdapterTimers(t *testing.T) {
	n := 0
	checked := slices.Concat(Adapters, Transports)
	for _, p := range list(t) {
		if !slices.ContainsFunc(checked, func(a string) bool { return p.ImportPath == Module+"/"+a }) {
			continue
		}
		n++
		for _, name := range p.GoFiles {
			src, err := os.ReadFile(filepath.Join(p.Dir, name))
			if err != nil {
				t.Fatal(err)
			}
			vs, err := TimeCalls(filepath.Join(strings.TrimPrefix(p.ImportPath, Module+"/"), name), src, TimerFuncs, TimerAdvice)
			if err != nil {
				t.Fatal(err)
			}
			report(t, vs)
		}
	}
	if n != len(checked) {
		t.Fatalf("found %d of the %d adapters and transports", n, len(checked))
	}
}

// TestGoModTidy fails when go.mod or go.sum is not what `go mod tidy`
// writes: a direct dependency marked `// indirect`, one missing or unused.
func TestGoModTidy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go mod tidy")
	}
	cmd := exec.Command("go", "mod", "tidy", "-diff")
	cmd.Dir = root(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("go.mod is not tidy (run go mod tidy): %v\n%s", err, out)
	}
}

// TestRulesFail feeds each rule a tree that breaks it.
func TestRulesFail(t *testing.T) {
	m := Module + "/"
	pkgs := []Package{
		{ImportPath: m + "gms", Doc: "Package gms ...", Imports: []string{m + "bayeux", m + "restapi", "github.com/nats-io/nats.go"}},
		{ImportPath: m + "gms/internal/pushserver", Doc: "Command pushserver ...", Imports: []string{m + "gms"}},
		{ImportPath: m + "webui", Imports: []string{m + "restapi/openapi", m + "routing"}},
		{ImportPath: m + "transcript", Doc: "Package transcript ...", Imports: []string{"github.com/nats-io/nats.go/jetstream"}},
		{ImportPath: m + "config", Doc: "Package config ...", Imports: []string{m + "routing", m + "gms"}},
		{ImportPath: m + "transcriptx", Doc: "Package transcriptx ...", Imports: []string{"github.com/nats-io/nats.go/jetstream"}},
	}
	check := func(name string, got []string, want ...string) {
		t.Helper()
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\n%s\nwant:\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	check("docs", MissingDocs(pkgs), m+"webui has no package doc comment")
	check("adapters", AdapterCrossImports(pkgs),
		m+"gms (adapter gms) imports "+m+"restapi (adapter restapi)",
		m+"webui (adapter webui) imports "+m+"restapi/openapi (adapter restapi)")
	check("config", ConfigImports(pkgs),
		m+"config imports "+m+"gms (adapter gms): the adapter registers its section instead")
	check("nats", NATSImports(pkgs, nil),
		m+"gms imports github.com/nats-io/nats.go (not a storage package)",
		m+"transcriptx imports github.com/nats-io/nats.go/jetstream (not a storage package)")
	check("nats allowed", NATSImports(pkgs, []string{"gms"}),
		m+"transcriptx imports github.com/nats-io/nats.go/jetstream (not a storage package)")
	src := "package gms\n\nimport tm \"time\"\n\nfunc f() { tm.AfterFunc(tm.Second, nil); _ = tm.Now() }\n"
	got, err := TimeCalls("gms/f.go", []byte(src), TimerFuncs, TimerAdvice)
	if err != nil {
		t.Fatal(err)
	}
	table := TablePackages("# A\n\n| package | provides |\n|---|---|\n| `gms`, `webui` | x `transcript` |\n| `e2e/` (Node) | y |\n\n| package | z |\n| `config` | w |\n")
	check("table", table, "gms", "webui", "e2e/")
	check("unlisted", UnlistedPackages(pkgs[:3], append(table, "journal/oldjournal")),
		"gms/internal/pushserver is not in docs/ARCHITECTURE.md's package table",
		"docs/ARCHITECTURE.md's package table lists journal/oldjournal, which is no package")
	norace, ok := RaceExclusions("x=1\nnorace=(\n  # why\n  gms # slow\n  routing/gone\n)\ngo test\n")
	if !ok {
		t.Error("norace array not found")
	}
	check("norace", norace, "gms", "routing/gone")
	check("stale norace", StaleRaceExclusions(pkgs, norace), ".ci/run's norace lists routing/gone, which is no package")
	if _, ok := RaceExclusions("norace=(\n  gms\n"); ok {
		t.Error("an unclosed norace array was taken")
	}
	check("timers", got, "gms/f.go:5:12 uses time.AfterFunc (use the injected clock.Clock)")
}
