package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// firstDays writes the header and the first n lines of the bank's trace.
func firstDays(t *testing.T, n int) string {
	t.Helper()
	b, err := os.ReadFile(tracePath)
	if err != nil {
		t.Skip("trace not available")
	}
	lines := strings.SplitAfter(string(b), "\n")[:n]
	p := filepath.Join(t.TempDir(), "days.tsv")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The calibration command searches gap and allowance and prints the best
// pair with the error it reaches; its JSON lists every trial.
func TestReplayCalibrate(t *testing.T) {
	p := firstDays(t, 3000)
	out, err := run(t, "replay", "calibrate", "--trace", p, "--gap", "6m", "--allowance", "5", "--replications", "1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "best (") || !strings.Contains(out, "ASA error") || !strings.Contains(out, "use: omniroute replay --gap") {
		t.Fatalf("output:\n%s", out)
	}
	out, err = run(t, "replay", "calibrate", "--trace", p, "--gap", "6m", "--allowance", "5", "--replications", "1", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var cal struct {
		Best struct {
			Score float64
		}
		Trials []struct{ Score float64 }
	}
	if err := json.Unmarshal([]byte(out), &cal); err != nil {
		t.Fatal(err)
	}
	if len(cal.Trials) < 5 {
		t.Fatalf("%d trials: the search did not move", len(cal.Trials))
	}
	for _, tr := range cal.Trials {
		if tr.Score < cal.Best.Score {
			t.Errorf("trial score %v below the best %v", tr.Score, cal.Best.Score)
		}
	}
	if cal.Best.Score >= cal.Trials[0].Score {
		t.Errorf("best %v not better than the start %v", cal.Best.Score, cal.Trials[0].Score)
	}
}

// The month report of the faithful model prints the per-hour errors and the
// IVR hang-ups; the first-to-last model is still available.
func TestReplayMonthAccuracy(t *testing.T) {
	p := firstDays(t, 3000)
	out, err := run(t, "replay", "--trace", p, "--day", "all")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"model: faithful, gap 3m0s, allowance 20s", "IVR hang-ups (never reach an agent)", "ASA error", "abandon-rate error", "service-level error", "month ASA"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	out, err = run(t, "replay", "--trace", p, "--day", "all", "--model", "first-to-last", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if _, ok := rep["model"]; ok {
		t.Error("first-to-last report names a faithful model")
	}
	if _, ok := rep["accuracy"]; !ok {
		t.Error("report lacks accuracy")
	}
	// --json with everything: the model in seconds, accuracy, skipped
	// rows, and with --target the staffing advice.
	out, err = run(t, "replay", "--trace", p, "--day", "all", "--target", "0.8/20s", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var all struct {
		Model struct {
			Gap float64 `json:"gap_seconds"`
		}
		Accuracy struct{ Hours int }
		Staffing struct {
			Target struct {
				Within float64 `json:"within_seconds"`
			}
			Hours []any
		}
		Skipped *struct{ Count int } `json:"skipped_rows"`
	}
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		t.Fatal(err)
	}
	if all.Model.Gap != 180 || all.Accuracy.Hours == 0 || all.Staffing.Target.Within != 20 || len(all.Staffing.Hours) == 0 || all.Skipped == nil {
		t.Errorf("JSON report: %+v", all)
	}
	if _, err := run(t, "replay", "--trace", p, "--model", "best-case"); err == nil {
		t.Error("unknown model accepted")
	}
}

// --what-if prints the changed centre beside the baseline replay and the
// records, per hour; --json carries it under what_if.
func TestReplayWhatIf(t *testing.T) {
	p := firstDays(t, 3000)
	const sc = "../examples/whatif/overflow-pe-ps.yaml"
	out, err := run(t, "replay", "--trace", p, "--what-if", sc, "--replications", "1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "what-if | baseline replay | recorded") || !strings.Contains(out, "\n10 ") || !strings.Contains(out, "\nmonth ") {
		t.Fatalf("output:\n%s", out)
	}
	out, err = run(t, "replay", "--trace", p, "--what-if", sc, "--replications", "1", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		WhatIf struct {
			Hours []struct {
				Hour             int
				WhatIf, Baseline struct {
					ASA float64 `json:"asa_seconds"`
				}
			}
		} `json:"what_if"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	for _, h := range rep.WhatIf.Hours {
		if h.Hour == 10 && h.WhatIf.ASA >= h.Baseline.ASA {
			t.Errorf("10:00 with two more agents: ASA %.1f, baseline %.1f", h.WhatIf.ASA, h.Baseline.ASA)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("queues: [{id: PE, colour: red}]\n"), 0o644)
	if _, err := run(t, "replay", "--trace", p, "--what-if", bad); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("bad scenario: %v", err)
	}
}
