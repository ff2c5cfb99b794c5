// Package journaltest is the acceptance suite every journal.Journal
// implementation must pass. Call Run from the implementation's tests.
package journaltest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/omniroute/omniroute/journal"
)

// snapshotBig is the size of the large snapshot the suite round-trips.
const snapshotBig = 8 << 20

// Run runs the acceptance suite as subtests of t. open must return a new,
// empty, open Journal for the subtest it is given and arrange its own
// clean-up (t.Cleanup); the suite closes the journal itself only in the
// subtest about Close. Subtests run sequentially.
func Run(t *testing.T, open func(t *testing.T) journal.Journal) {
	t.Run("EmptyJournal", func(t *testing.T) { testEmpty(t, open(t)) })
	t.Run("AppendNumbersFromOne", func(t *testing.T) { testNumbering(t, open(t)) })
	t.Run("ReadFromEveryPoint", func(t *testing.T) { testReadFrom(t, open(t)) })
	t.Run("DataRoundTrip", func(t *testing.T) { testRoundTrip(t, open(t)) })
	t.Run("NoAliasing", func(t *testing.T) { testNoAliasing(t, open(t)) })
	t.Run("MaxEntryBytes", func(t *testing.T) { testMaxEntry(t, open(t)) })
	t.Run("CanceledContext", func(t *testing.T) { testCanceled(t, open(t)) })
	t.Run("LoadSnapshotBeforeSave", func(t *testing.T) { testNoSnapshot(t, open(t)) })
	t.Run("SnapshotSaveReplaceLoad", func(t *testing.T) { testSnapshots(t, open(t)) })
	t.Run("ConcurrentReadWhileAppending", func(t *testing.T) { testConcurrent(t, open(t)) })
	t.Run("ReadReturnsFnError", func(t *testing.T) { testFnError(t, open(t)) })
	t.Run("MethodsAfterClose", func(t *testing.T) { testClosed(t, open(t)) })
}

// Payload returns deterministic test data for entry seq: its length cycles
// through 0..4095 and its bytes depend on seq, so a misnumbered or truncated
// entry is caught. Implementations' own tests may use it too.
func Payload(seq uint64) []byte {
	n := int(seq*97) % 4096
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(uint64(i)*31 + seq*7)
	}
	return b
}

// randomBytes returns n pseudo-random bytes from a fixed seed.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustAppend(t *testing.T, ctx context.Context, j journal.Journal, data []byte, want uint64) {
	t.Helper()
	got, err := j.Append(ctx, data)
	if err != nil {
		t.Fatalf("Append(entry %d, %d bytes): %v", want, len(data), err)
	}
	if got != want {
		t.Fatalf("Append returned seq %d, want %d", got, want)
	}
}

func mustLastSeq(t *testing.T, ctx context.Context, j journal.Journal, want uint64) {
	t.Helper()
	got, err := j.LastSeq(ctx)
	if err != nil {
		t.Fatalf("LastSeq: %v", err)
	}
	if got != want {
		t.Fatalf("LastSeq = %d, want %d", got, want)
	}
}

// readAll returns every entry Read delivers from from.
func readAll(t *testing.T, ctx context.Context, j journal.Journal, from uint64) []journal.Entry {
	t.Helper()
	var got []journal.Entry
	if err := j.Read(ctx, from, func(e journal.Entry) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatalf("Read(from %d): %v", from, err)
	}
	return got
}

func testEmpty(t *testing.T, j journal.Journal) {
	ctx := ctxFor(t)
	mustLastSeq(t, ctx, j, 0)
	for _, from := range []uint64{0, 1, 2, 1000} {
		if got := readAll(t, ctx, j, from); len(got) != 0 {
			t.Errorf("Read(from %d) on empty journal delivered %d entries", from, len(got))
		}
	}
}

func testNumbering(t *testing.T, j journal.Journal) {
	ctx := ctxFor(t)
	const n = 25
	for seq := uint64(1); seq <= n; seq++ {
		mustAppend(t, ctx, j, Payload(seq), seq)
		mustLastSeq(t, ctx, j, seq)
	}
	got := readAll(t, ctx, j, 1)
	if len(got) != n {
		t.Fatalf("Read delivered %d entries, want %d", len(got), n)
	}
	for i, e := range got {
		if want := uint64(i + 1); e.Seq != want {
			t.Fatalf("entry %d has Seq %d, want %d", i, e.Seq, want)
		}
	}
}

