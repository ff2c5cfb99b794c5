package replay

import (
	"cmp"
	"errors"
	"math"
	"slices"
	"sort"
)

// Observation is one caller's patience as a queue sees it: either the
// caller abandoned after Seconds of waiting (Event), or it was served after
// Seconds, so all we know is that its patience exceeded them (censored).
type Observation struct {
	Seconds float64
	Event   bool
}

// Survival is the Kaplan-Meier estimate of a patience distribution from
// censored observations: S(t) = P(patience > t) = prod over event times
// t_i <= t of (1 - d_i/n_i), with d_i abandons at t_i and n_i callers
// still waiting just before it (those served at t_i count as at risk: a
// served caller's patience is at least its wait). Beyond the last
// observation the estimate goes on as an exponential tail whose hazard is
// the abandons per second of waiting past the 75th percentile of the
// abandon times (the estimator is undefined there; an exponential is the
// least-information continuation). Source: E. L. Kaplan and P. Meier, "Nonparametric
// estimation from incomplete observations", JASA 53, 1958; Greenwood's
// formula for the variance. Brown et al., "Statistical analysis of a
// telephone call center", JASA 100, 2005, use this estimator on this very
// bank's records.
type Survival struct {
	times []float64 // distinct event times, ascending, seconds
	surv  []float64 // S just after times[i]
	green []float64 // Greenwood sum up to times[i]
	tail  float64   // hazard beyond the last observation, per second
	end   float64   // the last observation, where the tail starts
	// Events and Censored count the observations.
	Events, Censored int
}

// ErrNoEvents is returned by KaplanMeier when no observation is an abandon:
// the data then say nothing about patience beyond "longer than the waits".
var ErrNoEvents = errors.New("replay: no abandons to estimate patience from")

// KaplanMeier estimates the patience distribution of obs. Negative or NaN
// times are ignored. Errors: ErrNoEvents.
func KaplanMeier(obs []Observation) (*Survival, error) {
	xs := make([]Observation, 0, len(obs))
	for _, o := range obs {
		if o.Seconds >= 0 {
			xs = append(xs, o)
		}
	}
	// Events before censorings at equal times: a caller served at t
	// was still at risk at t.
	slices.SortFunc(xs, func(a, b Observation) int {
		if c := cmp.Compare(a.Seconds, b.Seconds); c != 0 {
			return c
		}
		switch {
		case a.Event == b.Event:
			return 0
		case a.Event:
			return -1
		}
		return 1
	})
	s := &Survival{}
	atRisk := len(xs)
	S, g := 1.0, 0.0
	var eventTimes []float64
	for i := 0; i < len(xs); {
		t := xs[i].Seconds
		d, c := 0, 0
		for ; i < len(xs) && xs[i].Seconds == t; i++ {
			if xs[i].Event {
				d++
				eventTimes = append(eventTimes, t)
			} else {
				c++
			}
		}
		if d > 0 {
			S *= 1 - float64(d)/float64(atRisk)
			if atRisk > d {
				g += float64(d) / float64(atRisk*(atRisk-d))
			}
			s.times = append(s.times, t)
			s.surv = append(s.surv, S)
			s.green = append(s.green, g)
		}
		s.Events += d
		s.Censored += c
		atRisk -= d + c
	}
	if s.Events == 0 {
		return nil, ErrNoEvents
	}
	s.end = xs[len(xs)-1].Seconds
	// Tail hazard: abandons over waiting seconds past the 75th percentile
	// of the event times.
	q := eventTimes[len(eventTimes)*3/4]
	var ev, exposure float64
	for _, o := range xs {
		if o.Seconds > q {
			exposure += o.Seconds - q
			if o.Event {
				ev++
			}
		}
	}
	if ev == 0 || exposure == 0 {
		var total float64
		for _, o := range xs {
			total += o.Seconds
		}
		ev, exposure = float64(s.Events), math.Max(total, 1)
	}
	s.tail = ev / exposure
	return s, nil
}

// At returns S(t), the probability that patience exceeds t seconds.
func (s *Survival) At(t float64) float64 {
	if t > s.end {
		return s.surv[len(s.surv)-1] * math.Exp(-s.tail*(t-s.end))
	}
	i := sort.SearchFloat64s(s.times, t+1e-9) // first event time > t
	if i == 0 {
		return 1
	}
	return s.surv[i-1]
}

// Band returns the pointwise confidence band S(t) ± z * SE(S(t)) (Greenwood),
// clipped to [0, 1]; z = 1.96 is the 95% band. Beyond the last
// observation the band is that of the last event time scaled by the tail.
func (s *Survival) Band(t, z float64) (lo, hi float64) {
	i := sort.SearchFloat64s(s.times, t+1e-9)
	S := s.At(t)
	if i == 0 {
		return S, S
	}
	se := S * math.Sqrt(s.green[i-1])
	return math.Max(S-z*se, 0), math.Min(S+z*se, 1)
}

// TailHazard is the abandon rate per second of waiting assumed beyond the
// last observed abandon.
func (s *Survival) TailHazard() float64 { return s.tail }

// Mean is the mean patience in seconds: the area under S, tail included.
func (s *Survival) Mean() float64 {
	area, prevT, prevS := 0.0, 0.0, 1.0
	for i, t := range s.times {
		area += prevS * (t - prevT)
		prevT, prevS = t, s.surv[i]
	}
	return area + prevS*(s.end-prevT) + prevS/s.tail
}

// SampleAbove draws a patience, in seconds, from the distribution
// conditioned on exceeding w seconds (a served caller's recorded wait),
// by inversion: u in (0, 1] picks the patience T with S(T) = u * S(w).
// Within the observed range T is an event time; past the last
// observation, the exponential tail.
func (s *Survival) SampleAbove(w, u float64) float64 {
	u = math.Min(math.Max(u, 1e-12), 1)
	target := u * s.At(w)
	j := sort.SearchFloat64s(s.times, w+1e-9) // first event time > w
	// surv is non-increasing: the first i >= j with surv[i] <= target.
	i := j + sort.Search(len(s.surv)-j, func(k int) bool { return s.surv[j+k] <= target })
	if i < len(s.times) {
		return s.times[i]
	}
	base := math.Max(w, s.end)
	return base + math.Log(s.At(base)/target)/s.tail
}
