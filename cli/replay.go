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
	)
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Replay a real day of calls through the engine (--speed 0: virtual time; N: live against a server)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			calls, err := loadTrace(tracePath)
			if err != nil {
				return err
			}
			days := trace.Days(calls)
			if len(days) == 0 {
				return fmt.Errorf("%s: no calls", tracePath)
			}
			w := cmd.OutOrStdout()
			if day == "all" {
				if speed != 0 {
					return fmt.Errorf("--day all runs in virtual time only (--speed 0)")
				}
				m, err := replay.ReportMonth(calls, replay.BankOptions{})
				if err != nil {
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
				return nil
			}
			d, err := pickDay(days, day)
			if err != nil {
				return err
			}
			var rep *replay.DayReport
			if speed == 0 {
				rep, err = replay.ReportDay(d, calls, replay.BankOptions{})
			} else {
				rep, err = runLive(cmd, d, calls, speed, live, !asJSON)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(w, rep)
			}
			return rep.WriteText(w)
		},
	}
	f := cmd.Flags()
	f.StringVar(&tracePath, "trace", defaultTrace(), "call records (tab-separated, the bank's February 1999 format)")
	f.StringVar(&day, "day", "", "day to replay, YYYY-MM-DD (default: the first day); all: every day, virtual time")
	f.Float64Var(&speed, "speed", 0, "0: virtual time in-process; N > 0: live against --server, N times faster than real time")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	live.register(cmd)
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
