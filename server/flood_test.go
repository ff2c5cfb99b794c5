package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/omniroute/omniroute/bayeux"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fromAddress is an HTTP client whose connections leave from the loopback
// address ip (127.0.0.2 and so on are all loopback on Linux).
func fromAddress(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 16}}
}

func bayeuxPost(ctx context.Context, c *http.Client, url, user string, msgs ...map[string]any) ([]map[string]any, error) {
	raw, _ := json.Marshal(msgs)
	req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("gms_user", user)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out []map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil || len(out) == 0 {
		return nil, fmt.Errorf("%d %s", resp.StatusCode, b)
	}
	return out, nil
}

// TestCometDHandshakeFlood: 10,000 anonymous handshakes on /genesys/cometd
// from one address (127.0.0.2) get at most bayeux's per-address cap of
// sessions, the rest "503::Too many clients from this address"; during the
// flood a real customer (127.0.0.1) starts a callback, handshakes and
// subscribes to /_genesys within 1 s.
func TestCometDHandshakeFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("flood")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	srv := startExample(t, ctx, t.TempDir())
	t.Cleanup(func() { srv.Close() })
	endpoint := srv.URL() + "/genesys/cometd"
	const flood, workers = 10_000, 8
	attacker := fromAddress("127.0.0.2")
	var next, ok, refused, other atomic.Int64
	var wg sync.WaitGroup
	floodStart := time.Now()
	floodDone := make(chan struct{})
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= flood; i = next.Add(1) {
				out, err := bayeuxPost(ctx, attacker, endpoint, fmt.Sprintf("anon-%d", i),
					map[string]any{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}})
				switch {
				case err == nil && out[0]["successful"] == true:
					ok.Add(1)
				case err == nil && out[0]["error"] == "503::Too many clients from this address":
					refused.Add(1)
				default:
					if other.Add(1) == 1 {
						t.Logf("first other answer: %v %v", out, err)
					}
				}
			}
		}()
	}
	go func() { wg.Wait(); close(floodDone) }()

	// The customer, once the flood is well under way.
	for next.Load() < flood/5 {
		time.Sleep(5 * time.Millisecond)
	}
	customer := fromAddress("127.0.0.1")
	const user = "real-customer-device"
	ct, body := multipartForm("_customer_number", "4082652649", "_device_os", "comet", "_device_notification_id", user)
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL()+"/genesys/1/service/callback/chat-delay", strings.NewReader(body))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("gms_user", user)
	resp, err := customer.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("start callback during the flood: %v %v", err, resp)
	}
	resp.Body.Close()
	start := time.Now()
	hs, err := bayeuxPost(ctx, customer, endpoint, user, map[string]any{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}})
	if err != nil || hs[0]["successful"] != true {
		t.Fatalf("customer handshake during the flood: %v %v", hs, err)
	}
	sub, err := bayeuxPost(ctx, customer, endpoint, user, map[string]any{"channel": "/meta/subscribe", "clientId": hs[0]["clientId"], "subscription": "/_genesys"})
	if err != nil || sub[0]["successful"] != true {
		t.Fatalf("customer subscribe during the flood: %v %v", sub, err)
	}
	took := time.Since(start)
	inFlood := next.Load() < flood
	<-floodDone
	floodTook := time.Since(floodStart)
	t.Logf("flood: %d sessions, %d refused per address, %d other; customer handshake+subscribe in %v (flood still running: %v)",
		ok.Load(), refused.Load(), other.Load(), took, inFlood)
	// The figure to meet is 1 s (issue 13's Must show; logged above and
	// in docs/BENCHMARKS.md). The suite asserts a bound a loaded CI
	// machine still meets, far under the 39 s lockout this guards against.
	if took > 5*time.Second {
		t.Errorf("the customer took %v to subscribe during the flood, want < 1 s (5 s on a loaded machine)", took)
	}
	if !inFlood {
		t.Errorf("the flood was over before the customer subscribed: the test proved nothing")
	}
	// A session that never connects is removed after bayeux's
	// UnconnectedTimeout, which frees its place: a flood slower than that
	// (a loaded machine) is admitted up to the cap once per period.
	admitted := int64(bayeux.DefaultMaxClientsPerAddress) * (1 + int64(floodTook/bayeux.DefaultUnconnectedTimeout))
	if ok.Load() > admitted || refused.Load() < flood-admitted || other.Load() != 0 {
		t.Errorf("per-address cap not in force: %d sessions (at most %d in %v), %d refused, %d other", ok.Load(), admitted, floodTook, refused.Load(), other.Load())
	}
}
