package replay

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/omniroute/omniroute/replay/trace"
	"github.com/omniroute/omniroute/routing"
)

// SkillScope says which services make an agent's skills in the faithful
// replay.
type SkillScope string

// Skill scopes.
const (
	// SkillsDay: an agent serves only the service types it served that
	// day (the default).
	SkillsDay SkillScope = "day"
	// SkillsWeek: the types it served in that week (Sunday to Saturday,
	// the Israeli working week).
	SkillsWeek SkillScope = "week"
)

// Model is how the faithful replay rebuilds the bank from its records
// (issue 16). The two fitted parameters are Gap and Allowance, found with
// Calibrate (`omniroute replay calibrate --trace FILE`); nothing else is
// fitted to any month.
//
//   - Staffing: each server is on duty in the intervals InferShifts finds
//     with Gap, and after every call is unavailable for Allowance (the
//     after-call work, holds and short absences the records do not show),
//     modelled as the queues' wrap-up. An agent serves only the types it
//     served that day (or week, Skills).
//   - Customers: a caller who hung up in the IVR (HANG that never queued)
//     never reaches an agent and is counted apart (Figures.IVRAbandoned);
//     a call the records show finished by no agent (AGENT, NO_SERVER) is
//     answered outside the agent pool, at its arrival. A caller who
//     abandoned the queue keeps its recorded patience (q_time); a served
//     caller gets a patience drawn from the month's Kaplan-Meier estimate
//     of its service type, conditioned on exceeding its recorded wait. A
//     caller recorded as abandoning whom the replay serves gets a service
//     time drawn from the day's recorded services of its type.
//   - Draws are seeded by Seed and the date, so a day's replay does not
//     depend on which other days run.
type Model struct {
	// Gap is the idle time from which an agent is taken to be off duty
	// (> 0; see InferShifts).
	Gap time.Duration `json:"gap_seconds"`
	// Allowance is the unavailability after each call (>= 0).
	Allowance time.Duration `json:"allowance_seconds"`
	// Skills is SkillsDay (default when empty) or SkillsWeek.
	Skills SkillScope `json:"skills"`
	// Seed makes the draws repeatable.
	Seed uint64 `json:"seed"`
	// Replications is how many times each day is replayed, with seeds
	// Seed, Seed+1, ...; the report pools them (0: DefaultReplications).
	// Not a fitted parameter: more replications only shrink the replay's
	// own noise (the patience draws), so the report estimates what the
	// centre would expect rather than one draw of it.
	Replications int `json:"replications"`
}

// DefaultReplications is the default Model.Replications; MaxReplications
// bounds it.
const (
	DefaultReplications = 4
	MaxReplications     = 64
)

func (m Model) replications() int {
	if m.Replications <= 0 {
		return DefaultReplications
	}
	return m.Replications
}

// Defaults of the faithful model, fitted on February 1999 by Calibrate
// (see docs/BENCHMARKS.md, "Faithful replay").
const (
	DefaultGap       = 3 * time.Minute
	DefaultAllowance = 20 * time.Second
	// MinPatienceEvents is the fewest abandons a service type needs for a
	// Kaplan-Meier estimate of its own; types with fewer use the pooled
	// estimate of all types.
	MinPatienceEvents = 50
)

// DefaultModel returns the fitted defaults with seed 1.
func DefaultModel() Model {
	return Model{Gap: DefaultGap, Allowance: DefaultAllowance, Skills: SkillsDay, Seed: 1}
}

// ErrModel is returned for model parameters out of range.
var ErrModel = fmt.Errorf("replay: model")

