// Package erlang holds the closed-form and exact-numerical queueing formulas
// that the contact-center simulator is checked against.
//
// Two models are provided:
//
//   - [C], Erlang C: the M/M/N queue. Poisson arrivals at rate lambda,
//     exponential service at rate mu per agent, N agents, an infinite FIFO
//     queue and infinitely patient callers. Source: A. K. Erlang, "Solution
//     of some problems in the theory of probabilities of significance in
//     automatic telephone exchanges" (1917); the formula is computed through
//     the Erlang B recursion, see [C].
//   - [A], Erlang A: the M/M/N+M queue, the same system in which every
//     waiting caller abandons after an exponential patience with rate theta.
//     Source: O. Garnett, A. Mandelbaum and M. Reiman, "Designing a call
//     center with impatient customers", Manufacturing & Service Operations
//     Management 4(3):208-227, 2002. It is computed exactly by solving the
//     birth-death chain numerically, see [A].
//
// Units: the package does not care which time unit is used as long as it is
// the same everywhere, but the simulator (and the documentation here) uses
// rates per second and times in seconds, so an ASA of 12.5 means 12.5 s.
//
// Both models report their results in a [Metrics] value, whose ServiceLevel
// method gives P(served and wait <= t) — for Erlang C every caller is
// served, so it reduces to the classic P(wait <= t).
package erlang

import (
	"errors"
	"fmt"
	"math"
)

// Errors returned by [C] and [A]. They are returned wrapped with the
// offending values, so compare with errors.Is.
var (
	// ErrServers: the number of agents n is zero or negative.
	ErrServers = errors.New("erlang: number of servers must be positive")
	// ErrRate: an arrival, service or patience rate is zero, negative, NaN
	// or infinite. Rates are per unit time (per second in the simulator).
	ErrRate = errors.New("erlang: rates must be positive and finite")
	// ErrUnstable: Erlang C with lambda >= n*mu. Without abandonment the
	// queue then grows without bound and no steady state exists. (Erlang A
	// is always stable because waiting callers abandon.)
	ErrUnstable = errors.New("erlang: unstable system: lambda must be below n*mu")
	// ErrStateSpace: Erlang A would need more than [MaxStates] states of the
	// birth-death chain before its tail becomes negligible. This happens
	// only for a heavily overloaded system with almost no abandonment
	// (theta tiny and lambda > n*mu), where the queue is enormous.
	ErrStateSpace = errors.New("erlang: birth-death chain too large")
)

// MaxStates bounds the number of states (0..K people in the system) that [A]
// will solve, so that a pathological input returns [ErrStateSpace] instead of
// exhausting memory. 2^20 states take 8 MiB of float64s; realistic call
// centers (n up to a few thousand, patience of minutes) need far fewer.
const MaxStates = 1 << 20

// model tells ServiceLevel which formula produced a Metrics value.
type model uint8

const (
	modelNone model = iota // zero Metrics: ServiceLevel reports 0
	modelC
	modelA
)

// Metrics holds the steady-state performance of an M/M/N (Erlang C) or
// M/M/N+M (Erlang A) system. Times are in the unit of the inverse rates:
// seconds when rates are per second. All probabilities are over arriving
// callers (by PASTA, an arriving caller sees the time-stationary state).
type Metrics struct {
	// N is the number of agents.
	N int
	// Lambda is the arrival rate (calls per second).
	Lambda float64
	// Mu is the service rate of one agent (1 / mean handle time in seconds).
	Mu float64
	// Theta is the abandonment rate of one waiting caller (1 / mean
	// patience in seconds); 0 for Erlang C.
	Theta float64

	// Load is the offered load lambda/mu in Erlangs.
	Load float64
	// PWait is the probability that an arriving caller finds all N agents
	// busy and has to queue (the Erlang C probability for [C]).
	PWait float64
	// PAbandon is the probability that an arriving caller abandons before
	// service: theta*E[queue length]/lambda. Always 0 for Erlang C.
	PAbandon float64
	// ASA is the average speed of answer: the mean wait of the callers who
	// are served, counting those served at once as waiting 0 seconds.
	ASA float64
	// MeanWait is the mean wait of all arriving callers, served or not,
	// until service or abandonment; by Little's law it is MeanQueue/Lambda.
	// It equals ASA for Erlang C.
	MeanWait float64
	// MeanQueue is the mean number of callers waiting (not in service).
	MeanQueue float64
	// Occupancy is the mean fraction of agents busy: carried load / N. For
	// Erlang C that is lambda/(N*mu); for Erlang A only the callers who do
	// not abandon are carried, so it is lambda*(1-PAbandon)/(N*mu).
	Occupancy float64

	model model
	// Erlang A only: pNoWait is P(arrival finds a free agent) and queue[j]
	// is P(arrival finds all agents busy and j callers already waiting).
	// They are what ServiceLevel needs; the slice is never modified after
	// A returns, so copies of Metrics may share it.
	pNoWait float64
	queue   []float64
}

