package replay

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/omniroute/omniroute/erlang"
	"github.com/omniroute/omniroute/routing"
)

// SimOptions describe a synthetic M/M/N (or M/M/N+M) run.
type SimOptions struct {
	// Agents is N, the number of identical agents (1..MaxSimAgents).
	Agents int
	// ArrivalsPerHour is the Poisson arrival rate.
	ArrivalsPerHour float64
	// AHT is the mean handle time (exponential service).
	AHT time.Duration
	// Patience is the mean patience (exponential); 0 means callers never
	// abandon (Erlang C), otherwise the model is Erlang A.
	Patience time.Duration
	// Hours is the simulated horizon for arrivals.
	Hours float64
	// Warmup is the fraction of the horizon whose arrivals are left out of
	// the estimates, so the empty start does not bias them (default 0.05).
	Warmup float64
	// Batches for the batch-means standard errors (default 20).
	Batches int
	// Seed makes the run repeatable.
	Seed uint64
	// Adjust, when set, changes the run's Setup (its one queue is "q")
	// before it runs: a what-if (omniroute simulate --what-if: escalation
	// steps, aging, strategy...). An error stops the run.
	Adjust func(*Setup) error `json:"-"`
}

// Limits of a simulation.
const (
	MaxSimAgents   = 10_000
	MaxSimArrivals = 5_000_000
)

// Estimate is a simulated figure with its standard error (batch means).
type Estimate struct {
	Value  float64 `json:"value"`
	StdErr float64 `json:"std_err"`
}

// ErlangFigures are the formula's values for the same system.
type ErlangFigures struct {
	// Model is "C" (no abandonment) or "A".
	Model           string  `json:"model"`
	PWait           float64 `json:"p_wait"`
	ASASeconds      float64 `json:"asa_seconds"`
	ServiceLevel20s float64 `json:"service_level_20s"`
	AbandonRate     float64 `json:"abandon_rate"`
	Occupancy       float64 `json:"occupancy"`
}

// SimReport is the outcome of Simulate. P(wait) is the share of arrivals
// not answered at the instant they arrived; ASA the mean wait of answered
// calls; service level the share of arrivals answered within 20 s; abandon
// rate the share that abandoned. These are the definitions erlang.Metrics
// uses, so the two columns compare directly.
type SimReport struct {
	Options     SimOptions    `json:"-"`
	Calls       int           `json:"calls"`
	Measured    int           `json:"measured_calls"`
	PWait       Estimate      `json:"p_wait"`
	ASA         Estimate      `json:"asa_seconds"`
	ServiceLvl  Estimate      `json:"service_level_20s"`
	AbandonRate Estimate      `json:"abandon_rate"`
	Occupancy   float64       `json:"occupancy"`
	Erlang      ErlangFigures `json:"erlang"`
}

// ErrSimOptions is returned for options out of range.
var ErrSimOptions = fmt.Errorf("replay: simulate options")

