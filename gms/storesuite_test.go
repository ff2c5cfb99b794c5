package gms_test

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroute/omniroute/gms"
	"github.com/omniroute/omniroute/journal/natsjournal/natsjournaltest"
)

// TestStore runs the one Store acceptance suite against both
// implementations: memory and the JetStream KV bucket.
func TestStore(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		s := &gms.MemStore{}
		testStore(t, func(*testing.T) gms.Store { return s })
	})
	t.Run("jetstream", func(t *testing.T) {
		srv := natsjournaltest.Server(t)
		testStore(t, func(t *testing.T) gms.Store {
			nc := natsjournaltest.Conn(t, srv)
			s, err := gms.OpenKV(t.Context(), nc, 1)
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
}

// testStore is what every Store does. open returns a Store on the same
// records each time it is called (the bucket opened again, the same
// MemStore): what one wrote, another reads.
func testStore(t *testing.T, open func(*testing.T) gms.Store) {
	ctx := t.Context()
	a := open(t)
	byID := func(t *testing.T, s gms.Store) map[string]gms.Record {
		t.Helper()
		recs, err := s.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]gms.Record{}
		for _, r := range recs {
			if _, dup := m[r.ID]; dup {
				t.Fatalf("Load returned %q twice", r.ID)
			}
			m[r.ID] = r
		}
		return m
	}
	if got := byID(t, a); len(got) != 0 {
		t.Fatalf("new store holds %v", got)
	}
	at := time.Date(2026, 12, 2, 9, 30, 0, 0, time.UTC)
	full := gms.Record{ID: "cb-1", Service: "chat-delay", Owner: "0a0b", DeviceOS: "comet", DeviceID: "dev-1",
		CustomerNumber: "+15550100", Queue: "chat-support", CreatedAt: at, DesiredAt: at.Add(time.Minute),
		ExpiresAt: at.Add(time.Hour), State: gms.StateRouting, Agent: "alice", Notified: true, ChatStarted: true,
		Dialogs: 2, Chat: gms.Form{"_customer_number": "+15550100"},
		ToDevice: []map[string]any{{"_action": gms.ActionAgentAvailable, "_id": "cb-1"}},
		ToAgent:  []gms.AgentNote{{Message: "hello", Tag: gms.TagAgentMessage + "cb-1"}},
		Estimate: 42 * time.Second, EstPos: 3, EstAt: at, Node: "a", Source: gms.SourceEvent}
	// An id a client may choose: spaces and NATS wildcards are kept.
	odd := gms.Record{ID: "cb 2.*>/x", Service: "chat-delay", Owner: "ff", Queue: "q", CreatedAt: at, State: gms.StateRouting}
	for _, r := range []gms.Record{full, odd} {
		if err := a.Put(ctx, r); err != nil {
			t.Fatalf("Put %q: %v", r.ID, err)
		}
	}

	t.Run("every field comes back", func(t *testing.T) {
		got := byID(t, open(t))
		if len(got) != 2 || !reflect.DeepEqual(got[full.ID], full) || !reflect.DeepEqual(got[odd.ID], odd) {
			t.Fatalf("Load:\n%+v\nwant\n%+v\n%+v", got, full, odd)
		}
	})
	t.Run("the last Put wins", func(t *testing.T) {
		done := full
		done.State, done.Reason, done.CompletedAt, done.ToDevice, done.ToAgent = gms.StateCompleted, "CANCELLED", at.Add(2*time.Hour), nil, nil
		if err := a.Put(ctx, done); err != nil {
			t.Fatal(err)
		}
		if got := byID(t, open(t))[full.ID]; !reflect.DeepEqual(got, done) {
			t.Fatalf("after a second Put: %+v, want %+v", got, done)
		}
	})
	t.Run("Delete forgets, twice is fine", func(t *testing.T) {
		for range 2 {
			if err := a.Delete(ctx, odd.ID); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Delete(ctx, "never-stored"); err != nil {
			t.Fatalf("Delete of an absent id: %v", err)
		}
		got := byID(t, open(t))
		if _, ok := got[odd.ID]; ok || len(got) != 1 {
			t.Fatalf("after Delete: %v", slices.Sorted(maps.Keys(got)))
		}
	})
	t.Run("a Watcher sees other writers' puts", func(t *testing.T) {
		w, ok := a.(gms.Watcher)
		if !ok {
			t.Skip("not a Watcher (one server only)")
		}
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var mu sync.Mutex
		var seen []string // the puts seen, warm-up records left out
		warmed := false
		if err := w.Watch(wctx, func(r gms.Record) {
			mu.Lock()
			defer mu.Unlock()
			if r.ID == "cb-warm" {
				warmed = true
				return
			}
			seen = append(seen, r.ID+"/"+r.State)
		}); err != nil {
			t.Fatal(err)
		}
		// waitFor polls until cond holds (under mu), for up to 30 s.
		waitFor := func(what string, cond func() bool, poke func()) {
			t.Helper()
			for deadline := time.Now().Add(30 * time.Second); ; {
				mu.Lock()
				done := cond()
				mu.Unlock()
				if done {
					return
				}
				if time.Now().After(deadline) {
					mu.Lock()
					defer mu.Unlock()
					t.Fatalf("%s: watch saw %v", what, seen)
				}
				if poke != nil {
					poke()
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		b := open(t)
		// The watch may still be starting when Watch returns: it is live
		// once it sees a write made after it, so write a warm-up record
		// until one is seen; the writes that are checked come after.
		waitFor("warm-up", func() bool { return warmed }, func() {
			if err := b.Put(ctx, gms.Record{ID: "cb-warm", Owner: "01", State: gms.StateQueued}); err != nil {
				t.Fatal(err)
			}
		})
		if err := b.Put(ctx, gms.Record{ID: "cb-3", Owner: "01", State: gms.StateRouting}); err != nil {
			t.Fatal(err)
		}
		if err := b.Delete(ctx, "cb-3"); err != nil {
			t.Fatal(err)
		}
		if err := b.Put(ctx, gms.Record{ID: "cb-4", Owner: "01", State: gms.StateCompleted}); err != nil {
			t.Fatal(err)
		}
		// A bucket keeps one value per key, so a put overwritten (here
		// deleted) before the watch delivers it may never be seen: a
		// watcher gets every key's latest value, not every value. cb-3's
		// put is seen before cb-4's or not at all; its deletion never.
		waitFor("cb-4's put", func() bool { return slices.Contains(seen, "cb-4/"+gms.StateCompleted) }, nil)
		mu.Lock()
		defer mu.Unlock()
		if got := strings.Join(seen, " "); got != "cb-3/"+gms.StateRouting+" cb-4/"+gms.StateCompleted && got != "cb-4/"+gms.StateCompleted {
			t.Fatalf("watch saw %v (stored before the watch, or a deletion, or out of order)", seen)
		}
	})
}
