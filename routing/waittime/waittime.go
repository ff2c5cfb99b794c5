// Package waittime estimates how long a waiting customer will wait: the
// queue position and the estimated wait time (EWT) a GMS check-queue-position
// answers with (_position, _eta, seed 003), and the EWT of the native API.
//
// The estimators are pure functions of a Snapshot, what a queue knows at
// one instant; they keep no state, read no clock and never panic. The one
// piece of memory a good estimator needs, how far recent estimates were
// from the waits that followed, is kept by the caller in a History and
// passed in the Snapshot as Correction.
//
// Sources. R. Ibrahim and W. Whitt, "Real-time delay estimation based on
// delay history", M&SOM 11(3), 2009 (estimators LES and HOL, the
// queue-length estimator QL, and the relative average squared error RASE);
// R. Ibrahim and W. Whitt, "Real-time delay estimation in overloaded
// multiserver queues with abandonments", Management Science 55(10), 2009
// (QL_m, the queue-length estimator that accounts for abandonment); and
// "Wait-time predictors for customer service systems with time-varying
// demand and capacity", Operations Research 59(5), 2011 (delay-history
// estimators under time-varying load, where they are biased).
//
// Units: every duration is a time.Duration; rates are derived from the
// mean durations as 1/seconds.
package waittime

import (
	"math"
	"time"
)

// Snapshot is what a queue knows, at one instant, about one customer who
// waits in it. Zero values mean "not known" where noted.
type Snapshot struct {
	// Position is the customer's 1-based place in line: 1 means nobody
	// waits ahead of it, so n = Position-1 customers are served (or leave)
	// before it. Count every customer the same agents serve first: higher
	// priority, then earlier (see Position). The routing engine serves an
	// MRD's requests in one order across its queues, so where agents serve
	// several queues of an MRD, count the MRD's waiting requests; on the
	// bank trace this lowers QL_m's RASE from 1.77 to 1.52.
	Position int
	// Agents is s, the number of agents now serving this queue: logged in
	// and taking its work, busy or not. 0: unknown (QLm then has no
	// estimate).
	Agents int
	// HOLWait is the time the customer at the head of the line has waited
	// so far; 0 when nobody waits ahead of this customer in its queue.
	HOLWait time.Duration
	// LESWait is the wait of the last customer to have entered service
	// from this queue (before this instant). 0 also when nobody has.
	LESWait time.Duration
	// MeanService is 1/mu, the mean time an agent holds one customer of
	// this queue. 0: unknown (QLm then has no estimate).
	MeanService time.Duration
	// MeanPatience is 1/theta, the mean time a customer waits before
	// abandoning. 0: customers never abandon (theta = 0).
	MeanPatience time.Duration
	// Correction multiplies the model's estimate in Blend: the ratio of
	// recent actual waits to their estimates, from History.Correction.
	// 0 means no correction (1).
	Correction float64
	// HOLWeight mixes the head-of-line estimate into Blend:
	// (1-w)*model + w*HOL, from History.HOLWeight. 0: the model alone.
	HOLWeight float64
}

func (s Snapshot) ahead() int { return max(s.Position-1, 0) }

// rates returns s*mu and theta in 1/seconds, and false when the model's
// parameters are not known.
func (s Snapshot) rates() (smu, theta float64, ok bool) {
	if s.Agents <= 0 || s.MeanService <= 0 {
		return 0, 0, false
	}
	smu = float64(s.Agents) / s.MeanService.Seconds()
	if s.MeanPatience > 0 {
		theta = 1 / s.MeanPatience.Seconds()
	}
	return smu, theta, true
}

// maxTerms bounds the sum in the queue-length estimators; beyond it the
// remaining terms are summed in closed form, so a huge Position costs no
// more than this.
const maxTerms = 10_000

// sumInv returns sum_{i=from..to} 1/(a + i*b) for a > 0, b >= 0.
func sumInv(a, b float64, from, to int) float64 {
	if to < from {
		return 0
	}
	if b == 0 {
		return float64(to-from+1) / a
	}
	sum := 0.0
	i := from
	for ; i <= to && i < from+maxTerms; i++ {
		sum += 1 / (a + float64(i)*b)
	}
	if i <= to {
		// The rest is a slowly varying series: the midpoint integral rule
		// is accurate to far below a second here.
		sum += (math.Log(a+(float64(to)+0.5)*b) - math.Log(a+(float64(i)-0.5)*b)) / b
	}
	return sum
}

