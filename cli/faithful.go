package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/omniroute/omniroute/replay"
	"github.com/omniroute/omniroute/replay/trace"
	"github.com/omniroute/omniroute/replay/whatif"
)

// modelFlags are the replay's model flags (issue 16): which model rebuilds
// the centre from its records, its parameters, and how the trace is read.
type modelFlags struct {
	model        string
	gap          string
	allowance    string
	skills       string
	seed         uint64
	replications int
	strict       bool
	target       string
}

// registerTarget adds --target to the replay: staffing advice in the
// month report.
func (f *modelFlags) registerTarget(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.target, "target", "", "with --day all or --what-if: add staffing advice for this service-level target (0.8/20s) to the report, as omniroute staff gives it")
}

// advise adds the staffing advice for --target to m, for the days m holds.
func (f *modelFlags) advise(m *replay.MonthReport, calls []trace.Call, opt replay.BankOptions) error {
	if f.target == "" {
		return nil
	}
	if opt.Model == nil {
		return fmt.Errorf("--target needs the faithful model")
	}
	t, err := replay.ParseTarget(f.target)
	if err != nil {
		return fmt.Errorf("--target: %w", err)
	}
	opt.Adjust = nil
	b, err := replay.NewBank(calls, opt)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, d := range m.Days {
		want[d.Date] = true
	}
	var days []trace.Day
	for _, d := range b.Days() {
		if want[d.Date.String()] {
			days = append(days, d)
		}
	}
	m.Staffing, err = b.Advise(t, days)
	return err
}

func (f *modelFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "faithful", "faithful: inferred shifts and breaks, patience, IVR hang-ups; first-to-last: every agent on duty from its first to its last call, callers infinitely patient (--speed N always replays first-to-last)")
	fl.StringVar(&f.gap, "gap", replay.DefaultGap.String(), "faithful model: idle time from which an agent is off duty (seconds or a Go duration)")
	fl.StringVar(&f.allowance, "allowance", replay.DefaultAllowance.String(), "faithful model: unavailability after each call (seconds or a Go duration)")
	fl.StringVar(&f.skills, "skills", string(replay.SkillsDay), "faithful model: an agent serves the types it served that day or week")
	fl.Uint64Var(&f.seed, "seed", 1, "faithful model: seed of the patience draws")
	fl.IntVar(&f.replications, "replications", replay.DefaultReplications, "faithful model: replays of each day, pooled")
	f.registerStrict(cmd)
}

func (f *modelFlags) registerStrict(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.strict, "strict", false, "fail on the first malformed row of the trace (default: skip it and count it with its line number in the report)")
}

// faithful returns the model the flags describe.
func (f *modelFlags) faithful() (replay.Model, error) {
	gap, err := parseSeconds(f.gap)
	if err != nil {
		return replay.Model{}, fmt.Errorf("--gap: %w", err)
	}
	allow, err := parseSeconds(f.allowance)
	if err != nil {
		return replay.Model{}, fmt.Errorf("--allowance: %w", err)
	}
	return replay.Model{Gap: gap, Allowance: allow, Skills: replay.SkillScope(f.skills), Seed: f.seed, Replications: f.replications}, nil
}

// options returns the bank options the flags describe.
func (f *modelFlags) options() (replay.BankOptions, error) {
	switch f.model {
	case "first-to-last":
		return replay.BankOptions{}, nil
	case "faithful":
		m, err := f.faithful()
		if err != nil {
			return replay.BankOptions{}, err
		}
		return replay.BankOptions{Model: &m}, nil
	}
	return replay.BankOptions{}, fmt.Errorf("--model %q: want faithful or first-to-last", f.model)
}

// readTrace reads the trace at path: tolerant (malformed rows skipped and
// counted) unless strict.
func readTrace(path string, strict bool) ([]trace.Call, trace.Skipped, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, trace.Skipped{}, err
	}
	defer fh.Close()
	calls, sk, err := trace.ReadTolerant(fh, strict)
	if err != nil {
		return nil, sk, fmt.Errorf("%s: %w", path, err)
	}
	return calls, sk, nil
}

// writeSkipped prints the malformed rows the reader left out, if any.
func writeSkipped(w io.Writer, sk trace.Skipped) {
	if sk.Count == 0 {
		return
	}
	s := "s"
	if sk.Count == 1 {
		s = ""
	}
	fmt.Fprintf(w, "skipped %d malformed row%s (--strict fails instead):\n", sk.Count, s)
	for _, r := range sk.Rows {
		col := ""
		if r.Column != "" {
			col = ", column " + r.Column
		}
		fmt.Fprintf(w, "  line %d%s: %s\n", r.Line, col, r.Reason)
	}
	if len(sk.Rows) < sk.Count {
		fmt.Fprintf(w, "  ... and %d more\n", sk.Count-len(sk.Rows))
	}
}

