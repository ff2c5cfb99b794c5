package cli

import (
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/replay"
	"github.com/omniroute/omniroute/replay/trace"
)

type liveFlags struct {
	server, token string
	// clock is the server's node clock when this process started the
	// server (omniroute demo); nil for a server running elsewhere.
	clock *node.Clock
}

func (f *liveFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.server, "server", "http://127.0.0.1:8080", "with --speed N: the running omniroute")
	cmd.Flags().StringVar(&f.token, "admin-token", "dev-admin-token", "with --speed N: an admin token of that server")
}

// runLive replays day against a running server, N times faster than real
// time, with a progress bar on stderr when progress is set.
func runLive(cmd *cobra.Command, day trace.Day, month []trace.Call, speed float64, f liveFlags, progress bool) (*replay.DayReport, error) {
	setup, err := replay.BankDay(day, month, replay.BankOptions{})
	if err != nil {
		return nil, err
	}
	o := replay.LiveOptions{Server: f.server, AdminToken: f.token, Speed: speed, Clock: f.clock}
	if progress {
		bar := progressbar.NewOptions(len(setup.Arrivals),
			progressbar.OptionSetWriter(cmd.ErrOrStderr()),
			progressbar.OptionSetDescription("replaying "+day.Date.String()),
			progressbar.OptionShowCount(),
			progressbar.OptionThrottle(100_000_000),
			progressbar.OptionOnCompletion(func() { cmd.ErrOrStderr().Write([]byte("\n")) }))
		o.Progress = func(done, _ int) { bar.Set(done) }
	}
	run, err := replay.RunLive(cmd.Context(), setup, o)
	if err != nil {
		return nil, err
	}
	return replay.DayReportOf(day, run), nil
}
