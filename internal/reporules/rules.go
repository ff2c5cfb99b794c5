package reporules

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strings"
)

// Package is the part of `go list -json` the rules read.
type Package struct {
	ImportPath string
	Name       string
	Doc        string   // the package comment's first sentence
	Imports    []string // direct imports of the non-test files
	Dir        string
	GoFiles    []string
}

// below reports whether path is the module package rel or one below it.
func below(path, rel string) bool {
	full := Module + "/" + rel
	return path == full || strings.HasPrefix(path, full+"/")
}

// owner is the entry of roots that path belongs to, or "".
func owner(path string, roots []string) string {
	for _, r := range roots {
		if below(path, r) {
			return r
		}
	}
	return ""
}

// MissingDocs returns one line per package without a doc comment.
func MissingDocs(pkgs []Package) []string {
	var out []string
	for _, p := range pkgs {
		if strings.TrimSpace(p.Doc) == "" {
			out = append(out, p.ImportPath+" has no package doc comment")
		}
	}
	return out
}

// AdapterCrossImports returns one line per import from one adapter's
// package into another adapter.
func AdapterCrossImports(pkgs []Package) []string {
	var out []string
	for _, p := range pkgs {
		from := owner(p.ImportPath, Adapters)
		if from == "" {
			continue
		}
		for _, imp := range p.Imports {
			if to := owner(imp, Adapters); to != "" && to != from {
				out = append(out, p.ImportPath+" (adapter "+from+") imports "+imp+" (adapter "+to+")")
			}
		}
	}
	return out
}

// ConfigImports returns one line per import from config (or a package
// below it) into an adapter: config composes the adapters' sections through
// config.RegisterSection, so that the adapters import config and never the
// reverse (issue "Adapter config in the adapter").
func ConfigImports(pkgs []Package) []string {
	var out []string
	for _, p := range pkgs {
		if !below(p.ImportPath, "config") {
			continue
		}
		for _, imp := range p.Imports {
			if to := owner(imp, Adapters); to != "" {
				out = append(out, p.ImportPath+" imports "+imp+" (adapter "+to+"): the adapter registers its section instead")
			}
		}
	}
	return out
}

// NATSImports returns one line per package outside StoragePackages (and
// outside allowed, the exceptions still to be removed) that imports NATS.
func NATSImports(pkgs []Package, allowed []string) []string {
	var out []string
	for _, p := range pkgs {
		if owner(p.ImportPath, StoragePackages) != "" || slices.Contains(allowed, strings.TrimPrefix(p.ImportPath, Module+"/")) {
			continue
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, "github.com/nats-io/") {
				out = append(out, p.ImportPath+" imports "+imp+" (not a storage package)")
			}
		}
	}
	return out
}

// TimerFuncs are the functions of package time that wait on the wall
// clock; an adapter waits on its injected clock.Clock instead, so its tests
// drive the wait with clocktest.Clock rather than sleep.
var TimerFuncs = []string{"AfterFunc", "NewTimer", "After", "NewTicker", "Tick", "Sleep"}

// TimerAdvice is what TimeCalls adds to a TimerFuncs finding in an adapter.
const TimerAdvice = "use the injected clock.Clock"

// TimeCalls returns one line per use (a call or a function value) of one
// of funcs of package time in src, a Go file named name, under whatever
// name the file imports "time" as: "<file:line:col> uses time.<Func>",
// followed by " (<advice>)" when advice is not empty. Errors: the file does
// not parse. routing's TestDependencies uses it for the engine's own rule.
func TimeCalls(name string, src []byte, funcs []string, advice string) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	local := map[string]bool{}
	for _, imp := range f.Imports {
		if imp.Path.Value == `"time"` {
			if imp.Name != nil {
				local[imp.Name.Name] = true
			} else {
				local["time"] = true
			}
		}
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok && local[id.Name] && slices.Contains(funcs, sel.Sel.Name) {
			line := fmt.Sprintf("%s uses time.%s", fset.Position(sel.Pos()), sel.Sel.Name)
			if advice != "" {
				line += " (" + advice + ")"
			}
			out = append(out, line)
		}
		return true
	})
	return out, nil
}

// TablePackages returns the names the first column of doc's package table
// holds: doc is Markdown (docs/ARCHITECTURE.md), the table is the first
// one whose header's first cell is "package", and each backquoted name in
// a row's first cell counts ("`journal`, `journal/memjournal`"), in order.
// It returns nil when doc has no such table.
func TablePackages(doc string) []string {
	var out []string
	in := false
	for _, line := range strings.Split(doc, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			if in {
				break
			}
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 3 {
			continue
		}
		first := strings.TrimSpace(cells[1])
		if !in {
			in = first == "package"
			continue
		}
		for i, part := range strings.Split(first, "`") {
			if i%2 == 1 && part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// UnlistedPackages returns one line per package of pkgs whose path below
// Module is not in listed (TablePackages of docs/ARCHITECTURE.md), and one
// per listed name that is no package; a listed name ending in "/" is a
// directory without Go (e2e/) and is left alone.
func UnlistedPackages(pkgs []Package, listed []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range pkgs {
		rel := strings.TrimPrefix(p.ImportPath, Module+"/")
		seen[rel] = true
		if !slices.Contains(listed, rel) {
			out = append(out, fmt.Sprintf("%s is not in docs/ARCHITECTURE.md's package table", rel))
		}
	}
	for _, l := range listed {
		if !seen[l] && !strings.HasSuffix(l, "/") {
			out = append(out, fmt.Sprintf("docs/ARCHITECTURE.md's package table lists %s, which is no package", l))
		}
	}
	return out
}

// RaceExclusions returns the package paths (below Module) that .ci/run
// keeps out of its -race run: script is the script's text, the names are
// the words between a line "norace=(" and the next line ")", comments
// ("# ...") left out, in order. ok is false when script has no such array.
func RaceExclusions(script string) (names []string, ok bool) {
	names = []string{}
	for _, line := range strings.Split(script, "\n") {
		line = strings.TrimSpace(line)
		if !ok {
			ok = line == "norace=("
			continue
		}
		if line == ")" {
			return names, true
		}
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		names = append(names, strings.Fields(line)...)
	}
	return nil, false
}

// StaleRaceExclusions returns one line per name of excluded
// (RaceExclusions) that is no package of pkgs: an exclusion left behind by
// a rename would otherwise keep nothing out, silently.
func StaleRaceExclusions(pkgs []Package, excluded []string) []string {
	var out []string
	for _, name := range excluded {
		if !slices.ContainsFunc(pkgs, func(p Package) bool { return p.ImportPath == Module+"/"+name }) {
			out = append(out, fmt.Sprintf(".ci/run's norace lists %s, which is no package", name))
		}
	}
	return out
}
