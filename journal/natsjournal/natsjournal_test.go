package natsjournal

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/omniroute/omniroute/journal"
	"github.com/omniroute/omniroute/journal/journaltest"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// startServer starts an embedded server on dir, shut down at test end.
func startServer(t testing.TB, opts EmbeddedOptions) *EmbeddedServer {
	t.Helper()
	es, err := StartEmbedded(opts)
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	t.Cleanup(es.Shutdown)
	return es
}

func connect(t testing.TB, es *EmbeddedServer) *nats.Conn {
	t.Helper()
	nc, err := es.Conn()
	if err != nil {
		t.Fatalf("Conn: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func openJournal(t testing.TB, nc *nats.Conn, opts Options) *Journal {
	t.Helper()
	j, err := Open(testCtx(t), nc, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return j
}

func TestAcceptance(t *testing.T) {
	journaltest.Run(t, func(t *testing.T) journal.Journal {
		es := startServer(t, EmbeddedOptions{DataDir: t.TempDir()})
		j := openJournal(t, connect(t, es), Options{})
		// Registered last, so it runs before the connection and server go.
		// ErrClosed is expected after the suite's own Close.
		t.Cleanup(func() { _ = j.Close() })
		return j
	})
}

func TestEmbeddedRunsWithSyncAlways(t *testing.T) {
	es := startServer(t, EmbeddedOptions{DataDir: t.TempDir()})
	cfg := es.srv.JetStreamConfig()
	if cfg == nil || !cfg.SyncAlways {
		t.Fatalf("JetStream config %+v, want SyncAlways", cfg)
	}
	if got := connect(t, es).MaxPayload(); got < RequiredMaxPayload {
		t.Fatalf("MaxPayload %d < %d", got, RequiredMaxPayload)
	}
	if url := es.ClientURL(); url != "" {
		t.Fatalf("ClientURL without Listen = %q, want empty", url)
	}
}

func TestStartEmbeddedNeedsDataDir(t *testing.T) {
	if es, err := StartEmbedded(EmbeddedOptions{}); err == nil {
		es.Shutdown()
		t.Fatal("StartEmbedded without DataDir succeeded")
	}
}

// TestEmbeddedListenAndConnect covers the TCP path Connect uses for
// --nats-url, with a maximum-size entry crossing a real socket.
func TestEmbeddedListenAndConnect(t *testing.T) {
	es := startServer(t, EmbeddedOptions{DataDir: t.TempDir(), Listen: true})
	url := es.ClientURL()
	if !strings.HasPrefix(url, "nats://127.0.0.1:") || strings.HasSuffix(url, ":0") || strings.HasSuffix(url, ":-1") {
		t.Fatalf("ClientURL = %q, want nats://127.0.0.1:<port>", url)
	}
	nc, err := Connect(url)
	if err != nil {
		t.Fatalf("Connect(%s): %v", url, err)
	}
	defer nc.Close()
	ctx := testCtx(t)
	j := openJournal(t, nc, Options{})
	big := bytes.Repeat([]byte{0xab}, journal.MaxEntryBytes)
	if seq, err := j.Append(ctx, big); err != nil || seq != 1 {
		t.Fatalf("Append(MaxEntryBytes) over TCP = %d, %v", seq, err)
	}
	var got []byte
	if err := j.Read(ctx, 1, func(e journal.Entry) error { got = e.Data; return nil }); err != nil {
		t.Fatalf("Read: %v", err)
	}
	if !bytes.Equal(got, big) {
		t.Fatalf("read back %d bytes that differ", len(got))
	}
}

func TestConnectFailsWithoutServer(t *testing.T) {
	if nc, err := Connect("nats://127.0.0.1:1"); err == nil {
		nc.Close()
		t.Fatal("Connect to a closed port succeeded")
	}
}

// TestOpenRejectsSmallMaxPayload uses a stock server (max_payload 1 MiB), as
// an unconfigured external server would be.
func TestOpenRejectsSmallMaxPayload(t *testing.T) {
	srv, err := server.NewServer(&server.Options{JetStream: true, StoreDir: t.TempDir(), DontListen: true, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, err = Open(testCtx(t), nc, Options{})
	if err == nil || !strings.Contains(err.Error(), "max_payload") {
		t.Fatalf("Open on a 1 MiB max_payload server = %v, want a max_payload error", err)
	}
}

// TestSurvivesShutdownWithoutClose appends, saves a snapshot, stops the
// server without closing the journal or the connection, and checks that a
// new server on the same directory has everything that was acknowledged.
func TestSurvivesShutdownWithoutClose(t *testing.T) {
	dir := t.TempDir()
	ctx := testCtx(t)
	es, err := StartEmbedded(EmbeddedOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := es.Conn()
	if err != nil {
		es.Shutdown()
		t.Fatal(err)
	}
	j := openJournal(t, nc, Options{})
	const n = 300
	for seq := uint64(1); seq <= n; seq++ {
		if got, err := j.Append(ctx, journaltest.Payload(seq)); err != nil || got != seq {
			es.Shutdown()
			t.Fatalf("Append %d = %d, %v", seq, got, err)
		}
	}
	snap := journal.Snapshot{Seq: 200, Data: bytes.Repeat([]byte("state"), 700_000)}
	if err := j.SaveSnapshot(ctx, snap); err != nil {
		es.Shutdown()
		t.Fatalf("SaveSnapshot: %v", err)
	}
	es.Shutdown() // no j.Close, no nc.Close

	es2 := startServer(t, EmbeddedOptions{DataDir: dir})
	j2 := openJournal(t, connect(t, es2), Options{})
	checkEntries(t, ctx, j2, n)
	got, err := j2.LoadSnapshot(ctx)
	if err != nil {
		t.Fatalf("LoadSnapshot after restart: %v", err)
	}
	if got.Seq != snap.Seq || !bytes.Equal(got.Data, snap.Data) {
		t.Fatalf("snapshot after restart: seq %d, %d bytes; want seq %d, %d bytes", got.Seq, len(got.Data), snap.Seq, len(snap.Data))
	}
	// Numbering continues where it stopped.
	if seq, err := j2.Append(ctx, journaltest.Payload(n+1)); err != nil || seq != n+1 {
		t.Fatalf("Append after restart = %d, %v; want %d", seq, err, n+1)
	}
}

// checkEntries asserts that j holds at least acked entries and that every
// entry it holds is journaltest.Payload(seq). It returns LastSeq.
func checkEntries(t *testing.T, ctx context.Context, j *Journal, acked uint64) uint64 {
	t.Helper()
	last, err := j.LastSeq(ctx)
	if err != nil {
		t.Fatalf("LastSeq: %v", err)
	}
	if last < acked {
		t.Fatalf("LastSeq = %d, but %d entries were acknowledged", last, acked)
	}
	next := uint64(1)
	err = j.Read(ctx, 1, func(e journal.Entry) error {
		if e.Seq != next || !bytes.Equal(e.Data, journaltest.Payload(e.Seq)) {
			return fmt.Errorf("entry %d (want %d) differs from what was appended", e.Seq, next)
		}
		next++
		return nil
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if next-1 != last {
		t.Fatalf("Read delivered up to %d, LastSeq %d", next-1, last)
	}
	return last
}

const (
	crashDirEnv   = "NATSJOURNAL_CRASH_DIR"
	crashSnapSize = 2 << 20
	crashSnapTick = 100 // the helper saves a snapshot after every crashSnapTick entries
	crashKillAt   = 4 * crashSnapTick
)

// crashSnapshot is the snapshot the crash helper saves at seq.
func crashSnapshot(seq uint64) []byte {
	return bytes.Repeat([]byte{byte(seq), byte(seq >> 8), 0x5a}, crashSnapSize/3)
}

// TestCrashHelper is the child process of TestSurvivesKill; it does nothing
// in a normal run. It appends forever, printing "ack N" after each
// acknowledged append and "snap N" after each snapshot save, until killed.
func TestCrashHelper(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("only runs as the child of TestSurvivesKill")
	}
	es, err := StartEmbedded(EmbeddedOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := es.Conn()
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	j := openJournal(t, nc, Options{})
	deadline := time.Now().Add(time.Minute) // in case the parent vanished
	for seq := uint64(1); time.Now().Before(deadline); seq++ {
		if _, err := j.Append(ctx, journaltest.Payload(seq)); err != nil {
			t.Fatal(err)
		}
		if _, err := fmt.Printf("ack %d\n", seq); err != nil {
			return // parent gone
		}
		if seq%crashSnapTick == 0 {
			if err := j.SaveSnapshot(ctx, journal.Snapshot{Seq: seq, Data: crashSnapshot(seq)}); err != nil {
				t.Fatal(err)
			}
			if _, err := fmt.Printf("snap %d\n", seq); err != nil {
				return
			}
		}
	}
}

// TestSurvivesKill runs a writer in a child process, SIGKILLs it while it is
// appending and (most likely) uploading a snapshot, then recovers the store.
// Every acknowledged entry must be there, and the snapshot must be a
// complete one at least as new as the last acknowledged save.
func TestSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lastAck, lastSnap uint64
	sc := bufio.NewScanner(out)
	for lastAck < crashKillAt && sc.Scan() {
		kind, num, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.ParseUint(num, 10, 64)
		if !ok || err != nil {
			continue // test framework output
		}
		switch kind {
		case "ack":
			lastAck = n
		case "snap":
			lastSnap = n
		}
	}
	// Kill as soon as the ack for crashKillAt is read: the child is then
	// saving the snapshot for crashKillAt.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Wait reports the kill; the exit status is not interesting.
	_ = cmd.Wait()
	if lastAck < crashKillAt {
		t.Fatalf("child stopped after ack %d: %v\n%s", lastAck, sc.Err(), stderr.Bytes())
	}
	t.Logf("killed child after ack %d, snap %d", lastAck, lastSnap)

	ctx := testCtx(t)
	es := startServer(t, EmbeddedOptions{DataDir: dir})
	j := openJournal(t, connect(t, es), Options{})
	last := checkEntries(t, ctx, j, lastAck)
	s, err := j.LoadSnapshot(ctx)
	if err != nil {
		t.Fatalf("LoadSnapshot after kill: %v", err)
	}
	if s.Seq < lastSnap || s.Seq%crashSnapTick != 0 || s.Seq > last {
		t.Fatalf("snapshot seq %d after kill; last acknowledged save %d, last entry %d", s.Seq, lastSnap, last)
	}
	if !bytes.Equal(s.Data, crashSnapshot(s.Seq)) {
		t.Fatalf("snapshot %d has %d bytes that differ from what was saved", s.Seq, len(s.Data))
	}
	t.Logf("recovered %d entries, snapshot %d", last, s.Seq)
}

// TestOpenRejectsPurgedStream: a stream whose first sequence is not 1 must
// make Open fail rather than renumber.
func TestOpenRejectsPurgedStream(t *testing.T) {
	for _, refill := range []int{0, 2} {
		t.Run(fmt.Sprintf("refill=%d", refill), func(t *testing.T) {
			ctx := testCtx(t)
			nc := connect(t, startServer(t, EmbeddedOptions{DataDir: t.TempDir()}))
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			// Built by hand, like an operator would, without DenyPurge.
			st, err := js.CreateStream(ctx, jetstream.StreamConfig{
				Name: DefaultStream, Subjects: []string{"omniroute_journal.entries"},
				Storage: jetstream.FileStorage, MaxMsgSize: RequiredMaxPayload,
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				if _, err := js.Publish(ctx, "omniroute_journal.entries", []byte("x")); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.Purge(ctx); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < refill; i++ {
				if _, err := js.Publish(ctx, "omniroute_journal.entries", []byte("y")); err != nil {
					t.Fatal(err)
				}
			}
			j, err := Open(ctx, nc, Options{})
			if !errors.Is(err, ErrNotContiguous) {
				t.Fatalf("Open on a purged stream = %v, %v; want ErrNotContiguous", j, err)
			}
		})
	}
}

func TestOpenRejectsDeletedMessage(t *testing.T) {
	ctx := testCtx(t)
	nc := connect(t, startServer(t, EmbeddedOptions{DataDir: t.TempDir()}))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "HOLEY", Subjects: []string{"holey.entries"}, Storage: jetstream.FileStorage,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := js.Publish(ctx, "holey.entries", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteMsg(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, nc, Options{Stream: "HOLEY"}); !errors.Is(err, ErrNotContiguous) {
		t.Fatalf("Open on a stream with a hole = %v; want ErrNotContiguous", err)
	}
}

func TestOpenRejectsUnsafeStream(t *testing.T) {
	cases := map[string]jetstream.StreamConfig{
		"memory":   {Subjects: []string{"omniroute_journal.entries"}, Storage: jetstream.MemoryStorage},
		"max age":  {Subjects: []string{"omniroute_journal.entries"}, MaxAge: time.Hour},
		"max msgs": {Subjects: []string{"omniroute_journal.entries"}, MaxMsgs: 10},
		"wildcard": {Subjects: []string{"omniroute_journal.>"}},
		"small":    {Subjects: []string{"omniroute_journal.entries"}, MaxMsgSize: 1 << 20},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t)
			nc := connect(t, startServer(t, EmbeddedOptions{DataDir: t.TempDir()}))
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Name = DefaultStream
			if _, err := js.CreateStream(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(ctx, nc, Options{}); err == nil || !strings.Contains(err.Error(), "unusable") {
				t.Fatalf("Open = %v; want an 'unusable' error", err)
			}
		})
	}
}

// TestStreamDeniesPurgeAndDelete checks the guard Open puts on a stream it
// creates.
func TestStreamDeniesPurgeAndDelete(t *testing.T) {
	ctx := testCtx(t)
	nc := connect(t, startServer(t, EmbeddedOptions{DataDir: t.TempDir()}))
	j := openJournal(t, nc, Options{Stream: "GUARDED"})
	for seq := uint64(1); seq <= 3; seq++ {
		if _, err := j.Append(ctx, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.stream.Purge(ctx); err == nil {
		t.Error("purging the journal stream succeeded")
	}
	if err := j.stream.DeleteMsg(ctx, 2); err == nil {
		t.Error("deleting a journal message succeeded")
	}
	checkEntriesN(t, ctx, j, 3)
}

func checkEntriesN(t *testing.T, ctx context.Context, j *Journal, n uint64) {
	t.Helper()
	if last, err := j.LastSeq(ctx); err != nil || last != n {
		t.Fatalf("LastSeq = %d, %v; want %d", last, err, n)
	}
}

// TestForeignWriteFailsAppend: a message from anyone else lands in the
// stream; the journal must refuse to append rather than misnumber, keep
// refusing, and a reopened journal must see the true state.
func TestForeignWriteFailsAppend(t *testing.T) {
	ctx := testCtx(t)
	nc := connect(t, startServer(t, EmbeddedOptions{DataDir: t.TempDir()}))
	j := openJournal(t, nc, Options{})
	if seq, err := j.Append(ctx, []byte("mine")); err != nil || seq != 1 {
		t.Fatalf("Append = %d, %v", seq, err)
	}
	if err := nc.Publish(j.subject, []byte("foreign")); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// The plain publish is not acknowledged; wait until the stream has it.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if last, err := j.LastSeq(ctx); err == nil && last == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("foreign message never stored")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if seq, err := j.Append(ctx, []byte("mine 2")); err == nil {
		t.Fatalf("Append after a foreign write succeeded with seq %d", seq)
	}
	if seq, err := j.Append(ctx, []byte("mine 3")); err == nil {
		t.Fatalf("second Append after a failure succeeded with seq %d", seq)
	}
	j2 := openJournal(t, nc, Options{})
	if seq, err := j2.Append(ctx, []byte("mine 2")); err != nil || seq != 3 {
		t.Fatalf("Append on reopened journal = %d, %v; want 3", seq, err)
	}
}

// TestReadManyMaxEntries reads more maximum-size entries than one Read
// buffers, which stalls if the pull byte limit is below one message, and
// checks that Read removes its consumer.
func TestReadManyMaxEntries(t *testing.T) {
	ctx := testCtx(t)
	nc := connect(t, startServer(t, EmbeddedOptions{DataDir: t.TempDir()}))
	j := openJournal(t, nc, Options{})
	const n = 2*readBufferBytes/journal.MaxEntryBytes + 2
	// Mixed sizes, so the client has a pull outstanding while a smaller
	// message is still buffered.
	size := func(seq uint64) int {
		if seq%3 == 0 {
			return 1 << 20
		}
		return journal.MaxEntryBytes
	}
	for seq := uint64(1); seq <= n; seq++ {
		if _, err := j.Append(ctx, bytes.Repeat([]byte{byte(seq)}, size(seq))); err != nil {
			t.Fatal(err)
		}
	}
	readCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	next := uint64(2)
	err := j.Read(readCtx, 2, func(e journal.Entry) error {
		if e.Seq != next || len(e.Data) != size(e.Seq) || e.Data[0] != byte(e.Seq) || e.Data[len(e.Data)-1] != byte(e.Seq) {
			return fmt.Errorf("entry %d (want %d) wrong", e.Seq, next)
		}
		next++
		return nil
	})
	if err != nil || next != n+1 {
		t.Fatalf("Read = %v, stopped before %d; want all up to %d", err, next, n)
	}
	info, err := j.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 0 {
		t.Errorf("%d consumers left after Read", info.State.Consumers)
	}
}

// TestJournalsShareBucket: two journals on one server with the default
// bucket keep separate snapshots (the object is named after the stream).
func TestJournalsShareBucket(t *testing.T) {
	ctx := testCtx(t)
	nc := connect(t, startServer(t, EmbeddedOptions{DataDir: t.TempDir()}))
	a := openJournal(t, nc, Options{Stream: "A"})
	b := openJournal(t, nc, Options{Stream: "B"})
	if err := a.SaveSnapshot(ctx, journal.Snapshot{Seq: 1, Data: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.LoadSnapshot(ctx); !errors.Is(err, journal.ErrNoSnapshot) {
		t.Fatalf("b.LoadSnapshot = %v; want ErrNoSnapshot", err)
	}
	if _, err := a.Append(ctx, []byte("a1")); err != nil {
		t.Fatal(err)
	}
	checkEntriesN(t, ctx, b, 0)
}

// BenchmarkAppend measures synchronous appends to an embedded server with
// SyncAlways: each one is a round trip plus an fsync.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			ctx := testCtx(b)
			nc := connect(b, startServer(b, EmbeddedOptions{DataDir: b.TempDir()}))
			j := openJournal(b, nc, Options{})
			data := bytes.Repeat([]byte{0x42}, size)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := j.Append(ctx, data); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}

// TestCompact: with AllowCompact, Compact drops the entries a snapshot
// covers; later entries keep their numbers, Read from a dropped entry
// fails with journal.ErrCompacted, appends go on, and the journal reopens
// (the snapshot covers the gap). Without AllowCompact the server refuses
// the purge and nothing is lost.
func TestCompact(t *testing.T) {
	ctx := testCtx(t)
	nc := connect(t, startServer(t, EmbeddedOptions{DataDir: t.TempDir()}))
	j := openJournal(t, nc, Options{AllowCompact: true})
	for i := 1; i <= 10; i++ {
		if _, err := j.Append(ctx, []byte(fmt.Sprintf("e%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.SaveSnapshot(ctx, journal.Snapshot{Seq: 6, Data: []byte("state@6")}); err != nil {
		t.Fatal(err)
	}
	if err := j.Compact(ctx, 11); err == nil {
		t.Fatal("Compact past the last entry succeeded")
	}
	if err := j.Compact(ctx, 6); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := j.Read(ctx, 7, func(e journal.Entry) error {
		got = append(got, fmt.Sprintf("%d:%s", e.Seq, e.Data))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "7:e7 8:e8 9:e9 10:e10" {
		t.Fatalf("after compaction Read(7) = %v", got)
	}
	if err := j.Read(ctx, 1, func(journal.Entry) error { return nil }); !errors.Is(err, journal.ErrCompacted) {
		t.Fatalf("Read(1) after compaction: %v", err)
	}
	if seq, err := j.Append(ctx, []byte("e11")); err != nil || seq != 11 {
		t.Fatalf("Append after compaction = %d, %v", seq, err)
	}
	j.Close()
	j = openJournal(t, nc, Options{AllowCompact: true})
	if last, err := j.LastSeq(ctx); err != nil || last != 11 {
		t.Fatalf("reopened: last %d, %v", last, err)
	}
	// A snapshot that does not cover the gap: Open refuses.
	if err := j.SaveSnapshot(ctx, journal.Snapshot{Seq: 3, Data: []byte("old")}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if _, err := Open(ctx, nc, Options{}); !errors.Is(err, ErrNotContiguous) {
		t.Fatalf("Open with a snapshot short of the gap: %v", err)
	}

	nc2 := connect(t, startServer(t, EmbeddedOptions{DataDir: t.TempDir()}))
	k := openJournal(t, nc2, Options{})
	k.Append(ctx, []byte("a"))
	k.Append(ctx, []byte("b"))
	if err := k.Compact(ctx, 1); err == nil {
		t.Fatal("Compact on a stream created without AllowCompact succeeded")
	}
	if last, err := k.LastSeq(ctx); err != nil || last != 2 {
		t.Fatalf("after a refused compaction: %d, %v", last, err)
	}
	n := 0
	k.Read(ctx, 1, func(journal.Entry) error { n++; return nil })
	if n != 2 {
		t.Fatalf("after a refused compaction %d entries", n)
	}
}