// C computes Erlang C (M/M/N) metrics for n agents, arrival rate lambda and
// per-agent service rate mu (both per second).
//
// The Erlang C probability is obtained from the Erlang B blocking
// probability through the recursion B(0)=1, B(k) = a*B(k-1)/(k + a*B(k-1))
// with a = lambda/mu, and C = B/(1 - rho*(1-B)) with rho = a/n. Unlike the
// textbook factorial form a^n/n! this never overflows, so n in the thousands
// is fine. Then ASA = MeanWait = C/(n*mu - lambda), MeanQueue =
// lambda*ASA, Occupancy = rho and ServiceLevel(t) = 1 - C*exp(-(n*mu -
// lambda)*t).
//
// Errors: [ErrServers] when n <= 0, [ErrRate] when lambda or mu is not a
// positive finite number, [ErrUnstable] when lambda >= n*mu.
func C(n int, lambda, mu float64) (Metrics, error) {
	if n <= 0 {
		return Metrics{}, fmt.Errorf("%w: n=%d", ErrServers, n)
	}
	if !validRate(lambda) || !validRate(mu) {
		return Metrics{}, fmt.Errorf("%w: lambda=%g mu=%g", ErrRate, lambda, mu)
	}
	nmu := float64(n) * mu
	if lambda >= nmu {
		return Metrics{}, fmt.Errorf("%w: lambda=%g >= n*mu=%g", ErrUnstable, lambda, nmu)
	}
	a := lambda / mu
	b := 1.0
	for k := 1; k <= n; k++ {
		b = a * b / (float64(k) + a*b)
	}
	rho := lambda / nmu
	c := b / (1 - rho*(1-b))
	asa := c / (nmu - lambda)
	return Metrics{
		N:         n,
		Lambda:    lambda,
		Mu:        mu,
		Load:      a,
		PWait:     c,
		ASA:       asa,
		MeanWait:  asa,
		MeanQueue: lambda * asa,
		Occupancy: rho,
		model:     modelC,
	}, nil
}

// ServiceLevel returns the probability that an arriving caller is served
// after waiting at most t seconds: P(served and wait <= t). Callers served
// at once count as waiting 0, so ServiceLevel(0) = 1 - PWait. For Erlang C
// every caller is served and this is the classic P(wait <= t); for Erlang A
// callers who abandon never count, so ServiceLevel(+Inf) = 1 - PAbandon.
// This matches how a recorded service level is usually computed: answered
// within t divided by offered calls.
//
// It returns 0 for t < 0 and for the zero Metrics, and NaN for NaN. For
// Erlang A the cost grows with the number of queue states (see [A]).
func (m Metrics) ServiceLevel(t float64) float64 {
	switch {
	case math.IsNaN(t):
		return math.NaN()
	case t < 0:
		return 0
	}
	switch m.model {
	case modelC:
		return 1 - m.PWait*math.Exp(-(float64(m.N)*m.Mu-m.Lambda)*t)
	case modelA:
		return m.serviceLevelA(t)
	}
	return 0
}

// validRate reports whether r can be used as a rate: positive and finite.
func validRate(r float64) bool {
	return r > 0 && !math.IsInf(r, 1)
}
