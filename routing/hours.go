package routing

import (
	"slices"
	"strconv"
	"strings"
	"time"

	// Embedded IANA database: business hours never depend on the host's
	// zoneinfo files.
	_ "time/tzdata"
)

// BusinessHours says when a queue is open (Salesforce business hours,
// Genesys schedules, Amazon Connect hours of operation). A queue without
// them is always open.
//
// Local times are wall-clock times in TimeZone. An opening or closing at a
// local time takes effect at the first instant of that local date whose wall
// clock is at or after it: on a spring-forward night a 02:30 that does not
// exist takes effect at the jump (03:00 in Europe/Berlin); on a fall-back
// night a 02:30 that happens twice takes effect the first time. Intervals
// of a day may overlap or touch; they merge.
type BusinessHours struct {
	// TimeZone is an IANA zone name ("Europe/Berlin"), required.
	TimeZone string `json:"timeZone" yaml:"timeZone"`
	// Weekly are the open intervals of each week; empty: never open (only
	// useful with closedAction overflow).
	Weekly []OpenInterval `json:"weekly,omitempty" yaml:"weekly"`
	// Closures are local dates ("2025-12-25") on which the queue stays
	// closed all day (holidays), sorted and unique after validation.
	Closures []string `json:"closures,omitempty" yaml:"closures"`
	// ClosedAction is what a conversation created while the queue is closed
	// gets: ClosedReject (the default), ClosedQueue or ClosedOverflow.
	ClosedAction string `json:"closedAction,omitempty" yaml:"closedAction"`
	// ClosedOverflowQueue receives new conversations while closed when
	// ClosedAction is overflow: an internal queue on the same MRD, not this
	// one.
	ClosedOverflowQueue string `json:"closedOverflowQueue,omitempty" yaml:"closedOverflowQueue"`
}

// OpenInterval is one weekly open interval: Day ("monday".."sunday") from
// Open to Close, local "HH:MM" with Open < Close; Close may be "24:00".
type OpenInterval struct {
	Day   string `json:"day" yaml:"day"`
	Open  string `json:"open" yaml:"open"`
	Close string `json:"close" yaml:"close"`
}

// Closed actions (BusinessHours.ClosedAction).
const (
	// ClosedReject refuses CreateConversation with CodeQueueClosed.
	ClosedReject = "reject"
	// ClosedQueue lets the request wait, never offered until the queue
	// opens; its TTL still counts.
	ClosedQueue = "queue"
	// ClosedOverflow creates the conversation in ClosedOverflowQueue (one
	// hop: that queue's own hours apply, an overflow of its own does not
	// chain further and waits there instead).
	ClosedOverflow = "overflow"
)

// Limits of business hours.
const (
	MaxOpenIntervals = 70
	MaxClosures      = 400
	// hoursHorizonDays bounds the search for the next transition: a queue
	// with no opening in that many days reports none.
	hoursHorizonDays = MaxClosures + 8
)

var weekdays = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// parseHHMM reads "HH:MM" (00:00..24:00) as minutes after midnight.
func parseHHMM(s string) (int, bool) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, false
	}
	return hh*60 + mm, true
}

// hoursRT is a queue's compiled business hours.
type hoursRT struct {
	loc      *time.Location
	byDay    [7][][2]int // minutes after midnight, sorted by open
	closures map[string]bool
}

// CheckBusinessHours validates the hours h of queue on their own (time zone, intervals,
// closures, closedAction), as UpsertQueue does before it checks the
// overflow queue against the other queues. Errors are *Error
// (INVALID_ARGUMENT, LIMIT_EXCEEDED).
func CheckBusinessHours(queue string, h BusinessHours) error {
	h.Closures = slices.Clone(h.Closures)
	if err := checkHours(&Queue{ID: queue, Hours: &h}); err != nil {
		return err
	}
	return nil
}

func (s *State) validateHours(q *Queue) *Error {
	if err := checkHours(q); err != nil {
		return err
	}
	h := q.Hours
	if h == nil || h.ClosedAction != ClosedOverflow {
		return nil
	}
	t, ok := s.queues[h.ClosedOverflowQueue]
	switch {
	case !ok:
		return errf(CodeQueueNotFound, "queue %q: closedOverflowQueue %q does not exist", q.ID, h.ClosedOverflowQueue)
	case t.def.MRD != q.MRD || t.def.Mode == External:
		return errf(CodeInvalidArgument, "queue %q: closedOverflowQueue %q must be an internal queue on mrd %q", q.ID, h.ClosedOverflowQueue, q.MRD)
	}
	return nil
}

