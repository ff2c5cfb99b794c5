package server_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/server"
)

// startExample starts a quiet server with examples/omniroute.yaml on a
// random loopback port and data directory dir.
func startExample(t *testing.T, ctx context.Context, dir string) *server.Server {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "examples", "omniroute.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(ctx, server.Options{Config: cfg, Listen: "127.0.0.1:0", DataDir: dir,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// pastMilli waits until the wall clock reads a later Unix millisecond than
// seen. A token carries its issue time in milliseconds and a revocation
// covers its whole millisecond (auth: issued at or before), so a login
// meant to outlive a revocation that had taken effect by seen must be
// issued in a later millisecond.
func pastMilli(seen time.Time) {
	for time.Now().UnixMilli() <= seen.UnixMilli() {
		time.Sleep(50 * time.Microsecond)
	}
}
