package replay

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/omniroute/omniroute/erlang"
	"github.com/omniroute/omniroute/replay/trace"
)

// Target is a service-level goal: at least Fraction of the calls that reach
// the queue answered within Within ("0.8/20s": 80% in 20 seconds).
type Target struct {
	Fraction float64       `json:"fraction"`
	Within   time.Duration `json:"within_seconds"`
}

// ParseTarget reads "FRACTION/DURATION", e.g. "0.8/20s" or "80%/20" (a
// plain number is seconds). Errors name the part that is wrong.
func ParseTarget(s string) (Target, error) {
	f, d, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Target{}, fmt.Errorf("target %q: want FRACTION/DURATION, e.g. 0.8/20s", s)
	}
	pct := strings.HasSuffix(f, "%")
	x, err := strconv.ParseFloat(strings.TrimSuffix(f, "%"), 64)
	if err != nil {
		return Target{}, fmt.Errorf("target %q: fraction %q is not a number", s, f)
	}
	if pct {
		x /= 100
	}
	if !(x > 0 && x < 1) {
		return Target{}, fmt.Errorf("target %q: fraction %g not in (0, 1)", s, x)
	}
	var w time.Duration
	if secs, err := strconv.ParseFloat(d, 64); err == nil {
		w = time.Duration(secs * float64(time.Second))
	} else if w, err = time.ParseDuration(d); err != nil {
		return Target{}, fmt.Errorf("target %q: time %q: use seconds (20) or a Go duration (20s)", s, d)
	}
	if w < 0 || w > time.Hour {
		return Target{}, fmt.Errorf("target %q: time %v not in [0, 1h]", s, w)
	}
	return Target{Fraction: x, Within: w}, nil
}

// String formats the target as "0.8/20s".
func (t Target) String() string {
	return strconv.FormatFloat(t.Fraction, 'g', -1, 64) + "/" + t.Within.String()
}

// HourAdvice is the staffing advice for one hour of one day beside what the
// replay does with the staffing the records show.
type HourAdvice struct {
	Date string `json:"date"`
	Hour int    `json:"hour"`
	// Calls reached the queue in the hour (IVR hang-ups and calls
	// finished without an agent left out), as recorded.
	Calls int `json:"calls"`
	// AHTSeconds is the mean recorded ser_time of the hour's served
	// calls plus the model's after-call allowance: the handle time.
	AHTSeconds float64 `json:"aht_seconds"`
	// PatienceSeconds is the hour's mean patience, 1/theta with theta =
	// abandons / seconds waited in the queue (the exponential estimate
	// from censored waits); the month's Kaplan-Meier mean when nobody
	// abandoned in the hour.
	PatienceSeconds float64 `json:"patience_seconds"`
	// ErlangC and ErlangA are the fewest agents reaching the target; 0
	// when the model cannot (ErlangNote says why).
	ErlangC    int    `json:"erlang_c_agents"`
	ErlangA    int    `json:"erlang_a_agents"`
	ErlangNote string `json:"erlang_note,omitempty"`
	// Staffed is the replay's mean number of agents on duty in the hour
	// (the inferred staffing), ErlangASL the service level Erlang A
	// predicts with that many (rounded), ReplaySL what the replay reaches
	// with it and RecordedSL what the bank reached, all over the calls
	// that reached the queue.
	Staffed    float64 `json:"staffed_agents"`
	ErlangASL  float64 `json:"erlang_a_service_level"`
	ReplaySL   float64 `json:"replay_service_level"`
	RecordedSL float64 `json:"recorded_service_level"`
}

// StaffReport is the staffing advice of a trace, hour by hour.
type StaffReport struct {
	Target Target       `json:"target"`
	Model  *Model       `json:"model"`
	Hours  []HourAdvice `json:"hours"`
	// AgentHoursC, AgentHoursA and AgentHoursStaffed sum the hours with
	// advice: what Erlang C and Erlang A ask for and what the replay had.
	AgentHoursC       float64 `json:"agent_hours_erlang_c"`
	AgentHoursA       float64 `json:"agent_hours_erlang_a"`
	AgentHoursStaffed float64 `json:"agent_hours_staffed"`
	// MissedHours counts the hours whose replay service level is below
	// the target.
	MissedHours int `json:"missed_hours"`
}

// MinAdviceCalls is the fewest calls an hour needs to get advice: below it
// the hour's rates are too noisy to staff from.
const MinAdviceCalls = 10