func (m Model) validate() error {
	switch {
	case m.Gap < time.Second || m.Gap > 24*time.Hour:
		return fmt.Errorf("%w: gap %v not in [1s, 24h]", ErrModel, m.Gap)
	case m.Allowance < 0 || m.Allowance > time.Hour:
		return fmt.Errorf("%w: allowance %v not in [0, 1h]", ErrModel, m.Allowance)
	case m.Replications < 0 || m.Replications > MaxReplications:
		return fmt.Errorf("%w: replications %d not in [0, %d]", ErrModel, m.Replications, MaxReplications)
	case m.Skills != "" && m.Skills != SkillsDay && m.Skills != SkillsWeek:
		return fmt.Errorf("%w: skills %q: want day or week", ErrModel, m.Skills)
	}
	return nil
}

// Bank is a month of the bank's records prepared for replay: the days, and
// for the faithful model the patience estimates. Build it once with NewBank
// and ask it for each day's Setup.
type Bank struct {
	calls []trace.Call
	days  []trace.Day
	opt   BankOptions
	// Patience estimates by service type ("" pooled), faithful model only.
	Patience map[string]*Survival
	// week skills: week start date -> server -> types
	weekSkills map[trace.Date]map[string]map[string]int
}

// NewBank prepares calls for replay with opt. With opt.Model nil the days
// are the first-to-last, infinitely patient replay of BankDay. Errors:
// ErrModel. With no abandons in the queue at all, served callers are
// infinitely patient.
func NewBank(calls []trace.Call, opt BankOptions) (*Bank, error) {
	b := &Bank{calls: calls, days: trace.Days(calls), opt: opt}
	if opt.Model == nil {
		return b, nil
	}
	if err := opt.Model.validate(); err != nil {
		return nil, err
	}
	obs := map[string][]Observation{}
	for _, c := range calls {
		if !c.Queued() || c.Outcome == trace.Phantom {
			continue
		}
		o := Observation{Seconds: float64(c.QTime), Event: c.Outcome == trace.Hang}
		obs[c.Type] = append(obs[c.Type], o)
		obs[""] = append(obs[""], o)
	}
	b.Patience = map[string]*Survival{}
	pooled, err := KaplanMeier(obs[""])
	if err != nil {
		// Nobody abandoned the queue: the records say nothing against
		// infinite patience, so served callers never abandon.
		return b, nil
	}
	b.Patience[""] = pooled
	for t, o := range obs {
		if t == "" {
			continue
		}
		if s, err := KaplanMeier(o); err == nil && s.Events >= MinPatienceEvents {
			b.Patience[t] = s
		}
	}
	if opt.Model.Skills == SkillsWeek {
		b.weekSkills = map[trace.Date]map[string]map[string]int{}
		for _, c := range calls {
			if c.Outcome != trace.Agent || c.Server == trace.NoServer {
				continue
			}
			w := weekOf(c.Date)
			if b.weekSkills[w] == nil {
				b.weekSkills[w] = map[string]map[string]int{}
			}
			if b.weekSkills[w][c.Server] == nil {
				b.weekSkills[w][c.Server] = map[string]int{}
			}
			b.weekSkills[w][c.Server][c.Type] = 1
		}
	}
	return b, nil
}

// Days returns the days of the trace, in date order.
func (b *Bank) Days() []trace.Day { return b.days }

// Calls returns the whole trace.
func (b *Bank) Calls() []trace.Call { return b.calls }

// Options returns the options the bank was built with.
func (b *Bank) Options() BankOptions { return b.opt }

func weekOf(d trace.Date) trace.Date {
	t := time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC)
	t = t.AddDate(0, 0, -int(t.Weekday()))
	return trace.Date{Year: t.Year(), Month: t.Month(), Day: t.Day()}
}

// Setup builds one day's replay (the first replication's, for a faithful
// model).
func (b *Bank) Setup(day trace.Day) (*Setup, error) { return b.setup(day, 0) }

func (b *Bank) setup(day trace.Day, replication uint64) (*Setup, error) {
	if b.opt.Model == nil {
		return BankDay(day, b.calls, b.opt)
	}
	return b.faithfulDay(day, replication)
}

// patienceOf returns the estimate for a service type.
func (b *Bank) patienceOf(typ string) *Survival {
	if s := b.Patience[typ]; s != nil {
		return s
	}
	return b.Patience[""]
}

