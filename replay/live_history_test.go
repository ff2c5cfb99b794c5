package replay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/examples"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/replay"
	"github.com/omniroute/omniroute/replay/trace"
	"github.com/omniroute/omniroute/server"
	"github.com/omniroute/omniroute/webui"
)

// TestLiveHistoryEqualsReplayIntervals is the demo's path on one busy hour
// of 1999-02-01 (10:00-11:00, every call of the bank's trace in it, the
// agents on shift then): a real server (embedded JetStream) on a scaled
// clock, the live runner with every agent a Socket.IO desk. The server's
// history per queue and 15 minutes (GET /v1/reports/queues) must then hold
// exactly the run's own offered, answered, abandoned and expired counts
// in the same replayed intervals, and its ASA and service level must agree
// with the waits the replay measured itself.
//
// Tolerance. The replay measures a wait from its POST to the taskRequest
// it receives; the server from its enqueue stamp to its accept stamp. The
// two differ by the difference of two one-way loopback latencies (POST in,
// topicSubscription in), a few milliseconds of wall time, times Speed,
// plus whatever the accept waits at the node before it is stamped: a
// journal fsync in progress, which on this machine's shared disk can
// stall for 100-350 ms (BENCHMARKS.md, issue 14; one such stall at
// Speed 200 and 50 ms failed a CI run). We allow skewWall = 200 ms of
// wall time at Speed 50, the same 10 s of replayed time, so:
// |ASA difference| <= skewWall*Speed (a mean moves no more
// than each term), and the answered-within-20-s counts may differ only by
// the calls whose measured wait lies within skewWall*Speed of 20 s (only
// those can cross the threshold). On today's code (server in wall time)
// the history holds the hour in one or two intervals of the current day and
// none of these hold.
func TestLiveHistoryEqualsReplayIntervals(t *testing.T) {
	if testing.Short() {
		t.Skip("replays an hour live")
	}
	const (
		speed    = 50.0
		skewWall = 200 * time.Millisecond
	)
	tol := time.Duration(float64(skewWall) * speed)
	f, err := os.Open("../../shared/data/anonymous_bank_february_1999.tsv")
	if err != nil {
		t.Skipf("trace not available: %v", err)
	}
	calls, err := trace.ReadAll(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var day trace.Day
	for _, d := range trace.Days(calls) {
		if d.Date.String() == "1999-02-01" {
			day = d
		}
	}
	full, err := replay.BankDay(day, calls, replay.BankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setup := hourSlice(full, 10*time.Hour, 11*time.Hour)
	if len(setup.Arrivals) < 100 || len(setup.Shifts) < 3 {
		t.Fatalf("slice has %d arrivals, %d shifts", len(setup.Arrivals), len(setup.Shifts))
	}

	c, err := config.Parse(examples.Config)
	if err != nil {
		t.Fatal(err)
	}
	clock := node.NewClock(setup.Epoch, speed, nil)
	s, err := server.Start(context.Background(), server.Options{Config: c, Listen: "127.0.0.1:0", DataDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	run, err := replay.RunLive(context.Background(), setup, replay.LiveOptions{Server: s.URL(), AdminToken: "dev-admin-token",
		Speed: speed, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	rep := replay.DayReportOf(day, run)
	if len(rep.Intervals) == 0 {
		t.Fatal("the live run on the server's clock has no intervals")
	}

	// The history follows the node's events asynchronously: read until it
	// has counted every call (bounded), then compare.
	want := map[string]replay.IntervalReport{}
	var total int
	for _, r := range rep.Intervals {
		want[r.Queue+" "+r.Start.Format(time.RFC3339)] = r
		total += r.Answered + r.Abandoned + r.Expired
	}
	var got []webui.QueueInterval
	deadline := time.Now().Add(10 * time.Second)
	for {
		got = queueHistory(t, s.URL(), setup.Epoch, setup.Epoch.Add(24*time.Hour))
		n := 0
		for _, g := range got {
			n += int(g.Answered + g.Abandoned + g.Expired)
		}
		if n >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	seen := map[string]bool{}
	for _, g := range got {
		k := g.Queue + " " + g.Start.Format(time.RFC3339)
		if g.Offered+g.Answered+g.Abandoned+g.Expired == 0 {
			continue
		}
		w, ok := want[k]
		if !ok {
			t.Errorf("history %s: %+v, not in the replay's intervals", k, g.Figures)
			continue
		}
		seen[k] = true
		if int(g.Offered) != w.Offered || int(g.Answered) != w.Answered || int(g.Abandoned) != w.Abandoned || int(g.Expired) != w.Expired {
			t.Errorf("%s: history offered/answered/abandoned/expired %d/%d/%d/%d, replay %d/%d/%d/%d", k,
				g.Offered, g.Answered, g.Abandoned, g.Expired, w.Offered, w.Answered, w.Abandoned, w.Expired)
		}
		if d := math.Abs(g.ASASeconds - w.ASASeconds); d > tol.Seconds() {
			t.Errorf("%s: history ASA %.2f s, replay %.2f s (tolerance %v)", k, g.ASASeconds, w.ASASeconds, tol)
		}
		near := nearThreshold(run, w, tol)
		if d := math.Abs(float64(g.AnsweredWithinSL - int64(w.AnsweredWithinSL))); int(d) > near {
			t.Errorf("%s: history answered within SL %d, replay %d, only %d waits within %v of the threshold", k,
				g.AnsweredWithinSL, w.AnsweredWithinSL, near, tol)
		}
		t.Logf("%s offered %d answered %d abandoned %d  ASA %.1f|%.1f s  SL %.3f|%.3f", k, w.Offered, w.Answered, w.Abandoned,
			g.ASASeconds, w.ASASeconds, g.ServiceLevel, w.ServiceLevel)
	}
	for k, w := range want {
		if !seen[k] && w.Offered+w.Answered+w.Abandoned+w.Expired > 0 {
			t.Errorf("replay %s: %+v, not in the history", k, w)
		}
	}
	// The waits are the replayed day's, not milliseconds: the busy hour
	// queues callers. The hour's ASA in replayed time is about 1 s (0.96
	// seen); counted in wall time at Speed 50 it would be 50 times less,
	// so 0.25 s tells the two apart with room on both sides.
	if f := rep.Hours; len(f) == 0 || rep.Day.Figures.ASASeconds < 0.25 {
		t.Errorf("replay ASA %.3f s: waits are not in replayed time", rep.Day.Figures.ASASeconds)
	}
}

// hourSlice keeps the arrivals in [from, to) and the shifts that overlap
// it, clipped to it.
func hourSlice(full *replay.Setup, from, to time.Duration) *replay.Setup {
	s := *full
	s.Arrivals, s.Shifts = nil, nil
	for _, a := range full.Arrivals {
		if a.At >= from && a.At < to {
			s.Arrivals = append(s.Arrivals, a)
		}
	}
	for _, sh := range full.Shifts {
		if sh.Login < to && sh.Logout > from {
			sh.Login, sh.Logout, sh.Off = max(sh.Login, from), min(sh.Logout, to), nil
			s.Shifts = append(s.Shifts, sh)
		}
	}
	return &s
}

// nearThreshold counts the answered calls of interval w whose measured
// wait is within tol of the service-level threshold.
func nearThreshold(run *replay.Run, w replay.IntervalReport, tol time.Duration) int {
	n := 0
	for i, o := range run.Outcomes {
		if o.Result != replay.Answered || run.Setup.Arrivals[i].Queue != w.Queue || !o.Ended.UTC().Truncate(replay.IntervalWidth).Equal(w.Start) {
			continue
		}
		if d := o.Wait - replay.ServiceLevelThreshold; d >= -tol && d <= tol {
			n++
		}
	}
	return n
}

func queueHistory(t *testing.T, base string, from, to time.Time) []webui.QueueInterval {
	t.Helper()
	req, err := http.NewRequest("GET", fmt.Sprintf("%s/v1/reports/queues?from=%s&to=%s", base, from.Format(time.RFC3339), to.Format(time.RFC3339)), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer dev-admin-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Items []webui.QueueInterval `json:"items"`
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("reports: %d %s", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Items
}
