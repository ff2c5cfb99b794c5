package natsjournal

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
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
	// EncryptionKey, when set, encrypts the store at rest with
	// nats-server's file-store encryption (AES-GCM; nats-server derives a
	// key per stream and message block from it). A plaintext store is
	// converted when first opened with a key. PreviousEncryptionKey is the
	// key being rotated out: the store is opened with it and re-encrypted
	// with EncryptionKey. See keyCheckFile for how a wrong or missing key is
	// refused instead of starting on an empty store.
	EncryptionKey, PreviousEncryptionKey string
}

// keyCheckFile, in DataDir, records that the store is encrypted and a
// check value of its key (HMAC-SHA256 of a fixed label under the key,
// never the key itself). nats-server skips streams it cannot decrypt, and
// the journal would then create an empty stream beside them; the check
// refuses that start instead.
const keyCheckFile = "omniroute-encryption.check"

// ErrEncryptionKey is returned by StartEmbedded when the key given does not
// match the store: no key for an encrypted store, or another key.
var ErrEncryptionKey = errors.New("natsjournal: encryption key does not match the store")

func keyCheck(key string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte("omniroute jetstream encryption key check v1"))
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil)) + "\n"
}

// checkKey compares the keys given with the store's check file. It returns
// whether the check file must be (re)written once the server has started.
func checkKey(dir, key, previous string) (write bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, keyCheckFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return key != "", nil
	case err != nil:
		return false, fmt.Errorf("natsjournal: %w", err)
	}
	got := string(b)
	switch {
	case key == "":
		return false, fmt.Errorf("%w: %s is encrypted and no key was given (dataAtRest.encryptionKeyFile)", ErrEncryptionKey, dir)
	case hmac.Equal([]byte(got), []byte(keyCheck(key))):
		return false, nil
	case previous != "" && hmac.Equal([]byte(got), []byte(keyCheck(previous))):
		return true, nil
	}
	return false, fmt.Errorf("%w: %s was encrypted with another key", ErrEncryptionKey, dir)
}

func writeKeyCheck(dir, key string) error {
	tmp := filepath.Join(dir, keyCheckFile+".tmp")
	if err := os.WriteFile(tmp, []byte(keyCheck(key)), 0o600); err != nil {
		return fmt.Errorf("natsjournal: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, keyCheckFile)); err != nil {
		return fmt.Errorf("natsjournal: %w", err)
	}
	return nil
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
	if opts.PreviousEncryptionKey != "" && opts.EncryptionKey == "" {
		return nil, errors.New("natsjournal: PreviousEncryptionKey without EncryptionKey")
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("natsjournal: %w", err)
	}
	writeCheck, err := checkKey(opts.DataDir, opts.EncryptionKey, opts.PreviousEncryptionKey)
	if err != nil {
		return nil, err
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
	if opts.EncryptionKey != "" {
		sopts.JetStreamKey = opts.EncryptionKey
		sopts.JetStreamOldKey = opts.PreviousEncryptionKey
		sopts.JetStreamCipher = server.AES
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
	if writeCheck {
		if err := writeKeyCheck(opts.DataDir, opts.EncryptionKey); err != nil {
			es.Shutdown()
			return nil, err
		}
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
// first connection attempt fails. opts are added to (and may override)
// those defaults.
func Connect(url string, opts ...nats.Option) (*nats.Conn, error) {
	nc, err := nats.Connect(url, append([]nats.Option{nats.Name("omniroute"), nats.MaxReconnects(-1)}, opts...)...)
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
