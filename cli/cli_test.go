package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Execute(context.Background(), args, &out, &errb)
	return out.String(), err
}

const tracePath = "../../shared/data/anonymous_bank_february_1999.tsv"

func TestReplayJSON(t *testing.T) {
	if _, err := os.Stat(tracePath); err != nil {
		t.Skip("trace not available")
	}
	out, err := run(t, "replay", "--trace", tracePath, "--day", "1999-02-02", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Date string
		Day  map[string]any
		// hours each hold the same keys
		Hours []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Date != "1999-02-02" || len(rep.Hours) == 0 {
		t.Fatalf("report %s", out)
	}
	for _, k := range []string{"offered", "answered", "abandoned", "expired", "asa_seconds", "service_level_20s", "occupancy", "recorded"} {
		if _, ok := rep.Day[k]; !ok {
			t.Errorf("day lacks %s", k)
		}
		if _, ok := rep.Hours[0][k]; !ok {
			t.Errorf("hour lacks %s", k)
		}
	}
	if rep.Day["offered"].(float64) != rep.Day["answered"].(float64)+rep.Day["abandoned"].(float64)+rep.Day["expired"].(float64) {
		t.Errorf("offered != answered + abandoned + expired: %v", rep.Day)
	}
	if _, err := run(t, "replay", "--trace", tracePath, "--day", "2001-01-01"); err == nil || !strings.Contains(err.Error(), "not in the trace") {
		t.Errorf("unknown day: %v", err)
	}
}

func TestSimulateJSON(t *testing.T) {
	out, err := run(t, "simulate", "--agents", "10", "--arrivals-per-hour", "300", "--aht", "100", "--patience", "2m", "--hours", "20", "--seed", "5", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"p_wait", "asa_seconds", "service_level_20s", "abandon_rate"} {
		e, ok := rep[k].(map[string]any)
		if !ok || e["std_err"] == nil || e["value"] == nil {
			t.Errorf("%s: %v", k, rep[k])
		}
	}
	erl := rep["erlang"].(map[string]any)
	if erl["model"] != "A" || erl["p_wait"].(float64) <= 0 {
		t.Errorf("erlang %v", erl)
	}
	if _, err := run(t, "simulate", "--agents", "0"); err == nil {
		t.Error("0 agents accepted")
	}
	if _, err := run(t, "simulate", "--aht", "soon"); err == nil {
		t.Error("bad aht accepted")
	}
}

func TestCheckConfigAndVersion(t *testing.T) {
	out, err := run(t, "check-config", "../examples/omniroute.yaml")
	if err != nil || !strings.Contains(out, "ok: 2 MRDs") {
		t.Fatalf("check-config: %v %s", err, out)
	}
	bad := t.TempDir() + "/bad.yaml"
	os.WriteFile(bad, []byte("queues:\n  - id: q\n    mrd: nope\n"), 0o600)
	if _, err := run(t, "check-config", bad); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("bad config: %v", err)
	}
	if out, err := run(t, "version"); err != nil || !strings.HasPrefix(out, "omniroute ") {
		t.Fatalf("version: %v %q", err, out)
	}
}

func TestReplayAndSimulateHTMLReport(t *testing.T) {
	if _, err := os.Stat(tracePath); err != nil {
		t.Skip("trace not available")
	}
	dir := t.TempDir()
	if _, err := run(t, "replay", "--trace", tracePath, "--day", "1999-02-02", "--report", dir+"/day.html"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "simulate", "--agents", "5", "--arrivals-per-hour", "100", "--aht", "100", "--hours", "5", "--report", dir+"/sim.html"); err != nil {
		t.Fatal(err)
	}
	day, _ := os.ReadFile(dir + "/day.html")
	for _, want := range []string{"omniroute replay 1999-02-02", `aria-label="offered per row"`, `aria-label="service_level_20s per row"`,
		`aria-label="occupancy per row"`, `aria-label="asa_seconds per row"`, `<polyline class="rec"`} {
		if !strings.Contains(string(day), want) {
			t.Errorf("day report lacks %q", want)
		}
	}
	sim, _ := os.ReadFile(dir + "/sim.html")
	if !strings.Contains(string(sim), "erlang.p_wait") {
		t.Errorf("simulate report lacks the Erlang figures:\n%s", sim)
	}
}
