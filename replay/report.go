package replay

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/omniroute/omniroute/replay/trace"
)

// ServiceLevelThreshold is the answer time counted within service level in
// reports (the industry's common 80/20 target's 20 seconds).
const ServiceLevelThreshold = 20 * time.Second

// Period holds the engine's figures for a period beside the recorded ones.
// The engine's figures are flattened into the JSON object (offered,
// answered, abandoned, expired, asa_seconds, service_level_20s, occupancy).
type Period struct {
	trace.Figures
	// Recorded are the same figures computed from the trace itself
	// (trace.Recorded); zero for synthetic runs.
	Recorded trace.Figures `json:"recorded"`
}

// HourReport is one clock hour, by arrival hour.
type HourReport struct {
	Hour int `json:"hour"`
	Period
}

// DayReport is one replayed day.
type DayReport struct {
	Date     string `json:"date"`
	Agents   int    `json:"agents"`
	Commands int    `json:"commands"`
	// Skipped are the malformed rows of the trace the reader left out
	// (set by the caller that read it).
	Skipped trace.Skipped `json:"skipped_rows"`
	// BusySeconds and StaffedSeconds are the engine run's totals behind
	// the day's occupancy.
	BusySeconds    float64      `json:"busy_seconds"`
	StaffedSeconds float64      `json:"staffed_seconds"`
	Day            Period       `json:"day"`
	Hours          []HourReport `json:"hours"`
	// Intervals, for a live run on the server's clock (LiveOptions.Clock),
	// are the run per queue and 15 minutes, comparable with the server's
	// history (Intervals).
	Intervals []IntervalReport `json:"intervals,omitempty"`
}

// Figures computes the engine's figures over the arrivals for which keep
// returns true, with occupancy measured inside window (From == To: the
// whole run). Offered = Answered + Abandoned + Expired always holds: every
// arrival of a finished run has ended.
func (r *Run) Figures(keep func(i int) bool, window Interval) trace.Figures {
	return pooledFigures([]*Run{r}, keep, window)
}

// pooledFigures computes the figures of replications of one setup (runs
// whose arrivals are the same calls, index for index): counts are the
// means over the runs, rounded; ASA, service level, abandon rate and
// occupancy are pooled over all of them, so they are exact means.
func pooledFigures(runs []*Run, keep func(i int) bool, window Interval) trace.Figures {
	var f trace.Figures
	var waitSum time.Duration
	var offered, answered, abandoned, ivr, expired, within int
	var busy, staffed time.Duration
	for _, r := range runs {
		for i, o := range r.Outcomes {
			if !keep(i) {
				continue
			}
			offered++
			switch o.Result {
			case Answered:
				answered++
				waitSum += o.Wait
				if o.Wait <= ServiceLevelThreshold {
					within++
				}
			case Abandoned:
				abandoned++
				if r.Setup.Arrivals[i].Bypass == Abandoned {
					ivr++
				}
			case Expired:
				expired++
			}
		}
		busy += overlap(r.Busy, window)
		staffed += overlap(r.Staffed, window)
	}
	n := len(runs)
	mean := func(x int) int { return (x + n/2) / n }
	// Abandoned takes the rounding, so Offered = Answered + Abandoned +
	// Expired holds for the means too.
	f.Offered, f.Answered, f.IVRAbandoned, f.Expired = mean(offered), mean(answered), mean(ivr), mean(expired)
	f.Abandoned = f.Offered - f.Answered - f.Expired
	if answered > 0 {
		f.ASASeconds = waitSum.Seconds() / float64(answered)
	}
	if offered > 0 {
		f.ServiceLevel = float64(within) / float64(offered)
		f.AbandonRate = float64(abandoned) / float64(offered)
	}
	if staffed > 0 {
		f.Occupancy = busy.Seconds() / staffed.Seconds()
	}
	return f
}

