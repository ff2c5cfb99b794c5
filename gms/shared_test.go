package gms_test

import (
	"context"
	"sync"
	"testing"

	"github.com/omniroute/omniroute/gms"
	"github.com/omniroute/omniroute/journal/natsjournal/natsjournaltest"
)

// TestSharedCallbacksOutliveTheirNode: two GMS servers of a cluster (NodeID
// set, one JetStream KV bucket, each through its own connection) follow
// the same engine. Node b started before the callback existed; it learns
// the callback node a created from the bucket. Node a then dies: when an
// agent becomes available, b pushes the agent-available notification (once,
// claimed) and answers the device's requests for the callback, ixn/chat
// included.
func TestSharedCallbacksOutliveTheirNode(t *testing.T) {
	srv := natsjournaltest.Server(t)
	kv := func() *gms.KVStore {
		nc := natsjournaltest.Conn(t, srv)
		s, err := gms.OpenKV(context.Background(), nc, 1)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	var mu sync.Mutex
	claims := map[string]string{}
	e := newEnvStore(t, kv())
	e.gms.Close()
	newNode := func(id string) *gms.Server {
		e.nodeID, e.store = id, kv()
		e.claim = func(_ context.Context, key string) (bool, error) {
			mu.Lock()
			defer mu.Unlock()
			if _, ok := claims[key]; ok {
				return false, nil
			}
			claims[key] = id
			return true, nil
		}
		g, err := e.newGMS()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Close)
		return g
	}
	a, b := newNode("a"), newNode("b")
	e.gms, e.hs.Config.Handler = a, a.Handler()
	id := e.create(seedUser, "comet")

	e.hs.Config.Handler = b.Handler() // the device's next requests reach b
	waitFor(t, "node b to know the callback", func() bool {
		r := e.do("GET", "/genesys/1/service/callback/chat-delay/"+id, "", "", "gms_user", seedUser)
		return r.status == 200
	})
	if st, _ := e.state(id, seedUser); st != gms.StateQueued {
		t.Fatalf("b sees %s, want %s", st, gms.StateQueued)
	}
	a.Close() // node a dies: it applies and pushes nothing more

	e.ready("alice")
	waitFor(t, "agent-available push from b", func() bool { return len(e.push.all()) >= 1 })
	if st, _ := e.state(id, seedUser); st != gms.StateRouting {
		t.Fatalf("after the hold b answers %s, want %s", st, gms.StateRouting)
	}
	mu.Lock()
	for key, by := range claims {
		if by != "b" {
			t.Errorf("claim %s won by %s after a died", key, by)
		}
	}
	mu.Unlock()
	if n := len(e.push.all()); n != 1 {
		t.Fatalf("%d pushes, want 1", n)
	}

	// The customer confirms the chat on b; a node that starts afterwards
	// finds the callback in the bucket, past QUEUED.
	const bd = "----WebKitFormBoundaryteXJ8ZpAGGDTAMFN"
	r := e.do("POST", "/genesys/1/service/"+id+"/ixn/chat", "multipart/form-data; boundary="+bd,
		multipart(bd, "notify_by", "comet", "firstName", "John", "lastName", "Harry"), "gms_user", seedUser)
	if r.status != 200 {
		t.Fatalf("ixn/chat on b: %d %s", r.status, r.body)
	}
	c := newNode("c")
	e.hs.Config.Handler = c.Handler()
	if st, _ := e.state(id, seedUser); st == gms.StateQueued || st == "" {
		t.Fatalf("node c sees %q", st)
	}
}
