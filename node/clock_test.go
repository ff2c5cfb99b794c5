package node_test

import (
	"testing"
	"time"

	"github.com/omniroute/omniroute/journal/memjournal"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// fakeWall is a wall clock the test moves by hand.
type fakeWall struct{ t time.Time }

func (w *fakeWall) now() time.Time { return w.t }

func TestClockScalesFromItsStart(t *testing.T) {
	wall := &fakeWall{t: time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC)}
	day := time.Date(1999, 2, 1, 0, 0, 0, 0, time.UTC)
	c := node.NewClock(day, 1000, wall.now)
	wall.t = wall.t.Add(time.Second)
	if got := c.Now(); !got.Equal(day) {
		t.Fatalf("before Start: %v, want the origin %v", got, day)
	}
	at := c.Start(day.Add(7 * time.Hour))
	if !at.Equal(day.Add(7 * time.Hour)) {
		t.Fatalf("Start = %v", at)
	}
	wall.t = wall.t.Add(3600 * time.Millisecond) // 3.6 s of wall time = 1 hour at 1000x
	if got, want := c.Now(), day.Add(8*time.Hour); !got.Equal(want) {
		t.Fatalf("Now = %v, want %v", got, want)
	}
	if got := c.Wall(20 * time.Second); got != 20*time.Millisecond {
		t.Fatalf("Wall(20s) = %v, want 20ms", got)
	}
	if w := c.WallOf(day.Add(9 * time.Hour)); !c.TimeAt(w).Equal(day.Add(9 * time.Hour)) {
		t.Fatalf("TimeAt(WallOf(t)) = %v", c.TimeAt(w))
	}
	// Start never moves the clock back.
	if at := c.Start(day); !at.Equal(day.Add(8 * time.Hour)) {
		t.Fatalf("Start in the past moved the clock to %v", at)
	}
	c.SetSpeed(1)
	wall.t = wall.t.Add(time.Minute)
	if got, want := c.Now(), day.Add(8*time.Hour+time.Minute); !got.Equal(want) {
		t.Fatalf("after SetSpeed(1): %v, want %v", got, want)
	}
	var real *node.Clock
	if real.Wall(time.Second) != time.Second || real.Speed() != 1 || time.Since(real.Now()) > time.Minute {
		t.Fatal("a nil clock is not real time")
	}
}

// TestScaledClockDeadlineWaitsWallOverSpeed: a 60 s RONA on a clock at
// 1000x fires after about 60 ms of wall time, stamped 60 s later in the
// clock's time. With the timer in unscaled time it would take a minute.
func TestScaledClockDeadlineWaitsWallOverSpeed(t *testing.T) {
	day := time.Date(1999, 2, 1, 10, 0, 0, 0, time.UTC)
	c := node.NewClock(day, 1000, nil)
	c.Start(day)
	n := open(t, memjournal.New(), node.Config{Clock: c})
	defer n.Close()
	events, cancel := n.Subscribe()
	defer cancel()
	submit(t, n, routing.UpsertMRD{MRD: routing.MRD{ID: "chat", MaxRequests: 1}},
		routing.UpsertQueue{Queue: routing.Queue{ID: "q", MRD: "chat", RONATimeout: time.Minute}},
		routing.UpsertAgent{Agent: routing.Agent{ID: "a1"}},
		routing.SetAgentState{Agent: "a1", State: routing.AgentReady},
		routing.CreateConversation{ID: "c1", RequestID: "r1", Queue: "q"})
	var reserved time.Time
	deadline := time.After(10 * time.Second)
	for {
		select {
		case p := <-events:
			switch e := p.Event.(type) {
			case routing.TaskReserved:
				reserved = p.At
				if p.At.Before(day) || p.At.After(day.Add(time.Hour)) {
					t.Fatalf("reserved at %v, not in the clock's day", p.At)
				}
			case routing.TaskRevoked:
				if e.Reason != routing.ReasonRONA {
					t.Fatalf("revoked %+v", e)
				}
				if d := p.At.Sub(reserved); d < time.Minute {
					t.Fatalf("RONA %v after the offer, want >= 1m in the clock's time", d)
				}
				return
			}
		case <-deadline:
			t.Fatal("no RONA within 10 s of wall time: the timer waited the unscaled minute")
		}
	}
}
