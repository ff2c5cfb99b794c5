package cli

import (
	"errors"
	"fmt"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/spf13/cobra"
)

// natsServerCmd runs the NATS server omniroute embeds as a process of its
// own, from a nats-server configuration file: the servers of `omniroute
// demo --cluster`, so that a local cluster needs no other binary. Hidden:
// production clusters run the nats-server release of their choice.
func natsServerCmd() *cobra.Command {
	var conf string
	cmd := &cobra.Command{
		Use:    "nats-server -c FILE",
		Short:  "Run the embedded NATS server from a nats-server config file",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if conf == "" {
				return errors.New("nats-server: -c FILE is required")
			}
			opts, err := natsserver.ProcessConfigFile(conf)
			if err != nil {
				return fmt.Errorf("nats-server: %w", err)
			}
			opts.NoSigs = true // the command's context carries SIGINT and SIGTERM
			s, err := natsserver.NewServer(opts)
			if err != nil {
				return fmt.Errorf("nats-server: %w", err)
			}
			s.ConfigureLogger()
			s.Start()
			if !s.ReadyForConnections(time.Minute) {
				s.Shutdown()
				return errors.New("nats-server: not ready for connections within a minute")
			}
			<-cmd.Context().Done()
			s.Shutdown()
			s.WaitForShutdown()
			return nil
		},
	}
	cmd.Flags().StringVarP(&conf, "config", "c", "", "nats-server configuration file")
	return cmd
}
