package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkPSRCreatedLatency: time from POST /v1/conversations (external
// queue) until a CometD long-polling subscriber receives the PSR "created"
// event; 8 concurrent posters, b.N conversations. Reports p50/p99 in ms.
//
//	go test ./examples/partnerrouter -run '^$' -bench PSRCreatedLatency -benchtime 2000x
func BenchmarkPSRCreatedLatency(b *testing.B) {
	// burst: 8 clients post as fast as they can (the backlog dominates);
	// 200/s: one client posts every 5 ms, the arrival rate.
	b.Run("burst", func(b *testing.B) { psrLatency(b, 8, 0) })
	b.Run("200-per-s", func(b *testing.B) { psrLatency(b, 1, 5*time.Millisecond) })
}

func psrLatency(b *testing.B, posters int, every time.Duration) {
	s := startServer(b, testConfig(1, 1))
	base := s.URL()
	jar, _ := cookiejar.New(nil)
	bx := &bayeuxClient{url: base + "/cometd/60.0", token: partnerToken, http: &http.Client{Jar: jar}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := bx.start(ctx, "/topic/PendingServiceRoutingTopic", -1); err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	sent := map[string]time.Time{}
	arrived := map[string]time.Time{}
	got := make(chan struct{}, b.N)
	go func() {
		for ctx.Err() == nil {
			msgs, _, err := bx.connect(ctx)
			if err != nil {
				return
			}
			now := time.Now()
			for _, m := range msgs {
				var ev event
				if json.Unmarshal(m.Data, &ev) != nil || ev.Event.Type != "created" {
					continue
				}
				mu.Lock()
				arrived[ev.SObject.WorkItemID] = now
				mu.Unlock()
				got <- struct{}{}
			}
		}
	}()
	// No wait here: bx.start returned after /meta/subscribe succeeded, and
	// the server queues the session's events until the next connect.
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for range posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var tick <-chan time.Time
			if every > 0 {
				t := time.NewTicker(every)
				defer t.Stop()
				tick = t.C
			}
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				if tick != nil {
					<-tick
				}
				var created struct{ ID string }
				t0 := time.Now()
				if st := call(b, base, "POST", "/v1/conversations", map[string]any{"queue": "ext"}, &created); st != 201 {
					b.Errorf("conversation: %d", st)
					return
				}
				mu.Lock()
				sent[created.ID] = t0
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for range b.N {
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			b.Fatal("created events missing")
		}
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	var lat []time.Duration
	for id, t0 := range sent {
		if t1, ok := arrived[id]; ok {
			lat = append(lat, t1.Sub(t0))
		}
	}
	report(b, lat)
}

func report(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		b.Fatal("no latencies measured")
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
}

// BenchmarkAgentWorkThroughput: AgentWork creates per second through
// POST /v1/agent-work (partner token), 32 concurrent partner requests, 20
// agents with capacity 100 on chat; b.N PSRs are queued before the timer
// starts, each request assigns one (agents round-robin, as the reference
// router's least-load order spreads them). Reports assignments/s.
//
//	go test ./examples/partnerrouter -run '^$' -bench AgentWorkThroughput -benchtime 2000x
func BenchmarkAgentWorkThroughput(b *testing.B) {
	const agents, capacity, workers = 20, 100, 32
	if b.N > agents*capacity {
		b.Skipf("b.N %d over the %d slots", b.N, agents*capacity)
	}
	s := startServer(b, testConfig(agents, capacity))
	base := s.URL()
	var ids []string
	for i := 1; i <= agents; i++ {
		ids = append(ids, fmt.Sprintf("a%d", i))
	}
	ready(b, base, ids...)
	for range b.N {
		if st := call(b, base, "POST", "/v1/conversations", map[string]any{"queue": "ext"}, nil); st != 201 {
			b.Fatalf("conversation: %d", st)
		}
	}
	r := &router{c: Config{Server: base, Token: partnerToken, Client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}}}
	var open struct{ Items []psr }
	deadline := time.Now().Add(10 * time.Second)
	for len(open.Items) < b.N && time.Now().Before(deadline) {
		if err := r.get(context.Background(), "/v1/pending-service-routing", partnerToken, &open); err != nil {
			b.Fatal(err)
		}
	}
	if len(open.Items) < b.N {
		b.Fatalf("%d PSRs, want %d", len(open.Items), b.N)
	}
	var next atomic.Int64
	var failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				p := open.Items[i]
				body := map[string]string{"pendingServiceRoutingId": p.ID, "userId": ids[int(i)%agents],
					"workItemId": p.WorkItemID, "serviceChannelId": p.ServiceChannelID}
				if st, err := r.send(context.Background(), "POST", "/v1/agent-work", partnerToken, body, nil); st != http.StatusCreated {
					failed.Add(1)
					b.Error(st, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "assignments/s")
}