func (b *Bank) faithfulDay(day trace.Day, replication uint64) (*Setup, error) {
	m := *b.opt.Model
	opt := b.opt
	if opt.TTL <= 0 {
		opt.TTL = DefaultBankTTL
	}
	if opt.Strategy == "" {
		opt.Strategy = routing.LongestIdle
	}
	h := fnv.New64a()
	h.Write([]byte(day.Date.String()))
	rng := rand.New(rand.NewPCG(m.Seed+replication, h.Sum64()))

	var types []string
	services := map[string][]int{}
	skills := map[string]map[string]int{}
	for _, c := range day.Calls {
		if c.Outcome == trace.Phantom {
			continue
		}
		if !slices.Contains(types, c.Type) {
			types = append(types, c.Type)
		}
		if c.Outcome == trace.Agent && c.Server != trace.NoServer {
			services[c.Type] = append(services[c.Type], c.SerTime)
			if skills[c.Server] == nil {
				skills[c.Server] = map[string]int{}
			}
			skills[c.Server][c.Type] = 1
		}
	}
	if len(types) == 0 {
		return nil, fmt.Errorf("%w: %s has no calls", ErrBadSetup, day.Date)
	}
	slices.Sort(types)
	if m.Skills == SkillsWeek {
		skills = b.weekSkills[weekOf(day.Date)]
	}
	s := &Setup{
		Epoch: time.Date(day.Date.Year, day.Date.Month, day.Date.Day, 0, 0, 0, 0, time.UTC),
		MRD:   BankMRD,
	}
	for _, t := range types {
		s.Queues = append(s.Queues, routing.Queue{ID: t, Name: t, MRD: BankMRD.ID, Strategy: opt.Strategy,
			Skills: map[string]int{t: 1}, TTL: opt.TTL, WrapUp: m.Allowance})
	}
	for _, sh := range InferShifts(day.Calls, m.Gap) {
		sh.Skills = skills[sh.Agent]
		s.Shifts = append(s.Shifts, sh)
	}
	for _, c := range day.Calls {
		if c.Outcome == trace.Phantom {
			continue
		}
		a := Arrival{At: sec(c.Arrival()), Queue: c.Type, Hour: c.Arrival() / 3600, Abandons: true}
		if c.Priority == 2 {
			a.Priority = 1
		}
		switch {
		case c.Outcome == trace.Hang && !c.Queued():
			a.Bypass = Abandoned
		case c.Outcome == trace.Hang:
			a.Patience = sec(c.QTime)
			if ss := services[c.Type]; len(ss) > 0 {
				a.Service = sec(ss[rng.IntN(len(ss))])
			}
		case c.Server == trace.NoServer:
			a.Bypass = Answered
		default:
			a.Service = sec(c.SerTime)
			if pat := b.patienceOf(c.Type); pat != nil {
				p := pat.SampleAbove(float64(c.QTime), 1-rng.Float64())
				a.Patience = time.Duration(min(p, 1e6) * float64(time.Second))
			} else {
				a.Abandons = false
			}
		}
		s.Arrivals = append(s.Arrivals, a)
	}
	return s, nil
}

// queueFor is the bank's queue of one service type with the default
// strategy and TTL.
func queueFor(typ string) routing.Queue {
	return routing.Queue{ID: typ, Name: typ, MRD: BankMRD.ID, Strategy: routing.LongestIdle, Skills: map[string]int{typ: 1}, TTL: DefaultBankTTL}
}

// MarshalJSON writes the durations as seconds, as their names say.
func (m Model) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Gap          float64    `json:"gap_seconds"`
		Allowance    float64    `json:"allowance_seconds"`
		Skills       SkillScope `json:"skills"`
		Seed         uint64     `json:"seed"`
		Replications int        `json:"replications"`
	}{m.Gap.Seconds(), m.Allowance.Seconds(), m.Skills, m.Seed, m.replications()})
}
