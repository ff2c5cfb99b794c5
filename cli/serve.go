package cli

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/examples"
	"github.com/omniroute/omniroute/server"
)

type serveFlags struct {
	config, dataDir, listen, natsURL string
	tlsCert, tlsKey, publicURL       string
	demo                             bool
	cluster, nodeID                  string
	replicas                         int
	pprof                            string
}

func (f *serveFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "config file (YAML); default: the embedded examples/omniroute.yaml")
	fl.StringVar(&f.dataDir, "data-dir", "", "journal and snapshots (default: the config's server.dataDir, ./data)")
	fl.StringVar(&f.listen, "listen", "", "listen address (default: the config's server.listen, 127.0.0.1:8080)")
	fl.StringVar(&f.natsURL, "nats-url", "", "external NATS server(s), comma-separated (nats://h1:4222,nats://h2:4222); default: embedded NATS JetStream")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS (TLS 1.2+) with this PEM certificate chain (default: the config's server.tlsCertFile)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "the PEM private key of --tls-cert (default: the config's server.tlsKeyFile)")
	fl.StringVar(&f.publicURL, "public-url", "", "base URL clients reach the server at, e.g. https://cc.example.com (default: the config's server.publicUrl)")
	fl.StringVar(&f.cluster, "cluster", "", "join the cluster of this name on --nats-url's NATS JetStream cluster (default: the config's server.cluster; empty: single node)")
	fl.StringVar(&f.nodeID, "node-id", "", "this node's name in the cluster (default: host-port)")
	fl.IntVar(&f.replicas, "replicas", 0, "replicas of the streams and buckets created in cluster mode (default: 3 when NATS has 3+ servers, else 1)")
	fl.StringVar(&f.pprof, "pprof", "", "also serve net/http/pprof (CPU, heap, allocation profiles) on this loopback address, e.g. 127.0.0.1:6060 (default: off)")
	fl.BoolVar(&f.demo, "demo", false, "allow the published demo credentials of the example config on a non-loopback address")
}

func (f *serveFlags) load() (*config.Config, error) {
	if f.config == "" {
		return config.Parse(examples.Config)
	}
	return config.Load(f.config)
}

func serveCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the routing server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.load()
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			for _, w := range c.Warnings {
				log.Warn(w)
			}
			if f.pprof != "" {
				stop, err := servePprof(f.pprof)
				if err != nil {
					return err
				}
				defer stop()
			}
			s, err := server.Start(cmd.Context(), server.Options{Config: c, Listen: f.listen, DataDir: f.dataDir, NATSURL: f.natsURL, Logger: log,
				TLSCertFile: f.tlsCert, TLSKeyFile: f.tlsKey, PublicURL: f.publicURL, Demo: f.demo,
				Cluster: f.cluster, NodeID: f.nodeID, Replicas: f.replicas})
			if err != nil {
				return err
			}
			defer s.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "omniroute listening on %s\n", s.URL())
			return s.Wait(cmd.Context())
		},
	}
	f.register(cmd)
	return cmd
}

func checkConfigCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check-config FILE",
		Short: "Validate a config file and print what it declares",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := config.Load(args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, warn := range c.Warnings {
				fmt.Fprintln(w, "warning:", warn)
			}
			_, err = fmt.Fprintf(w, "%s: ok: %d MRDs, %d queues, %d agents, %d reason codes, %d admin tokens\n",
				args[0], len(c.MRDs), len(c.Queues), len(c.Agents), len(c.ReasonCodes), len(c.Auth.AdminTokens))
			return err
		},
	}
}
