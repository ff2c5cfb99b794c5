// Command benchserver is the test-only server side of
// BenchmarkCIMFanoutServer (agentdesk/cim_server_bench_test.go; not
// shipped): the agentdesk fixture plus -agents agents "c0000".. each the
// PRIMARY of its own ACTIVE chat "cim-c0000".., NOT_READY afterwards (no
// more offers), with tokens "token-<id>"; the transcript is a
// transcript.JetStream store on an embedded NATS server (file storage) like
// BenchmarkCIMFanout's, unless -memory. Socket.IO is at /socket.io/,
// net/http/pprof at /debug/pprof/ (heap profiles of the server alone), and
//
//	POST /gc   runs runtime.GC and debug.FreeOSMemory (so VmRSS reflects
//	           live memory), then answers 200 {"heapInuse","heapAlloc",
//	           "stackInuse","sys","goroutines"} (runtime.MemStats).
//
// It prints "LISTEN <url>" once it serves, and stops on SIGINT, SIGTERM or
// when stdin reaches end of file.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/omniroute/omniroute/agentdesk"
	"github.com/omniroute/omniroute/agentdesk/internal/fixture"
	"github.com/omniroute/omniroute/conversation"
	"github.com/omniroute/omniroute/internal/testserver"
	"github.com/omniroute/omniroute/journal/natsjournal"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
	"github.com/omniroute/omniroute/transcript"
)

func main() {
	agents := flag.Int("agents", 5000, "agents, each with one ACTIVE chat")
	memory := flag.Bool("memory", false, "in-memory transcript store instead of JetStream")
	os.Exit(testserver.Main("benchserver", func() error { return run(*agents, *memory) }))
}

func run(agents int, memory bool) error {
	ctx, stop := testserver.Context(true)
	defer stop()

	dir, err := os.MkdirTemp("", "omniroute-benchserver-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var store transcript.Store = transcript.NewMemory(transcript.Limits{})
	if !memory {
		ns, err := natsjournal.StartEmbedded(natsjournal.EmbeddedOptions{DataDir: dir})
		if err != nil {
			return err
		}
		defer ns.Shutdown()
		nc, err := ns.Conn()
		if err != nil {
			return err
		}
		defer nc.Close()
		if store, err = transcript.OpenJetStream(ctx, nc, transcript.JSOptions{}); err != nil {
			return err
		}
	}
	log := transcript.NewLog(store)
	defer log.Close()
	n, err := fixture.Open(ctx)
	if err != nil {
		return err
	}
	defer n.Close()
	if err := load(ctx, n, agents); err != nil {
		return err
	}
	conv, err := conversation.New(n, conversation.Options{Logger: slog.New(slog.DiscardHandler), Transcripts: log})
	if err != nil {
		return err
	}
	defer conv.Close()
	desk, err := agentdesk.New(n, fixture.Verify, agentdesk.Options{Logger: slog.New(slog.DiscardHandler),
		Conversations: conv, MaxEventsPerSecond: -1})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(desk.Path()+"/", desk.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("POST /gc", func(w http.ResponseWriter, _ *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]uint64{"heapInuse": ms.HeapInuse, "heapAlloc": ms.HeapAlloc,
			"stackInuse": ms.StackInuse, "sys": ms.Sys, "goroutines": uint64(runtime.NumGoroutine())})
	})
	return testserver.Serve(ctx, mux, testserver.Options{BeforeShutdown: desk.Close})
}

// load gives each of agents agents its own ACTIVE chat (as
// setupCIMBench does).
func load(ctx context.Context, n *node.Node, agents int) error {
	for i := range agents {
		id := fmt.Sprintf("c%04d", i)
		conv := "cim-" + id
		for _, cmd := range []routing.Command{
			routing.UpsertAgent{Agent: routing.Agent{ID: id, Name: "Bench " + id}},
			routing.SetAgentState{Agent: id, State: routing.AgentReady},
			routing.CreateConversation{ID: conv, RequestID: "req-" + conv, Queue: "chat"},
		} {
			if _, err := n.Submit(ctx, cmd); err != nil {
				return err
			}
		}
		var task string
		_ = n.View(ctx, func(st routing.View) {
			if ts, _ := st.Tasks(id); len(ts) > 0 {
				task = ts[0].ID
			}
		})
		if _, err := n.Submit(ctx, routing.AcceptTask{Task: task, Agent: id}); err != nil {
			return fmt.Errorf("accept %s: %w", task, err)
		}
		if _, err := n.Submit(ctx, routing.SetAgentState{Agent: id, State: routing.AgentNotReady}); err != nil {
			return err
		}
	}
	return nil
}
