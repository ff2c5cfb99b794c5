package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/omniroute/omniroute/replay"
	"github.com/omniroute/omniroute/replay/trace"
)

func staffCmd() *cobra.Command {
	var (
		tracePath, day, target string
		asJSON                 bool
		mf                     modelFlags
	)
	cmd := &cobra.Command{
		Use:   "staff",
		Short: "Agents needed per hour for a service-level target (Erlang C and A) beside what the faithful replay achieves",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := replay.ParseTarget(target)
			if err != nil {
				return fmt.Errorf("--target: %w", err)
			}
			calls, sk, err := readTrace(tracePath, mf.strict)
			if err != nil {
				return err
			}
			m, err := mf.faithful()
			if err != nil {
				return err
			}
			b, err := replay.NewBank(calls, replay.BankOptions{Model: &m})
			if err != nil {
				return err
			}
			days := b.Days()
			if len(days) == 0 {
				return fmt.Errorf("%s: no calls", tracePath)
			}
			if day != "all" {
				d, err := pickDay(days, day)
				if err != nil {
					return err
				}
				days = []trace.Day{d}
			}
			rep, err := b.Advise(t, days)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(w, struct {
					*replay.StaffReport
					Skipped trace.Skipped `json:"skipped_rows"`
				}{rep, sk})
			}
			if err := rep.WriteText(w); err != nil {
				return err
			}
			writeSkipped(w, sk)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&tracePath, "trace", defaultTrace(), "call records (tab-separated, the bank's February 1999 format)")
	f.StringVar(&day, "day", "all", "day to advise, YYYY-MM-DD, or all")
	f.StringVar(&target, "target", "0.8/20s", "service-level target: FRACTION/TIME (0.8/20s: 80% answered within 20 s)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	mf.register(cmd)
	cmd.Flags().Lookup("model").Hidden = true
	return cmd
}
