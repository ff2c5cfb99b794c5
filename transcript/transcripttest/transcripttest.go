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

	t.Run("Closed", func(t *testing.T) {
		s := o.Open(t, transcript.Limits{})
		_ = s.Close()
		if _, err := s.Append(ctx(t), rec("c", "x", "1")); !errors.Is(err, transcript.ErrClosed) {
			t.Fatalf("append after close: %v", err)
		}
	})
}
