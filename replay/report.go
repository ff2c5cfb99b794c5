package replay

import (
	"fmt"
	"io"
	"slices"
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
	// BusySeconds and StaffedSeconds are the engine run's totals behind
	// the day's occupancy.
	BusySeconds    float64      `json:"busy_seconds"`
	StaffedSeconds float64      `json:"staffed_seconds"`
	Day            Period       `json:"day"`
	Hours          []HourReport `json:"hours"`
}

// Figures computes the engine's figures over the arrivals for which keep
// returns true, with occupancy measured inside window (From == To: the
// whole run). Offered = Answered + Abandoned + Expired always holds: every
// arrival of a finished run has ended.
func (r *Run) Figures(keep func(i int) bool, window Interval) trace.Figures {
	var f trace.Figures
	var waitSum time.Duration
	within := 0
	for i, o := range r.Outcomes {
		if !keep(i) {
			continue
		}
		f.Offered++
		switch o.Result {
		case Answered:
			f.Answered++
			waitSum += o.Wait
			if o.Wait <= ServiceLevelThreshold {
				within++
			}
		case Abandoned:
			f.Abandoned++
		case Expired:
			f.Expired++
		}
	}
	if f.Answered > 0 {
		f.ASASeconds = waitSum.Seconds() / float64(f.Answered)
	}
	if f.Offered > 0 {
		f.ServiceLevel = float64(within) / float64(f.Offered)
	}
	busy, staffed := overlap(r.Busy, window), overlap(r.Staffed, window)
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
	setup, err := BankDay(day, month, opt)
	if err != nil {
		return nil, err
	}
	run, err := RunVirtual(setup)
	if err != nil {
		return nil, err
	}
	return DayReportOf(day, run), nil
}

// DayReportOf reports a finished run of day (virtual or live) by hour and
// for the day, beside the recorded figures.
func DayReportOf(day trace.Day, run *Run) *DayReport {
	rep := &DayReport{Date: day.Date.String(), Agents: len(run.Setup.Shifts), Commands: run.Commands}
	rep.Day.Figures = run.Figures(func(int) bool { return true }, Interval{})
	rep.BusySeconds = overlap(run.Busy, Interval{}).Seconds()
	rep.StaffedSeconds = overlap(run.Staffed, Interval{}).Seconds()
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
		hr.Figures = run.Figures(func(i int) bool { return run.Setup.Arrivals[i].Hour == h }, win)
		hr.Recorded = trace.Recorded(recorded[h], int(ServiceLevelThreshold/time.Second))
		rep.Hours = append(rep.Hours, hr)
	}
	return rep
}

// MonthReport is every day of a trace plus the month's totals.
type MonthReport struct {
	Days  []DayReport `json:"days"`
	Month Period      `json:"month"`
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
	m := &MonthReport{}
	var waitSum, within, busy, staffed float64
	for _, day := range trace.Days(calls) {
		d, err := ReportDay(day, calls, opt)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", day.Date, err)
		}
		f := d.Day.Figures
		m.Month.Offered += f.Offered
		m.Month.Answered += f.Answered
		m.Month.Abandoned += f.Abandoned
		m.Month.Expired += f.Expired
		waitSum += f.ASASeconds * float64(f.Answered)
		within += f.ServiceLevel * float64(f.Offered)
		busy += d.BusySeconds
		staffed += d.StaffedSeconds
		m.Days = append(m.Days, *d)
	}
	if m.Month.Answered > 0 {
		m.Month.ASASeconds = waitSum / float64(m.Month.Answered)
	}
	if m.Month.Offered > 0 {
		m.Month.ServiceLevel = within / float64(m.Month.Offered)
	}
	if staffed > 0 {
		m.Month.Occupancy = busy / staffed
	}
	m.Month.Recorded = trace.Recorded(calls, int(ServiceLevelThreshold/time.Second))
	return m, nil
}
