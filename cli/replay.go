package cli

import (
	"fmt"
	"os"

	"github.com/omniroute/omniroute/replay"
	"github.com/omniroute/omniroute/replay/trace"
	"github.com/spf13/cobra"
)

func replayCmd() *cobra.Command {
	var (
		tracePath, day string
		speed          float64
		asJSON         bool
		live           liveFlags
		mf             modelFlags
		whatIf         string
		reportPath     string
	)
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Replay a real day of calls through the engine (--speed 0: virtual time; N: live against a server)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			calls, skipped, err := readTrace(tracePath, mf.strict)
			if err != nil {
				return err
			}
			opt, err := mf.options()
			if err != nil {
				return err
			}
			days := trace.Days(calls)
			if len(days) == 0 {
				return fmt.Errorf("%s: no calls", tracePath)
			}
			w := cmd.OutOrStdout()
			if whatIf != "" {
				if speed != 0 {
					return fmt.Errorf("--what-if runs in virtual time only (--speed 0)")
				}
				if day == "" {
					day = "all"
				}
				m, err := whatIfReport(calls, opt, day, whatIf)
				if err != nil {
					return err
				}
				m.Skipped = skipped
				if err := mf.advise(m, calls, opt); err != nil {
					return err
				}
				if err := writeReport(reportPath, "omniroute replay what-if "+whatIf, m); err != nil {
					return err
				}
				if asJSON {
					return writeJSON(w, m)
				}
				if err := m.WhatIf.WriteText(w); err != nil {
					return err
				}
				writeAccuracy(w, m)
				writeSkipped(w, skipped)
				return nil
			}
			if day == "all" {
				if speed != 0 {
					return fmt.Errorf("--day all runs in virtual time only (--speed 0)")
				}
				m, err := replay.ReportMonth(calls, opt)
				if err != nil {
					return err
				}
				m.Skipped = skipped
				if err := mf.advise(m, calls, opt); err != nil {
					return err
				}
				if err := writeReport(reportPath, "omniroute replay, every day", m); err != nil {
					return err
				}
				if asJSON {
					return writeJSON(w, m)
				}
				for i := range m.Days {
					if err := m.Days[i].WriteText(w); err != nil {
						return err
					}
					fmt.Fprintln(w)
				}
				fmt.Fprintf(w, "month: offered %d answered %d abandoned %d expired %d ASA %.1f s SL20 %.3f occupancy %.3f\n",
					m.Month.Offered, m.Month.Answered, m.Month.Abandoned, m.Month.Expired, m.Month.ASASeconds, m.Month.ServiceLevel, m.Month.Occupancy)
				fmt.Fprintf(w, "recorded: offered %d answered %d abandoned %d ASA %.1f s SL20 %.3f occupancy %.3f\n",
					m.Month.Recorded.Offered, m.Month.Recorded.Answered, m.Month.Recorded.Abandoned, m.Month.Recorded.ASASeconds, m.Month.Recorded.ServiceLevel, m.Month.Recorded.Occupancy)
				writeAccuracy(w, m)
				writeSkipped(w, skipped)
				return nil
			}
			d, err := pickDay(days, day)
			if err != nil {
				return err
			}
			var rep *replay.DayReport
			if speed == 0 {
				rep, err = replay.ReportDay(d, calls, opt)
			} else {
				rep, err = runLive(cmd, d, calls, speed, live, !asJSON)
			}
			if err != nil {
				return err
			}
			rep.Skipped = skipped
			if err := writeReport(reportPath, "omniroute replay "+rep.Date, rep); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(w, rep)
			}
			if err := rep.WriteText(w); err != nil {
				return err
			}
			writeSkipped(w, skipped)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&tracePath, "trace", defaultTrace(), "call records (tab-separated, the bank's February 1999 format)")
	f.StringVar(&day, "day", "", "day to replay, YYYY-MM-DD (default: the first day); all: every day, virtual time")
	f.Float64Var(&speed, "speed", 0, "0: virtual time in-process; N > 0: live against --server, N times faster than real time")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	f.StringVar(&reportPath, "report", "", "also write the report as a self-contained HTML page (per-hour charts beside the recorded figures)")
	live.register(cmd)
	mf.register(cmd)
	mf.registerTarget(cmd)
	f.StringVar(&whatIf, "what-if", "", "a what-if scenario (YAML: staffing, queue policies, priorities, RONA): replay it beside the baseline and the records, per hour (default --day all)")
	cmd.AddCommand(calibrateCmd())
	return cmd
}

func loadTrace(path string) ([]trace.Call, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	calls, err := trace.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return calls, nil
}

func pickDay(days []trace.Day, want string) (trace.Day, error) {
	if want == "" {
		return days[0], nil
	}
	for _, d := range days {
		if d.Date.String() == want {
			return d, nil
		}
	}
	return trace.Day{}, fmt.Errorf("--day %s: not in the trace (%s .. %s)", want, days[0].Date, days[len(days)-1].Date)
}