func testReadFrom(t *testing.T, j journal.Journal) {
	ctx := ctxFor(t)
	const n = 12
	for seq := uint64(1); seq <= n; seq++ {
		mustAppend(t, ctx, j, Payload(seq), seq)
	}
	for from := uint64(0); from <= n+3; from++ {
		got := readAll(t, ctx, j, from)
		first := max(from, 1)
		wantLen := 0
		if first <= n {
			wantLen = int(n - first + 1)
		}
		if len(got) != wantLen {
			t.Fatalf("Read(from %d) delivered %d entries, want %d", from, len(got), wantLen)
		}
		for i, e := range got {
			want := first + uint64(i)
			if e.Seq != want {
				t.Fatalf("Read(from %d) entry %d has Seq %d, want %d", from, i, e.Seq, want)
			}
			if !bytes.Equal(e.Data, Payload(want)) {
				t.Fatalf("Read(from %d) entry %d: data differs from what was appended", from, want)
			}
		}
	}
}

func testRoundTrip(t *testing.T, j journal.Journal) {
	ctx := ctxFor(t)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"every byte value", all},
		{"zeros", make([]byte, 1000)},
		{"crlf and NATS protocol text", []byte("PUB x 5\r\nhello\r\n\r\nNATS/1.0\r\n")},
		{"random 300 KiB", randomBytes(300<<10, 1)},
		{"single byte", []byte{0xff}},
	}
	for i, c := range cases {
		mustAppend(t, ctx, j, c.data, uint64(i+1))
	}
	got := readAll(t, ctx, j, 1)
	if len(got) != len(cases) {
		t.Fatalf("Read delivered %d entries, want %d", len(got), len(cases))
	}
	for i, c := range cases {
		if !bytes.Equal(got[i].Data, c.data) {
			t.Errorf("%s: read back %d bytes that differ from the %d appended", c.name, len(got[i].Data), len(c.data))
		}
	}
}

func testNoAliasing(t *testing.T, j journal.Journal) {
	ctx := ctxFor(t)
	in := []byte("original")
	mustAppend(t, ctx, j, in, 1)
	copy(in, "XXXXXXXX")
	got := readAll(t, ctx, j, 1)
	if len(got) != 1 || string(got[0].Data) != "original" {
		t.Fatalf("after modifying the appended slice, read back %+v", got)
	}
	copy(got[0].Data, "YYYYYYYY")
	if again := readAll(t, ctx, j, 1); len(again) != 1 || string(again[0].Data) != "original" {
		t.Fatalf("after modifying a read slice, read back %+v", again)
	}

	snap := []byte("snapshot")
	if err := j.SaveSnapshot(ctx, journal.Snapshot{Seq: 1, Data: snap}); err != nil {
		t.Fatalf("SaveSnapshot: %v", err)
	}
	copy(snap, "XXXXXXXX")
	s, err := j.LoadSnapshot(ctx)
	if err != nil {
		t.Fatalf("LoadSnapshot: %v", err)
	}
	if string(s.Data) != "snapshot" {
		t.Fatalf("after modifying the saved slice, loaded %q", s.Data)
	}
	copy(s.Data, "YYYYYYYY")
	if s2, err := j.LoadSnapshot(ctx); err != nil || string(s2.Data) != "snapshot" {
		t.Fatalf("after modifying a loaded slice, loaded %q, %v", s2.Data, err)
	}
}