func checkHours(q *Queue) *Error {
	h := q.Hours
	if h == nil {
		return nil
	}
	if h.TimeZone == "" {
		return errf(CodeInvalidArgument, "queue %q: business hours need a timeZone", q.ID)
	}
	if h.TimeZone == "Local" || len(h.TimeZone) > 64 {
		return errf(CodeInvalidArgument, "queue %q: unknown time zone %q", q.ID, h.TimeZone)
	}
	if _, err := time.LoadLocation(h.TimeZone); err != nil {
		return errf(CodeInvalidArgument, "queue %q: unknown time zone %q", q.ID, h.TimeZone)
	}
	if len(h.Weekly) > MaxOpenIntervals {
		return errf(CodeLimitExceeded, "queue %q: more than %d open intervals", q.ID, MaxOpenIntervals)
	}
	for _, iv := range h.Weekly {
		if _, ok := weekdays[iv.Day]; !ok {
			return errf(CodeInvalidArgument, "queue %q: open interval day %q is not monday..sunday", q.ID, iv.Day)
		}
		o, ok1 := parseHHMM(iv.Open)
		c, ok2 := parseHHMM(iv.Close)
		if !ok1 || !ok2 || o >= c {
			return errf(CodeInvalidArgument, "queue %q: open interval %s %s-%s needs HH:MM open before close", q.ID, iv.Day, iv.Open, iv.Close)
		}
	}
	if len(h.Closures) > MaxClosures {
		return errf(CodeLimitExceeded, "queue %q: more than %d closures", q.ID, MaxClosures)
	}
	for _, d := range h.Closures {
		if t, err := time.Parse(time.DateOnly, d); err != nil || t.Format(time.DateOnly) != d {
			return errf(CodeInvalidArgument, "queue %q: closure %q is not a date YYYY-MM-DD", q.ID, d)
		}
	}
	slices.Sort(h.Closures)
	h.Closures = slices.Compact(h.Closures)
	switch h.ClosedAction {
	case "":
		h.ClosedAction = ClosedReject
	case ClosedReject:
	case ClosedQueue:
		// A partner router is not held back by the engine: an external
		// queue refuses or overflows while closed, never waits.
		if q.Mode == External {
			return errf(CodeInvalidArgument, "queue %q: closedAction queue needs an internal queue (external: reject or overflow)", q.ID)
		}
	case ClosedOverflow:
		if h.ClosedOverflowQueue == "" || h.ClosedOverflowQueue == q.ID {
			return errf(CodeInvalidArgument, "queue %q: closedOverflowQueue must name another queue", q.ID)
		}
	default:
		return errf(CodeInvalidArgument, "queue %q: closedAction must be reject, queue or overflow, not %q", q.ID, h.ClosedAction)
	}
	if h.ClosedAction != ClosedOverflow && h.ClosedOverflowQueue != "" {
		return errf(CodeInvalidArgument, "queue %q: closedOverflowQueue needs closedAction overflow", q.ID)
	}
	return nil
}

func compileHours(h *BusinessHours) *hoursRT {
	if h == nil {
		return nil
	}
	loc, _ := time.LoadLocation(h.TimeZone) // validated
	c := &hoursRT{loc: loc, closures: map[string]bool{}}
	for _, iv := range h.Weekly {
		o, _ := parseHHMM(iv.Open)
		cl, _ := parseHHMM(iv.Close)
		d := weekdays[iv.Day]
		c.byDay[d] = append(c.byDay[d], [2]int{o, cl})
	}
	for d := range c.byDay {
		slices.SortFunc(c.byDay[d], func(a, b [2]int) int { return a[0] - b[0] })
	}
	for _, d := range h.Closures {
		c.closures[d] = true
	}
	return c
}

// localInstant is the first instant of local date (y, m, d) whose wall
// clock is at or after minute min (0..1440), in loc.
func localInstant(y int, m time.Month, d, min int, loc *time.Location) time.Time {
	if min == 24*60 {
		return localInstant(y, m, d+1, 0, loc)
	}
	wall := time.Date(y, m, d, min/60, min%60, 0, 0, time.UTC)
	want := wall.Format("2006-01-02 15:04")
	var best time.Time
	for _, probe := range []time.Duration{-26 * time.Hour, 26 * time.Hour} {
		_, off := wall.Add(probe).In(loc).Zone()
		u := wall.Add(-time.Duration(off) * time.Second)
		if u.In(loc).Format("2006-01-02 15:04") == want && (best.IsZero() || u.Before(best)) {
			best = u
		}
	}
	if !best.IsZero() {
		return best
	}
	// Skipped by a forward jump: the jump itself is the first instant
	// whose wall clock is past min.
	_, off := wall.Add(-26 * time.Hour).In(loc).Zone()
	start, _ := wall.Add(-time.Duration(off) * time.Second).In(loc).ZoneBounds()
	return start
}

// at reports whether the hours are open at t and the next instant after t
// at which that changes (zero when none within hoursHorizonDays).
func (c *hoursRT) at(t time.Time) (open bool, next time.Time) {
	lt := t.In(c.loc)
	y, m, d := lt.Date()
	// Walk merged intervals from the day before (an interval ending at
	// 24:00 reaches into today only through the merge with today's own).
	var cur [2]time.Time
	have := false
	for i := -1; i <= hoursHorizonDays; i++ {
		day := time.Date(y, m, d+i, 12, 0, 0, 0, time.UTC)
		if c.closures[day.Format(time.DateOnly)] {
			continue
		}
		for _, iv := range c.byDay[day.Weekday()] {
			s := localInstant(day.Year(), day.Month(), day.Day(), iv[0], c.loc)
			e := localInstant(day.Year(), day.Month(), day.Day(), iv[1], c.loc)
			if !e.After(s) {
				continue
			}
			if have && !s.After(cur[1]) {
				if e.After(cur[1]) {
					cur[1] = e
				}
				continue
			}
			if have {
				if r, n, ok := classify(t, cur); ok {
					return r, n
				}
			}
			cur, have = [2]time.Time{s, e}, true
		}
	}
	if have {
		if r, n, ok := classify(t, cur); ok {
			return r, n
		}
	}
	return false, time.Time{}
}

