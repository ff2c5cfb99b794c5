package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omniroute/omniroute/agentdesk"
	"github.com/omniroute/omniroute/agentdesk/deskclient"
)

// TestEngineIOHandshakeFlood (issue 13 item 4, the Engine.IO half on the
// real server): 20,000 unauthenticated long-polling handshakes
// (GET /socket.io/?EIO=4&transport=polling) from four client addresses
// (127.0.0.2 to 127.0.0.5, four keep-alive connections each) get at most
// agentDesk.maxPendingPerAddress sessions per address, the rest HTTP 429
// {"code":4,"message":"too many pending sessions from this address"};
// during the flood alice logs in (POST /agent-manager/agent/login) from
// 127.0.0.1 and her desk connects and receives agentPresence. After the
// flood the server still answers /healthz and a second desk connects, and
// the flood's connections are gone once closed.
func TestEngineIOHandshakeFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("flood")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	srv := startExample(t, ctx, t.TempDir())
	t.Cleanup(func() { srv.Close() })
	endpoint := srv.URL() + "/socket.io/?EIO=4&transport=polling"
	const flood, addresses, perAddress, capPerAddress = 20_000, 4, 4, 256 // capPerAddress: examples/omniroute.yaml
	const refusal = `{"code":4,"message":"too many pending sessions from this address"}`
	before := runtime.NumGoroutine()

	var next, other atomic.Int64
	var mu sync.Mutex
	status := map[int]int{}
	var firstRefusal string
	var wg sync.WaitGroup
	var flooders []*http.Client
	floodStart := time.Now()
	for a := range addresses {
		c := fromAddress(fmt.Sprintf("127.0.0.%d", a+2))
		flooders = append(flooders, c)
		for range perAddress {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1); i <= flood; i = next.Add(1) {
					req, _ := http.NewRequestWithContext(ctx, "GET", endpoint, nil)
					resp, err := c.Do(req)
					if err != nil {
						if other.Add(1) == 1 {
							t.Logf("first flood error: %v", err)
						}
						continue
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					mu.Lock()
					status[resp.StatusCode]++
					if resp.StatusCode == http.StatusTooManyRequests && firstRefusal == "" {
						firstRefusal = strings.TrimSpace(string(b))
					}
					mu.Unlock()
				}
			}()
		}
	}
	floodDone := make(chan struct{})
	go func() { wg.Wait(); close(floodDone) }()

	// The agent, once the flood is well under way.
	for next.Load() < flood/5 {
		time.Sleep(5 * time.Millisecond)
	}
	loginStart := time.Now()
	st, b := call(t, "POST", srv.URL()+"/agent-manager/agent/login", "", `{"username":"alice","password":"alice-pass"}`)
	var lr struct {
		Data struct {
			Token string `json:"token"`
		}
	}
	if st != 200 || json.Unmarshal(b, &lr) != nil || lr.Data.Token == "" {
		t.Fatalf("alice logs in during the flood: %d %s", st, b)
	}
	loginTook := time.Since(loginStart)
	deskStart := time.Now()
	presence := make(chan json.RawMessage, 4)
	desk, err := deskclient.Dial(ctx, srv.URL(), "", map[string]any{"agent": "alice", "token": lr.Data.Token},
		deskclient.WithHandler(agentdesk.EventAgentPresence, func(p json.RawMessage) {
			select {
			case presence <- p:
			default:
			}
		}))
	if err != nil {
		t.Fatalf("alice's desk connects during the flood: %v", err)
	}
	defer desk.Close()
	var p agentdesk.AgentPresence
	select {
	case raw := <-presence:
		if err := json.Unmarshal(raw, &p); err != nil || p.Agent.ID != "alice" {
			t.Fatalf("agentPresence during the flood: %v %s", err, raw)
		}
	case <-ctx.Done():
		t.Fatal("no agentPresence during the flood")
	}
	deskTook := time.Since(deskStart)
	inFlood := next.Load() < flood
	<-floodDone
	floodTook := time.Since(floodStart)
	t.Logf("flood: %v in %v (%d errors); login %v; desk connect to agentPresence %v (flood still running: %v)",
		status, floodTook.Round(time.Millisecond), other.Load(), loginTook.Round(time.Millisecond), deskTook.Round(time.Millisecond), inFlood)

	// The figure to meet is 1 s (issue 13's Must show; logged above and
	// in docs/SECURITY.md). The suite asserts a bound a loaded CI machine
	// still meets, far under the 39 s lockout this guards against.
	if deskTook > 10*time.Second {
		t.Errorf("alice's desk took %v to connect during the flood, want < 1 s (10 s on a loaded machine)", deskTook)
	}
	if !inFlood {
		t.Errorf("the flood was over before the desk connected: the test proved nothing")
	}
	// A session that joins no namespace is closed after
	// agentdesk.DefaultConnectTimeout, which frees its place: a flood
	// slower than that (a loaded machine) is admitted up to the cap once
	// per period.
	admitted := addresses * capPerAddress * (1 + int(floodTook/agentdesk.DefaultConnectTimeout))
	if status[200] < addresses*capPerAddress || status[200] > admitted ||
		status[200]+status[429] != flood || other.Load() != 0 {
		t.Errorf("per-address cap not in force: answers %v (at most %d x 200 in %v, the rest 429), %d errors", status, admitted, floodTook, other.Load())
	}
	if firstRefusal != refusal {
		t.Errorf("refused handshake answered %q, want %q", firstRefusal, refusal)
	}

	// Still healthy: /healthz, and another agent's desk connects.
	if st, b := call(t, "GET", srv.URL()+"/healthz", "", ""); st != 200 {
		t.Errorf("healthz after the flood: %d %s", st, b)
	}
	st, b = call(t, "POST", srv.URL()+"/agent-manager/agent/login", "", `{"username":"bob","password":"bob-pass"}`)
	if st != 200 || json.Unmarshal(b, &lr) != nil {
		t.Fatalf("bob logs in after the flood: %d %s", st, b)
	}
	bob, err := deskclient.Dial(ctx, srv.URL(), "", map[string]any{"agent": "bob", "token": lr.Data.Token})
	if err != nil {
		t.Fatalf("bob's desk connects after the flood: %v", err)
	}
	bob.Close()

	// The flood's keep-alive connections hold goroutines on both sides;
	// closed, the server's see EOF and end. The pending sessions hold
	// none, so what remains is bounded by the desk and the server's own.
	for _, c := range flooders {
		c.CloseIdleConnections()
	}
	g := runtime.NumGoroutine()
	for deadline := time.Now().Add(10 * time.Second); g > before+64 && time.Now().Before(deadline); g = runtime.NumGoroutine() {
		time.Sleep(20 * time.Millisecond)
	}
	if g > before+64 {
		t.Errorf("%d goroutines after the flood's connections closed (%d before)", g, before)
	}
}