// Simulate runs Poisson arrivals with exponential service (and patience)
// through the routing engine in virtual time and reports the figures beside
// the Erlang C or Erlang A formulas. Errors: ErrSimOptions (agents, rates,
// horizon out of range, or an unstable Erlang C system), engine errors.
func Simulate(o SimOptions) (*SimReport, error) {
	if o.Warmup == 0 {
		o.Warmup = 0.05
	}
	if o.Batches == 0 {
		o.Batches = 20
	}
	switch {
	case o.Agents < 1 || o.Agents > MaxSimAgents:
		return nil, fmt.Errorf("%w: agents must be 1..%d", ErrSimOptions, MaxSimAgents)
	case !(o.ArrivalsPerHour > 0) || math.IsInf(o.ArrivalsPerHour, 0):
		return nil, fmt.Errorf("%w: arrivals per hour must be > 0", ErrSimOptions)
	case o.AHT <= 0:
		return nil, fmt.Errorf("%w: aht must be > 0", ErrSimOptions)
	case o.Patience < 0:
		return nil, fmt.Errorf("%w: patience must be >= 0", ErrSimOptions)
	case !(o.Hours > 0) || o.Hours > 10_000:
		return nil, fmt.Errorf("%w: hours must be in (0, 10000]", ErrSimOptions)
	case o.Warmup < 0 || o.Warmup >= 1:
		return nil, fmt.Errorf("%w: warmup must be in [0, 1)", ErrSimOptions)
	case o.Batches < 2 || o.Batches > 1000:
		return nil, fmt.Errorf("%w: batches must be 2..1000", ErrSimOptions)
	}
	if o.ArrivalsPerHour*o.Hours > MaxSimArrivals {
		return nil, fmt.Errorf("%w: more than %d expected arrivals", ErrSimOptions, MaxSimArrivals)
	}
	lambda := o.ArrivalsPerHour / 3600
	mu := 1 / o.AHT.Seconds()
	var m erlang.Metrics
	var err error
	model := "C"
	if o.Patience > 0 {
		model = "A"
		m, err = erlang.A(o.Agents, lambda, mu, 1/o.Patience.Seconds())
	} else {
		m, err = erlang.C(o.Agents, lambda, mu)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSimOptions, err)
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	exp := func(mean float64) time.Duration { return time.Duration(rng.ExpFloat64() * mean * float64(time.Second)) }
	horizon := time.Duration(o.Hours * float64(time.Hour))
	s := &Setup{
		Epoch:  time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		MRD:    routing.MRD{ID: "voice", MaxRequests: 1},
		Queues: []routing.Queue{{ID: "q", MRD: "voice"}},
	}
	for i := range o.Agents {
		// Agents stay long after the last arrival, so the queue drains;
		// only [warm-up, horizon) is measured.
		s.Shifts = append(s.Shifts, Shift{Agent: "a" + strconv.Itoa(100000+i), Login: 0, Logout: 2*horizon + 24*time.Hour})
	}
	for t := exp(1 / lambda); t < horizon; t += exp(1 / lambda) {
		a := Arrival{At: t, Queue: "q", Service: exp(o.AHT.Seconds())}
		if o.Patience > 0 {
			a.Abandons = true
			a.Patience = exp(o.Patience.Seconds())
		}
		s.Arrivals = append(s.Arrivals, a)
	}
	if o.Adjust != nil {
		if err := o.Adjust(s); err != nil {
			return nil, err
		}
	}
	run, err := RunVirtual(s)
	if err != nil {
		return nil, err
	}
	rep := &SimReport{Options: o, Calls: len(s.Arrivals), Erlang: ErlangFigures{Model: model, PWait: m.PWait,
		ASASeconds: m.ASA, ServiceLevel20s: m.ServiceLevel(ServiceLevelThreshold.Seconds()),
		AbandonRate: m.PAbandon, Occupancy: m.Occupancy}}
	warm := time.Duration(o.Warmup * float64(horizon))
	first := 0
	for first < len(s.Arrivals) && s.Arrivals[first].At < warm {
		first++
	}
	measured := run.Outcomes[first:]
	rep.Measured = len(measured)
	if rep.Measured < o.Batches {
		return nil, fmt.Errorf("%w: only %d measured calls for %d batches; run longer", ErrSimOptions, rep.Measured, o.Batches)
	}
	type acc struct {
		n, waited, answered, within, abandoned float64
		wait                                   float64
	}
	batches := make([]acc, o.Batches)
	var all acc
	for i, out := range measured {
		b := &batches[i*o.Batches/len(measured)]
		for _, x := range []*acc{b, &all} {
			x.n++
			if out.Result != Answered || out.Wait > 0 {
				x.waited++
			}
			switch out.Result {
			case Answered:
				x.answered++
				x.wait += out.Wait.Seconds()
				if out.Wait <= ServiceLevelThreshold {
					x.within++
				}
			case Abandoned:
				x.abandoned++
			}
		}
	}
	est := func(f func(a acc) float64) Estimate {
		var sum, sq float64
		for _, b := range batches {
			v := f(b)
			sum += v
			sq += v * v
		}
		k := float64(len(batches))
		mean := sum / k
		variance := (sq - k*mean*mean) / (k - 1)
		return Estimate{Value: f(all), StdErr: math.Sqrt(math.Max(variance, 0) / k)}
	}
	rep.PWait = est(func(a acc) float64 { return a.waited / a.n })
	rep.ASA = est(func(a acc) float64 {
		if a.answered == 0 {
			return 0
		}
		return a.wait / a.answered
	})
	rep.ServiceLvl = est(func(a acc) float64 { return a.within / a.n })
	rep.AbandonRate = est(func(a acc) float64 { return a.abandoned / a.n })
	busy, staffed := overlap(run.Busy, Interval{From: warm, To: horizon}), time.Duration(o.Agents)*(horizon-warm)
	if staffed > 0 {
		rep.Occupancy = busy.Seconds() / staffed.Seconds()
	}
	return rep, nil
}
