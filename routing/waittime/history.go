package waittime

import (
	"math"
	"time"
)

// Defaults of a History.
const (
	// DefaultMemory is the number of recent served customers that carry
	// most of a History's weight. Long, because the biases it corrects
	// are those of the queue's set-up (shared agents, priorities), which
	// last; TestRASE's figures are best between 1000 and 5000 on the bank.
	DefaultMemory = 1000
	// DefaultCaution is the default History.Caution: the smallest value
	// (of 0.5, 1, 2, 4) at which the correction costs nothing measurable
	// in M/M/100+M, where the model is exact and any correction is noise.
	DefaultCaution = 4
	// MaxCorrection bounds the correction both ways (1/MaxCorrection ..
	// MaxCorrection), so that a burst of odd waits cannot make the
	// announced wait absurd.
	MaxCorrection = 4.0
)

// History is one queue's recent record: how its model estimates compared
// with the waits that followed. It is the only state the estimators need,
// and it belongs to the caller (one per queue). Feed it each customer who
// reaches an agent, at that moment, with the uncorrected estimate the
// customer got on arrival (QLmServed) and the wait it had; pass
// Correction() in Snapshot.Correction. The zero value is ready to use with
// the defaults. Not safe for concurrent use.
type History struct {
	// Memory is the number of recent observations carrying most weight:
	// each observation's weight decays by 1-1/Memory with every newer one
	// (an exponentially weighted average). 0: DefaultMemory.
	Memory int
	// Caution scales the estimated variance of the observed ratio before
	// it is compared with the ratio's distance from 1 (see Correction);
	// it accounts for the waits of neighbouring customers being
	// correlated, which the plain variance ignores. 0: DefaultCaution.
	Caution float64

	// Exponentially weighted sums: weight, squared weight, actual,
	// estimate, and the second moments of the pair (seconds).
	w, w2, act, est, aa, ae, ee, pos float64
	// For HOLWeight: weight, sums (a-H)(M-H), (M-H)^2, (a-H)^2.
	mw, mxy, mxx, myy float64
}

// MinHOLObservations is the weight of observations HOLWeight needs before
// it mixes any HOL in: below it the fitted weight is mostly noise.
const MinHOLObservations = 200

// ObserveHOL records, for a customer who reached an agent, the two
// estimates it got on arrival, the model's (QLmServed times the
// Correction then, that is Blend without HOL) and the head-of-line
// estimate (HOL), and the wait it had, so that HOLWeight learns how much
// of the delay history to mix in. Customers without both estimates are
// ignored.
func (h *History) ObserveHOL(model, hol, actual time.Duration) {
	if model <= 0 || hol <= 0 || actual < 0 {
		return
	}
	m := h.Memory
	if m <= 0 {
		m = DefaultMemory
	}
	d := 1 - 1/float64(m)
	x, y := (model - hol).Seconds(), (actual - hol).Seconds()
	h.mw = h.mw*d + 1
	h.mxy = h.mxy*d + x*y
	h.mxx = h.mxx*d + x*x
	h.myy = h.myy*d + y*y
}

// HOLWeight returns the weight w of HOL in Blend, (1-w)*model + w*HOL: the
// least-squares weight over the recent customers fed to ObserveHOL,
// w = 1 - sum (a-H)(M-H) / sum (M-H)^2, shrunk toward 0 like Correction
// shrinks toward 1 (w * max(0, 1 - Caution*Var(w)/w^2), the variance from
// the residuals, scaled by the mean position for the customers who wait
// together), within [0, MaxHOLWeight]; 0 before MinHOLObservations. Where
// the model is right (M/M/s+M) it stays 0; on the bank's recorded waits,
// where agents serve several queues and take breaks the model cannot see,
// the head of the line carries what the queue length misses
// (TestRASERealWaits).
func (h *History) HOLWeight() float64 {
	if h.mw < MinHOLObservations || h.mxx <= 0 {
		return 0
	}
	alpha := h.mxy / h.mxx
	w := 1 - alpha
	res := max(h.myy-2*alpha*h.mxy+alpha*alpha*h.mxx, 0) / h.mw
	v := res / h.mxx
	if h.w > 0 {
		v *= max(h.pos/h.w, 1)
	}
	k := h.Caution
	if k <= 0 {
		k = DefaultCaution
	}
	if math.IsNaN(w) || math.IsNaN(v) || w <= 0 {
		return 0
	}
	w *= max(0, 1-k*v/(w*w))
	return min(w, MaxHOLWeight)
}

