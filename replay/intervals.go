package replay

import (
	"slices"
	"time"
)

// IntervalWidth is the width of the report's intervals: 15 minutes, the
// contact-center reporting interval (webui.Interval, the history's).
const IntervalWidth = 15 * time.Minute

// IntervalReport is one interval of a live run on the server's clock,
// counted with the engine's rules so it compares one to one with the
// server's history (GET /v1/reports/queues): a call is offered in the
// interval of its arrival, answered or abandoned in the interval of its
// answer or abandon. Instants are the server's (read back from the
// conversation); waits are the replay's own measurements.
type IntervalReport struct {
	Queue string    `json:"queue"`
	Start time.Time `json:"start"`
	// Offered, Answered, Abandoned and Expired count calls.
	Offered   int `json:"offered"`
	Answered  int `json:"answered"`
	Abandoned int `json:"abandoned"`
	Expired   int `json:"expired"`
	// AnsweredWithinSL counts answers within ServiceLevelThreshold;
	// AbandonedWithinSL abandons before it.
	AnsweredWithinSL  int `json:"answered_within_sl"`
	AbandonedWithinSL int `json:"abandoned_within_sl"`
	// ASASeconds is the mean answered wait (s); ServiceLevel the engine's
	// formula, within / (answered + abandoned after the threshold), 1 when
	// there is none.
	ASASeconds   float64 `json:"asa_seconds"`
	ServiceLevel float64 `json:"service_level"`
}

// Intervals counts a run by queue and interval of the given width (0:
// IntervalWidth). It needs the instants of Outcome (Arrived, Ended): a run
// without them (RunVirtual's, or RunLive without a Clock) yields nil.
func Intervals(run *Run, width time.Duration) []IntervalReport {
	if width <= 0 {
		width = IntervalWidth
	}
	type key struct {
		queue string
		start time.Time
	}
	by := map[key]*IntervalReport{}
	at := func(q string, t time.Time) *IntervalReport {
		k := key{q, t.UTC().Truncate(width)}
		r := by[k]
		if r == nil {
			r = &IntervalReport{Queue: q, Start: k.start}
			by[k] = r
		}
		return r
	}
	for i, o := range run.Outcomes {
		if o.Arrived.IsZero() {
			continue
		}
		q := run.Setup.Arrivals[i].Queue
		at(q, o.Arrived).Offered++
		if o.Ended.IsZero() {
			continue
		}
		r := at(q, o.Ended)
		switch o.Result {
		case Answered:
			r.Answered++
			r.ASASeconds += o.Wait.Seconds()
			if o.Wait <= ServiceLevelThreshold {
				r.AnsweredWithinSL++
			}
		case Abandoned:
			r.Abandoned++
			if o.Wait < ServiceLevelThreshold {
				r.AbandonedWithinSL++
			}
		case Expired:
			r.Expired++
		}
	}
	if len(by) == 0 {
		return nil
	}
	out := make([]IntervalReport, 0, len(by))
	for _, r := range by {
		if r.Answered > 0 {
			r.ASASeconds /= float64(r.Answered)
		}
		r.ServiceLevel = 1
		if den := r.Answered + r.Abandoned - r.AbandonedWithinSL; den > 0 {
			r.ServiceLevel = float64(r.AnsweredWithinSL) / float64(den)
		}
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b IntervalReport) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		if a.Queue < b.Queue {
			return -1
		}
		if a.Queue > b.Queue {
			return 1
		}
		return 0
	})
	return out
}