func seconds(x float64) time.Duration {
	if !(x < float64(math.MaxInt64)/float64(time.Second)) { // also NaN
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(x * float64(time.Second))
}

// QLm is Ibrahim and Whitt's queue-length estimator with abandonment for
// the M/M/s+M queue: the mean time until a customer with n = Position-1
// customers ahead would reach an agent if it never abandoned,
//
//	QL_m(n) = sum_{i=0..n} 1/(s*mu + i*theta)
//
// because while i customers wait ahead, the line moves when any of the s
// busy agents finishes (rate s*mu) or any of those i abandons (rate
// i*theta). With theta = 0 it is the classical QL estimator (n+1)/(s*mu).
// ok is false when Agents or MeanService is unknown.
func QLm(s Snapshot) (est time.Duration, ok bool) {
	smu, theta, ok := s.rates()
	if !ok {
		return 0, false
	}
	return seconds(sumInv(smu, theta, 0, s.ahead())), true
}

// QLmServed is the mean wait of the same customer given that it is served
// (does not abandon first):
//
//	E[W | n ahead, served] = sum_{i=1..n+1} 1/(s*mu + i*theta)
//
// Conditioning on the customer's own exponential patience outlasting the
// wait tilts every phase of the wait by that patience, which adds theta to
// each phase's rate (the same identity erlang.A uses for ASA). It is the
// least-squares estimate of the wait of customers who are served, which is
// what a wait announcement is checked against; it is below QLm by at most
// n*theta/(s*mu)^2 seconds. ok is false when Agents or MeanService is
// unknown.
func QLmServed(s Snapshot) (est time.Duration, ok bool) {
	smu, theta, ok := s.rates()
	if !ok {
		return 0, false
	}
	return seconds(sumInv(smu, theta, 1, s.ahead()+1)), true
}

// HOL is the head-of-line estimator: the time the customer at the head of
// the line has waited so far, a delay-history estimate that needs no model
// parameters. When nobody waits ahead (Position 1) the head's wait says
// nothing about this customer, and HOL falls back to LES, the most recent
// delay the queue knows.
func HOL(s Snapshot) time.Duration {
	if s.HOLWait > 0 {
		return s.HOLWait
	}
	return s.LESWait
}

// LES is the last-to-enter-service estimator: the wait of the last
// customer who reached an agent from this queue.
func LES(s Snapshot) time.Duration { return s.LESWait }

// Blend is the estimator omniroute announces. When the model's parameters
// are known it is QLmServed, scaled by the queue's recent record
// (Correction, from History): the queue-length estimator carries the
// information about this customer (how many are ahead, how fast the line
// moves), and the correction removes the bias that a model with stationary
// parameters has in a real queue (agents shared with other queues,
// customers of higher priority who arrive later and go ahead, breaks),
// which delay-history estimators see and queue-length estimators do not.
// Without parameters it is HOL. The test TestRASE measures it against the
// others, in M/M/100+M and on a month of real bank traffic.
//
// With a HOLWeight w (History.HOLWeight, learnt from the queue's own
// record) the estimate is (1-w)*model + w*HOL: on the bank's recorded
// waits the head of the line's wait carries what the queue length cannot
// see (breaks, agents taken by other queues), and the mix lowers the RASE
// from 0.766 to below 0.72 (TestRASERealWaits).
func Blend(s Snapshot) time.Duration {
	est, ok := QLmServed(s)
	if !ok {
		return HOL(s)
	}
	if c := s.Correction; c > 0 && !math.IsInf(c, 0) {
		est = seconds(est.Seconds() * c)
	}
	if w := s.HOLWeight; w > 0 && w <= 1 {
		if hol := HOL(s); hol > 0 {
			return seconds((1-w)*est.Seconds() + w*hol.Seconds())
		}
	}
	return est
}