// classify places t against the merged interval iv: before it (closed
// until its start), inside (open until its end), or after (undecided).
func classify(t time.Time, iv [2]time.Time) (open bool, next time.Time, ok bool) {
	switch {
	case t.Before(iv[0]):
		return false, iv[0], true
	case t.Before(iv[1]):
		return true, iv[1], true
	}
	return false, time.Time{}, false
}

// HoursStatus is a queue's business-hours state at an instant.
type HoursStatus struct {
	// Open is false only for a queue with business hours, outside them.
	Open bool `json:"open"`
	// NextOpen / NextClose: the next opening (while closed) or closing
	// (while open); zero when none is known (no hours, or none within
	// hoursHorizonDays).
	NextOpen  time.Time `json:"nextOpen,omitzero"`
	NextClose time.Time `json:"nextClose,omitzero"`
}

// QueueHours reports queue id's business-hours state at now (a pure
// function of its definition and now). ok is false for an unknown queue.
func (s *State) QueueHours(id string, now time.Time) (HoursStatus, bool) {
	q, ok := s.queues[id]
	if !ok {
		return HoursStatus{}, false
	}
	if q.hours == nil {
		return HoursStatus{Open: true}, true
	}
	open, next := q.hours.at(now.UTC())
	st := HoursStatus{Open: open}
	if open {
		st.NextClose = next
	} else {
		st.NextOpen = next
	}
	return st, true
}

// queueOpen says whether q is open at the state's now, caching the answer
// until the next transition.
func (s *State) queueOpen(q *queueRT) bool {
	if q.hours == nil {
		return true
	}
	if s.now.Before(q.hoursFrom) || (!q.hoursUntil.IsZero() && !s.now.Before(q.hoursUntil)) || q.hoursFrom.IsZero() {
		q.hoursOpen, q.hoursUntil = q.hours.at(s.now)
		q.hoursFrom = s.now
	}
	return q.hoursOpen
}

// schedHours sets q's Tick deadline at its next business-hours transition,
// so waiting requests are offered the moment it opens.
func (s *State) schedHours(q *queueRT) {
	if !q.hoursAt.IsZero() {
		s.deadlines.Delete(deadline{at: q.hoursAt.UnixNano(), kind: deadlineHours, id: q.def.ID})
	}
	q.hoursAt = time.Time{}
	if q.hours == nil {
		return
	}
	s.queueOpen(q)
	if q.hoursUntil.IsZero() {
		return
	}
	q.hoursAt = q.hoursUntil
	s.addDeadline(q.hoursAt, deadlineHours, q.def.ID)
}

// Now is the time of the last command applied, refused ones not counted
// (UTC): the state reflects every business-hours transition up to it.
func (s *State) Now() time.Time { return s.applied }

// hoursDue applies every business-hours transition at or before now before
// a command, so a queue that opened is served even when the command comes
// before the Tick of its deadline.
func (s *State) hoursDue() {
	for _, q := range s.hoursQueues {
		if !q.hoursAt.IsZero() && !s.now.Before(q.hoursAt) {
			s.hoursChange(q)
		}
	}
}

// hoursChange handles q's business-hours deadline: reschedule, and on an
// opening make every waiting request a matching candidate.
func (s *State) hoursChange(q *queueRT) {
	s.schedHours(q)
	if !s.queueOpen(q) {
		return
	}
	q.waiting.Ascend(func(r *request) bool {
		s.dirtyReqs = append(s.dirtyReqs, r)
		return true
	})
}

// closedTarget resolves where a conversation created in q goes now: q
// itself, the overflow queue, or a QUEUE_CLOSED refusal.
func (s *State) closedTarget(q *queueRT) (*queueRT, *Error) {
	if s.queueOpen(q) {
		return q, nil
	}
	switch q.def.Hours.ClosedAction {
	case ClosedQueue:
		return q, nil
	case ClosedOverflow:
		t := s.queues[q.def.Hours.ClosedOverflowQueue]
		if t == nil || t.def.MRD != q.def.MRD || t.def.Mode == External {
			break
		}
		if s.queueOpen(t) || t.def.Hours.ClosedAction != ClosedReject {
			return t, nil
		}
		return nil, errf(CodeQueueClosed, "queue %q is closed and its overflow queue %q is closed", q.def.ID, t.def.ID)
	}
	return nil, errf(CodeQueueClosed, "queue %q is closed", q.def.ID)
}
