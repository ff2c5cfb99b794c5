package natsstore_test

import (
	"errors"
	"testing"

	"github.com/omniroute/omniroute/journal/natsjournal/natsjournaltest"
	"github.com/omniroute/omniroute/natsstore"
)

// TestKeyValueBindOrUpdate: without Bind an existing bucket takes the new
// spec (here its history); with Bind it is used as it is.
func TestKeyValueBindOrUpdate(t *testing.T) {
	nc := natsjournaltest.Connect(t)
	js, err := natsstore.JetStream(nc, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	history := func(spec natsstore.Spec) int64 {
		t.Helper()
		kv, err := natsstore.KeyValue(ctx, js, spec)
		if err != nil {
			t.Fatal(err)
		}
		st, err := kv.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.History()
	}
	if h := history(natsstore.Spec{Name: "b", History: 2}); h != 2 {
		t.Fatalf("created with history %d, want 2", h)
	}
	if h := history(natsstore.Spec{Name: "b", History: 5, Bind: true}); h != 2 {
		t.Fatalf("bound: history %d, want the existing 2", h)
	}
	if h := history(natsstore.Spec{Name: "b", History: 5}); h != 5 {
		t.Fatalf("updated: history %d, want 5", h)
	}
	if h := history(natsstore.Spec{Name: "fresh", Bind: true}); h != 1 {
		t.Fatalf("bind of an absent bucket creates it with history %d, want 1", h)
	}
}

// TestBucket: Put, All, Delete (twice is fine) and Key's any-id keys.
func TestBucket(t *testing.T) {
	nc := natsjournaltest.Connect(t)
	ctx := t.Context()
	b, err := natsstore.Open(ctx, nc, natsstore.Spec{Name: "bytes"})
	if err != nil {
		t.Fatal(err)
	}
	if all, err := b.All(ctx); err != nil || len(all) != 0 {
		t.Fatalf("empty bucket: %v %v", all, err)
	}
	k := natsstore.Key("a b.*>")
	if err := b.Put(ctx, k, []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, k, []byte("2")); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "other", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if all, err := b.All(ctx); err != nil || len(all) != 2 || string(all[k]) != "2" {
		t.Fatalf("All: %q %v", all, err)
	}
	for range 2 {
		if err := b.Delete(ctx, "other"); err != nil {
			t.Fatal(err)
		}
	}
	if all, err := b.All(ctx); err != nil || len(all) != 1 || string(all[k]) != "2" {
		t.Fatalf("All after Delete: %q %v", all, err)
	}
}

// TestBucketSwap: Get of an absent key is (nil, 0); Swap creates at
// revision 0 once, updates at the revision read, refuses a stale revision
// with ErrRevision and leaves the value as it was; a deleted key can be
// created again.
// TestBucketMatching: Matching returns the keys of its filters only,
// nothing when none matches, and refuses no filter.
func TestBucketMatching(t *testing.T) {
	nc := natsjournaltest.Connect(t)
	ctx := t.Context()
	b, err := natsstore.Open(ctx, nc, natsstore.Spec{Name: "matching"})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"g.1.a", "g.1.b", "g.2.a", "q.1.x", "q.2.y"} {
		if err := b.Put(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.Matching(ctx, []string{"g.1.*", "q.>"})
	if err != nil || len(got) != 4 || string(got["g.1.b"]) != "g.1.b" || got["g.2.a"] != nil {
		t.Fatalf("Matching g.1.*, q.>: %q %v", got, err)
	}
	if got, err := b.Matching(ctx, []string{"a.>"}); err != nil || len(got) != 0 {
		t.Fatalf("Matching a.>: %q %v", got, err)
	}
	if _, err := b.Matching(ctx, nil); err == nil {
		t.Fatal("Matching without a filter: no error")
	}
}

func TestBucketSwap(t *testing.T) {
	nc := natsjournaltest.Connect(t)
	ctx := t.Context()
	b, err := natsstore.Open(ctx, nc, natsstore.Spec{Name: "swap"})
	if err != nil {
		t.Fatal(err)
	}
	if v, rev, err := b.Get(ctx, "k"); v != nil || rev != 0 || err != nil {
		t.Fatalf("absent key: %q %d %v", v, rev, err)
	}
	if err := b.Swap(ctx, "k", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	if err := b.Swap(ctx, "k", []byte("x"), 0); !errors.Is(err, natsstore.ErrRevision) {
		t.Fatalf("a second create: %v, want ErrRevision", err)
	}
	v, rev, err := b.Get(ctx, "k")
	if string(v) != "1" || rev == 0 || err != nil {
		t.Fatalf("Get: %q %d %v", v, rev, err)
	}
	if err := b.Swap(ctx, "k", []byte("2"), rev); err != nil {
		t.Fatal(err)
	}
	if err := b.Swap(ctx, "k", []byte("stale"), rev); !errors.Is(err, natsstore.ErrRevision) {
		t.Fatalf("a stale revision: %v, want ErrRevision", err)
	}
	if v, _, _ := b.Get(ctx, "k"); string(v) != "2" {
		t.Fatalf("after the refused swap: %q, want 2", v)
	}
	if err := b.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if v, rev, err := b.Get(ctx, "k"); v != nil || rev != 0 || err != nil {
		t.Fatalf("deleted key: %q %d %v", v, rev, err)
	}
	if err := b.Swap(ctx, "k", []byte("3"), 0); err != nil {
		t.Fatalf("create after delete: %v", err)
	}
}
