package agentdesk_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroute/omniroute/agentdesk"
	"github.com/omniroute/omniroute/agentdesk/internal/fixture"
	"github.com/omniroute/omniroute/cluster"
	"github.com/omniroute/omniroute/journal/natsjournal"
	"github.com/omniroute/omniroute/routing"
)

// TestFCMPushFromAnyLiveNode: two agentdesk servers of a cluster (Desks
// on one JetStream KV bucket, each through its own connection; ClaimPush
// shared) follow the same engine. Agent a1's desk registers its FCM token
// on node a, goes READY and closes. Node b learns the token from the
// bucket. An offer to a1 is pushed once while both nodes live (both
// claim, one sends); after node a dies, the next offer is pushed by b,
// the node the desk never registered on.
func TestFCMPushFromAnyLiveNode(t *testing.T) {
	srv, err := natsjournal.StartEmbedded(natsjournal.EmbeddedOptions{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	rec := &fcmRecorder{t: t, ch: make(chan struct{}, 16)}
	fcm := httptest.NewServer(rec)
	defer fcm.Close()
	var mu sync.Mutex
	attempts, winner := map[string]int{}, map[string]string{}
	dirs := map[string]*cluster.Desks{}
	opts := func(node string) agentdesk.Options {
		nc, err := srv.Conn()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		d, err := cluster.OpenDesks(context.Background(), nc, 1, node, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d.Close)
		dirs[node] = d
		return agentdesk.Options{FCMEndpoint: fcm.URL, FCMProject: "proj-1", FCMAccessToken: "access-1",
			FCMBackoff: 10 * time.Millisecond, DisconnectGrace: 50 * time.Millisecond, Desks: d,
			ClaimPush: func(_ context.Context, key string) (bool, error) {
				mu.Lock()
				defer mu.Unlock()
				attempts[key]++
				if _, ok := winner[key]; ok {
					return false, nil
				}
				winner[key] = node
				return true, nil
			}}
	}
	aOpts, bOpts := opts("a"), opts("b")
	e := newEnv(t, aOpts) // node a, with the desk's socket server
	bOpts.Conversations, bOpts.Logger = e.conv, quietLogger()
	b, err := agentdesk.New(e.n, fixture.Verify, bOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)

	a := auth("a1")
	a["fcm"] = "device-token-1"
	c, r, err := e.dial(a)
	if err != nil {
		t.Fatal(err)
	}
	next[agentdesk.AgentPresence](t, r, agentdesk.EventAgentPresence, nil)
	setState(t, c, "a1", "READY", nil)
	_ = c.Close()
	waitUntil(t, "node b to know a1's token and that its desk left", func() bool {
		rd, ok := dirs["b"].Record("a1")
		return ok && rd.FCM == "device-token-1" && !rd.Connected && rd.Node == "a"
	})
	waitUntil(t, "a1's grace to end on node a", func() bool { return e.srv.Graces() == 0 })

	// Both nodes live: one push.
	e.submit(routing.CreateConversation{ID: "f1", RequestID: "rf1", Queue: "chat"})
	waitFCM(t, rec, 1)
	var key1 string
	waitUntil(t, "both nodes to claim the push", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for k, n := range attempts {
			if n == 2 {
				key1 = k
				return true
			}
		}
		return false
	})
	e.submit(routing.CloseConversation{Conversation: "f1"}) // a1 free again; a revoke push may follow
	waitUntil(t, "pushes of f1 sent", func() bool { return e.srv.FCMStats().Sent+b.FCMStats().Sent >= 1 })

	// Node a dies; b pushes the next offer with the token a1 gave a.
	e.srv.Close()
	dirs["a"].Close()
	e.submit(routing.CreateConversation{ID: "f2", RequestID: "rf2", Queue: "chat"})
	// f1's revoke push may still arrive first: wait for f2's offer itself.
	var m agentdesk.FCMMessageBody
	waitUntil(t, "f2's taskRequest push", func() bool {
		for _, got := range rec.all() {
			if got.Message.Data["conversationId"] == "f2" && got.Message.Data["event"] == "taskRequest" {
				m = got.Message
				return true
			}
		}
		return false
	})
	if m.Token != "device-token-1" {
		t.Fatalf("no taskRequest push of f2 with a1's token: %+v", rec.all())
	}
	mu.Lock()
	defer mu.Unlock()
	for k, n := range winner {
		if strings.HasSuffix(k, ".reserved."+m.Data["taskId"]) && n != "b" {
			t.Errorf("f2's push %s claimed by %s, which had died", k, n)
		}
	}
	taskRequests := 0
	for _, got := range rec.all() {
		if got.Message.Data["event"] == "taskRequest" && got.Message.Data["conversationId"] == "f1" {
			taskRequests++
		}
	}
	if taskRequests != 1 {
		t.Fatalf("f1's offer pushed %d times by two nodes, want 1", taskRequests)
	}
	t.Logf("f1 pushed once (claim %s won by %s); f2 pushed by b", key1, winner[key1])
}

func (f *fcmRecorder) all() []agentdesk.FCMMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]agentdesk.FCMMessage(nil), f.got...)
}

func waitFCM(t *testing.T, rec *fcmRecorder, n int) {
	t.Helper()
	waitUntil(t, "FCM messages", func() bool { return len(rec.all()) >= n })
}
