package cli

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/examples"
	"github.com/omniroute/omniroute/replay/trace"
	"github.com/omniroute/omniroute/server"
)

func demoCmd() *cobra.Command {
	var (
		listen, tracePath, day string
		speed                  float64
		once                   bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Serve the embedded example config and replay a real day live over Socket.IO",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := config.Parse(examples.Config)
			if err != nil {
				return err
			}
			dir, err := os.MkdirTemp("", "omniroute-demo-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			s, err := server.Start(cmd.Context(), server.Options{Config: c, Listen: listen, DataDir: dir, Logger: log})
			if err != nil {
				return err
			}
			defer s.Close()
			w := cmd.OutOrStdout()
			token := c.Auth.AdminTokens[0]
			fmt.Fprintf(w, "omniroute demo serving on %s (data in %s)\n", s.URL(), dir)
			fmt.Fprintf(w, "  metrics:     curl %s/metrics\n", s.URL())
			fmt.Fprintf(w, "  queue stats: curl -H 'Authorization: Bearer %s' %s/v1/queues/PS/stats\n", token, s.URL())
			fmt.Fprintf(w, "  agents:      curl -H 'Authorization: Bearer %s' %s/v1/agents\n", token, s.URL())
			fmt.Fprintf(w, "  API:         %s/v1/openapi.json\n", s.URL())
			fmt.Fprintf(w, "replaying %s at %gx: every agent a Socket.IO client\n", dayOrFirst(day), speed)
			calls, err := loadTrace(tracePath)
			if err != nil {
				return err
			}
			d, err := pickDay(trace.Days(calls), day)
			if err != nil {
				return err
			}
			rep, err := runLive(cmd, d, calls, speed, liveFlags{server: s.URL(), token: token}, true)
			if err != nil {
				return err
			}
			if err := rep.WriteText(w); err != nil {
				return err
			}
			if once {
				return nil
			}
			fmt.Fprintf(w, "still serving on %s; Ctrl-C to stop\n", s.URL())
			return s.Wait(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8080", "listen address")
	f.StringVar(&tracePath, "trace", defaultTrace(), "call records")
	f.StringVar(&day, "day", "1999-02-01", "day to replay")
	f.Float64Var(&speed, "speed", 1000, "times faster than real time")
	f.BoolVar(&once, "once", false, "exit after the replay instead of serving on")
	return cmd
}

func dayOrFirst(d string) string {
	if d == "" {
		return "the first day"
	}
	return d
}
