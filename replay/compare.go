package replay

import (
	"fmt"
	"io"
	"slices"

	"github.com/omniroute/omniroute/replay/trace"
)

// WhatIf is a what-if replay beside the baseline it changes (the month
// report that holds it) and the records.
type WhatIf struct {
	// Scenario names the what-if (its file).
	Scenario string `json:"scenario"`
	// Report is the changed centre's replay.
	Report *MonthReport `json:"report"`
	// Hours compare, by clock hour over every day replayed, the what-if,
	// the baseline replay and the records.
	Hours []HourComparison `json:"hours"`
	// Month compares the month's totals.
	Month HourComparison `json:"month"`
}

// HourComparison is one clock hour (or the month, Hour -1) of a what-if.
type HourComparison struct {
	Hour     int           `json:"hour"`
	WhatIf   trace.Figures `json:"what_if"`
	Baseline trace.Figures `json:"baseline"`
	Recorded trace.Figures `json:"recorded"`
}

// figureSum accumulates figures: counts add, rates are weighted (ASA by
// answered calls, service level and abandon rate by offered calls).
type figureSum struct {
	f                     trace.Figures
	wait, within, abandon float64
}

func (s *figureSum) add(f trace.Figures) {
	s.f.Offered += f.Offered
	s.f.Answered += f.Answered
	s.f.Abandoned += f.Abandoned
	s.f.IVRAbandoned += f.IVRAbandoned
	s.f.Expired += f.Expired
	s.wait += f.ASASeconds * float64(f.Answered)
	s.within += f.ServiceLevel * float64(f.Offered)
	s.abandon += f.AbandonRate * float64(f.Offered)
}

func (s *figureSum) figures() trace.Figures {
	f := s.f
	if f.Answered > 0 {
		f.ASASeconds = s.wait / float64(f.Answered)
	}
	if f.Offered > 0 {
		f.ServiceLevel = s.within / float64(f.Offered)
		f.AbandonRate = s.abandon / float64(f.Offered)
	}
	return f
}

// byHour sums a month's hours by clock hour: engine figures and recorded.
func byHour(m *MonthReport) (engine, recorded map[int]*figureSum) {
	engine, recorded = map[int]*figureSum{}, map[int]*figureSum{}
	for _, d := range m.Days {
		for _, h := range d.Hours {
			if engine[h.Hour] == nil {
				engine[h.Hour], recorded[h.Hour] = &figureSum{}, &figureSum{}
			}
			engine[h.Hour].add(h.Figures)
			recorded[h.Hour].add(h.Recorded)
		}
	}
	return engine, recorded
}

// CompareWhatIf puts a what-if replay beside its baseline and the records.
func CompareWhatIf(scenario string, baseline, changed *MonthReport) *WhatIf {
	w := &WhatIf{Scenario: scenario, Report: changed}
	be, rec := byHour(baseline)
	we, _ := byHour(changed)
	var hours []int
	for h := range be {
		hours = append(hours, h)
	}
	slices.Sort(hours)
	for _, h := range hours {
		c := HourComparison{Hour: h, Baseline: be[h].figures(), Recorded: rec[h].figures()}
		if we[h] != nil {
			c.WhatIf = we[h].figures()
		}
		w.Hours = append(w.Hours, c)
	}
	w.Month = HourComparison{Hour: -1, WhatIf: changed.Month.Figures, Baseline: baseline.Month.Figures, Recorded: baseline.Month.Recorded}
	return w
}

// WriteText prints the comparison, one line per clock hour.
func (w *WhatIf) WriteText(out io.Writer) error {
	fmt.Fprintf(out, "what-if %s (what-if | baseline replay | recorded), by clock hour over the days replayed\n", w.Scenario)
	fmt.Fprintf(out, "%-5s %7s  %-23s  %-23s  %-23s\n", "hour", "offered", "ASA s", "SL 20 s", "abandon rate")
	row := func(label string, c HourComparison) error {
		a, b, r := c.WhatIf, c.Baseline, c.Recorded
		_, err := fmt.Fprintf(out, "%-5s %7d  %6.1f | %6.1f | %6.1f  %6.3f | %6.3f | %6.3f  %6.3f | %6.3f | %6.3f\n", label, r.Offered,
			a.ASASeconds, b.ASASeconds, r.ASASeconds, a.ServiceLevel, b.ServiceLevel, r.ServiceLevel, a.AbandonRate, b.AbandonRate, r.AbandonRate)
		return err
	}
	for _, c := range w.Hours {
		if err := row(fmt.Sprintf("%02d", c.Hour), c); err != nil {
			return err
		}
	}
	return row("month", w.Month)
}
