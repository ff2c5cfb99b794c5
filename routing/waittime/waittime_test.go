package waittime

import (
	"math"
	"testing"
	"time"
)

func near(t *testing.T, name string, got time.Duration, want float64) {
	t.Helper()
	if math.Abs(got.Seconds()-want) > 1e-6*math.Max(1, want) {
		t.Errorf("%s = %v, want %.9f s", name, got, want)
	}
}

func TestQLm(t *testing.T) {
	// s = 100, mu = 1/60 s, theta = 1/60 s: rates per second s*mu = 100/60.
	s := Snapshot{Position: 3, Agents: 100, MeanService: time.Minute, MeanPatience: time.Minute}
	smu, th := 100.0/60, 1.0/60
	want := 1/smu + 1/(smu+th) + 1/(smu+2*th)
	d, ok := QLm(s)
	if !ok {
		t.Fatal("no estimate")
	}
	near(t, "QLm", d, want)
	served := 1/(smu+th) + 1/(smu+2*th) + 1/(smu+3*th)
	d, _ = QLmServed(s)
	near(t, "QLmServed", d, served)
	// No abandonment: classical QL, (n+1)/(s*mu).
	s.MeanPatience = 0
	d, _ = QLm(s)
	near(t, "QL", d, 3/smu)
	d, _ = QLmServed(s)
	near(t, "QLmServed without abandonment", d, 3/smu)
	// Position 1 (nobody ahead): one service completion.
	s.Position = 1
	d, _ = QLm(s)
	near(t, "QLm at the head", d, 1/smu)
	// Unknown parameters.
	for _, bad := range []Snapshot{{Position: 2, MeanService: time.Minute}, {Position: 2, Agents: 3}} {
		if _, ok := QLm(bad); ok {
			t.Errorf("QLm(%+v) gave an estimate", bad)
		}
		if _, ok := QLmServed(bad); ok {
			t.Errorf("QLmServed(%+v) gave an estimate", bad)
		}
	}
}

func TestQLmLongQueue(t *testing.T) {
	// Beyond maxTerms the sum is closed-form; compare with the direct sum
	// and with the log approximation of the harmonic-like series.
	s := Snapshot{Position: 50_001, Agents: 10, MeanService: 100 * time.Second, MeanPatience: 300 * time.Second}
	smu, th := 0.1, 1.0/300
	direct := 0.0
	for i := 0; i <= 50_000; i++ {
		direct += 1 / (smu + float64(i)*th)
	}
	d, _ := QLm(s)
	if math.Abs(d.Seconds()-direct) > 1e-3 {
		t.Fatalf("QLm long = %v, direct %.6f s", d, direct)
	}
	// Absurd inputs saturate instead of overflowing.
	huge := Snapshot{Position: math.MaxInt, Agents: 1, MeanService: time.Duration(math.MaxInt64)}
	if d, ok := QLm(huge); !ok || d <= 0 {
		t.Fatalf("QLm(huge) = %v, %v", d, ok)
	}
}

func TestHistoryEstimators(t *testing.T) {
	s := Snapshot{Position: 4, HOLWait: 40 * time.Second, LESWait: 25 * time.Second}
	if HOL(s) != 40*time.Second || LES(s) != 25*time.Second {
		t.Fatalf("HOL %v LES %v", HOL(s), LES(s))
	}
	s.HOLWait = 0 // nobody ahead in the queue: HOL falls back to LES
	if HOL(s) != 25*time.Second {
		t.Fatalf("HOL without a head = %v", HOL(s))
	}
	// Blend without parameters is HOL; with them, QLmServed times the
	// correction.
	if Blend(s) != HOL(s) {
		t.Fatalf("Blend without parameters = %v", Blend(s))
	}
	s.Agents, s.MeanService = 5, 50*time.Second
	q, _ := QLmServed(s)
	if Blend(s) != q {
		t.Fatalf("Blend uncorrected = %v, want %v", Blend(s), q)
	}
	s.Correction = 1.5
	near(t, "Blend corrected", Blend(s), 1.5*q.Seconds())
	s.Correction = math.Inf(1)
	if Blend(s) != q {
		t.Fatalf("Blend with an infinite correction = %v", Blend(s))
	}
}

func TestHistoryCorrection(t *testing.T) {
	var h History
	if h.Correction() != 1 {
		t.Fatal("empty history corrects")
	}
	// A queue whose waits are consistently twice the estimate.
	for i := range 500 {
		e := time.Duration(20+i%7) * time.Second
		h.Observe(e, 2*e+time.Duration(i%3)*time.Second, 2)
	}
	if c := h.Correction(); c < 1.9 || c > 2.2 {
		t.Fatalf("correction %v, want about 2", c)
	}
	// Noise around the estimate: no correction worth the name.
	var n History
	for i := range 500 {
		e := 30 * time.Second
		n.Observe(e, e+time.Duration((i%11)-5)*3*time.Second, 3)
	}
	if c := n.Correction(); math.Abs(c-1) > 0.01 {
		t.Fatalf("correction %v from unbiased noise", c)
	}
	// Bounded, and ignores what it cannot use.
	var b History
	for range 100 {
		b.Observe(time.Second, time.Hour, 1)
		b.Observe(0, time.Hour, 1)
		b.Observe(time.Second, -time.Second, 1)
		b.Observe(time.Second, time.Hour, 0)
	}
	if c := b.Correction(); c != MaxCorrection {
		t.Fatalf("correction %v, want the bound %v", c, MaxCorrection)
	}
}

func TestPosition(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)
	q := []Entry{
		{Priority: 0, Enqueued: t0},
		{Priority: 0, Enqueued: t0.Add(2 * time.Second)},
		{Priority: 5, Enqueued: t0.Add(3 * time.Second)}, // goes ahead of both
		{Priority: 0, Enqueued: t0.Add(2 * time.Second)}, // tie with 1: slice order
		{Priority: 0, Enqueued: t0.Add(-time.Second)},
	}
	want := []int{3, 4, 1, 5, 2}
	for i, w := range want {
		if got := Position(q, i); got != w {
			t.Errorf("Position(%d) = %d, want %d", i, got, w)
		}
	}
	if Position(q, -1) != 0 || Position(q, 5) != 0 || Position(nil, 0) != 0 {
		t.Error("out-of-range index has a position")
	}
}
