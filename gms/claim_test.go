package gms_test

import (
	"context"
	"sync"
	"testing"

	"github.com/omniroute/omniroute/gms"
)

// TestClaimPushOnce: two GMS servers apply the same node's events, as two
// nodes of a cluster do, and both know the callback (one created it, the
// other loaded it from the shared store). With a ClaimPush that lets the
// first claimant of a key win, the device gets the agent-available push
// once; the key names the journal entry and the callback, equal on both.
func TestClaimPushOnce(t *testing.T) {
	var mu sync.Mutex
	claimed := map[string]int{}
	var keys []string
	claim := func(_ context.Context, key string) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		claimed[key]++
		keys = append(keys, key)
		return claimed[key] == 1, nil
	}
	store := &gms.MemStore{}
	e := newEnvStore(t, store)
	e.gms.Close()
	e.claim = claim
	g1, err := e.newGMS()
	if err != nil {
		t.Fatal(err)
	}
	defer g1.Close()
	e.gms = g1
	e.hs.Config.Handler = g1.Handler()
	id := e.create(seedUser, "comet")
	g2, err := e.newGMS() // the second node: re-adopts the callback from the store
	if err != nil {
		t.Fatal(err)
	}
	defer g2.Close()
	e.ready("alice")
	waitFor(t, "agent-available push", func() bool { return len(e.push.all()) >= 1 })
	// Both servers claim before they push; once both claims are in,
	// closing the servers waits for their push goroutines, so a second
	// push, if any, is recorded before the count.
	waitFor(t, "both servers' claims", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(keys) >= 2
	})
	g1.Close()
	g2.Close()
	if n := len(e.push.all()); n != 1 {
		t.Fatalf("%d pushes from two servers, want 1", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 2 || keys[0] != keys[1] {
		t.Fatalf("claims %v: want the same key from both servers", keys)
	}
	t.Logf("claimed %s for callback %s", keys[0], id)
}
