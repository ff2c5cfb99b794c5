package erlang

import (
	"errors"
	"fmt"
	"math"
)

// MaxStaff bounds the agents StaffC and StaffA will try before giving up.
const MaxStaff = 10_000

// ErrTarget is returned by StaffC and StaffA for a service-level target out
// of range (fraction not in (0, 1), time negative or NaN) or one no staffing
// up to MaxStaff reaches (Erlang A: a target above 1 - P(abandon) as the
// agents grow is never reached).
var ErrTarget = errors.New("erlang: service-level target")

// StaffC returns the fewest agents n for which Erlang C with arrival rate
// lambda and service rate mu (per second) reaches the target: at least
// fraction of the callers answered within t seconds (ServiceLevel(t) >=
// fraction), with the metrics at n. This is the classic staffing question
// ("how many agents for 80% in 20 s?"). Errors: ErrRate, ErrTarget.
func StaffC(lambda, mu, fraction, t float64) (int, Metrics, error) {
	if err := checkTarget(fraction, t); err != nil {
		return 0, Metrics{}, err
	}
	if !validRate(lambda) || !validRate(mu) {
		return 0, Metrics{}, fmt.Errorf("%w: lambda=%g mu=%g", ErrRate, lambda, mu)
	}
	// Stability needs n > lambda/mu; start there.
	n := max(int(math.Floor(lambda/mu))+1, 1)
	for ; n <= MaxStaff; n++ {
		m, err := C(n, lambda, mu)
		if err != nil {
			continue // only ErrUnstable, at the first n when lambda/mu is whole
		}
		if m.ServiceLevel(t) >= fraction {
			return n, m, nil
		}
	}
	return 0, Metrics{}, fmt.Errorf("%w: not reached with %d agents", ErrTarget, MaxStaff)
}

// StaffA is StaffC for Erlang A, callers abandoning at rate theta (1/mean
// patience, per second): the fewest agents with ServiceLevel(t) >=
// fraction, where ServiceLevel counts abandoned callers against the target
// as a recorded service level does. Errors: ErrRate, ErrTarget,
// ErrStateSpace.
func StaffA(lambda, mu, theta, fraction, t float64) (int, Metrics, error) {
	if err := checkTarget(fraction, t); err != nil {
		return 0, Metrics{}, err
	}
	if !validRate(lambda) || !validRate(mu) {
		return 0, Metrics{}, fmt.Errorf("%w: lambda=%g mu=%g", ErrRate, lambda, mu)
	}
	// At most n*mu/lambda of the callers can be served, so fewer than
	// fraction*lambda/mu agents never reach the target.
	for n := max(int(math.Ceil(fraction*lambda/mu)), 1); n <= MaxStaff; n++ {
		m, err := A(n, lambda, mu, theta)
		if errors.Is(err, ErrStateSpace) && float64(n) <= lambda/mu {
			continue // overloaded and nearly patient: far from the target
		}
		if err != nil {
			return 0, Metrics{}, err
		}
		if m.ServiceLevel(t) >= fraction {
			return n, m, nil
		}
		// Past the load, a target that the added agents no longer
		// move toward is unreachable.
		if float64(n) > 2*lambda/mu+50 {
			break
		}
	}
	return 0, Metrics{}, fmt.Errorf("%w: %.3f within %g s not reached", ErrTarget, fraction, t)
}

func checkTarget(fraction, t float64) error {
	if !(fraction > 0 && fraction < 1) || !(t >= 0) || math.IsInf(t, 1) {
		return fmt.Errorf("%w: fraction %g within %g s: want a fraction in (0, 1) and a time >= 0", ErrTarget, fraction, t)
	}
	return nil
}
