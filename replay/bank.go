package replay

import (
	"fmt"
	"slices"
	"time"

	"github.com/omniroute/omniroute/replay/trace"
	"github.com/omniroute/omniroute/routing"
)

// BankOptions tune how a day of the bank trace becomes a Setup.
type BankOptions struct {
	// TTL of every queue: a call nobody can serve expires after it
	// (default DefaultBankTTL). Must be > 0 so every call ends.
	TTL time.Duration
	// Strategy of every queue (default longest-idle).
	Strategy routing.Strategy
	// Model, when set, makes the replay faithful to the records (see
	// Model): inferred shifts and breaks, patience, IVR hang-ups. Nil is
	// the first-to-last, infinitely patient replay of BankDay.
	Model *Model
	// Adjust, when set, changes each day's Setup (date YYYY-MM-DD)
	// before it runs (a what-if: more agents, other queue policies); an
	// error stops the replay.
	Adjust func(date string, s *Setup) error `json:"-"`
}

// DefaultBankTTL is the default queue TTL of a replayed day: longer than
// any recorded wait, short enough that a call no agent can serve ends.
const DefaultBankTTL = time.Hour

// BankMRD is the single MRD of a replayed bank day: voice, one call at a
// time, not interruptible.
var BankMRD = routing.MRD{ID: "voice", Name: "Voice", MaxRequests: 1}

// BankDay turns one day of the trace into a Setup (data README, issue 2):
//   - every non-PHANTOM call arrives at Call.Arrival() (q_start when it
//     queued, else ser_start) in the queue of its service type, which is
//     also its required skill;
//   - priority 2 is served first (request priority 1; 0 and 1 are both
//     regular customers, priority 0);
//   - service time is the recorded ser_time; a call recorded as HANG that
//     the engine answers before its patience runs out gets the mean
//     recorded ser_time of its type that day (the data cannot say more);
//   - HANG calls abandon at their recorded patience (q_time, 0 when they
//     never queued);
//   - the day's agents are its servers, each logged in from their first
//     ser_start to their last ser_exit of the day, with a skill (level 1)
//     for every type they served in month.
//
// Times are offsets from midnight of the day; Epoch is that midnight UTC.
func BankDay(day trace.Day, month []trace.Call, opt BankOptions) (*Setup, error) {
	if opt.TTL <= 0 {
		opt.TTL = DefaultBankTTL
	}
	if opt.Strategy == "" {
		opt.Strategy = routing.LongestIdle
	}
	skills := map[string]map[string]int{}
	for _, c := range month {
		if c.Outcome == trace.Agent && c.Server != trace.NoServer {
			if skills[c.Server] == nil {
				skills[c.Server] = map[string]int{}
			}
			skills[c.Server][c.Type] = 1
		}
	}
	type span struct{ from, to int }
	spans := map[string]*span{}
	var servers, types []string
	serSum, serN := map[string]int{}, map[string]int{}
	for _, c := range day.Calls {
		if c.Outcome == trace.Phantom {
			continue
		}
		if !slices.Contains(types, c.Type) {
			types = append(types, c.Type)
		}
		if c.Outcome != trace.Agent {
			continue
		}
		serSum[c.Type] += c.SerTime
		serN[c.Type]++
		if c.Server == trace.NoServer || !c.HasService() {
			continue
		}
		sp, ok := spans[c.Server]
		if !ok {
			sp = &span{from: c.SerStart, to: c.SerExit}
			spans[c.Server] = sp
			servers = append(servers, c.Server)
		}
		sp.from = min(sp.from, c.SerStart)
		sp.to = max(sp.to, c.SerExit)
	}
	if len(types) == 0 {
		return nil, fmt.Errorf("%w: %s has no calls", ErrBadSetup, day.Date)
	}
	slices.Sort(types)
	slices.Sort(servers)
	s := &Setup{
		Epoch: time.Date(day.Date.Year, day.Date.Month, day.Date.Day, 0, 0, 0, 0, time.UTC),
		MRD:   BankMRD,
	}
	for _, t := range types {
		s.Queues = append(s.Queues, routing.Queue{ID: t, Name: t, MRD: BankMRD.ID, Strategy: opt.Strategy,
			Skills: map[string]int{t: 1}, TTL: opt.TTL})
	}
	for _, name := range servers {
		sp := spans[name]
		s.Shifts = append(s.Shifts, Shift{Agent: name, Skills: skills[name],
			Login: time.Duration(sp.from) * time.Second, Logout: time.Duration(sp.to) * time.Second})
	}
	for _, c := range day.Calls {
		if c.Outcome == trace.Phantom {
			continue
		}
		a := Arrival{At: time.Duration(c.Arrival()) * time.Second, Queue: c.Type, Hour: c.Arrival() / 3600}
		if c.Priority == 2 {
			a.Priority = 1
		}
		switch c.Outcome {
		case trace.Agent:
			a.Service = time.Duration(c.SerTime) * time.Second
		case trace.Hang:
			a.Abandons = true
			if p, ok := c.Patience(); ok {
				a.Patience = time.Duration(p) * time.Second
			}
			if n := serN[c.Type]; n > 0 {
				a.Service = time.Duration(serSum[c.Type]) * time.Second / time.Duration(n)
			}
		}
		s.Arrivals = append(s.Arrivals, a)
	}
	return s, nil
}