// overlap sums the intervals' overlap with window (all of them when the
// window is empty). Agents are visited in sorted order so float sums are
// repeatable.
func overlap(by map[string][]Interval, window Interval) time.Duration {
	var sum time.Duration
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, iv := range by[k] {
			from, to := iv.From, iv.To
			if window.From != window.To {
				from, to = max(from, window.From), min(to, window.To)
			}
			if to > from {
				sum += to - from
			}
		}
	}
	return sum
}

// ReportDay replays one day of the bank trace in virtual time and reports
// it by hour and for the day, beside the recorded figures.
func ReportDay(day trace.Day, month []trace.Call, opt BankOptions) (*DayReport, error) {
	b, err := NewBank(month, opt)
	if err != nil {
		return nil, err
	}
	return b.ReportDay(day)
}

// ReportDay replays one day of the bank in virtual time and reports it by
// hour and for the day, beside the recorded figures.
func (b *Bank) ReportDay(day trace.Day) (*DayReport, error) {
	runs, err := b.RunDay(day)
	if err != nil {
		return nil, err
	}
	return DayReportOf(day, runs...), nil
}

// RunDay replays one day in virtual time: once, or Model.Replications
// times with the seeds Seed, Seed+1, ... for a faithful model.
func (b *Bank) RunDay(day trace.Day) ([]*Run, error) {
	n := 1
	if b.opt.Model != nil {
		n = b.opt.Model.replications()
	}
	runs := make([]*Run, 0, n)
	for k := range n {
		setup, err := b.setup(day, uint64(k))
		if err != nil {
			return nil, err
		}
		if b.opt.Adjust != nil {
			if err := b.opt.Adjust(day.Date.String(), setup); err != nil {
				return nil, err
			}
		}
		run, err := RunVirtual(setup)
		if err != nil {
			return nil, err
		}
		runs = append(runs, run)
	}
	return runs, nil
}

// DayReportOf reports finished runs of day (virtual or live; several are
// replications of one setup, pooled) by hour and for the day, beside the
// recorded figures.
func DayReportOf(day trace.Day, runs ...*Run) *DayReport {
	run := runs[0]
	rep := &DayReport{Date: day.Date.String(), Agents: len(run.Setup.Shifts), Commands: run.Commands}
	rep.Day.Figures = pooledFigures(runs, func(int) bool { return true }, Interval{})
	for _, r := range runs {
		rep.BusySeconds += overlap(r.Busy, Interval{}).Seconds() / float64(len(runs))
		rep.StaffedSeconds += overlap(r.Staffed, Interval{}).Seconds() / float64(len(runs))
	}
	rep.Day.Recorded = trace.Recorded(day.Calls, int(ServiceLevelThreshold/time.Second))
	recorded := map[int][]trace.Call{}
	for _, h := range trace.Hours(day.Calls) {
		recorded[h.Hour] = h.Calls
	}
	var hours []int
	for _, a := range run.Setup.Arrivals {
		if !slices.Contains(hours, a.Hour) {
			hours = append(hours, a.Hour)
		}
	}
	slices.Sort(hours)
	for _, h := range hours {
		win := Interval{From: time.Duration(h) * time.Hour, To: time.Duration(h+1) * time.Hour}
		hr := HourReport{Hour: h}
		hr.Figures = pooledFigures(runs, func(i int) bool { return run.Setup.Arrivals[i].Hour == h }, win)
		hr.Recorded = trace.Recorded(recorded[h], int(ServiceLevelThreshold/time.Second))
		rep.Hours = append(rep.Hours, hr)
	}
	if len(runs) == 1 {
		rep.Intervals = Intervals(run, 0)
	}
	return rep
}

// MonthReport is every day of a trace plus the month's totals.
type MonthReport struct {
	// Model is the faithful model the month was replayed with; nil for
	// the first-to-last replay.
	Model *Model      `json:"model,omitempty"`
	Days  []DayReport `json:"days"`
	Month Period      `json:"month"`
	// Accuracy compares the replay with the records hour by hour.
	Accuracy Accuracy `json:"accuracy"`
	// Skipped are the malformed rows of the trace the reader left out.
	Skipped trace.Skipped `json:"skipped_rows"`
	// WhatIf, when a what-if ran, is the changed centre beside this
	// (baseline) replay and the records.
	WhatIf *WhatIf `json:"what_if,omitempty"`
	// Staffing, when a service-level target was given, is the staffing
	// advice for the same days (Bank.Advise).
	Staffing *StaffReport `json:"staffing,omitempty"`
}