// MaxHOLWeight bounds HOLWeight: the model's estimate always keeps at
// least half the say, since HOL knows nothing of the customer's own place.
const MaxHOLWeight = 0.5

// Observe records that a customer estimated at estimate (on arrival, before
// correction) at the given position waited actual before reaching an
// agent. Customers with no estimate (estimate <= 0) or no position teach
// nothing and are ignored.
func (h *History) Observe(estimate, actual time.Duration, position int) {
	if estimate <= 0 || actual < 0 || position < 1 {
		return
	}
	m := h.Memory
	if m <= 0 {
		m = DefaultMemory
	}
	d := 1 - 1/float64(m)
	a, e := actual.Seconds(), estimate.Seconds()
	h.w = h.w*d + 1
	h.w2 = h.w2*d*d + 1
	h.act = h.act*d + a
	h.est = h.est*d + e
	h.aa = h.aa*d + a*a
	h.ae = h.ae*d + a*e
	h.ee = h.ee*d + e*e
	h.pos = h.pos*d + float64(position)
}

// Correction returns the factor by which the model's estimates should be
// scaled: the ratio r of recent actual waits to their estimates, shrunk
// toward 1 in proportion to how little of its distance from 1 the noise
// explains (a James-Stein rule):
//
//	c = 1 + (r-1) * max(0, 1 - Caution*Var(r)/(r-1)^2)
//
// where Var(r) is the ratio estimator's variance from the weighted
// residuals. A queue that behaves like its model keeps c near 1, so the
// estimator stays the model's; a queue the model misreads (agents shared
// with other queues, later arrivals of higher priority that go ahead) gets
// the full correction. Bounded by MaxCorrection; 1 before any observation.
func (h *History) Correction() float64 {
	if h.w < 2 || h.est <= 0 {
		return 1
	}
	k := h.Caution
	if k <= 0 {
		k = DefaultCaution
	}
	r := h.act / h.est
	// Weighted residual variance per observation, then the variance of
	// the ratio of sums (delta method).
	res := (h.aa - 2*r*h.ae + r*r*h.ee) / h.w
	v := max(res, 0) * h.w2 / (h.est * h.est)
	// Customers who wait at the same time share their fate: when agents
	// finish early, all of them wait less. About Position of them wait
	// together, so the errors come in clusters of that size, and the
	// variance of their mean is that many times the independent one.
	v *= h.pos / h.w
	d := (r - 1) * (r - 1)
	if d == 0 || math.IsNaN(d) || math.IsNaN(v) {
		return 1
	}
	c := 1 + (r-1)*max(0, 1-k*v/d)
	return min(max(c, 1/MaxCorrection), MaxCorrection)
}

// Entry is one waiting customer, as Position sees it.
type Entry struct {
	// Priority: higher is served first.
	Priority int
	// Enqueued is when the customer joined the queue.
	Enqueued time.Time
}

// Position returns the 1-based place in line of queue[i]: one plus the
// customers served before it, those of higher priority and those of the
// same priority who joined earlier (at the same instant, those earlier in
// the slice). That is the routing engine's order (routing.State.Position);
// this helper serves adapters that hold a queue's entries themselves. It
// returns 0 when i is out of range.
func Position(queue []Entry, i int) int {
	if i < 0 || i >= len(queue) {
		return 0
	}
	me := queue[i]
	pos := 1
	for j, e := range queue {
		switch {
		case j == i:
		case e.Priority > me.Priority:
			pos++
		case e.Priority == me.Priority && (e.Enqueued.Before(me.Enqueued) || e.Enqueued.Equal(me.Enqueued) && j < i):
			pos++
		}
	}
	return pos
}
