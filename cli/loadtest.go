package cli

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/omniroute/omniroute/loadtest"
)

func loadtestCmd() *cobra.Command {
	var (
		o       loadtest.Options
		sources string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "loadtest",
		Short: "Connect N agent desks and create conversations at R/s through the REST API; report offer latency",
		Long: `loadtest connects --agents desks over Socket.IO (websocket), makes them READY,
creates conversations through POST /v1/conversations at --rate per second for
--duration, accepts and leaves each offer, and reports offer latency
(p50/p99/max), lost offers and sockets the server closed. With --server-pid
(a local server) it also reports the server's RSS per connection, idle CPU
(--idle) and CPU per conversation. It creates the queue and agents it needs
through the REST API with --admin-token. Past about 28,000 desks, connections
are spread over 127.0.0.2, 127.0.0.3, ... (or --source-ips); raise the open
files limit (ulimit -n) of both processes above the desk count.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, s := range strings.Split(sources, ",") {
				if s = strings.TrimSpace(s); s != "" {
					ip := net.ParseIP(s)
					if ip == nil {
						return fmt.Errorf("--source-ips: %q is not an IP address", s)
					}
					o.SourceIPs = append(o.SourceIPs, ip)
				}
			}
			o.Progress = cmd.ErrOrStderr()
			rep, err := loadtest.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			fmt.Fprintf(w, "desks %d connected of %d in %.1f s\n", rep.Connected, rep.Agents, rep.ConnectSeconds)
			fmt.Fprintf(w, "conversations %d, offers %d, lost %d, sockets closed by the server %d\n", rep.Conversations, rep.Offers, rep.Lost, rep.Dropped)
			fmt.Fprintf(w, "offer latency p50 %.2f ms, p99 %.2f ms, max %.2f ms (load average %.2f at the start, %.2f at the end)\n", rep.P50, rep.P99, rep.Max, rep.Load1Start, rep.Load1End)
			if rep.CreateP50 > 0 {
				fmt.Fprintf(w, "create (POST /v1/conversations to its 201) p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", rep.CreateP50, rep.CreateP99, rep.CreateMax)
			}
			if rep.ServerOffers > 0 {
				fmt.Fprintf(w, "offer latency in the server (node arrival to socket write, %d offers): p50 %.2f ms, p99 %.2f ms\n", rep.ServerOffers, rep.ServerP50, rep.ServerP99)
			}
			if rep.CommandsPerEntry > 0 {
				fmt.Fprintf(w, "routing node: %.2f commands per journal entry (fsync)\n", rep.CommandsPerEntry)
			}
			if len(rep.Stored) > 0 {
				var total float64
				parts := make([]string, len(rep.Stored))
				for i, st := range rep.Stored {
					total += st.PerConversation
					parts[i] = fmt.Sprintf("%s %.2f", st.Stream, st.PerConversation)
				}
				fmt.Fprintf(w, "fsync'd writes per conversation: %.2f (%s)\n", total, strings.Join(parts, ", "))
			}
			if rep.Fsyncs > 0 {
				fmt.Fprintf(w, "fsync probe in %s: %d fsyncs, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", o.FsyncDir, rep.Fsyncs, rep.FsyncP50, rep.FsyncP99, rep.FsyncMax)
			}
			if rep.AllocsPerConversation > 0 {
				fmt.Fprintf(w, "server heap allocations %.0f (%.1f KiB) per conversation, %d GC cycles\n", rep.AllocsPerConversation, rep.AllocKiBPerConversation, rep.GCCycles)
			}
			if o.ServerPID > 0 {
				fmt.Fprintf(w, "server RSS %.0f KiB before, %.0f KiB connected: %.1f KiB per connection\n", rep.RSSBaseKiB, rep.RSSConnectedKiB, rep.RSSPerConnKiB)
				if o.Idle > 0 {
					fmt.Fprintf(w, "server idle CPU %.2f%% of one core; RSS after the idle pause %.0f KiB: %.1f KiB per connection\n", rep.IdleCPUPercent, rep.RSSIdleKiB, rep.RSSIdlePerConnKiB)
				}
				fmt.Fprintf(w, "server CPU %.3f ms per conversation\n", rep.CPUPerConversationMs)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Server, "server", "http://127.0.0.1:8080", "server base URL")
	fl.StringVar(&o.AdminToken, "admin-token", "dev-admin-token", "admin token (auth.adminTokens)")
	fl.IntVar(&o.Agents, "agents", 1000, "agent desks to connect")
	fl.Float64Var(&o.Rate, "rate", 50, "conversations per second")
	fl.DurationVar(&o.Duration, "duration", 30*time.Second, "how long conversations are created")
	fl.DurationVar(&o.Idle, "idle", 0, "pause with all desks connected before the load (idle CPU)")
	fl.IntVar(&o.ServerPID, "server-pid", 0, "pid of a local server: report its RSS and CPU")
	fl.StringVar(&o.Queue, "queue", "loadtest-chat", "queue to create and load")
	fl.StringVar(&o.AgentPrefix, "agent-prefix", "lt", "prefix of the agent ids created")
	fl.StringVar(&sources, "source-ips", "", "comma-separated loopback source addresses (default: 127.0.0.1, plus one per 28,000 desks)")
	fl.StringVar(&o.FsyncDir, "fsync-dir", "", "directory on the server's data disk: report its fsync latency during the load (a floor under offer latency)")
	fl.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
