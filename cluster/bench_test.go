package cluster_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/omniroute/omniroute/cluster"
	"github.com/omniroute/omniroute/internal/natscluster"
	"github.com/omniroute/omniroute/journal/natsjournal"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// benchCluster is three in-process nodes, each on its own server of a
// real three-server NATS cluster (nats-server processes built from the
// module, sync_interval always), every stream R3.
type benchCluster struct {
	nats    *natscluster.Cluster
	members []*member
	leader  *member
	follow  *member
}

var (
	benchOnce sync.Once
	benchEnv  *benchCluster
	benchErr  error
	benchSeq  atomic.Int64
)

func setupBench(b *testing.B) *benchCluster {
	b.Helper()
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "omniroute-cluster-bench-")
		if err != nil {
			benchErr = err
			return
		}
		bin, err := natscluster.Build("..", dir)
		if err != nil {
			benchErr = err
			return
		}
		nc, err := natscluster.Start(bin, dir, 3)
		if err != nil {
			benchErr = err
			return
		}
		e := &benchCluster{nats: nc}
		for i, s := range nc.Servers {
			m, err := benchJoin(s.URL(), fmt.Sprintf("b%d", i+1))
			if err != nil {
				benchErr = err
				return
			}
			e.members = append(e.members, m)
		}
		deadline := time.Now().Add(30 * time.Second)
		for e.leader == nil && time.Now().Before(deadline) {
			for _, m := range e.members {
				if m.n.Role() == node.RoleLeader {
					e.leader = m
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		if e.leader == nil {
			benchErr = fmt.Errorf("no leader")
			return
		}
		for _, m := range e.members {
			if m != e.leader {
				e.follow = m
				break
			}
		}
		ctx := context.Background()
		for _, c := range setup() {
			if _, err := e.leader.n.Submit(ctx, c); err != nil {
				benchErr = err
				return
			}
		}
		benchEnv = e
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchEnv
}

func benchJoin(url, id string) (*member, error) {
	ctx := context.Background()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1))
	if err != nil {
		return nil, err
	}
	j, err := natsjournal.Open(ctx, nc, natsjournal.Options{Replicas: 3})
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := cluster.Open(ctx, nc, cluster.Options{Name: "bench", NodeID: id, Replicas: 3, Logger: log})
	if err != nil {
		return nil, err
	}
	n, err := node.Open(ctx, node.Config{Logger: log, SnapshotEvery: -1,
		Replica: &node.Replica{Journal: j, NodeID: id, Forward: c.Forward, OnStepDown: c.OnStepDown}})
	if err != nil {
		return nil, err
	}
	c.Run(n)
	return &member{id: id, nc: nc, j: j, n: n, c: c}, nil
}

func newConv() routing.Command {
	i := benchSeq.Add(1)
	return routing.CreateConversation{ID: fmt.Sprintf("bench-%d", i), RequestID: fmt.Sprintf("bench-r%d", i), Queue: "q"}
}

// benchSubmit submits b.N conversations through m from 64 goroutines (a
// server's concurrent clients; the leader group-commits them) and reports
// durable commands per second.
func benchSubmit(b *testing.B, m *member) {
	b.SetParallelism(32) // x GOMAXPROCS (2) = 64 submitters
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.n.Submit(context.Background(), newConv()); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commands/s")
}

// BenchmarkClusterLeaderCommands: durable commands/s submitted on the
// leader of a 3-server NATS cluster (R3 journal, sync_interval always).
//
//	go test ./cluster -run '^$' -bench BenchmarkClusterLeaderCommands -benchtime 5000x
func BenchmarkClusterLeaderCommands(b *testing.B) {
	benchSubmit(b, setupBench(b).leader)
}

// BenchmarkClusterFollowerCommands: the same submitted on a follower:
// each command forwarded to the leader over NATS request/reply, journaled,
// and answered once the follower applied it from its tail.
//
//	go test ./cluster -run '^$' -bench BenchmarkClusterFollowerCommands -benchtime 5000x
func BenchmarkClusterFollowerCommands(b *testing.B) {
	benchSubmit(b, setupBench(b).follow)
}

// BenchmarkClusterFollowerLag paces b.N commands at 1,000/s on the leader
// and measures, per command, the time from the leader's acknowledgement to
// the follower's publication of the command's event (negative: the
// follower was first; counted as 0). Reports p50 and p99 in ms.
//
//	go test ./cluster -run '^$' -bench BenchmarkClusterFollowerLag -benchtime 10000x
func BenchmarkClusterFollowerLag(b *testing.B) {
	e := setupBench(b)
	events, cancel := e.follow.n.Subscribe()
	defer cancel()
	var mu sync.Mutex
	acked := map[string]time.Time{}
	seen := map[string]time.Time{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p := range events {
			if q, ok := p.Event.(routing.RequestQueued); ok {
				mu.Lock()
				seen[q.Conversation] = time.Now()
				mu.Unlock()
			}
		}
	}()
	const rate = 1000
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / rate)))
		cmd := newConv()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.leader.n.Submit(context.Background(), cmd); err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			acked[cmd.(routing.CreateConversation).ID] = time.Now()
			mu.Unlock()
		}()
	}
	wg.Wait()
	achieved := float64(b.N) / time.Since(start).Seconds()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n >= len(acked) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	cancel()
	<-done
	var lags []time.Duration
	for id, at := range acked {
		s, ok := seen[id]
		if !ok {
			b.Fatalf("follower never published %s", id)
		}
		lags = append(lags, max(0, s.Sub(at)))
	}
	slices.Sort(lags)
	pct := func(p float64) float64 {
		return float64(lags[int(p*float64(len(lags)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(achieved, "commands/s")
	b.ReportMetric(pct(0.50), "p50-lag-ms")
	b.ReportMetric(pct(0.99), "p99-lag-ms")
	b.ReportMetric(float64(lags[len(lags)-1])/float64(time.Millisecond), "max-lag-ms")
}

// TestMain stops the benchmarks' NATS cluster, so no nats-server outlives
// the test binary.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchEnv != nil {
		for _, mb := range benchEnv.members {
			mb.c.Close()
			mb.n.Close()
			mb.nc.Close()
		}
		benchEnv.nats.Stop()
	}
	os.Exit(code)
}
