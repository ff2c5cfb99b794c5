// Package cli holds omniroute's subcommands (cobra), so that main stays
// thin and the commands can be tested in-process.
package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/omniroute/omniroute/webui/reporthtml"
)

// Version is set at build time with -ldflags "-X .../cli.Version=v1.2.3";
// otherwise the module version from the build info is used.
var Version = ""

// Execute runs the command line args, writing to stdout and stderr.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := &cobra.Command{
		Use:           "omniroute",
		Short:         "Omnichannel routing server for contact centers",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(serveCmd(), replayCmd(), staffCmd(), simulateCmd(), demoCmd(), checkConfigCmd(), versionCmd(), clusterCmd(), loadtestCmd(), natsServerCmd(), eraseCmd())
	return root.ExecuteContext(ctx)
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "omniroute", version())
			return err
		},
	}
}

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// parseSeconds accepts a Go duration ("3m", "180s") or a plain number of
// seconds ("180").
func parseSeconds(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 {
			return 0, fmt.Errorf("negative duration %q", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: use seconds (180) or a Go duration (3m)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return d, nil
}

// writeReport writes v as a self-contained HTML report to path ("" writes
// nothing).
func writeReport(path, title string, v any) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := reporthtml.Write(f, title, v); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// defaultTrace finds the bank trace beside the checkout (../shared/data)
// or under the working directory.
func defaultTrace() string {
	for _, p := range []string{
		"../shared/data/anonymous_bank_february_1999.tsv",
		"shared/data/anonymous_bank_february_1999.tsv",
		"data/anonymous_bank_february_1999.tsv",
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "../shared/data/anonymous_bank_february_1999.tsv"
}
