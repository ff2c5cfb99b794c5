package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/omniroute/omniroute/cluster"
	"github.com/omniroute/omniroute/journal/natsjournal"
)

func clusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Inspect a cluster of omniroute nodes",
	}
	var natsURL, name string
	var asJSON bool
	status := &cobra.Command{
		Use:   "status",
		Short: "Print the cluster's members: role, term, last entry applied, lag, URL",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if natsURL == "" || name == "" {
				return fmt.Errorf("cluster status needs --nats-url and --cluster")
			}
			nc, err := natsjournal.Connect(natsURL)
			if err != nil {
				return err
			}
			defer nc.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			members, lease, err := cluster.Members(ctx, nc, name)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"cluster": name, "lease": lease, "members": members})
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			leader := lease.Node
			if leader == "" {
				leader = "(none: election under way)"
			}
			fmt.Fprintf(w, "cluster %s, leader %s, term %d\n", name, leader, lease.Term)
			fmt.Fprintln(w, "NODE\tROLE\tTERM\tLAST SEQ\tLAG\tSEEN\tURL")
			for _, m := range members {
				fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%s ago\t%s\n", m.Node, m.Role, m.Term, m.LastSeq, m.LagEntries,
					time.Since(m.Updated).Round(100*time.Millisecond), m.URL)
			}
			return w.Flush()
		},
	}
	status.Flags().StringVar(&natsURL, "nats-url", "", "the cluster's NATS servers, comma-separated")
	status.Flags().StringVar(&name, "cluster", "", "cluster name")
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(status)
	return cmd
}
