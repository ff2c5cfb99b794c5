package server_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/journal/natsjournal"
)

// TestCompactJournal (issue 13 item 6, retention): with
// dataAtRest.compactJournal the journal keeps only the entries after the
// last snapshot (its stream starts past entry 1), and a restart still
// recovers every conversation from the snapshot and the rest.
func TestCompactJournal(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	dir := t.TempDir()
	edit := func(c *config.Config) { c.DataAtRest.CompactJournal, c.Server.SnapshotEvery = true, 3 }
	srv, err := startWith(ctx, dir, edit)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 7 {
		st, b := call(t, "POST", srv.URL()+"/v1/conversations", "dev-admin-token", `{"queue":"chat-sales"}`)
		if st != 201 {
			t.Fatalf("create: %d %s", st, b)
		}
		ids = append(ids, string(b))
	}
	srv.Close()

	es, err := natsjournal.StartEmbedded(natsjournal.EmbeddedOptions{DataDir: filepath.Join(dir, "jetstream")})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := es.Conn()
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	st, err := js.Stream(ctx, natsjournal.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	s := st.CachedInfo().State
	nc.Close()
	es.Shutdown()
	t.Logf("journal after compaction: first %d, last %d, %d entries", s.FirstSeq, s.LastSeq, s.Msgs)
	if s.FirstSeq <= 1 || s.Msgs >= s.LastSeq {
		t.Fatalf("the journal was not compacted: first %d, last %d, %d entries", s.FirstSeq, s.LastSeq, s.Msgs)
	}

	if srv, err = startWith(ctx, dir, edit); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, b := range ids {
		var cr struct{ ID string }
		if err := json.Unmarshal([]byte(b), &cr); err != nil || cr.ID == "" {
			t.Fatalf("created: %s", b)
		}
		if st, body := call(t, "GET", srv.URL()+"/v1/conversations/"+cr.ID, "dev-admin-token", ""); st != 200 {
			t.Fatalf("conversation %s after the restart: %d %s", cr.ID, st, body)
		}
	}
}
