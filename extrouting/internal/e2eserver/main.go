// Command e2eserver is a test-only server for e2e/extrouting.test.mjs (not
// shipped): the real server.Start (embedded NATS JetStream under -data,
// the config file's MRDs, queues, agents and partners, the Salesforce-style
// REST and CometD endpoints of package extrouting, the Agent Desk
// Socket.IO API and the /v1 API) on -listen (default 127.0.0.1:0).
//
// It prints "LISTEN <url>" on stdout once it serves, and stops (closing
// the server cleanly, so a restart on the same -data resumes the journal
// and the PSR event stream) on SIGINT, SIGTERM or when its stdin reaches
// end of file, so it never outlives the test that started it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/server"
)

func main() {
	cfgPath := flag.String("config", "", "config file (YAML, required)")
	dataDir := flag.String("data", "", "data directory (required)")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	watchStdin := flag.Bool("stdin", true, "stop when stdin reaches end of file")
	verbose := flag.Bool("v", false, "log to stderr")
	flag.Parse()
	if err := run(*cfgPath, *dataDir, *listen, *watchStdin, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "e2eserver:", err)
		os.Exit(1)
	}
}

func run(cfgPath, dataDir, listen string, watchStdin, verbose bool) error {
	if cfgPath == "" || dataDir == "" {
		return fmt.Errorf("-config and -data are required")
	}
	logger := slog.New(slog.DiscardHandler)
	if verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if watchStdin {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}
	c, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	s, err := server.Start(ctx, server.Options{Config: c, Listen: listen, DataDir: dataDir, Logger: logger})
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Printf("LISTEN %s\n", s.URL())
	return s.Wait(ctx)
}
