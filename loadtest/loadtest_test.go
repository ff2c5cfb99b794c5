package loadtest_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/loadtest"
	"github.com/omniroute/omniroute/server"
)

// TestRun drives the real server (REST, JetStream journal and transcripts
// with fsync) with a small load: every conversation's offer reaches a
// desk, no socket is closed, and the server's own figures are read.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, err := config.Load(filepath.Join("..", "examples", "omniroute.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(ctx, server.Options{Config: cfg, Listen: "127.0.0.1:0", DataDir: t.TempDir(),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rep, err := loadtest.Run(ctx, loadtest.Options{Server: srv.URL(), Agents: 40, Rate: 40, Duration: 1500 * time.Millisecond,
		ServerPID: os.Getpid(), FsyncDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	if rep.Connected != 40 || rep.Conversations != 60 || rep.Offers != 60 || rep.Lost != 0 || rep.Dropped != 0 {
		t.Fatalf("report %+v: want 40 desks, 60 conversations and offers, none lost or dropped", rep)
	}
	if rep.P50 <= 0 || rep.P99 < rep.P50 || rep.Max < rep.P99 {
		t.Fatalf("latencies p50 %v p99 %v max %v", rep.P50, rep.P99, rep.Max)
	}
	if rep.CreateP50 <= 0 || rep.CreateP99 < rep.CreateP50 || rep.CreateMax < rep.CreateP99 {
		t.Fatalf("create latencies p50 %v p99 %v max %v", rep.CreateP50, rep.CreateP99, rep.CreateMax)
	}
	if rep.RSSConnectedKiB <= 0 || rep.CPUPerConversationMs <= 0 || rep.AllocsPerConversation <= 0 || rep.AllocKiBPerConversation <= 0 {
		t.Fatalf("server figures not read: %+v", rep)
	}
	if rep.ServerOffers < 60 || rep.ServerP50 <= 0 || rep.ServerP99 < rep.ServerP50 || rep.CommandsPerEntry < 1 {
		t.Fatalf("server-side figures: %d offers, p50 %v p99 %v, %v commands per entry", rep.ServerOffers, rep.ServerP50, rep.ServerP99, rep.CommandsPerEntry)
	}
	// Every conversation is journaled and has system events in its
	// transcript: at least one stored message each per conversation
	// across the journal's batches is not guaranteed (group commit), but
	// some are, and the transcripts store one or more per conversation.
	stored := map[string]float64{}
	for _, st := range rep.Stored {
		stored[st.Stream] = st.PerConversation
	}
	// The loadtest's customers are new, each one key (the example config
	// seals customer fields): at most one keyring fsync per conversation.
	if stored["OMNIROUTE_JOURNAL"] <= 0 || stored["OMNIROUTE_TRANSCRIPTS"] < 1 || stored["customer-keys"] <= 0 || stored["customer-keys"] > 1 {
		t.Fatalf("stored messages per conversation: %+v", rep.Stored)
	}
	if rep.Fsyncs == 0 || rep.FsyncP50 <= 0 || rep.FsyncP99 < rep.FsyncP50 || rep.FsyncMax < rep.FsyncP99 {
		t.Fatalf("fsync probe: %d fsyncs, p50 %v p99 %v max %v", rep.Fsyncs, rep.FsyncP50, rep.FsyncP99, rep.FsyncMax)
	}
}
