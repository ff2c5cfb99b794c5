package transcript_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/omniroute/omniroute/journal/natsjournal/natsjournaltest"
	"github.com/omniroute/omniroute/transcript"
	"github.com/omniroute/omniroute/transcript/transcripttest"
)

func TestMemory(t *testing.T) {
	transcripttest.Run(t, transcripttest.Opener{
		Open: func(t *testing.T, l transcript.Limits) transcript.Store { return transcript.NewMemory(l) },
	})
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
	nc = natsjournaltest.Connect(t)
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

// jsStore opens a JetStream store on a fresh stream of nc.
func jsStore(t *testing.T, nc *nats.Conn, stream string, l transcript.Limits) (*transcript.JetStream, jetstream.Stream) {
	t.Helper()
	s, err := transcript.OpenJetStream(context.Background(), nc, transcript.JSOptions{Stream: stream, Limits: l})
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

func streamMsgs(t *testing.T, st jetstream.Stream) uint64 {
	t.Helper()
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// The layout: one stream message per conversation and batch, whatever the
// number of records, split past MaxEntriesPerMessage or the byte budget.
func TestJetStreamOneMessagePerConversationBatch(t *testing.T) {
	nc := natsjournaltest.Connect(t)
	ctx := context.Background()
	s, st := jsStore(t, nc, "L1", transcript.Limits{})
	recs := []transcript.Record{}
	for i := range 6 {
		conv := []string{"a", "b"}[i%2]
		recs = append(recs, transcript.Record{Conversation: conv, ID: fmt.Sprint("r", i), Data: []byte(`{}`)})
	}
	entries, errs := s.AppendBatch(ctx, recs)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if n := streamMsgs(t, st); n != 2 {
		t.Fatalf("%d stream messages for 2 conversations in one batch, want 2", n)
	}
	for i := 2; i < len(entries); i++ {
		if entries[i].Seq>>transcript.EntryBits != entries[i-2].Seq>>transcript.EntryBits || entries[i].Seq <= entries[i-2].Seq {
			t.Fatalf("entries %d and %d of one conversation: seqs %d, %d", i-2, i, entries[i-2].Seq, entries[i].Seq)
		}
	}

	// More than MaxEntriesPerMessage: two messages, read back whole.
	many := make([]transcript.Record, transcript.MaxEntriesPerMessage+6)
	for i := range many {
		many[i] = transcript.Record{Conversation: "many", ID: fmt.Sprint("m", i), Data: []byte(`{}`)}
	}
	if _, errs := s.AppendBatch(ctx, many); errs[0] != nil || errs[len(errs)-1] != nil {
		t.Fatal(errs[0], errs[len(errs)-1])
	}
	if n := streamMsgs(t, st); n != 4 {
		t.Fatalf("%d stream messages after %d records of one conversation, want 4", n, len(many))
	}
	got, err := s.Read(ctx, "many", 0, 0)
	if err != nil || len(got) != len(many) || got[len(got)-1].ID != many[len(many)-1].ID {
		t.Fatalf("read %d of %d: %v", len(got), len(many), err)
	}
	// Entries of the largest size: four fit in a message.
	big := make([]transcript.Record, 5)
	for i := range big {
		body := `{"x":"` + strings.Repeat("b", transcript.DefaultMaxEntryBytes-10) + `"}`
		big[i] = transcript.Record{Conversation: "big", ID: fmt.Sprint("b", i), Data: []byte(body)}
	}
	if _, errs := s.AppendBatch(ctx, big); errs[0] != nil || errs[4] != nil {
		t.Fatal(errs)
	}
	if n := streamMsgs(t, st); n != 6 {
		t.Fatalf("%d stream messages after 5 entries of %d bytes, want 6", n, len(big[0].Data))
	}
	if got, err := s.Read(ctx, "big", 0, 0); err != nil || len(got) != 5 || string(got[4].Data) != string(big[4].Data) {
		t.Fatalf("big: %d entries, %v", len(got), err)
	}
}

// Messages of the earlier layout (one entry per message, id in a header)
// are read, keep their place in the cursor order, and count towards the
// per-conversation limit.
func TestJetStreamEarlierLayout(t *testing.T) {
	nc := natsjournaltest.Connect(t)
	ctx := context.Background()
	s, _ := jsStore(t, nc, "OLD", transcript.Limits{MaxEntriesPerConversation: 4})
	js, _ := jetstream.New(nc)
	subj := "old." + base64.RawURLEncoding.EncodeToString([]byte("conv"))
	for i, ao := range []bool{false, true} {
		m := nats.NewMsg(subj)
		m.Header.Set("Omniroute-Id", fmt.Sprint("old", i))
		if ao {
			m.Header.Set("Omniroute-Agents-Only", "1")
		}
		m.Data = []byte(fmt.Sprintf(`{"n":%d}`, i))
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	_, errs := s.AppendBatch(ctx, []transcript.Record{{Conversation: "conv", ID: "new0", Data: []byte(`{}`)},
		{Conversation: "conv", ID: "new1", Data: []byte(`{}`)}, {Conversation: "conv", ID: "new2", Data: []byte(`{}`)}})
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], transcript.ErrConversationFull) {
		t.Fatalf("2 earlier entries + 3 new, limit 4: %v", errs)
	}
	got, err := s.Read(ctx, "conv", 0, 0)
	if err != nil || len(got) != 4 {
		t.Fatalf("%+v %v", got, err)
	}
	want := []string{"old0", "old1", "new0", "new1"}
	for i, e := range got {
		if e.ID != want[i] || e.AgentsOnly != (i == 1) || (i > 0 && e.Seq <= got[i-1].Seq) {
			t.Fatalf("entry %d = %+v, want id %s", i, e, want[i])
		}
	}
	if after, err := s.Read(ctx, "conv", got[0].Seq, 0); err != nil || len(after) != 3 || after[0].ID != "old1" {
		t.Fatalf("after the first earlier entry: %+v %v", after, err)
	}
}
