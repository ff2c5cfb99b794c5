package erasure_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omniroute/omniroute/erasure"
)

// waitFor polls cond (state another goroutine reaches) for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// gate is a keyring's fsync for tests: it counts calls, holds the first
// one until release is closed (failing it with firstErr when set), and on
// each success records the file's content, what is durable from then on.
type gate struct {
	path     string
	syncs    atomic.Int32
	entered  chan struct{} // closed when the first fsync is entered
	release  chan struct{}
	firstErr error

	mu      sync.Mutex
	durable []byte
}

func newGate(path string) *gate {
	return &gate{path: path, entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *gate) sync(f *os.File) error {
	if g.syncs.Add(1) == 1 {
		close(g.entered)
		<-g.release
		if g.firstErr != nil {
			return g.firstErr
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	b, err := os.ReadFile(g.path)
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.durable = b
	g.mu.Unlock()
	return nil
}

// isDurable reports whether the key line of ref was in the file at the
// last successful fsync.
func (g *gate) isDurable(ref string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return bytes.Contains(g.durable, []byte("\nk "+ref+" "))
}

type sealed struct {
	i   int
	v   json.RawMessage
	err error
}

func customer(i int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"id":"cust-%d","firstName":"N%d"}`, i, i))
}

// TestGroupCommit: N new customers sealed at once while the first key's
// fsync is held take two fsyncs, not N: the first key's, and one for the
// N-1 queued behind it. Every Seal returns only once its key line is in
// the file as of a successful fsync; a second Seal of a customer whose
// key is on its way waits for that key and shares it; no key counts
// before its fsync; a reopen opens every value handed out.
func TestGroupCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "customer-keys")
	k, err := erasure.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	g := newGate(path)
	erasure.SetFileOps(k, g.sync, nil)
	const n = 16
	out := make(chan sealed, n+1)
	seal := func(i int) {
		v, err := k.SealCustomer(customer(i), "")
		if err == nil {
			id := erasure.CustomerID(customer(i))
			if ref, _ := k.Ref(id); !g.isDurable(ref) {
				err = fmt.Errorf("Seal of %s returned before its key line was fsynced", id)
			}
		}
		out <- sealed{i, v, err}
	}
	go seal(0)
	<-g.entered
	for i := 1; i < n; i++ {
		go seal(i)
	}
	waitFor(t, "every new key queued", func() bool { return erasure.Pending(k) == n })
	ref0, _ := k.Ref("cust-0")
	go seal(0) // the same customer again, while its key is being committed
	waitFor(t, "the second Seal of cust-0 to wait for its key", func() bool { return erasure.Joined(k, ref0) == 1 })
	if got := k.Len(); got != 0 {
		t.Fatalf("Len = %d before any fsync ended, want 0", got)
	}
	close(g.release)
	got := make([]sealed, 0, n+1)
	for range n + 1 {
		s := <-out
		if s.err != nil {
			t.Fatal(s.err)
		}
		got = append(got, s)
	}
	if s := g.syncs.Load(); s != 2 {
		t.Fatalf("%d new customers took %d fsyncs, want 2", n, s)
	}
	if st := k.Stats(); st.Commits != 2 || st.Written != n {
		t.Fatalf("Stats %+v, want 2 commits of %d keys", st, n)
	}
	if k.Len() != n {
		t.Fatalf("Len = %d, want %d", k.Len(), n)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if k, err = erasure.Open(path); err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if k.Len() != n {
		t.Fatalf("after reopen Len = %d, want %d", k.Len(), n)
	}
	for _, s := range got {
		if v := k.Show(s.v); !bytes.Equal(v, customer(s.i)) {
			t.Fatalf("after reopen customer %d shows %s", s.i, v)
		}
	}
}

// TestGroupCommitFailure: a failed fsync fails every caller of its batch,
// including a second Seal of the same customer that joined it, and
// leaves no line of theirs in the file; a key queued behind it is
// committed by the next fsync; the failed customer gets a new key next
// time; a reopen finds exactly the keys acknowledged.
func TestGroupCommitFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "customer-keys")
	k, err := erasure.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	g := newGate(path)
	g.firstErr = errors.New("injected: EIO")
	erasure.SetFileOps(k, g.sync, nil)
	out := make(chan sealed, 3)
	seal := func(i int) {
		v, err := k.SealCustomer(customer(i), "")
		out <- sealed{i, v, err}
	}
	go seal(0)
	<-g.entered
	ref0, _ := k.Ref("cust-0")
	go seal(0)
	waitFor(t, "the second Seal of cust-0 to wait for its key", func() bool { return erasure.Joined(k, ref0) == 1 })
	go seal(1)
	waitFor(t, "cust-1's key queued", func() bool { return erasure.Pending(k) == 2 })
	close(g.release)
	var ok json.RawMessage
	failed := 0
	for range 3 {
		s := <-out
		switch {
		case s.i == 0 && errors.Is(s.err, g.firstErr):
			failed++
		case s.i == 1 && s.err == nil:
			ok = s.v
		default:
			t.Fatalf("customer %d: %v", s.i, s.err)
		}
	}
	if failed != 2 || ok == nil {
		t.Fatalf("%d failed Seals of cust-0 (want 2), cust-1 sealed: %v", failed, ok != nil)
	}
	b, _ := os.ReadFile(path)
	if bytes.Contains(b, []byte(ref0)) {
		t.Fatalf("the failed key's line is in the file:\n%s", b)
	}
	if k.Len() != 1 {
		t.Fatalf("Len = %d, want 1", k.Len())
	}
	again, err := k.SealCustomer(customer(0), "")
	if err != nil {
		t.Fatal(err)
	}
	// The failed commit is not counted: cust-1's, then cust-0's again.
	if st := k.Stats(); st.Commits != 2 || st.Written != 2 {
		t.Fatalf("Stats %+v, want 2 commits of 2 keys", st)
	}
	k.Close()
	if k, err = erasure.Open(path); err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if k.Len() != 2 || !bytes.Equal(k.Show(ok), customer(1)) || !bytes.Equal(k.Show(again), customer(0)) {
		t.Fatalf("after reopen: %d keys, cust-1 %s, cust-0 %s", k.Len(), k.Show(ok), k.Show(again))
	}
}

// TestGroupCommitBroken: when a failed append cannot be cut back, new
// keys fail (the file may end in a torn line) while known customers
// still seal and open, until an Erase rewrites the file.
func TestGroupCommitBroken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "customer-keys")
	k, err := erasure.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	known, err := k.SealCustomer(customer(0), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.SealCustomer(customer(9), ""); err != nil {
		t.Fatal(err)
	}
	var fail atomic.Bool
	fail.Store(true)
	erasure.SetFileOps(k, func(f *os.File) error {
		if fail.Load() {
			return errors.New("injected: EIO")
		}
		return f.Sync()
	}, func(*os.File, int64) error { return errors.New("injected: truncate") })
	if _, err := k.SealCustomer(customer(1), ""); err == nil {
		t.Fatal("Seal succeeded through a failed fsync")
	}
	fail.Store(false)
	if _, err := k.SealCustomer(customer(2), ""); err == nil {
		t.Fatal("a new key was appended after a torn line")
	}
	if v, err := k.SealCustomer(customer(0), ""); err != nil || !bytes.Equal(k.Show(v), customer(0)) || !bytes.Equal(k.Show(known), customer(0)) {
		t.Fatalf("a known customer after the failure: %v", err)
	}
	if ok, err := k.Erase("cust-9"); !ok || err != nil {
		t.Fatalf("Erase = %v, %v", ok, err)
	}
	v, err := k.SealCustomer(customer(2), "")
	if err != nil {
		t.Fatalf("a new key after Erase rewrote the file: %v", err)
	}
	k.Close()
	if k, err = erasure.Open(path); err != nil {
		t.Fatal(err)
	}
	if k.Len() != 2 || !bytes.Equal(k.Show(v), customer(2)) || !bytes.Equal(k.Show(known), customer(0)) {
		t.Fatalf("after reopen: %d keys", k.Len())
	}
}

// TestCommitsAndErase: new keys, seals of known customers and Erase at
// once (for -race); a reopen finds every acknowledged key that was not
// erased, and none that was.
func TestCommitsAndErase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "customer-keys")
	k, err := erasure.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	vals := make([]json.RawMessage, n)
	for i := range n / 2 {
		if vals[i], err = k.SealCustomer(customer(i), ""); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if i < n/2 && i%2 == 0 {
				if ok, err := k.Erase(fmt.Sprintf("cust-%d", i)); !ok || err != nil {
					t.Errorf("Erase cust-%d = %v, %v", i, ok, err)
				}
				return
			}
			v, err := k.SealCustomer(customer(i), "")
			if err != nil {
				t.Error(err)
			}
			if i >= n/2 {
				vals[i] = v
			}
		})
	}
	wg.Wait()
	k.Close()
	if k, err = erasure.Open(path); err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	for i, v := range vals {
		want := customer(i)
		if i < n/2 && i%2 == 0 {
			want = erasure.Erased
		}
		if got := k.Show(v); !bytes.Equal(got, want) {
			t.Errorf("customer %d shows %s, want %s", i, got, want)
		}
	}
	if want := n - n/4; k.Len() != want {
		t.Fatalf("Len = %d, want %d", k.Len(), want)
	}
}
