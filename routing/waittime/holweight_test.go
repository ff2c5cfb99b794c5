package waittime

import (
	"math/rand/v2"
	"testing"
	"time"
)

// HOLWeight learns the least-squares mix: when the waits follow the head of
// the line and the model is off, it mixes HOL in (up to MaxHOLWeight); when
// the model is right it stays 0; before MinHOLObservations it is 0.
func TestHOLWeight(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sec := func(x float64) time.Duration { return time.Duration(x * float64(time.Second)) }
	var follows, model History
	for i := range 5000 {
		hol := 20 + 100*rng.Float64()
		m := 20 + 100*rng.Float64()
		noise := 5 * rng.NormFloat64()
		follows.ObserveHOL(sec(m), sec(hol), sec(max(0.7*hol+0.3*m+noise, 0)))
		model.ObserveHOL(sec(m), sec(hol), sec(max(m+noise, 0)))
		if i == MinHOLObservations/2 && follows.HOLWeight() != 0 {
			t.Fatalf("weight %v before %d observations", follows.HOLWeight(), MinHOLObservations)
		}
	}
	if w := follows.HOLWeight(); w != MaxHOLWeight {
		t.Errorf("waits following HOL (true weight 0.7): weight %v, want the bound %v", w, MaxHOLWeight)
	}
	if w := model.HOLWeight(); w != 0 {
		t.Errorf("waits following the model: weight %v, want 0", w)
	}
	s := Snapshot{Position: 3, Agents: 2, MeanService: 100 * time.Second, HOLWait: 90 * time.Second, HOLWeight: 0.5}
	m, _ := QLmServed(s)
	if got, want := Blend(s), (m+90*time.Second)/2; got != want {
		t.Errorf("Blend with weight 0.5: %v, want %v", got, want)
	}
}
