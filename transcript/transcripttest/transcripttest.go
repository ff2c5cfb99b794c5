// Package transcripttest is the acceptance suite every transcript.Store
// must pass (the memory and the JetStream store run it).
package transcripttest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroute/omniroute/transcript"
)

// Opener opens a fresh, empty store with limits l. Reopen, when not nil,
// opens a second store on the same durable data as the last store Opener
// returned (the memory store has none: nil), to prove appends survive.
type Opener struct {
	Open   func(t *testing.T, l transcript.Limits) transcript.Store
	Reopen func(t *testing.T, l transcript.Limits) transcript.Store
}

func rec(conv, id, body string) transcript.Record {
	return transcript.Record{Conversation: conv, ID: id, Data: []byte(`{"id":"` + id + `","body":` + body + `}`)}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// Run runs the suite.
func Run(t *testing.T, o Opener) {
	small := transcript.Limits{MaxEntryBytes: 256, MaxEntriesPerConversation: 5}

	t.Run("AppendReadOrder", func(t *testing.T) {
		s := o.Open(t, transcript.Limits{})
		c := ctx(t)
		var seqs []uint64
		for i := range 20 {
			conv := "c1"
			if i%2 == 1 {
				conv = "c.2 *>" // ids that are not subject tokens
			}
			e, err := s.Append(c, rec(conv, fmt.Sprint("m", i), `"x"`))
			if err != nil {
				t.Fatal(err)
			}
			if e.Seq == 0 || (len(seqs) > 0 && e.Seq <= seqs[len(seqs)-1]) {
				t.Fatalf("seq %d not increasing after %v", e.Seq, seqs)
			}
			seqs = append(seqs, e.Seq)
		}
		got, err := s.Read(c, "c1", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 10 {
			t.Fatalf("c1 has %d entries, want 10", len(got))
		}
		for i, e := range got {
			if e.ID != fmt.Sprint("m", 2*i) || e.Seq != seqs[2*i] || e.Conversation != "c1" || e.Time.IsZero() {
				t.Fatalf("entry %d = %+v", i, e)
			}
			if want := `{"id":"m` + fmt.Sprint(2*i) + `","body":"x"}`; string(e.Data) != want {
				t.Fatalf("data %s, want %s", e.Data, want)
			}
		}
		// Resume cursor and limit.
		after, err := s.Read(c, "c1", seqs[10], 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != 3 || after[0].ID != "m12" || after[2].ID != "m16" {
			t.Fatalf("after seq %d limit 3: %+v", seqs[10], after)
		}
		if all, _ := s.Read(c, "c1", seqs[len(seqs)-1], 0); len(all) != 0 {
			t.Fatalf("after the last: %d entries", len(all))
		}
		if none, err := s.Read(c, "unknown", 0, 0); err != nil || len(none) != 0 {
			t.Fatalf("unknown conversation: %v %v", none, err)
		}
	})

	t.Run("AgentsOnlyKept", func(t *testing.T) {
		s := o.Open(t, transcript.Limits{})
		r := rec("w", "w1", `"psst"`)
		r.AgentsOnly = true
		if _, err := s.Append(ctx(t), r); err != nil {
			t.Fatal(err)
		}
		got, err := s.Read(ctx(t), "w", 0, 0)
		if err != nil || len(got) != 1 || !got[0].AgentsOnly {
			t.Fatalf("%+v %v", got, err)
		}
	})

	t.Run("Refusals", func(t *testing.T) {
		s := o.Open(t, small)
		c := ctx(t)
		for _, tc := range []struct {
			name string
			r    transcript.Record
			want error
		}{
			{"empty conversation", rec("", "x", "1"), transcript.ErrInvalid},
			{"long conversation", rec(strings.Repeat("c", 129), "x", "1"), transcript.ErrInvalid},
			{"empty id", rec("c", "", "1"), transcript.ErrInvalid},
			{"not an object", transcript.Record{Conversation: "c", ID: "x", Data: []byte(`[1]`)}, transcript.ErrInvalid},
			{"bad JSON", transcript.Record{Conversation: "c", ID: "x", Data: []byte(`{"a":`)}, transcript.ErrInvalid},
			{"too large", rec("c", "x", `"`+strings.Repeat("a", 300)+`"`), transcript.ErrTooLarge},
		} {
			if _, err := s.Append(c, tc.r); !errors.Is(err, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
		}
		if got, _ := s.Read(c, "c", 0, 0); len(got) != 0 {
			t.Fatalf("refused appends stored %d entries", len(got))
		}
	})

	t.Run("ConversationFull", func(t *testing.T) {
		s := o.Open(t, small)
		c := ctx(t)
		for i := range 5 {
			if _, err := s.Append(c, rec("full", fmt.Sprint(i), "1")); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Append(c, rec("full", "6", "1")); !errors.Is(err, transcript.ErrConversationFull) {
			t.Fatalf("6th append: %v", err)
		}
		if _, err := s.Append(c, rec("other", "1", "1")); err != nil {
			t.Fatalf("another conversation: %v", err)
		}
		if got, _ := s.Read(c, "full", 0, 0); len(got) != 5 {
			t.Fatalf("full has %d entries", len(got))
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		s := o.Open(t, transcript.Limits{})
		c := ctx(t)
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for w := range 4 {
			wg.Go(func() {
				for i := range 25 {
					if _, err := s.Append(c, rec(fmt.Sprint("k", i%3), fmt.Sprint(w, "-", i), "1")); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		total := 0
		for k := range 3 {
			got, err := s.Read(c, fmt.Sprint("k", k), 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i < len(got); i++ {
				if got[i].Seq <= got[i-1].Seq {
					t.Fatal("entries out of order")
				}
			}
			total += len(got)
		}
		if total != 100 {
			t.Fatalf("%d entries, want 100", total)
		}
	})

	t.Run("Durable", func(t *testing.T) {
		if o.Reopen == nil {
			t.Skip("store keeps nothing across reopen")
		}
		s := o.Open(t, transcript.Limits{})
		e, err := s.Append(ctx(t), rec("d", "d1", `"kept"`))
		if err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
		s2 := o.Reopen(t, transcript.Limits{})
		got, err := s2.Read(ctx(t), "d", 0, 0)
		if err != nil || len(got) != 1 || got[0].Seq != e.Seq || got[0].ID != "d1" {
			t.Fatalf("after reopen: %+v %v", got, err)
		}
	})

	t.Run("LogTail", func(t *testing.T) {
		s := o.Open(t, transcript.Limits{})
		c := ctx(t)
		// Room for about three entries: older ones fall out of memory.
		l := transcript.NewLogOptions(s, transcript.LogOptions{TailBytes: 100})
		l.Begin("t")
		var seqs []uint64
		for i := range 6 {
			e, err := l.Append(c, rec("t", fmt.Sprint("t", i), `"x"`))
			if err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, e.Seq)
			if _, err := l.Append(c, rec("other", fmt.Sprint("o", i), `"y"`)); err != nil {
				t.Fatal(err)
			}
		}
		same := func(what string, after uint64, limit int) {
			t.Helper()
			want, err := s.Read(c, "t", after, limit)
			if err != nil {
				t.Fatal(err)
			}
			got, err := l.Read(c, "t", after, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s: log read %d entries, store %d", what, len(got), len(want))
			}
			for i := range got {
				if got[i].Seq != want[i].Seq || got[i].ID != want[i].ID || string(got[i].Data) != string(want[i].Data) {
					t.Fatalf("%s: entry %d = %+v, store has %+v", what, i, got[i], want[i])
				}
			}
		}
		same("whole, past the tail", 0, 0)
		same("in the tail", seqs[3], 0)
		same("in the tail, limit", seqs[3], 1)
		same("before the tail", seqs[0], 2)
		same("after the last", seqs[5], 0)

		// A new conversation with Begin is whole in memory: it still
		// answers once the store is closed; an uncovered read does not.
		s2 := o.Open(t, transcript.Limits{})
		l2 := transcript.NewLog(s2)
		l2.Begin("n")
		for i := range 3 {
			if _, err := l2.Append(c, rec("n", fmt.Sprint("n", i), `"z"`)); err != nil {
				t.Fatal(err)
			}
		}
		// Appended without Begin: covered from its first entry on only.
		first, err := l2.Append(c, rec("u", "u0", `"z"`))
		if err != nil {
			t.Fatal(err)
		}
		_ = s2.Close()
		if got, err := l2.Read(c, "n", 0, 0); err != nil || len(got) != 3 || got[0].ID != "n0" || got[2].ID != "n2" {
			t.Fatalf("from memory after the store closed: %+v %v", got, err)
		}
		if got, err := l2.Read(c, "u", first.Seq-1, 0); err != nil || len(got) != 1 {
			t.Fatalf("u from its first entry: %+v %v", got, err)
		}
		if _, err := l2.Read(c, "u", 0, 0); !errors.Is(err, transcript.ErrClosed) {
			t.Fatalf("u from the start went to the store: %v, want ErrClosed", err)
		}
		l2.Forget("n")
		if _, err := l2.Read(c, "n", 0, 0); !errors.Is(err, transcript.ErrClosed) {
			t.Fatalf("after Forget: %v, want ErrClosed", err)
		}
	})

	t.Run("LogTailAfterRestart", func(t *testing.T) {
		if o.Reopen == nil {
			t.Skip("store keeps nothing across reopen")
		}
		s := o.Open(t, transcript.Limits{})
		c := ctx(t)
		l := transcript.NewLog(s)
		l.Begin("r")
		if _, err := l.Append(c, rec("r", "r0", `"before"`)); err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
		// A new Log knows nothing: an append alone does not make its tail
		// whole, the first full read comes from the store and fills it.
		l2 := transcript.NewLog(o.Reopen(t, transcript.Limits{}))
		if _, err := l2.Append(c, rec("r", "r1", `"after"`)); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			got, err := l2.Read(c, "r", 0, 0)
			if err != nil || len(got) != 2 || got[0].ID != "r0" || got[1].ID != "r1" {
				t.Fatalf("after restart: %+v %v", got, err)
			}
		}
		if _, err := l2.Append(c, rec("r", "r2", `"more"`)); err != nil {
			t.Fatal(err)
		}
		_ = l2.Store().Close()
		if got, err := l2.Read(c, "r", 0, 0); err != nil || len(got) != 3 || got[2].ID != "r2" {
			t.Fatalf("filled tail from memory: %+v %v", got, err)
		}
	})

	t.Run("LogAppendBatch", func(t *testing.T) {
		s := o.Open(t, small)
		c := ctx(t)
		if _, ok := s.(transcript.BatchStore); !ok {
			t.Fatal("the store is not a BatchStore")
		}
		l := transcript.NewLog(s)
		live, cancel := l.Watch("", 0)
		defer cancel()
		recs := []transcript.Record{rec("b1", "x0", "1"), rec("b2", "y0", "1"), rec("b1", "", "1"),
			rec("b1", "x1", "1"), rec("b2", "y1", "1")}
		entries, errs := l.AppendBatch(c, recs)
		if !errors.Is(errs[2], transcript.ErrInvalid) {
			t.Fatalf("record without id: %v, want ErrInvalid", errs[2])
		}
		last := map[string]uint64{} // Seq rises per conversation
		for i, e := range entries {
			if i == 2 {
				continue
			}
			if errs[i] != nil || e.Seq <= last[e.Conversation] || e.ID != recs[i].ID {
				t.Fatalf("entry %d = %+v %v after seq %d", i, e, errs[i], last[e.Conversation])
			}
			last[e.Conversation] = e.Seq
			if got := <-live; got.Seq != e.Seq {
				t.Fatalf("watcher got seq %d, want %d (batch order)", got.Seq, e.Seq)
			}
		}
		if got, _ := l.Read(c, "b1", 0, 0); len(got) != 2 || got[0].ID != "x0" || got[1].ID != "x1" {
			t.Fatalf("b1 = %+v", got)
		}
		// Past the limit of 5 per conversation only the records over it fail.
		more := []transcript.Record{rec("b1", "x2", "1"), rec("b1", "x3", "1"), rec("b1", "x4", "1"), rec("b1", "x5", "1")}
		_, errs = l.AppendBatch(c, more)
		if errs[0] != nil || errs[1] != nil || errs[2] != nil || !errors.Is(errs[3], transcript.ErrConversationFull) {
			t.Fatalf("over the limit: %v", errs)
		}
	})

	t.Run("BatchCursor", func(t *testing.T) {
		// Several records of one conversation in one batch (one stream
		// message in JetStream): a cursor inside the batch resumes after
		// that entry, and a limit cuts inside it.
		s := o.Open(t, transcript.Limits{})
		c := ctx(t)
		l := transcript.NewLogOptions(s, transcript.LogOptions{TailBytes: -1}) // every read goes to the store
		first, errs := l.AppendBatch(c, []transcript.Record{rec("bc", "a0", "1"), rec("bc", "a1", "1"), rec("bc", "a2", "1")})
		second, errs2 := l.AppendBatch(c, []transcript.Record{rec("bc", "b0", "1"), rec("bc", "b1", "1")})
		for _, err := range append(errs, errs2...) {
			if err != nil {
				t.Fatal(err)
			}
		}
		all := append(first, second...)
		for i := 1; i < len(all); i++ {
			if all[i].Seq <= all[i-1].Seq {
				t.Fatalf("seqs not increasing: %d then %d", all[i-1].Seq, all[i].Seq)
			}
		}
		ids := func(es []transcript.Entry) string {
			var b strings.Builder
			for _, e := range es {
				b.WriteString(e.ID + " ")
			}
			return b.String()
		}
		for _, tc := range []struct {
			after uint64
			limit int
			want  string
		}{
			{0, 0, "a0 a1 a2 b0 b1 "},
			{all[0].Seq, 0, "a1 a2 b0 b1 "},
			{all[1].Seq, 1, "a2 "},
			{all[2].Seq, 0, "b0 b1 "},
			{all[3].Seq, 0, "b1 "},
			{all[0].Seq, 3, "a1 a2 b0 "},
			{all[4].Seq, 0, ""},
		} {
			got, err := l.Read(c, "bc", tc.after, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if ids(got) != tc.want {
				t.Errorf("after %d limit %d: %q, want %q", tc.after, tc.limit, ids(got), tc.want)
			}
			for i, e := range got {
				if e.Seq <= tc.after || e.Time.IsZero() || e.Conversation != "bc" || (i > 0 && e.Seq <= got[i-1].Seq) {
					t.Errorf("after %d: entry %+v", tc.after, e)
				}
			}
		}
	})

	t.Run("LimitAcrossWriters", func(t *testing.T) {
		if o.Reopen == nil {
			t.Skip("store keeps nothing across reopen")
		}
		// Two stores on the same data, both open (two nodes, or a restart
		// with an old writer still around): the per-conversation limit
		// holds over both, and neither loses an entry.
		s1 := o.Open(t, small)
		c := ctx(t)
		if _, errs := s1.(transcript.BatchStore).AppendBatch(c, []transcript.Record{rec("lw", "p0", "1"), rec("lw", "p1", "1")}); errs[0] != nil || errs[1] != nil {
			t.Fatal(errs)
		}
		s2 := o.Reopen(t, small)
		if _, err := s2.Append(c, rec("lw", "q0", "1")); err != nil { // s2 knows nothing of lw yet
			t.Fatal(err)
		}
		if _, err := s1.Append(c, rec("lw", "p2", "1")); err != nil { // s1's view is stale now
			t.Fatal(err)
		}
		_, errs := s2.(transcript.BatchStore).AppendBatch(c, []transcript.Record{rec("lw", "q1", "1"), rec("lw", "q2", "1")})
		if errs[0] != nil || !errors.Is(errs[1], transcript.ErrConversationFull) {
			t.Fatalf("over the limit of 5: %v, want nil, ErrConversationFull", errs)
		}
		if _, err := s1.Append(c, rec("lw", "p3", "1")); !errors.Is(err, transcript.ErrConversationFull) {
			t.Fatalf("the stale writer past the limit: %v", err)
		}
		got, err := s1.Read(c, "lw", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, e := range got {
			b.WriteString(e.ID + " ")
		}
		if b.String() != "p0 p1 q0 p2 q1 " {
			t.Fatalf("lw = %q", b.String())
		}
	})

	t.Run("Closed", func(t *testing.T) {
		s := o.Open(t, transcript.Limits{})
		_ = s.Close()
		if _, err := s.Append(ctx(t), rec("c", "x", "1")); !errors.Is(err, transcript.ErrClosed) {
			t.Fatalf("append after close: %v", err)
		}
	})
}
