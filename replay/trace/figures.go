package trace

import (
	"cmp"
	"slices"
)

// Day holds the calls of one date.
type Day struct {
	// Date is the day.
	Date Date
	// Calls are the day's calls ordered by [Call.Arrival], then CallID,
	// then VRULine (CallID alone is not unique within a day).
	Calls []Call
}

// Days groups calls by Date. Days come out in date order and each day's calls
// in (Arrival, CallID, VRULine) order, so the result does not depend on the
// order of the input; rows equal in all three keep their input order. The
// input slice is not modified; the days hold copies of the calls.
func Days(calls []Call) []Day {
	byDate := make(map[Date][]Call)
	for _, c := range calls {
		byDate[c.Date] = append(byDate[c.Date], c)
	}
	days := make([]Day, 0, len(byDate))
	for d, cs := range byDate {
		slices.SortStableFunc(cs, compareCalls)
		days = append(days, Day{Date: d, Calls: cs})
	}
	slices.SortFunc(days, func(a, b Day) int { return a.Date.Compare(b.Date) })
	return days
}

// compareCalls orders calls by arrival, call id and IVR line.
func compareCalls(a, b Call) int {
	if c := cmp.Compare(a.Arrival(), b.Arrival()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.CallID, b.CallID); c != 0 {
		return c
	}
	return cmp.Compare(a.VRULine, b.VRULine)
}

// Hour holds the calls whose arrival falls in one clock hour.
type Hour struct {
	// Hour is Arrival()/3600: 0 for arrivals from 0:00:00 to 0:59:59, and
	// 24 or more for arrivals after the next midnight (see the package
	// comment on unwrapped times).
	Hour int
	// Calls are the hour's calls in input order.
	Calls []Call
}

// Hours buckets calls by arrival hour, the unit in which contact centers
// plan staffing. Only non-empty hours are returned, in increasing order; pass
// one day's calls (from [Days]) to get that day's profile. The input slice is
// not modified.
func Hours(calls []Call) []Hour {
	byHour := make(map[int][]Call)
	for _, c := range calls {
		h := c.Arrival() / 3600
		byHour[h] = append(byHour[h], c)
	}
	hours := make([]Hour, 0, len(byHour))
	for h, cs := range byHour {
		hours = append(hours, Hour{Hour: h, Calls: cs})
	}
	slices.SortFunc(hours, func(a, b Hour) int { return cmp.Compare(a.Hour, b.Hour) })
	return hours
}

// Figures are the headline contact-center figures of a set of calls, in the
// shape the simulator reports its own, so that recorded and simulated runs
// can be compared field by field (the JSON names are shared with it).
type Figures struct {
	// Offered counts the calls that reached the center: every call that is
	// not PHANTOM.
	Offered int `json:"offered"`
	// Answered counts AGENT calls.
	Answered int `json:"answered"`
	// Abandoned counts HANG calls, including those that hung up before
	// queueing; for recorded data Offered == Answered + Abandoned.
	Abandoned int `json:"abandoned"`
	// IVRAbandoned counts, of Abandoned, the callers who hung up before
	// reaching the queue (HANG rows that never queued): no agent could
	// have answered them, so a faithful replay counts them apart.
	IVRAbandoned int `json:"ivr_abandoned"`
	// Expired counts calls removed by a queue timeout. The bank's records
	// have no such outcome, so it is always 0 here; the field exists for
	// the simulator, whose router can expire calls.
	Expired int `json:"expired"`
	// ASASeconds is the average speed of answer: the mean q_time of AGENT
	// calls in seconds, counting calls that never queued as 0. 0 when no
	// call was answered.
	ASASeconds float64 `json:"asa_seconds"`
	// ServiceLevel is the fraction of offered calls answered within the
	// threshold given to [Recorded]: AGENT calls with q_time <= threshold,
	// divided by Offered (so abandoned calls count against it, as in
	// Erlang A's P(served and wait <= t)). 0 when nothing was offered.
	// The JSON name carries the simulator's standard 20-second threshold;
	// the value is for whatever threshold was passed.
	ServiceLevel float64 `json:"service_level_20s"`
	// Occupancy is busy seconds over staffed seconds, each server staffed
	// from its first to its last service: the sum of ser_time of AGENT
	// calls with a real server (not NO_SERVER), divided by the sum over
	// those servers of (last ser_exit - first ser_start) among their calls
	// in the set. A set spanning several dates counts each server once per
	// date (clock times restart every day). The records do not say when
	// agents logged in, took breaks or idled, so this is an estimate: idle
	// time before a server's first and after its last service is not
	// counted, gaps between its services are. 0 when no server worked.
	// 1,157 services in the file start before the same server's previous
	// one ended (agents juggling calls), adding about 2% to busy seconds;
	// that could push a small set above 1, though no day of February 1999
	// exceeds 0.62.
	Occupancy float64 `json:"occupancy"`
	// AbandonRate is Abandoned / Offered (IVR hang-ups included), 0 when
	// nothing was offered. A replay pooled over replications computes it
	// from all of them, so it is not always Abandoned / Offered of the
	// rounded mean counts.
	AbandonRate float64 `json:"abandon_rate"`
}

// Recorded computes the [Figures] of a set of calls — typically a [Day] or
// an [Hour] bucket — straight from the recorded fields, with the service
// level measured against slThreshold seconds of queue time. See each field
// of Figures for its exact definition.
func Recorded(calls []Call, slThreshold int) Figures {
	var f Figures
	var qTimeSum, busy int64
	withinThreshold := 0
	type agentDay struct {
		server string
		date   Date
	}
	type span struct{ first, last int }
	spans := make(map[agentDay]span)
	for _, c := range calls {
		if c.Outcome == Phantom {
			continue
		}
		f.Offered++
		switch c.Outcome {
		case Hang:
			f.Abandoned++
			if !c.Queued() {
				f.IVRAbandoned++
			}
			continue
		case Agent:
		default:
			continue
		}
		f.Answered++
		qTimeSum += int64(c.QTime)
		if c.QTime <= slThreshold {
			withinThreshold++
		}
		if c.Server == NoServer || c.Server == "" || !c.HasService() {
			continue
		}
		busy += int64(c.SerTime)
		key := agentDay{c.Server, c.Date}
		s, ok := spans[key]
		if !ok {
			s = span{c.SerStart, c.SerExit}
		}
		s.first = min(s.first, c.SerStart)
		s.last = max(s.last, c.SerExit)
		spans[key] = s
	}
	if f.Answered > 0 {
		f.ASASeconds = float64(qTimeSum) / float64(f.Answered)
	}
	if f.Offered > 0 {
		f.ServiceLevel = float64(withinThreshold) / float64(f.Offered)
		f.AbandonRate = float64(f.Abandoned) / float64(f.Offered)
	}
	var staffed int64
	for _, s := range spans {
		staffed += int64(s.last - s.first)
	}
	if staffed > 0 {
		f.Occupancy = float64(busy) / float64(staffed)
	}
	return f
}
