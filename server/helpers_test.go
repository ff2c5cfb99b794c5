package server_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

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
