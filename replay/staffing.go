package replay

import (
	"cmp"
	"slices"
	"time"

	"github.com/omniroute/omniroute/replay/trace"
)

// InferShifts infers when each server of one day was on duty from the
// services the records show (the records have no logins, logouts or
// breaks): an agent is on duty in the intervals where consecutive services
// (end of one to start of the next) are less than gap apart, each interval
// running from the first ser_start to the last ser_exit in it; the time
// between two intervals is a break. Only AGENT rows with a real server and a
// service segment count. One Shift per server, from the first interval's
// start to the last one's end, with the gaps between intervals as Off;
// skills are not set. Servers come out sorted by name.
//
// Assumptions, documented because the faithful replay's accuracy rests on
// them: an agent idle for gap or longer while on duty is taken to be off
// (harmless when nobody waited then, and the reason gap is fitted rather
// than guessed); services that overlap (agents who held one call while
// taking another, about 2% of service time) are merged into one interval.
func InferShifts(calls []trace.Call, gap time.Duration) []Shift {
	type svc struct{ from, to int }
	by := map[string][]svc{}
	for _, c := range calls {
		if c.Outcome != trace.Agent || c.Server == trace.NoServer || !c.HasService() {
			continue
		}
		by[c.Server] = append(by[c.Server], svc{c.SerStart, max(c.SerExit, c.SerStart)})
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	slices.Sort(names)
	g := int(gap / time.Second)
	shifts := make([]Shift, 0, len(names))
	for _, n := range names {
		ss := by[n]
		slices.SortFunc(ss, func(a, b svc) int { return cmp.Or(cmp.Compare(a.from, b.from), cmp.Compare(a.to, b.to)) })
		var on []Interval
		from, to := ss[0].from, ss[0].to
		for _, s := range ss[1:] {
			if s.from-to < g {
				to = max(to, s.to)
				continue
			}
			on = append(on, Interval{From: sec(from), To: sec(to)})
			from, to = s.from, s.to
		}
		on = append(on, Interval{From: sec(from), To: sec(to)})
		sh := Shift{Agent: n, Login: on[0].From, Logout: on[len(on)-1].To}
		for i := 1; i < len(on); i++ {
			sh.Off = append(sh.Off, Interval{From: on[i-1].To, To: on[i].From})
		}
		shifts = append(shifts, sh)
	}
	return shifts
}

func sec(s int) time.Duration { return time.Duration(s) * time.Second }