// WriteText prints a day as a table: engine figures, then recorded.
func (d *DayReport) WriteText(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "%s  %d agents  (engine | recorded)\n", d.Date, d.Agents); err != nil {
		return err
	}
	fmt.Fprintf(w, "%-5s %15s %15s %15s %9s %15s %13s %13s\n", "hour", "offered", "answered", "abandoned", "expired", "ASA s", "SL 20s", "occupancy")
	for _, h := range d.Hours {
		writeRow(w, fmt.Sprintf("%02d", h.Hour), h.Period)
	}
	return writeRow(w, "day", d.Day)
}

func writeRow(w io.Writer, label string, p Period) error {
	e, r := p.Figures, p.Recorded
	_, err := fmt.Fprintf(w, "%-5s %7d|%-7d %7d|%-7d %7d|%-7d %9d %7.1f|%-7.1f %6.3f|%-6.3f %6.3f|%-6.3f\n", label,
		e.Offered, r.Offered, e.Answered, r.Answered, e.Abandoned, r.Abandoned, e.Expired,
		e.ASASeconds, r.ASASeconds, e.ServiceLevel, r.ServiceLevel, e.Occupancy, r.Occupancy)
	return err
}

// ReportMonth replays every day of calls (one Setup per day) and totals the
// month. Days run one after another; each is independent.
func ReportMonth(calls []trace.Call, opt BankOptions) (*MonthReport, error) {
	b, err := NewBank(calls, opt)
	if err != nil {
		return nil, err
	}
	return b.ReportMonth()
}

// ReportMonth replays every day of the bank and totals the month. Days are
// independent, so they run in parallel (GOMAXPROCS workers); the report
// does not depend on how many.
func (b *Bank) ReportMonth() (*MonthReport, error) { return b.ReportDays(b.days) }

// ReportDays replays the given days of the bank (from Days) and totals
// them like a month; the recorded totals are those of the same days.
func (b *Bank) ReportDays(days []trace.Day) (*MonthReport, error) {
	var calls []trace.Call
	if len(days) == len(b.days) {
		calls = b.calls
	} else {
		for _, d := range days {
			calls = append(calls, d.Calls...)
		}
	}
	m := &MonthReport{Model: b.opt.Model}
	var waitSum, within, abandoned, busy, staffed float64
	reports := make([]*DayReport, len(days))
	errs := make([]error, len(days))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(days)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				reports[i], errs[i] = b.ReportDay(days[i])
			}
		}()
	}
	for i := range days {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, day := range days {
		d, err := reports[i], errs[i]
		if err != nil {
			return nil, fmt.Errorf("%s: %w", day.Date, err)
		}
		f := d.Day.Figures
		m.Month.Offered += f.Offered
		m.Month.Answered += f.Answered
		m.Month.Abandoned += f.Abandoned
		m.Month.IVRAbandoned += f.IVRAbandoned
		m.Month.Expired += f.Expired
		waitSum += f.ASASeconds * float64(f.Answered)
		within += f.ServiceLevel * float64(f.Offered)
		abandoned += f.AbandonRate * float64(f.Offered)
		busy += d.BusySeconds
		staffed += d.StaffedSeconds
		m.Days = append(m.Days, *d)
	}
	if m.Month.Answered > 0 {
		m.Month.ASASeconds = waitSum / float64(m.Month.Answered)
	}
	if m.Month.Offered > 0 {
		m.Month.ServiceLevel = within / float64(m.Month.Offered)
		m.Month.AbandonRate = abandoned / float64(m.Month.Offered)
	}
	if staffed > 0 {
		m.Month.Occupancy = busy / staffed
	}
	m.Month.Recorded = trace.Recorded(calls, int(ServiceLevelThreshold/time.Second))
	m.Accuracy = AccuracyOf(m)
	return m, nil
}
