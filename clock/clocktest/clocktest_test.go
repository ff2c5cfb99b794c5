package clocktest_test

import (
	"context"
	"testing"
	"time"

	"github.com/omniroute/omniroute/clock"
	"github.com/omniroute/omniroute/clock/clocktest"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestFiresInOrderAtTheirInstants(t *testing.T) {
	c := clocktest.New(t0)
	var got []string
	c.AfterFunc(3*time.Second, func() { got = append(got, "b@"+c.Now().Sub(t0).String()) })
	c.AfterFunc(time.Second, func() { got = append(got, "a@"+c.Now().Sub(t0).String()) })
	stopped := c.AfterFunc(2*time.Second, func() { got = append(got, "never") })
	tm := c.NewTimer(2 * time.Second)
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop reports armed once")
	}
	c.Advance(1500 * time.Millisecond)
	select {
	case <-tm.C():
		t.Fatal("timer fired early")
	default:
	}
	c.Advance(10 * time.Second)
	if at := <-tm.C(); !at.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("timer sent %v", at)
	}
	if len(got) != 2 || got[0] != "a@1s" || got[1] != "b@3s" {
		t.Fatalf("callbacks %v", got)
	}
	if !c.Now().Equal(t0.Add(11500 * time.Millisecond)) {
		t.Fatalf("now %v", c.Now())
	}
	if c.Armed() != 0 {
		t.Fatalf("%d still armed", c.Armed())
	}
}

func TestTickerAndReset(t *testing.T) {
	c := clocktest.New(t0)
	tk := c.NewTicker(time.Second)
	n := 0
	for i := 0; i < 3; i++ {
		c.Advance(time.Second)
		<-tk.C()
		n++
	}
	c.Advance(5 * time.Second) // ticks nobody reads are dropped, as time's
	<-tk.C()
	select {
	case <-tk.C():
		t.Fatal("more than one tick buffered")
	default:
	}
	tk.Stop()
	c.Advance(time.Minute)
	select {
	case <-tk.C():
		t.Fatal("tick after Stop")
	default:
	}
	tm := c.NewTimer(time.Hour)
	if !tm.Reset(time.Second) {
		t.Fatal("Reset of an armed timer reports false")
	}
	c.Advance(time.Second)
	<-tm.C()
	if tm.Reset(time.Second) {
		t.Fatal("Reset of a fired timer reports true")
	}
	if n != 3 {
		t.Fatal(n)
	}
}

// WaitArmed lets a test wait until the code under test has armed its timer.
func TestWaitArmedAndSleep(t *testing.T) {
	c := clocktest.New(t0)
	done := make(chan error)
	go func() { done <- clock.Sleep(context.Background(), c, time.Minute) }()
	if !c.WaitArmed(1, time.Minute) {
		t.Fatal("the sleeper never armed")
	}
	c.Advance(time.Minute)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c.WaitArmed(1, 10*time.Millisecond) {
		t.Fatal("WaitArmed with nothing armed reported true")
	}
}

func TestRealIsWall(t *testing.T) {
	if clock.Or(nil) != clock.Real {
		t.Fatal("Or(nil) is not Real")
	}
	c := clocktest.New(t0)
	if clock.Or(c) != clock.Clock(c) {
		t.Fatal("Or(c) is not c")
	}
	if d := time.Since(clock.Real.Now()); d < 0 || d > time.Hour {
		t.Fatalf("Real.Now is %v away", d)
	}
}
