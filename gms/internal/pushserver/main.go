// Command pushserver is a test-only server for e2e/gms_push.test.mjs (not
// shipped): a gms.CometPusher mounted at /genesys/cometd (and below, the
// seed 003 "_comet_url" path), plus
//
//	POST /test/push {"deviceOS","deviceID","notification":{id,message,tag}}
//	     -> 200 {"delivered": bool, "pending": bool, "error": "..."}
//	     (delivered: queued for at least one session; pending: kept for a
//	     later subscriber, gms.ErrPushPending)
//	GET  /test/connected?user=<gms_user> -> {"sessions": n}
//
// Connect timeout is -timeout (default 2s) so long-polls cycle quickly. It
// prints "LISTEN <url>" on stdout once it serves and stops on SIGINT,
// SIGTERM or end of stdin.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/omniroute/omniroute/bayeux"
	"github.com/omniroute/omniroute/gms"
	"github.com/omniroute/omniroute/internal/testserver"
)

func main() {
	var f testserver.Flags
	f.Register(flag.CommandLine)
	timeout := flag.Duration("timeout", 2*time.Second, "Bayeux connect timeout")
	os.Exit(testserver.Main("pushserver", func() error { return run(f, *timeout) }))
}

func run(f testserver.Flags, timeout time.Duration) error {
	level := slog.LevelError
	if f.Verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	pusher := gms.NewCometPusher(gms.CometOptions{Bayeux: bayeux.Options{ConnectTimeout: timeout, Logger: log}, Logger: log})
	defer pusher.Close()

	mux := http.NewServeMux()
	mux.Handle("/genesys/cometd", pusher.Handler())
	mux.Handle("/genesys/cometd/", pusher.Handler())
	mux.HandleFunc("POST /test/push", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			DeviceOS     string           `json:"deviceOS"`
			DeviceID     string           `json:"deviceID"`
			Notification gms.Notification `json:"notification"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		err := pusher.Push(r.Context(), req.DeviceOS, req.DeviceID, req.Notification)
		out := map[string]any{"delivered": err == nil, "pending": errors.Is(err, gms.ErrPushPending)}
		if err != nil {
			out["error"] = err.Error()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("GET /test/connected", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]int{"sessions": pusher.Connected(r.URL.Query().Get("user"))})
	})

	ctx, stop := testserver.Context(f.Stdin)
	defer stop()
	return testserver.Serve(ctx, mux, testserver.Options{Listen: f.Listen})
}
