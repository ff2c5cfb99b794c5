package erlang

import (
	"fmt"
	"math"
)

// tailTol is the relative size below which the rest of a probability
// distribution is dropped: the truncated tail of the birth-death chain and of
// the negative binomial in negBinTail. It is below float64's epsilon
// (2.2e-16), so truncation changes results by no more than rounding does.
const tailTol = 1e-18

// A computes Erlang A (M/M/N+M) metrics for n agents, arrival rate lambda,
// per-agent service rate mu and per-caller abandonment rate theta (all per
// second; 1/theta is the mean patience). This is the model of Garnett,
// Mandelbaum & Reiman (2002), "Designing a call center with impatient
// customers".
//
// Method. The number of callers in the system is a birth-death chain with
// birth rate lambda and death rate min(k,n)*mu + max(k-n,0)*theta in state k.
// Its stationary distribution is computed exactly over states 0..K, in log
// space (log pi(k) = log pi(k-1) + log lambda - log death(k)) so that n in the
// thousands neither overflows nor underflows, and then normalised. K is the
// first state beyond n at which a geometric bound on the remaining tail falls
// below 1e-18 of the largest term: beyond n the ratios lambda/death(k) only
// decrease, so the bound is rigorous. By PASTA an arrival sees this
// distribution, so
//
//	PWait     = sum over k >= n of pi(k)
//	MeanQueue = sum over k > n of (k-n)*pi(k)
//	PAbandon  = theta*MeanQueue/lambda
//	MeanWait  = MeanQueue/lambda                     (Little's law)
//	Occupancy = sum of min(k,n)*pi(k) / n
//
// ASA and ServiceLevel need the wait of one tagged arrival that finds j >= 0
// callers waiting ahead of it (k = n+j). Its "offered wait" V, the time it
// would wait if infinitely patient, is a sum of exponential phases with rates
// n*mu + i*theta for i = j, j-1, ..., 0 (service completions plus the
// abandonments of the callers still ahead). Its own patience P ~ Exp(theta)
// is independent of V; it is served iff V < P, and then waits V. Hence
// P(served, wait <= t | j) = E[exp(-theta*V); V <= t], and tilting each
// phase by exp(-theta*x) gives exactly
//
//	P(served, wait <= t | j) = c_j * P(V' <= t),  c_j = n*mu/(n*mu+(j+1)*theta)
//	E[wait; served | j]      = c_j * sum_{i=1..j+1} 1/(n*mu+i*theta)
//
// so ASA = sum_j pi(n+j)*E[wait; served | j] / P(served), with P(served) =
// P(no wait) + sum_j pi(n+j)*c_j. V' is a sum of phases with rates
// n*mu + i*theta, i = 1..j+1. In
// units of 1/theta those rates are alpha+i with alpha = n*mu/theta, and
// exp(-theta*V') is then a product of independent Beta(alpha+i, 1) variables,
// which is Beta(alpha+1, j+1). The beta/negative-binomial identity turns its
// distribution function into
//
//	P(V' <= t) = P(K >= j+1),  K ~ NegativeBinomial(r = n*mu/theta + 1, q = exp(-theta*t))
//	P(K = k)   = Gamma(r+k)/(Gamma(r) k!) * q^r * (1-q)^k
//
// K does not depend on j, so one pass over its distribution serves every
// queue position and ServiceLevel costs O(number of queue states). The
// terms are positive and are evaluated by a log-space ratio recursion, with
// the tail above the mean summed directly, so nothing cancels: this stays
// accurate when theta -> 0, where the textbook partial-fraction form of a
// hypoexponential distribution loses all its digits. In that limit K tends
// to Poisson(n*mu*t) and the formula becomes Erlang C's.
//
// Errors: [ErrServers] when n <= 0; [ErrRate] when lambda, mu or theta is not
// a positive finite number (use [C] for theta = 0); [ErrStateSpace] when the
// chain needs more than [MaxStates] states.
func A(n int, lambda, mu, theta float64) (Metrics, error) {
	if n <= 0 {
		return Metrics{}, fmt.Errorf("%w: n=%d", ErrServers, n)
	}
	if !validRate(lambda) || !validRate(mu) || !validRate(theta) {
		return Metrics{}, fmt.Errorf("%w: lambda=%g mu=%g theta=%g", ErrRate, lambda, mu, theta)
	}
	nmu := float64(n) * mu
	death := func(k int) float64 {
		if k <= n {
			return float64(k) * mu
		}
		return nmu + float64(k-n)*theta
	}

	// Unnormalised log-probabilities of states 0..K.
	logLambda := math.Log(lambda)
	lw := make([]float64, 1, n+256)
	maxLW := 0.0
	for k := 1; ; k++ {
		if k >= MaxStates {
			return Metrics{}, fmt.Errorf("%w: more than %d states (n=%d lambda=%g mu=%g theta=%g)",
				ErrStateSpace, MaxStates, n, lambda, mu, theta)
		}
		v := lw[k-1] + logLambda - math.Log(death(k))
		lw = append(lw, v)
		maxLW = math.Max(maxLW, v)
		if k < n {
			continue
		}
		// Every later term is at most r times the one before it, so the
		// tail beyond k is at most pi(k) * r/(1-r).
		if r := lambda / death(k+1); r < 1 && v+math.Log(r/(1-r)) < maxLW+math.Log(tailTol) {
			break
		}
	}

	w := make([]float64, len(lw))
	total := 0.0
	for k, v := range lw {
		w[k] = math.Exp(v - maxLW)
		total += w[k]
	}
	var pNoWait, pWait, meanQueue, busy float64
	for k := range w {
		w[k] /= total
		if k < n {
			pNoWait += w[k]
			busy += float64(k) * w[k]
		} else {
			pWait += w[k]
			meanQueue += float64(k-n) * w[k]
			busy += float64(n) * w[k]
		}
	}
	queue := w[n:]

	// Mean wait of served callers: sum over j of pi(n+j) * c_j * H_j.
	var servedWaitSum, pServedAfterWait, h float64
	for j, p := range queue {
		h += 1 / (nmu + float64(j+1)*theta)
		c := nmu / (nmu + float64(j+1)*theta)
		pServedAfterWait += p * c
		servedWaitSum += p * c * h
	}
	pServed := pNoWait + pServedAfterWait
	return Metrics{
		N:         n,
		Lambda:    lambda,
		Mu:        mu,
		Theta:     theta,
		Load:      lambda / mu,
		PWait:     pWait,
		PAbandon:  theta * meanQueue / lambda,
		ASA:       servedWaitSum / pServed,
		MeanWait:  meanQueue / lambda,
		MeanQueue: meanQueue,
		Occupancy: busy / float64(n),
		model:     modelA,
		pNoWait:   pNoWait,
		queue:     queue,
	}, nil
}

