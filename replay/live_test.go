package replay_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/examples"
	"github.com/omniroute/omniroute/replay"
	"github.com/omniroute/omniroute/routing"
	"github.com/omniroute/omniroute/server"
)

// TestLiveAgainstServer plays a small synthetic day against a real server
// (embedded JetStream, REST, Socket.IO agents) and checks every call ends
// as the protocol says and the figures hold together.
func TestLiveAgainstServer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server for several seconds")
	}
	c, err := config.Parse(examples.Config)
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.Start(context.Background(), server.Options{Config: c, Listen: "127.0.0.1:0", DataDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	setup := &replay.Setup{
		Epoch:  time.Date(1999, 2, 1, 0, 0, 0, 0, time.UTC),
		MRD:    routing.MRD{ID: "bank-voice", MaxRequests: 1},
		Queues: []routing.Queue{{ID: "bank-PS", MRD: "bank-voice", Skills: map[string]int{"PS": 1}, TTL: 10 * time.Minute}},
		Shifts: []replay.Shift{
			{Agent: "bank-a1", Skills: map[string]int{"PS": 1}, Login: 0, Logout: 20 * time.Minute},
			{Agent: "bank-a2", Skills: map[string]int{"PS": 1}, Login: 2 * time.Minute, Logout: 20 * time.Minute},
		},
	}
	for i := range 40 {
		a := replay.Arrival{At: time.Duration(i) * 20 * time.Second, Queue: "bank-PS", Service: 50 * time.Second, Hour: 0}
		if i%5 == 0 {
			a.Abandons, a.Patience = true, 5*time.Second
		}
		if i%7 == 0 {
			a.Priority = 1
		}
		setup.Arrivals = append(setup.Arrivals, a)
	}
	done := 0
	run, err := replay.RunLive(context.Background(), setup, replay.LiveOptions{Server: s.URL(), AdminToken: "dev-admin-token",
		Speed: 200, Progress: func(d, _ int) { done = d }})
	if err != nil {
		t.Fatal(err)
	}
	f := run.Figures(func(int) bool { return true }, replay.Interval{})
	if f.Offered != 40 || f.Offered != f.Answered+f.Abandoned+f.Expired {
		t.Fatalf("figures %+v", f)
	}
	if f.Answered < 25 || done != 40 {
		t.Fatalf("only %d answered, progress %d: %+v", f.Answered, done, f)
	}
	if f.Occupancy <= 0 || f.Occupancy > 1 {
		t.Fatalf("occupancy %v", f.Occupancy)
	}
	// The same setup in virtual time: every call ends there too.
	vrun, err := replay.RunVirtual(setup)
	if err != nil {
		t.Fatal(err)
	}
	vf := vrun.Figures(func(int) bool { return true }, replay.Interval{})
	t.Logf("live %+v\nvirtual %+v", f, vf)
	// Real time adds the server's latency (about 1 ms = 0.2 s replayed),
	// so the two agree closely but not exactly.
	if d := f.Answered - vf.Answered; d < -3 || d > 3 {
		t.Fatalf("live answered %d, virtual %d", f.Answered, vf.Answered)
	}
}
