package transcript_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/omniroute/omniroute/journal/natsjournal"
	"github.com/omniroute/omniroute/transcript"
	"github.com/omniroute/omniroute/transcript/transcripttest"
)

func TestMemory(t *testing.T) {
	transcripttest.Run(t, transcripttest.Opener{
		Open: func(t *testing.T, l transcript.Limits) transcript.Store { return transcript.NewMemory(l) },
	})
}

// embedded starts an in-process JetStream server (natsjournal.StartEmbedded)
// for the test and returns a connection to it.
func embedded(t *testing.T) *nats.Conn {
	t.Helper()
	srv, err := natsjournal.StartEmbedded(natsjournal.EmbeddedOptions{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := srv.Conn()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func TestJetStream(t *testing.T) {
	n := 0
	var nc *nats.Conn
	var stream string
	open := func(t *testing.T, l transcript.Limits) transcript.Store {
		n++
		stream = fmt.Sprintf("T%d", n)
		s, err := transcript.OpenJetStream(context.Background(), nc, transcript.JSOptions{Stream: stream, Limits: l})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	nc = embedded(t)
	transcripttest.Run(t, transcripttest.Opener{
		Open: open,
		Reopen: func(t *testing.T, l transcript.Limits) transcript.Store {
			s, err := transcript.OpenJetStream(context.Background(), nc, transcript.JSOptions{Stream: stream, Limits: l})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	})
}

func TestLogWatchAndContains(t *testing.T) {
	l := transcript.NewLog(transcript.NewMemory(transcript.Limits{}))
	defer l.Close()
	ctx := context.Background()
	all, cancelAll := l.Watch("", 0)
	defer cancelAll()
	one, cancelOne := l.Watch("a", 0)
	defer cancelOne()
	if _, err := l.Append(ctx, transcript.Record{Conversation: "a", ID: "m1", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, transcript.Record{Conversation: "b", ID: "m2", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if e := <-all; e.ID != "m1" {
		t.Fatal(e)
	}
	if e := <-all; e.ID != "m2" {
		t.Fatal(e)
	}
	if e := <-one; e.ID != "m1" {
		t.Fatal(e)
	}
	select {
	case e := <-one:
		t.Fatalf("watcher of a got %+v", e)
	case <-time.After(20 * time.Millisecond):
	}
	if ok, err := l.Contains(ctx, "a", "m1"); !ok || err != nil {
		t.Fatal("m1 not found", err)
	}
	if ok, _ := l.Contains(ctx, "a", "m2"); ok {
		t.Fatal("m2 found in a")
	}
	// The index follows later appends.
	if _, err := l.Append(ctx, transcript.Record{Conversation: "a", ID: "m3", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := l.Contains(ctx, "a", "m3"); !ok {
		t.Fatal("m3 not indexed")
	}
	// A failed append notifies nobody.
	if _, err := l.Append(ctx, transcript.Record{Conversation: "a", ID: "", Data: []byte(`{}`)}); !errors.Is(err, transcript.ErrInvalid) {
		t.Fatal(err)
	}
}

func TestLogSlowWatcherCutOff(t *testing.T) {
	l := transcript.NewLog(transcript.NewMemory(transcript.Limits{}))
	defer l.Close()
	ch, cancel := l.Watch("", 1)
	defer cancel()
	for i := range 3 {
		if _, err := l.Append(context.Background(), transcript.Record{Conversation: "a", ID: fmt.Sprint(i), Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	<-ch
	if _, ok := <-ch; ok {
		t.Fatal("slow watcher not cut off")
	}
}
