// Package natsjournaltest starts the embedded JetStream server of package
// natsjournal for a test: the one home of the start, connect and clean-up
// lines the store tests (natsstore, transcript, gms, presencesync, auth,
// webui, agentdesk) share.
package natsjournaltest

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/omniroute/omniroute/journal/natsjournal"
)

// Server starts an embedded JetStream server storing in a fresh
// t.TempDir(), shut down when the test ends. It fails the test when the
// server does not start.
func Server(t testing.TB) *natsjournal.EmbeddedServer {
	t.Helper()
	srv, err := natsjournal.StartEmbedded(natsjournal.EmbeddedOptions{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// Conn opens a new connection to srv, closed when the test ends (before
// the server shuts down). It fails the test when the connection fails.
func Conn(t testing.TB, srv *natsjournal.EmbeddedServer) *nats.Conn {
	t.Helper()
	nc, err := srv.Conn()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Connect starts a Server and returns one Conn to it.
func Connect(t testing.TB) *nats.Conn {
	t.Helper()
	return Conn(t, Server(t))
}
