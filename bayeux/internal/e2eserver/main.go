// Command e2eserver is a test-only server for e2e/bayeux.test.mjs (not
// shipped): a bayeux.Server mounted at /cometd (and below), plus a test
// admin API:
//
//	POST /test/publish   {"channel","data"} -> 200 {"delivered": n}
//	POST /test/drop-next {"match"}          -> 204: the next write on any
//	     connection whose bytes contain match closes that connection
//	     instead, so the reply carrying it is lost (a forced reconnect in
//	     the middle of a delivery, for the ack extension test)
//	GET  /test/stats -> {"clients","websocketUpgrades","drops"}
//
// Handshakes are allowed without credentials except that a "gms_user"
// header, when present, must not be "bad" (to exercise refusals); clients
// may publish to /echo/** only. Connect timeout is -timeout (default 2s) so
// long-polls cycle quickly. It prints "LISTEN <url>" on stdout once it
// serves and stops on SIGINT, SIGTERM or end of stdin.
//
// It is the one component server the Node suites still use: the real
// `omniroute serve` mounts Bayeux only under gms (/genesys/cometd, channel
// /_genesys, no client publish) and extrouting (/cometd/{version}, partner
// credentials, PushTopic channels), and has no echo channel, no publish of
// arbitrary data to a channel, and no way to cut a connection in the middle
// of a delivery (the ack extension test), nor should it. The suites of
// those two mounts run on the real server (e2e/gms_push.test.mjs,
// e2e/extrouting.test.mjs).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omniroute/omniroute/bayeux"
	"github.com/omniroute/omniroute/internal/testserver"
)

func main() {
	var f testserver.Flags
	f.Register(flag.CommandLine)
	timeout := flag.Duration("timeout", 2*time.Second, "Bayeux connect timeout")
	os.Exit(testserver.Main("e2eserver", func() error { return run(f, *timeout) }))
}

// dropper closes the first connection that writes bytes containing match.
type dropper struct {
	mu    sync.Mutex
	match []byte
	drops atomic.Int64
}

func (d *dropper) arm(match string) {
	d.mu.Lock()
	d.match = []byte(match)
	d.mu.Unlock()
}

// hit reports whether b should be dropped, disarming the dropper.
func (d *dropper) hit(b []byte) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.match) == 0 || !bytes.Contains(b, d.match) {
		return false
	}
	d.match = nil
	d.drops.Add(1)
	return true
}

type dropConn struct {
	net.Conn
	d *dropper
}

func (c *dropConn) Write(b []byte) (int, error) {
	if c.d.hit(b) {
		_ = c.Conn.Close()
		return 0, errors.New("e2eserver: connection dropped on purpose")
	}
	return c.Conn.Write(b)
}

type dropListener struct {
	net.Listener
	d *dropper
}

func (l *dropListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &dropConn{Conn: c, d: l.d}, nil
}

func run(f testserver.Flags, timeout time.Duration) error {
	logger := f.Logger(slog.LevelDebug)
	ctx, stop := testserver.Context(f.Stdin)
	defer stop()

	srv := bayeux.NewServer(bayeux.Options{
		Logger:         logger,
		ConnectTimeout: timeout,
		Authorizer: bayeux.AuthorizerFuncs{
			HandshakeFunc: func(r *http.Request, m *bayeux.Message) (any, error) {
				if r.Header.Get("gms_user") == "bad" {
					return nil, &bayeux.Error{Code: 401, Message: "Unknown gms_user"}
				}
				return r.Header.Get("gms_user"), nil
			},
			PublishFunc: func(c *bayeux.Client, m *bayeux.Message) error {
				if strings.HasPrefix(m.Channel, "/echo/") {
					return nil
				}
				return &bayeux.Error{Code: 403, Message: "Publish denied"}
			},
		},
	})
	defer srv.Close()

	var upgrades atomic.Int64
	d := &dropper{}
	mux := http.NewServeMux()
	cometd := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			upgrades.Add(1)
		}
		srv.Handler().ServeHTTP(w, r)
	})
	mux.Handle("/cometd", cometd)
	mux.Handle("/cometd/", cometd)
	mux.HandleFunc("POST /test/publish", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Channel string          `json:"channel"`
			Data    json.RawMessage `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n, err := srv.Publish(in.Channel, in.Data)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, map[string]int{"delivered": n})
	})
	mux.HandleFunc("POST /test/drop-next", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Match string `json:"match"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Match == "" {
			http.Error(w, "want {\"match\": \"...\"}", http.StatusBadRequest)
			return
		}
		d.arm(in.Match)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /test/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]int64{
			"clients":           int64(srv.ClientCount()),
			"websocketUpgrades": upgrades.Load(),
			"drops":             d.drops.Load(),
		})
	})

	return testserver.Serve(ctx, mux, testserver.Options{Listen: f.Listen,
		WrapListener: func(ln net.Listener) net.Listener { return &dropListener{Listener: ln, d: d} },
		// Answers held long-polls so the shutdown does not wait for them.
		BeforeShutdown: srv.Close})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
