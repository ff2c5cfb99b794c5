package cli

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// omniroute staff prints, per hour, the Erlang C and Erlang A staffing for
// the target beside the replay's staffing and service level.
func TestStaffCommand(t *testing.T) {
	if _, err := os.Stat(tracePath); err != nil {
		t.Skip("trace not available")
	}
	out, err := run(t, "staff", "--trace", tracePath, "--day", "1999-02-01", "--target", "0.8/20s", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Target struct{ Fraction float64 }
		Hours  []struct {
			Hour                 int
			Calls                int
			ErlangC              int     `json:"erlang_c_agents"`
			ErlangA              int     `json:"erlang_a_agents"`
			Staffed              float64 `json:"staffed_agents"`
			ReplaySL, RecordedSL float64
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Target.Fraction != 0.8 || len(rep.Hours) < 12 {
		t.Fatalf("target %v, %d hours", rep.Target.Fraction, len(rep.Hours))
	}
	for _, h := range rep.Hours {
		if h.ErlangC < 1 || h.ErlangA < 1 || h.ErlangA > h.ErlangC || h.Staffed <= 0 {
			t.Errorf("hour %d: Erlang C %d, Erlang A %d, staffed %.1f", h.Hour, h.ErlangC, h.ErlangA, h.Staffed)
		}
	}
	text, err := run(t, "staff", "--trace", tracePath, "--day", "1999-02-01", "--target", "80%/20")
	if err != nil || !strings.Contains(text, "Erlang C") || !strings.Contains(text, "agent-hours:") {
		t.Fatalf("%v\n%s", err, text)
	}
	for _, bad := range []string{"0.8", "1.5/20s", "0.8/forever"} {
		if _, err := run(t, "staff", "--trace", tracePath, "--day", "1999-02-01", "--target", bad); err == nil {
			t.Errorf("target %q accepted", bad)
		}
	}
}
