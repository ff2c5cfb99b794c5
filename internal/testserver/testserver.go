// Package testserver is the one home of what the test-only component
// servers share (agentdesk/internal/benchserver,
// bayeux/internal/e2eserver, presencesync/internal/crmtestserver): a
// benchmark of one component alone, or a component suite that needs what
// the real `omniroute serve` does not have (bayeux's echo channel,
// server-side publish and forced connection drops). Every other suite
// starts the real binary (internal/nodee2e.Build, e2e/lib/server.mjs
// startOmniroute) on a config file it writes, and sets state up through
// the REST API.
//
// The protocol between a test and such a server: it listens on loopback,
// prints "LISTEN <url>" on stdout once it serves, and stops, shutting its
// HTTP server down cleanly, on SIGINT, SIGTERM or when its stdin reaches
// end of file (the test's end), so it never outlives the test that
// started it.
package testserver

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Flags are the flags every test server takes: -listen (default
// 127.0.0.1:0), -stdin (default true: stop at the end of stdin) and -v (log
// to stderr).
type Flags struct {
	Listen  string
	Stdin   bool
	Verbose bool
}

// Register adds the flags to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Listen, "listen", "127.0.0.1:0", "address to listen on")
	fs.BoolVar(&f.Stdin, "stdin", true, "stop when stdin reaches end of file")
	fs.BoolVar(&f.Verbose, "v", false, "log to stderr")
}

// Logger discards everything unless -v; with -v it logs from level up to
// stderr.
func (f *Flags) Logger(level slog.Level) *slog.Logger {
	if !f.Verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// Main is a test server's main after its flags are registered on
// flag.CommandLine: it parses the command line, calls run and returns the
// exit code for os.Exit (1, with "<name>: <err>" on stderr, when run
// fails):
//
//	func main() {
//		var f testserver.Flags
//		f.Register(flag.CommandLine)
//		os.Exit(testserver.Main("e2eserver", func() error { return run(f) }))
//	}
func Main(name string, run func() error) int {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	return 0
}

// ShutdownTimeout bounds the clean shutdown of Serve.
const ShutdownTimeout = 5 * time.Second

// Context returns a context that ends on SIGINT, SIGTERM and, when
// watchStdin, at the end of stdin; stop releases it.
func Context(watchStdin bool) (ctx context.Context, stop func()) {
	ctx, stop = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if watchStdin {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}
	return ctx, stop
}

// Options of Serve. The zero value listens on 127.0.0.1:0.
type Options struct {
	// Listen is the address (default "127.0.0.1:0").
	Listen string
	// WrapListener, when set, wraps the listener (fault injection on
	// accepted connections).
	WrapListener func(net.Listener) net.Listener
	// BeforeShutdown runs once ctx ended, before the HTTP shutdown (close
	// what holds long-polls or sockets open, so Shutdown does not wait for
	// them).
	BeforeShutdown func()
}

// Serve listens, prints "LISTEN http://<addr>", serves h until ctx ends
// (Context), then runs o.BeforeShutdown and shuts the HTTP server down
// within ShutdownTimeout. Errors: the listen failure, or the HTTP server's
// failure while serving.
func Serve(ctx context.Context, h http.Handler, o Options) error {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return err
	}
	served := ln
	if o.WrapListener != nil {
		served = o.WrapListener(ln)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(served) }()
	fmt.Printf("LISTEN http://%s\n", ln.Addr())
	select {
	case <-ctx.Done():
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
	if o.BeforeShutdown != nil {
		o.BeforeShutdown()
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	return hs.Shutdown(sctx)
}
