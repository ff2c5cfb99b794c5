package cli

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/omniroute/omniroute/erasure"
	"github.com/omniroute/omniroute/server"
)

// eraseCmd is `omniroute erase --customer ID`: deletes the customer's key
// from the data dir's keyring (package erasure), so that the customer
// fields and transcripts sealed with it read as {"erased":true} in the
// journal, the snapshots and the transcript stream alike. It runs on a
// stopped server's data dir: a running server holds the keyring and the
// command refuses (erasure.ErrInUse).
func eraseCmd() *cobra.Command {
	var f serveFlags
	var customer string
	cmd := &cobra.Command{
		Use:   "erase --customer ID",
		Short: "Erase one customer's data (delete its key) from a stopped server's data dir",
		Long: "Deletes the key of customer ID (the id, customerId, phoneNumber or email field of its customer\n" +
			"object, or conversation:<id> for a conversation whose customer has none) from the keyring under\n" +
			"the data dir. Everything sealed with it (customer objects in the journal and snapshots, transcript\n" +
			"entries) can no longer be read; the routing state replays unchanged. Stop the server first.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if customer == "" {
				return errors.New("erase: --customer is required")
			}
			c, err := f.load()
			if err != nil {
				return err
			}
			dir := f.dataDir
			if dir == "" {
				dir = c.Server.DataDir
			}
			k, err := erasure.Open(filepath.Join(dir, server.CustomerKeysFile))
			if errors.Is(err, erasure.ErrInUse) {
				return fmt.Errorf("erase: %s is in use by a running server; stop it first", dir)
			}
			if err != nil {
				return fmt.Errorf("erase: %w", err)
			}
			defer k.Close()
			found, err := k.Erase(customer)
			if err != nil {
				return fmt.Errorf("erase: %w", err)
			}
			if !found {
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "customer %q has no key in %s: nothing of it is sealed there\n", customer, dir)
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "customer %q erased: its key is deleted from %s\n", customer, dir)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "config file (YAML); default: the embedded examples/omniroute.yaml")
	fl.StringVar(&f.dataDir, "data-dir", "", "the server's data dir (default: the config's server.dataDir, ./data)")
	fl.StringVar(&customer, "customer", "", "the customer's id")
	return cmd
}