// serviceLevelA evaluates P(served and wait <= t) for t >= 0 by the
// negative-binomial formula documented on A.
func (m Metrics) serviceLevelA(t float64) float64 {
	nmu := float64(m.N) * m.Mu
	sl := m.pNoWait
	if t == 0 {
		return sl
	}
	var tail []float64 // tail[l] = P(K >= l); nil means 1 everywhere
	if !math.IsInf(t, 1) {
		tail = negBinTail(nmu/m.Theta+1, m.Theta*t, len(m.queue))
	}
	for j, p := range m.queue {
		served := p * nmu / (nmu + float64(j+1)*m.Theta)
		if tail != nil {
			served *= tail[j+1]
		}
		sl += served
	}
	return sl
}

// negBinTail returns T[l] = P(K >= l) for l = 0..L, where K is negative
// binomial with r "successes" and success probability q = exp(-x), x > 0:
// P(K = k) = Gamma(r+k)/(Gamma(r) k!) q^r (1-q)^k.
//
// Terms come from the ratio P(k+1)/P(k) = (r+k)(1-q)/(k+1), accumulated in
// log space: r can be 1e12 when theta is tiny, where lgamma(r+k)-lgamma(r)
// would cancel away most digits, and P(0) = q^r = exp(-(n*mu+theta)*t) may
// underflow. Below the mean T[l] = 1 - P(K < l), where that sum is at most
// about two thirds; above it the tail is summed directly from beyond L
// downwards, so small tails keep their relative accuracy.
func negBinTail(r, x float64, L int) []float64 {
	T := make([]float64, L+1)
	T[0] = 1
	lnq := -x
	p := -math.Expm1(-x) // 1-q, accurate for tiny x
	lnp := math.Log(p)
	mean := r * p / math.Exp(lnq) // +Inf when q underflows: then T = 1 below L
	logTerm := r * lnq            // log P(K = 0)
	next := func(k int) {         // advance logTerm from k to k+1
		logTerm += math.Log((r+float64(k))/float64(k+1)) + lnp
	}
	split := L + 1 // first l above the mean
	cdf := 0.0     // P(K < l)
	for l := 0; l <= L; l++ {
		if float64(l) > mean {
			split = l
			break
		}
		T[l] = 1 - cdf
		cdf += math.Exp(logTerm)
		next(l)
	}
	if split > L {
		return T
	}
	// logTerm is log P(K = split). Walk to L, remembering the terms, then
	// past L until the (decreasing, beyond the mean) terms are negligible.
	terms := make([]float64, L+1-split)
	for l := split; l <= L; l++ {
		terms[l-split] = math.Exp(logTerm)
		next(l)
	}
	upper := 0.0 // P(K > L)
	for k := L + 1; k < L+1+maxTailTerms; k++ {
		term := math.Exp(logTerm)
		upper += term
		if term <= upper*tailTol {
			break
		}
		next(k)
	}
	for l := L; l >= split; l-- {
		upper += terms[l-split]
		T[l] = upper
	}
	return T
}

// maxTailTerms is a safety bound on the terms summed beyond L in negBinTail.
// Beyond the mean the ratio of successive terms is below 1 and tends to
// 1-q, so the sum converges long before this; the bound only guards
// against an endless loop if rounding ever made that ratio 1.
const maxTailTerms = 1 << 24
