package extrouting

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/omniroute/omniroute/routing"
)

const hookSecret = "webhook-secret-0123456789"

// receiver is a partner's webhook endpoint: it checks every signature and
// answers 500 while fail > 0 (decremented per request) or failAll.
type receiver struct {
	t        *testing.T
	mu       sync.Mutex
	fail     int
	failAll  bool
	attempts map[uint64]int
	got      []map[string]any // acknowledged deliveries, in order
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if !VerifySignature(hookSecret, body, r.Header.Get(HeaderSignature)) || r.Header.Get(HeaderPartner) != "p1" {
		rc.t.Errorf("bad signature or partner: %q %q", r.Header.Get(HeaderSignature), body)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var d map[string]any
	if err := json.Unmarshal(body, &d); err != nil {
		rc.t.Errorf("body %s: %v", body, err)
	}
	seq := uint64(replayID(d))
	if r.Header.Get(HeaderReplayID) != strconv.FormatUint(seq, 10) {
		rc.t.Errorf("replay id header %q, body %d", r.Header.Get(HeaderReplayID), seq)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.attempts[seq]++
	if rc.failAll || rc.fail > 0 {
		rc.fail--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	rc.got = append(rc.got, d)
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) wait(n int) []map[string]any {
	rc.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		rc.mu.Lock()
		if len(rc.got) >= n {
			out := append([]map[string]any(nil), rc.got...)
			rc.mu.Unlock()
			return out
		}
		rc.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	rc.t.Fatalf("webhook: %d deliveries, want %d", len(rc.got), n)
	return nil
}

func startHooks(t *testing.T, e *env, url string) *Webhooks {
	t.Helper()
	w, err := e.ad.StartWebhooks(context.Background(), []Webhook{{Partner: "p1", URL: url, Secret: hookSecret}, {Partner: "nohook"}},
		WebhookOptions{MinBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, AckWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestSignature(t *testing.T) {
	// HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog") (RFC 4231 style known value).
	if got := Sign("key", []byte("The quick brown fox jumps over the lazy dog")); got != "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8" {
		t.Fatal(got)
	}
	if VerifySignature("key", []byte("x"), Sign("other", []byte("x"))) {
		t.Fatal("wrong key verified")
	}
}

// Signed deliveries, retries on 500, resume after a restart on the same
// NATS directory: acknowledged events are not sent again, the unacknowledged
// one is, then new events follow.
func TestWebhookRetryAndResume(t *testing.T) {
	e := newEnv(t)
	rc := &receiver{t: t, fail: 2, attempts: map[uint64]int{}}
	hs := httptest.NewServer(rc)
	defer hs.Close()
	w := startHooks(t, e, hs.URL)
	closed := false
	t.Cleanup(func() {
		if !closed {
			w.Close()
		}
	})

	e.submit(routing.CreateConversation{ID: "c1", RequestID: "r-c1", Queue: "ext"})
	got := rc.wait(1)
	if evType(got[0]) != "created" || sobj(got[0])["WorkItemId"] != "c1" {
		t.Fatalf("first delivery %v", got[0])
	}
	first := uint64(replayID(got[0]))
	rc.mu.Lock()
	if rc.attempts[first] != 3 {
		t.Fatalf("attempts %d, want 3 (two 500s then 204)", rc.attempts[first])
	}
	rc.failAll = true
	rc.mu.Unlock()

	e.submit(routing.CreateConversation{ID: "c2", RequestID: "r-c2", Queue: "ext"})
	deadline := time.Now().Add(5 * time.Second)
	for {
		rc.mu.Lock()
		n := rc.attempts[first+1]
		rc.mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("second event never attempted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	w.Close()
	closed = true
	e.restart()
	rc.mu.Lock()
	rc.failAll = false
	rc.mu.Unlock()
	w2 := startHooks(t, e, hs.URL)
	t.Cleanup(w2.Close)
	e.submit(routing.CreateConversation{ID: "c3", RequestID: "r-c3", Queue: "ext"})
	// A marker event after c3: the hook delivers in stream order, one at a
	// time, so once the marker has arrived any second copy of c1..c3 sent
	// meanwhile would sit in rc.got before it.
	e.submit(routing.CreateConversation{ID: "c4", RequestID: "r-c4", Queue: "ext"})
	rc.wait(4)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) != 4 || sobj(rc.got[1])["WorkItemId"] != "c2" || sobj(rc.got[2])["WorkItemId"] != "c3" ||
		uint64(replayID(rc.got[1])) != first+1 || uint64(replayID(rc.got[2])) != first+2 ||
		sobj(rc.got[3])["WorkItemId"] != "c4" {
		t.Fatalf("after restart: %v", rc.got)
	}
	if rc.attempts[first] != 3 {
		t.Fatalf("acknowledged event sent again: %d attempts", rc.attempts[first])
	}
}
