package server_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The cluster benchmarks run on real processes (three nats-server, three
// `omniroute serve --cluster`, every stream R3) and go through REST: each
// operation is one POST /v1/conversations acknowledged 201, so durable in
// the replicated journal before the answer.
//
//	go test ./server -run '^$' -bench 'ClusterREST' -benchtime 3000x

// benchREST posts b.N conversations to base from 32 concurrent clients.
func benchREST(b *testing.B, base string) {
	const clients = 32
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if st, _ := request(c, base, "POST", "/v1/conversations", adminToken, `{"queue":"chat-sales"}`); st != http.StatusCreated {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d of %d commands failed", failed.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
}

// benchClusterEnv starts the cluster of one benchmark run; the probe run
// with b.N == 1 starts nothing (nil), so only the measured run pays for it.
func benchClusterEnv(b *testing.B) (*clusterEnv, *omniNode, *omniNode) {
	if b.N == 1 {
		return nil, nil, nil
	}
	e := startClusterEnv(b, false)
	leader, _ := e.leader(0, 60*time.Second)
	var follower *omniNode
	for _, n := range e.nodes {
		if n != leader {
			follower = n
			break
		}
	}
	return e, leader, follower
}

func BenchmarkClusterRESTLeader(b *testing.B) {
	e, leader, _ := benchClusterEnv(b)
	if e == nil {
		return
	}
	benchREST(b, "http://"+leader.addr)
}

func BenchmarkClusterRESTFollower(b *testing.B) {
	e, _, follower := benchClusterEnv(b)
	if e == nil {
		return
	}
	benchREST(b, "http://"+follower.addr)
}

// BenchmarkClusterRESTFollowerLag creates conversations on the leader at
// 1,000/s and measures, for every tenth, the time from the leader's 201 to
// the follower answering GET /v1/conversations/{id} with 200 (polled every
// millisecond): the follower's lag as a client sees it, an upper bound of
// the replication lag by up to the poll interval and one GET.
func BenchmarkClusterRESTFollowerLag(b *testing.B) {
	e, leader, follower := benchClusterEnv(b)
	if e == nil {
		return
	}
	const rate = 1000
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var mu sync.Mutex
	var lags []time.Duration
	var failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, body := request(c, "http://"+leader.addr, "POST", "/v1/conversations", adminToken, `{"queue":"chat-sales"}`)
			acked := time.Now()
			var conv struct{ ID string }
			if st != http.StatusCreated || json.Unmarshal(body, &conv) != nil {
				failed.Add(1)
				return
			}
			if i%10 != 0 {
				return
			}
			for time.Since(acked) < 5*time.Second {
				if st, _ := request(c, "http://"+follower.addr, "GET", "/v1/conversations/"+conv.ID, adminToken, ""); st == http.StatusOK {
					mu.Lock()
					lags = append(lags, time.Since(acked))
					mu.Unlock()
					return
				}
				time.Sleep(time.Millisecond)
			}
			failed.Add(1)
		}()
	}
	wg.Wait()
	b.StopTimer()
	if failed.Load() > 0 || len(lags) == 0 {
		b.Fatalf("%d failed, %d lag samples", failed.Load(), len(lags))
	}
	slices.Sort(lags)
	q := func(p float64) float64 { return float64(lags[int(p*float64(len(lags)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "lag-p50-ms")
	b.ReportMetric(q(0.99), "lag-p99-ms")
	b.ReportMetric(float64(lags[len(lags)-1].Microseconds())/1000, "lag-max-ms")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
	b.Logf("follower lag: %d samples", len(lags))
}