// Advise gives, for every hour of days with at least MinAdviceCalls calls,
// the agents Erlang C and Erlang A need to reach target with the hour's
// measured arrival rate, handle time and patience, beside what the replay
// achieves with the staffing inferred from the records. The bank must use
// a faithful model. Errors: ErrModel for a first-to-last bank, replay
// errors.
func (b *Bank) Advise(target Target, days []trace.Day) (*StaffReport, error) {
	if b.opt.Model == nil {
		return nil, fmt.Errorf("%w: staffing advice needs the faithful model", ErrModel)
	}
	allow := b.opt.Model.Allowance.Seconds()
	rep := &StaffReport{Target: target, Model: b.opt.Model}
	within := target.Within
	for _, day := range days {
		runs, err := b.RunDay(day)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", day.Date, err)
		}
		setup := runs[0].Setup
		type acc struct {
			calls, served, abandons, inTime int
			ser, waited                     float64
		}
		// The setup has one arrival per non-PHANTOM call, in order.
		var calls []trace.Call
		for _, c := range day.Calls {
			if c.Outcome != trace.Phantom {
				calls = append(calls, c)
			}
		}
		hours := map[int]*acc{}
		var order []int
		for i, a := range setup.Arrivals {
			if a.Bypass != Pending {
				continue
			}
			c := calls[i]
			h := hours[a.Hour]
			if h == nil {
				h = &acc{}
				hours[a.Hour] = h
				order = append(order, a.Hour)
			}
			h.calls++
			h.waited += float64(c.QTime)
			switch c.Outcome {
			case trace.Agent:
				h.served++
				h.ser += float64(c.SerTime)
				if c.QTime <= int(within/time.Second) {
					h.inTime++
				}
			case trace.Hang:
				h.abandons++
			}
		}
		for _, hr := range order {
			h := hours[hr]
			if h.calls < MinAdviceCalls || h.served == 0 {
				continue
			}
			adv := HourAdvice{Date: day.Date.String(), Hour: hr, Calls: h.calls,
				AHTSeconds: h.ser/float64(h.served) + allow, RecordedSL: float64(h.inTime) / float64(h.calls)}
			if h.abandons > 0 && h.waited > 0 {
				adv.PatienceSeconds = h.waited / float64(h.abandons)
			} else if pooled := b.Patience[""]; pooled != nil {
				adv.PatienceSeconds = pooled.Mean()
			}
			win := Interval{From: time.Duration(hr) * time.Hour, To: time.Duration(hr+1) * time.Hour}
			var ok, n int
			for _, r := range runs {
				adv.Staffed += overlap(r.Staffed, win).Hours() / float64(len(runs))
				for i, o := range r.Outcomes {
					a := setup.Arrivals[i]
					if a.Hour != hr || a.Bypass != Pending {
						continue
					}
					n++
					if o.Result == Answered && o.Wait <= within {
						ok++
					}
				}
			}
			adv.ReplaySL = float64(ok) / float64(n)
			lambda, mu, theta := float64(h.calls)/3600, 1/adv.AHTSeconds, 1e-9 // no abandons seen: nearly patient
			if adv.PatienceSeconds > 0 {
				theta = 1 / adv.PatienceSeconds
			}
			t := within.Seconds()
			var notes []string
			if nc, _, err := erlang.StaffC(lambda, mu, target.Fraction, t); err == nil {
				adv.ErlangC = nc
			} else {
				notes = append(notes, "C: "+err.Error())
			}
			if na, _, err := erlang.StaffA(lambda, mu, theta, target.Fraction, t); err == nil {
				adv.ErlangA = na
			} else {
				notes = append(notes, "A: "+err.Error())
			}
			adv.ErlangNote = strings.Join(notes, "; ")
			if s := int(adv.Staffed + 0.5); s > 0 {
				if m, err := erlang.A(s, lambda, mu, theta); err == nil {
					adv.ErlangASL = m.ServiceLevel(t)
				}
			}
			rep.AgentHoursC += float64(adv.ErlangC)
			rep.AgentHoursA += float64(adv.ErlangA)
			rep.AgentHoursStaffed += adv.Staffed
			if adv.ReplaySL < target.Fraction {
				rep.MissedHours++
			}
			rep.Hours = append(rep.Hours, adv)
		}
	}
	return rep, nil
}

// WriteText prints the advice as a table, one line per hour, and the totals.
func (r *StaffReport) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "staffing for %.0f%% of the calls answered within %v (Erlang C and A from each hour's arrivals, handle time = service + %v allowance, patience)\n",
		100*r.Target.Fraction, r.Target.Within, r.Model.Allowance)
	fmt.Fprintf(w, "%-10s %4s %5s %6s %8s | %8s %8s | %7s %9s %9s %9s\n", "date", "hour", "calls", "AHT s", "patience", "Erlang C", "Erlang A", "staffed", "Erlang A", "replay", "recorded")
	fmt.Fprintf(w, "%-10s %4s %5s %6s %8s | %8s %8s | %7s %9s %9s %9s\n", "", "", "", "", "s", "agents", "agents", "agents", "SL", "SL", "SL")
	for _, h := range r.Hours {
		c, a := strconv.Itoa(h.ErlangC), strconv.Itoa(h.ErlangA)
		if h.ErlangC == 0 {
			c = "-"
		}
		if h.ErlangA == 0 {
			a = "-"
		}
		fmt.Fprintf(w, "%-10s %4d %5d %6.0f %8.0f | %8s %8s | %7.1f %9.3f %9.3f %9.3f\n", h.Date, h.Hour, h.Calls, h.AHTSeconds, h.PatienceSeconds,
			c, a, h.Staffed, h.ErlangASL, h.ReplaySL, h.RecordedSL)
	}
	_, err := fmt.Fprintf(w, "agent-hours: Erlang C %.0f, Erlang A %.0f, staffed (inferred) %.0f; %d of %d hours below the target in the replay\n",
		r.AgentHoursC, r.AgentHoursA, r.AgentHoursStaffed, r.MissedHours, len(r.Hours))
	return err
}

// MarshalJSON writes Within as seconds.
func (t Target) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Fraction float64 `json:"fraction"`
		Within   float64 `json:"within_seconds"`
	}{t.Fraction, t.Within.Seconds()})
}