func testMaxEntry(t *testing.T, j journal.Journal) {
	ctx := ctxFor(t)
	mustAppend(t, ctx, j, []byte("before"), 1)
	biggest := randomBytes(journal.MaxEntryBytes, 2)
	mustAppend(t, ctx, j, biggest, 2)

	over := make([]byte, journal.MaxEntryBytes+1)
	seq, err := j.Append(ctx, over)
	if !errors.Is(err, journal.ErrTooLarge) {
		t.Fatalf("Append(MaxEntryBytes+1) = %d, %v; want ErrTooLarge", seq, err)
	}
	mustLastSeq(t, ctx, j, 2)

	// The journal keeps working after a rejected entry.
	mustAppend(t, ctx, j, []byte("after"), 3)
	got := readAll(t, ctx, j, 1)
	if len(got) != 3 {
		t.Fatalf("Read delivered %d entries, want 3", len(got))
	}
	if !bytes.Equal(got[1].Data, biggest) {
		t.Errorf("entry of MaxEntryBytes read back as %d bytes that differ", len(got[1].Data))
	}
	if string(got[2].Data) != "after" {
		t.Errorf("entry 3 = %q, want %q", got[2].Data, "after")
	}
}

func testCanceled(t *testing.T, j journal.Journal) {
	ctx := ctxFor(t)
	mustAppend(t, ctx, j, []byte("one"), 1)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if seq, err := j.Append(canceled, []byte("never")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append(canceled ctx) = %d, %v; want context.Canceled", seq, err)
	}
	mustLastSeq(t, ctx, j, 1)
	// A canceled call that sent nothing must not poison the journal.
	mustAppend(t, ctx, j, []byte("two"), 2)
	if err := j.Read(canceled, 1, func(journal.Entry) error { return nil }); err == nil {
		t.Errorf("Read(canceled ctx) returned nil")
	}
}

func testNoSnapshot(t *testing.T, j journal.Journal) {
	ctx := ctxFor(t)
	s, err := j.LoadSnapshot(ctx)
	if !errors.Is(err, journal.ErrNoSnapshot) {
		t.Fatalf("LoadSnapshot before any save = %+v, %v; want ErrNoSnapshot", s, err)
	}
	// Entries do not make a snapshot appear.
	mustAppend(t, ctx, j, []byte("x"), 1)
	if _, err := j.LoadSnapshot(ctx); !errors.Is(err, journal.ErrNoSnapshot) {
		t.Fatalf("LoadSnapshot after an append = %v; want ErrNoSnapshot", err)
	}
}

func testSnapshots(t *testing.T, j journal.Journal) {
	ctx := ctxFor(t)
	steps := []journal.Snapshot{
		{Seq: 3, Data: []byte("small state")},
		{Seq: 10, Data: randomBytes(snapshotBig, 3)},
		{Seq: 11, Data: randomBytes(snapshotBig+12345, 4)},
		{Seq: 12, Data: []byte{}},
		{Seq: 1 << 62, Data: []byte("last")},
	}
	for i, s := range steps {
		if err := j.SaveSnapshot(ctx, s); err != nil {
			t.Fatalf("step %d: SaveSnapshot(seq %d, %d bytes): %v", i, s.Seq, len(s.Data), err)
		}
		got, err := j.LoadSnapshot(ctx)
		if err != nil {
			t.Fatalf("step %d: LoadSnapshot: %v", i, err)
		}
		if got.Seq != s.Seq {
			t.Errorf("step %d: loaded Seq %d, want %d", i, got.Seq, s.Seq)
		}
		if !bytes.Equal(got.Data, s.Data) {
			t.Errorf("step %d: loaded %d bytes that differ from the %d saved", i, len(got.Data), len(s.Data))
		}
	}
	// Snapshots leave the entries alone.
	mustLastSeq(t, ctx, j, 0)
}

func testConcurrent(t *testing.T, j journal.Journal) {
	ctx := ctxFor(t)
	const n = 150
	const readers = 4
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, readers+1)

	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for seq := uint64(1); seq <= n; seq++ {
			got, err := j.Append(ctx, Payload(seq))
			if err != nil {
				errs <- fmt.Errorf("j.Append %d: %w", seq, err)
				return
			}
			if got != seq {
				errs <- fmt.Errorf("j.Append returned %d, want %d", got, seq)
				return
			}
		}
	}()

	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- readWhileAppending(ctx, j, done)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		return
	}
	mustLastSeq(t, ctx, j, n)
	if got := readAll(t, ctx, j, 1); len(got) != n {
		t.Fatalf("final Read delivered %d entries, want %d", len(got), n)
	}
}

