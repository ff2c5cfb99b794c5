package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// badTrace writes the first rows of the bank's February file with one row's
// tab replaced by spaces on line 4 (as in the bank's October 1999 month).
func badTrace(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(tracePath)
	if err != nil {
		t.Skip("trace not available")
	}
	lines := strings.SplitAfter(string(b), "\n")[:400]
	lines[3] = strings.Replace(lines[3], "\t", "   ", 1)
	p := filepath.Join(t.TempDir(), "bad.tsv")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Issue 9 item 17: one malformed row no longer aborts the replay; it is
// skipped and counted with its line number, and --strict fails on it.
func TestReplaySkipsMalformedRows(t *testing.T) {
	p := badTrace(t)
	out, err := run(t, "replay", "--trace", p, "--day", "1999-02-01", "--json")
	if err != nil {
		t.Fatalf("tolerant replay: %v", err)
	}
	var rep struct {
		Skipped struct {
			Count int
			Rows  []struct {
				Line   int
				Reason string
			}
		} `json:"skipped_rows"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Skipped.Count != 1 || len(rep.Skipped.Rows) != 1 || rep.Skipped.Rows[0].Line != 4 {
		t.Fatalf("skipped rows %+v, want one, line 4", rep.Skipped)
	}
	text, err := run(t, "replay", "--trace", p, "--day", "all")
	if err != nil || !strings.Contains(text, "skipped 1 malformed row") || !strings.Contains(text, "line 4") {
		t.Fatalf("text report: %v\n%s", err, text)
	}
	if _, err := run(t, "replay", "--trace", p, "--day", "all", "--strict"); err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Fatalf("--strict: %v, want an error naming line 4", err)
	}
}