// writeAccuracy prints how far the replayed month is from its records.
func writeAccuracy(w io.Writer, m *replay.MonthReport) {
	a := m.Accuracy
	if m.Model != nil {
		fmt.Fprintf(w, "model: faithful, gap %v, allowance %v, skills %s, seed %d, %d replications\n",
			m.Model.Gap, m.Model.Allowance, m.Model.Skills, m.Model.Seed, max(m.Model.Replications, 1))
	} else {
		fmt.Fprintln(w, "model: first-to-last")
	}
	fmt.Fprintf(w, "IVR hang-ups (never reach an agent): %d replayed, %d recorded\n", m.Month.IVRAbandoned, m.Month.Recorded.IVRAbandoned)
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	fmt.Fprintf(w, "accuracy over %d hours with >= %d calls (%d calls, weighted by calls):\n", a.Hours, replay.MinHourCalls, a.Calls)
	fmt.Fprintf(w, "  ASA error           %6.2f s   (goal < %g s: %s)\n", a.ASAErrorSeconds, replay.GoalASAErrorSeconds, met(a.ASAErrorSeconds < replay.GoalASAErrorSeconds))
	fmt.Fprintf(w, "  abandon-rate error  %6.4f     (goal < %g: %s)\n", a.AbandonRateError, replay.GoalAbandonRateError, met(a.AbandonRateError < replay.GoalAbandonRateError))
	fmt.Fprintf(w, "  service-level error %6.4f     (goal < %g: %s)\n", a.ServiceLevelError, replay.GoalServiceLvlError, met(a.ServiceLevelError < replay.GoalServiceLvlError))
	fmt.Fprintf(w, "  month ASA %.1f s vs %.1f s recorded: %+.1f%% (goal within %g%%: %s)\n", m.Month.ASASeconds, m.Month.Recorded.ASASeconds,
		100*a.MonthASARelError, 100*replay.GoalMonthASARelError, met(a.MonthASARelError < replay.GoalMonthASARelError && a.MonthASARelError > -replay.GoalMonthASARelError))
	if m.Staffing != nil {
		m.Staffing.WriteText(w)
	}
}

func calibrateCmd() *cobra.Command {
	var (
		tracePath string
		asJSON    bool
		mf        modelFlags
	)
	cmd := &cobra.Command{
		Use:   "calibrate",
		Short: "Fit the faithful replay's gap and allowance on a trace and print the error they reach",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			calls, sk, err := readTrace(tracePath, mf.strict)
			if err != nil {
				return err
			}
			start, err := mf.faithful()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if !asJSON {
				writeSkipped(w, sk)
			}
			t0 := time.Now()
			cal, err := replay.Calibrate(calls, start, replay.BankOptions{}, func(t replay.Trial) {
				if !asJSON {
					fmt.Fprintln(w, " ", t)
				}
			})
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(w, cal)
			}
			fmt.Fprintf(w, "best (%d replays, %.1f s): %s\n", len(cal.Trials), time.Since(t0).Seconds(), cal.Best)
			fmt.Fprintf(w, "use: omniroute replay --gap %v --allowance %v\n", cal.Best.Gap, cal.Best.Allowance)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&tracePath, "trace", defaultTrace(), "call records (tab-separated, the bank's February 1999 format)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	mf.register(cmd)
	cmd.Flags().Lookup("gap").Usage = "starting gap of the search"
	cmd.Flags().Lookup("allowance").Usage = "starting allowance of the search"
	return cmd
}

// whatIfReport replays days twice, as the records show them (the baseline)
// and changed by the scenario file, and returns the baseline report with
// the what-if beside it.
func whatIfReport(calls []trace.Call, opt replay.BankOptions, day, path string) (*replay.MonthReport, error) {
	if opt.Model == nil {
		return nil, fmt.Errorf("--what-if needs the faithful model")
	}
	sc, err := whatif.Load(path)
	if err != nil {
		return nil, err
	}
	base, err := replay.NewBank(calls, opt)
	if err != nil {
		return nil, err
	}
	days := base.Days()
	if day != "all" {
		d, err := pickDay(days, day)
		if err != nil {
			return nil, err
		}
		days = []trace.Day{d}
	}
	baseline, err := base.ReportDays(days)
	if err != nil {
		return nil, err
	}
	wopt := opt
	wopt.Adjust = sc.Apply
	changed, err := replay.NewBank(calls, wopt)
	if err != nil {
		return nil, err
	}
	w, err := changed.ReportDays(days)
	if err != nil {
		return nil, err
	}
	baseline.WhatIf = replay.CompareWhatIf(path, baseline, w)
	return baseline, nil
}