// readWhileAppending reads the whole journal repeatedly until done is closed
// (plus one final pass), checking that every pass is a gap-free prefix with
// the right data and never shorter than LastSeq reported before it started.
func readWhileAppending(ctx context.Context, j journal.Journal, done <-chan struct{}) error {
	var passes int
	for {
		finished := false
		select {
		case <-done:
			finished = true
		default:
		}
		before, err := j.LastSeq(ctx)
		if err != nil {
			return fmt.Errorf("LastSeq: %w", err)
		}
		from := uint64(1)
		if passes%2 == 1 && before > 2 {
			from = before / 2 // also exercise reads that start mid-log
		}
		next := from
		err = j.Read(ctx, from, func(e journal.Entry) error {
			if e.Seq != next {
				return fmt.Errorf("got Seq %d, want %d", e.Seq, next)
			}
			if !bytes.Equal(e.Data, Payload(e.Seq)) {
				return fmt.Errorf("entry %d: data differs", e.Seq)
			}
			next++
			return nil
		})
		if err != nil {
			return fmt.Errorf("concurrent Read(from %d): %w", from, err)
		}
		if next-1 < before {
			return fmt.Errorf("j.Read stopped at %d, but LastSeq was %d before it started", next-1, before)
		}
		passes++
		if finished {
			return nil
		}
	}
}

func testFnError(t *testing.T, j journal.Journal) {
	ctx := ctxFor(t)
	for seq := uint64(1); seq <= 5; seq++ {
		mustAppend(t, ctx, j, Payload(seq), seq)
	}
	stop := errors.New("stop here")
	var seen []uint64
	err := j.Read(ctx, 2, func(e journal.Entry) error {
		seen = append(seen, e.Seq)
		if e.Seq == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Read returned %v, want the error fn returned", err)
	}
	if len(seen) != 2 || seen[0] != 2 || seen[1] != 3 {
		t.Fatalf("fn saw %v, want [2 3]", seen)
	}
	// The journal is still usable.
	mustAppend(t, ctx, j, Payload(6), 6)
	if got := readAll(t, ctx, j, 1); len(got) != 6 {
		t.Fatalf("Read after fn error delivered %d entries, want 6", len(got))
	}
}

func testClosed(t *testing.T, j journal.Journal) {
	ctx := ctxFor(t)
	mustAppend(t, ctx, j, []byte("x"), 1)
	if err := j.SaveSnapshot(ctx, journal.Snapshot{Seq: 1, Data: []byte("s")}); err != nil {
		t.Fatalf("SaveSnapshot: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if seq, err := j.Append(ctx, []byte("y")); !errors.Is(err, journal.ErrClosed) {
		t.Errorf("Append after Close = %d, %v; want ErrClosed", seq, err)
	}
	if seq, err := j.Append(ctx, make([]byte, journal.MaxEntryBytes+1)); !errors.Is(err, journal.ErrClosed) {
		t.Errorf("Append(too large) after Close = %d, %v; want ErrClosed", seq, err)
	}
	called := false
	if err := j.Read(ctx, 1, func(journal.Entry) error { called = true; return nil }); !errors.Is(err, journal.ErrClosed) {
		t.Errorf("Read after Close = %v; want ErrClosed", err)
	}
	if called {
		t.Errorf("Read after Close called fn")
	}
	if seq, err := j.LastSeq(ctx); !errors.Is(err, journal.ErrClosed) {
		t.Errorf("LastSeq after Close = %d, %v; want ErrClosed", seq, err)
	}
	if err := j.SaveSnapshot(ctx, journal.Snapshot{Seq: 1}); !errors.Is(err, journal.ErrClosed) {
		t.Errorf("SaveSnapshot after Close = %v; want ErrClosed", err)
	}
	if s, err := j.LoadSnapshot(ctx); !errors.Is(err, journal.ErrClosed) {
		t.Errorf("LoadSnapshot after Close = %+v, %v; want ErrClosed", s, err)
	}
	if err := j.Close(); !errors.Is(err, journal.ErrClosed) {
		t.Errorf("second Close = %v; want ErrClosed", err)
	}
}
