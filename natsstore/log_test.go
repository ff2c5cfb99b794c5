package natsstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/omniroute/omniroute/journal/natsjournal/natsjournaltest"
	"github.com/omniroute/omniroute/natsstore"
)

func openLog(t *testing.T) *natsstore.Log {
	t.Helper()
	nc := natsjournaltest.Connect(t)
	l, err := natsstore.OpenLog(t.Context(), nc, natsstore.LogSpec{Name: "EVENTS", Subject: "events.x", Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestLog: Append numbers entries 1, 2, ...; an id appended twice is
// stored once; Bounds and Read a range.
func TestLog(t *testing.T) {
	l := openLog(t)
	ctx := t.Context()
	if first, last, err := l.Bounds(ctx); err != nil || first != last+1 {
		t.Fatalf("empty log: bounds %d..%d %v", first, last, err)
	}
	for i, e := range []struct{ data, id string }{{"a", ""}, {"b", "x"}, {"b", "x"}, {"c", ""}} {
		seq, err := l.Append(ctx, []byte(e.data), e.id)
		if err != nil {
			t.Fatal(err)
		}
		if want := []uint64{1, 2, 2, 3}[i]; seq != want {
			t.Fatalf("append %d: seq %d, want %d", i, seq, want)
		}
	}
	first, last, err := l.Bounds(ctx)
	if err != nil || first != 1 || last != 3 {
		t.Fatalf("bounds %d..%d %v, want 1..3", first, last, err)
	}
	got, err := l.Read(ctx, 2, 3)
	if err != nil || len(got) != 2 || got[0].Seq != 2 || string(got[0].Data) != "b" || got[1].Seq != 3 || string(got[1].Data) != "c" || got[0].At.IsZero() {
		t.Fatalf("Read(2, 3) = %+v %v", got, err)
	}
	if got, err := l.Read(ctx, 3, 2); err != nil || got != nil {
		t.Fatalf("Read(3, 2) = %+v %v, want nothing", got, err)
	}
}

// TestCursor: a new cursor starts after the entries already appended; a
// Nak gives the entry back, an Ack moves on, and a cursor reopened by name
// resumes after the last acknowledged entry.
func TestCursor(t *testing.T) {
	l := openLog(t)
	ctx := t.Context()
	if _, err := l.Append(ctx, []byte("old"), ""); err != nil {
		t.Fatal(err)
	}
	spec := natsstore.CursorSpec{Name: "partner_1", AckWait: time.Minute}
	c, err := l.Cursor(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"one", "two"} {
		if _, err := l.Append(ctx, []byte(d), ""); err != nil {
			t.Fatal(err)
		}
	}
	next := func(c *natsstore.Cursor) *natsstore.Delivery {
		t.Helper()
		for {
			fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			d, err := c.Next(fctx)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			if d != nil {
				return d
			}
		}
	}
	d := next(c)
	if d.Seq != 2 || string(d.Data) != "one" {
		t.Fatalf("first delivery %d %q, want 2 one", d.Seq, d.Data)
	}
	if err := d.InProgress(); err != nil {
		t.Fatal(err)
	}
	if err := d.Nak(); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if d = next(c); d.Seq != 2 {
		t.Fatalf("after Nak: seq %d, want 2 again", d.Seq)
	}
	if err := d.Ack(); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	again, err := l.Cursor(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if d = next(again); d.Seq != 3 || string(d.Data) != "two" {
		t.Fatalf("reopened cursor: %d %q, want 3 two", d.Seq, d.Data)
	}
}
