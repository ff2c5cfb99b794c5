package routingtest

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the events sections of testdata/*.txtar (review every change by hand)")

func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden scenarios in testdata")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			sc, err := ParseScenario(data)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if strings.TrimSpace(sc.Comment) == "" {
				t.Errorf("%s: no comment saying what the scenario proves", file)
			}
			res, err := RunScenario(sc)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if *update {
				if res.Events != sc.Events {
					if err := os.WriteFile(file, sc.Format(res.Events), 0o644); err != nil {
						t.Fatal(err)
					}
					t.Logf("%s: events rewritten; review them", file)
				}
				return
			}
			if res.Events != sc.Events {
				t.Errorf("%s: events differ (go test ./routing/routingtest -update rewrites; review by hand):\n%s",
					file, lineDiff(sc.Events, res.Events))
			}
		})
	}
}

// lineDiff shows the first differing lines of want and got.
func lineDiff(want, got string) string {
	w := strings.Split(want, "\n")
	g := strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl == gl {
			continue
		}
		b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl + "\n")
		if shown++; shown == 10 {
			b.WriteString("...\n")
			break
		}
	}
	return b.String()
}
