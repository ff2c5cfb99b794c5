package cli

import (
	"fmt"

	"github.com/omniroute/omniroute/replay"
	"github.com/omniroute/omniroute/replay/whatif"
	"github.com/spf13/cobra"
)

func simulateCmd() *cobra.Command {
	var (
		o             replay.SimOptions
		aht, patience string
		asJSON        bool
		whatIf        string
		reportPath    string
	)
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Poisson arrivals, exponential service (and patience) through the engine, beside Erlang C or A",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.AHT, err = parseSeconds(aht); err != nil {
				return fmt.Errorf("--aht: %w", err)
			}
			if o.Patience, err = parseSeconds(patience); err != nil {
				return fmt.Errorf("--patience: %w", err)
			}
			if whatIf != "" {
				sc, err := whatif.Load(whatIf)
				if err != nil {
					return err
				}
				o.Adjust = func(s *replay.Setup) error { return sc.Apply("", s) }
			}
			rep, err := replay.Simulate(o)
			if err != nil {
				return err
			}
			title := fmt.Sprintf("omniroute simulate: %d agents, %.0f arrivals/h, AHT %s, patience %s", o.Agents, o.ArrivalsPerHour, o.AHT, o.Patience)
			if err := writeReport(reportPath, title, struct {
				Options replay.SimOptions `json:"options"`
				*replay.SimReport
			}{o, rep}); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%d agents, %.0f arrivals/h, AHT %s, patience %s, %.0f h, seed %d: %d calls (%d measured)\n",
				o.Agents, o.ArrivalsPerHour, o.AHT, o.Patience, o.Hours, o.Seed, rep.Calls, rep.Measured)
			fmt.Fprintf(w, "%-18s %22s %12s\n", "", "engine (± std err)", "Erlang "+rep.Erlang.Model)
			fmt.Fprintf(w, "%-18s %12.4f ± %-7.4f %12.4f\n", "P(wait)", rep.PWait.Value, rep.PWait.StdErr, rep.Erlang.PWait)
			fmt.Fprintf(w, "%-18s %12.3f ± %-7.3f %12.3f\n", "ASA (s)", rep.ASA.Value, rep.ASA.StdErr, rep.Erlang.ASASeconds)
			fmt.Fprintf(w, "%-18s %12.4f ± %-7.4f %12.4f\n", "service level 20s", rep.ServiceLvl.Value, rep.ServiceLvl.StdErr, rep.Erlang.ServiceLevel20s)
			fmt.Fprintf(w, "%-18s %12.4f ± %-7.4f %12.4f\n", "abandon rate", rep.AbandonRate.Value, rep.AbandonRate.StdErr, rep.Erlang.AbandonRate)
			_, err = fmt.Fprintf(w, "%-18s %12.4f %22.4f\n", "occupancy", rep.Occupancy, rep.Erlang.Occupancy)
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Agents, "agents", 50, "number of identical agents")
	f.Float64Var(&o.ArrivalsPerHour, "arrivals-per-hour", 900, "Poisson arrival rate per hour")
	f.StringVar(&aht, "aht", "180s", "mean handle time (seconds or Go duration)")
	f.StringVar(&patience, "patience", "", "mean patience (seconds or Go duration); empty: no abandonment (Erlang C)")
	f.Float64Var(&o.Hours, "hours", 100, "simulated hours of arrivals")
	f.Uint64Var(&o.Seed, "seed", 1, "random seed")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	f.StringVar(&whatIf, "what-if", "", "a what-if scenario (YAML, as omniroute replay --what-if) for the simulated queue, id q: its policies (strategy, steps, priorityAgingSeconds...), staffing, priorities")
	f.StringVar(&reportPath, "report", "", "also write the report as a self-contained HTML page")
	return cmd
}
