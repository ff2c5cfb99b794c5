package natsjournal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// DefaultStartTimeout is how long StartEmbedded waits for the server when
// EmbeddedOptions.StartTimeout is zero. Start-up includes recovering every
// stream from disk, which after a crash can mean rebuilding indexes.
const DefaultStartTimeout = 30 * time.Second

// EmbeddedOptions configures StartEmbedded.
type EmbeddedOptions struct {
	// DataDir is the JetStream store directory (required). The server keeps
	// its files under DataDir/jetstream. Only one server may use it at a time.
	DataDir string
	// Listen opens a client TCP listener on 127.0.0.1:Port. By default the
	// server listens on nothing and is reachable only in-process.
	Listen bool
	// Port is the TCP port used when Listen is set; 0 picks a free one
	// (see EmbeddedServer.ClientURL).
	Port int
	// Logger receives the server's log, Notice as Info, Trace as Debug, Fatal
	// as Error. Debug messages are enabled when Logger is enabled for
	// slog.LevelDebug. Nil keeps the server silent.
	Logger *slog.Logger
	// StartTimeout bounds start-up (default DefaultStartTimeout).
	StartTimeout time.Duration
}

// EmbeddedServer is an in-process nats-server with JetStream on file
// storage, fsyncing every write (SyncAlways) so that an acknowledged entry
// survives power loss.
type EmbeddedServer struct {
	srv    *server.Server
	listen bool
}

// StartEmbedded starts a server as described by opts and waits until it
// accepts connections with JetStream enabled. Settings: file storage in
// opts.DataDir, SyncAlways (fsync before every acknowledgement),
// max_payload RequiredMaxPayload, no signal handlers. Errors: empty DataDir,
// invalid options, a store that cannot be opened, or a start-up that does
// not finish within the timeout; the server is shut down in every error case.
func StartEmbedded(opts EmbeddedOptions) (*EmbeddedServer, error) {
	if opts.DataDir == "" {
		return nil, errors.New("natsjournal: EmbeddedOptions.DataDir is required")
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("natsjournal: port %d out of range", opts.Port)
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}
	sopts := &server.Options{
		ServerName: "omniroute-embedded",
		JetStream:  true,
		StoreDir:   opts.DataDir,
		// The durability rule: with the default (sync every 2 minutes) an
		// acknowledged write can sit in the page cache and be lost.
		SyncAlways: true,
		MaxPayload: RequiredMaxPayload,
		// The embedding process owns signal handling.
		NoSigs: true,
		NoLog:  opts.Logger == nil,
	}
	if opts.Listen {
		sopts.Host = "127.0.0.1"
		sopts.Port = opts.Port
		if sopts.Port == 0 {
			// For nats-server, 0 means the default 4222; -1 means any.
			sopts.Port = server.RANDOM_PORT
		}
	} else {
		sopts.DontListen = true
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("natsjournal: embedded server: %w", err)
	}
	if opts.Logger != nil {
		debug := opts.Logger.Enabled(context.Background(), slog.LevelDebug)
		srv.SetLoggerV2(slogLogger{opts.Logger}, debug, false, false)
	}
	es := &EmbeddedServer{srv: srv, listen: opts.Listen}
	// Start returns early, without an error, when JetStream cannot start
	// (it only logs), so JetStream is checked explicitly below.
	srv.Start()
	if !srv.ReadyForConnections(timeout) {
		es.Shutdown()
		return nil, fmt.Errorf("natsjournal: embedded server not ready after %s", timeout)
	}
	if !srv.JetStreamEnabled() {
		es.Shutdown()
		return nil, errors.New("natsjournal: embedded server started without JetStream (store unusable? pass a Logger for details)")
	}
	if cfg := srv.JetStreamConfig(); cfg == nil || !cfg.SyncAlways {
		es.Shutdown()
		return nil, errors.New("natsjournal: embedded server is not running with SyncAlways")
	}
	return es, nil
}

// Conn returns a new client connection to the server through an in-process
// pipe (no TCP, works without Listen). The caller owns and closes it. It
// does not reconnect: a stopped embedded server never comes back. Errors:
// the server is shut down, or the handshake fails.
func (e *EmbeddedServer) Conn() (*nats.Conn, error) {
	nc, err := nats.Connect("", nats.InProcessServer(e.srv), nats.Name("omniroute-embedded"), nats.NoReconnect())
	if err != nil {
		return nil, fmt.Errorf("natsjournal: in-process connection: %w", err)
	}
	return nc, nil
}

// ClientURL returns the nats:// URL of the TCP listener, with the actual
// port when a random one was picked, or "" when the server does not listen.
func (e *EmbeddedServer) ClientURL() string {
	if !e.listen {
		return ""
	}
	return e.srv.ClientURL()
}

// Shutdown stops the server, closing its client connections, and returns
// once it has stopped and its files are closed. Safe to call more than once.
func (e *EmbeddedServer) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// Connect dials an external NATS server at url (comma-separated URLs
// allowed), reconnecting forever after a disconnect since a node's journal
// has no substitute. The server must run JetStream with sync_always and
// max_payload >= RequiredMaxPayload (Open checks the latter). Errors: the
// first connection attempt fails.
func Connect(url string) (*nats.Conn, error) {
	nc, err := nats.Connect(url, nats.Name("omniroute"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("natsjournal: connect %s: %w", url, err)
	}
	return nc, nil
}

// slogLogger adapts *slog.Logger to the nats-server Logger interface.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) log(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if !s.l.Enabled(ctx, level) {
		return
	}
	s.l.Log(ctx, level, fmt.Sprintf(format, v...), slog.String("component", "nats-server"))
}

func (s slogLogger) Noticef(format string, v ...any) { s.log(slog.LevelInfo, format, v) }
func (s slogLogger) Warnf(format string, v ...any)   { s.log(slog.LevelWarn, format, v) }
func (s slogLogger) Errorf(format string, v ...any)  { s.log(slog.LevelError, format, v) }
func (s slogLogger) Debugf(format string, v ...any)  { s.log(slog.LevelDebug, format, v) }
func (s slogLogger) Tracef(format string, v ...any)  { s.log(slog.LevelDebug, format, v) }

// Fatalf logs at Error and returns: the server's own loggers exit the
// process here, which an embedded server must never do. StartEmbedded
// notices the failed start (no JetStream) and shuts the server down.
func (s slogLogger) Fatalf(format string, v ...any) { s.log(slog.LevelError, format, v) }
