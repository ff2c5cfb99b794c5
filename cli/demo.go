package cli

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/examples"
	"github.com/omniroute/omniroute/internal/localcluster"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/replay"
	"github.com/omniroute/omniroute/replay/trace"
	"github.com/omniroute/omniroute/server"
)

func demoCmd() *cobra.Command {
	var (
		listen, tracePath, day string
		speed                  float64
		once                   bool
		clusterNodes           int
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
			if cmd.Flags().Changed("cluster") {
				return demoCluster(cmd, clusterNodes, c.Auth.AdminTokens[0])
			}
			calls, err := loadTrace(tracePath)
			if err != nil {
				return err
			}
			d, err := pickDay(trace.Days(calls), day)
			if err != nil {
				return err
			}
			if !(speed > 0) || speed > replay.MaxLiveSpeed {
				return fmt.Errorf("demo: --speed must be in (0, %d]", replay.MaxLiveSpeed)
			}
			// The server lives in the replayed day: its clock stands at the
			// day's midnight until the replay starts it at the first shift,
			// then runs speed times faster than real time, so history,
			// waits and service levels are the day's (node.Clock).
			clock := node.NewClock(time.Date(d.Date.Year, d.Date.Month, d.Date.Day, 0, 0, 0, 0, time.UTC), speed, nil)
			dir, err := os.MkdirTemp("", "omniroute-demo-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			s, err := server.Start(cmd.Context(), server.Options{Config: c, Listen: listen, DataDir: dir, Logger: log, Demo: true, Clock: clock})
			if err != nil {
				return err
			}
			defer s.Close()
			w := cmd.OutOrStdout()
			token := c.Auth.AdminTokens[0]
			fmt.Fprintf(w, "omniroute demo serving on %s (data in %s)\n", s.URL(), dir)
			fmt.Fprintf(w, "  wallboard:   %s/  (sign in with the token %s, or sam / sam-pass)\n", s.URL(), token)
			fmt.Fprintf(w, "  history:     %s/history\n", s.URL())
			fmt.Fprintf(w, "  agent desk:  %s/desk  (alice / alice-pass, bob / bob-pass, carol / carol-pass)\n", s.URL())
			fmt.Fprintf(w, "  chat:        %s/chat/chat-support  (a customer)\n", s.URL())
			fmt.Fprintf(w, "  metrics:     curl %s/metrics\n", s.URL())
			fmt.Fprintf(w, "  queue stats: curl -H 'Authorization: Bearer %s' %s/v1/queues/PS/stats\n", token, s.URL())
			fmt.Fprintf(w, "  agents:      curl -H 'Authorization: Bearer %s' %s/v1/agents\n", token, s.URL())
			fmt.Fprintf(w, "  API:         %s/v1/openapi.json\n", s.URL())
			fmt.Fprintf(w, "replaying %s at %gx: every agent a Socket.IO client\n", dayOrFirst(day), speed)
			rep, err := runLive(cmd, d, calls, speed, liveFlags{server: s.URL(), token: token, clock: clock}, true)
			if err != nil {
				return err
			}
			clock.SetSpeed(1) // the day is over: real pace from its last instant
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
	f.IntVar(&clusterNodes, "cluster", 0, fmt.Sprintf("instead: run a local cluster of this many NATS servers and nodes (1 to %d; 3 to see failovers)", maxDemoNodes))
	return cmd
}

// maxDemoNodes bounds demo --cluster: each node is a process with its own
// NATS server.
const maxDemoNodes = 7

// demoCluster runs `demo --cluster N`: N NATS servers (this binary's
// embedded server, hidden command nats-server) and N `serve --cluster
// demo` nodes on 127.0.0.1 (package localcluster), until Ctrl-C. A line
// "k" on stdin kills the leader.
func demoCluster(cmd *cobra.Command, nodes int, token string) error {
	if nodes < 1 || nodes > maxDemoNodes {
		return fmt.Errorf("demo: --cluster must be 1 to %d", maxDemoNodes)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	dir, err := os.MkdirTemp("", "omniroute-demo-cluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "omniroute demo: a local cluster of %d NATS servers and %d nodes (data and logs in %s)\n", nodes, nodes, dir)
	return localcluster.Run(cmd.Context(), localcluster.Options{Nodes: nodes, NATSCommand: []string{exe, "nats-server"},
		OmnirouteCommand: []string{exe}, Dir: dir, Out: w, Commands: cmd.InOrStdin(), AdminToken: token})
}

func dayOrFirst(d string) string {
	if d == "" {
		return "the first day"
	}
	return d
}
