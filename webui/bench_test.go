package webui

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/journal/memjournal"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// BenchmarkWallboardCost measures what one open wallboard costs the server
// with 1,000 agents, 100 queues and 200 conversations a second (each agent
// eligible for 10 queues, every offer accepted at once and closed 2 s
// later): the process CPU of a phase with one wallboard stream minus the
// same phase without, and the bytes a second the stream carries. Each phase
// lasts 10 s of real time whatever b.N is; run with -benchtime 1x:
//
//	go test ./webui -run '^$' -bench WallboardCost -benchtime 1x
func BenchmarkWallboardCost(b *testing.B) {
	const agents, queues, perSecond, handle, phase = 1000, 100, 200, 2 * time.Second, 10 * time.Second
	n, err := node.Open(context.Background(), node.Config{Journal: memjournal.New(), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	submit := func(cmd routing.Command) {
		if _, err := n.Submit(context.Background(), cmd); err != nil {
			b.Fatalf("%s: %v", cmd.CommandName(), err)
		}
	}
	submit(routing.UpsertMRD{MRD: routing.MRD{ID: "chat", MaxRequests: 1, Interruptible: true}})
	for a := 0; a < agents; a++ {
		submit(routing.UpsertAgent{Agent: routing.Agent{ID: fmt.Sprintf("a%04d", a), Teams: []string{fmt.Sprintf("t%d", a%10)}}})
	}
	for q := 0; q < queues; q++ {
		var members []string
		for a := 0; a < agents; a++ {
			if d := (a%queues - q + queues) % queues; d < 10 {
				members = append(members, fmt.Sprintf("a%04d", a))
			}
		}
		submit(routing.UpsertQueue{Queue: routing.Queue{ID: fmt.Sprintf("q%03d", q), MRD: "chat", Members: members}})
	}
	for a := 0; a < agents; a++ {
		submit(routing.SetAgentState{Agent: fmt.Sprintf("a%04d", a), State: routing.AgentReady})
	}
	au, _ := auth.New(auth.Options{AdminTokens: []string{adminToken}, Secret: make([]byte, 32)})
	ui, err := New(context.Background(), n, au, Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer ui.Close()
	srv := httptest.NewServer(ui.Handler())
	defer srv.Close()

	// The agents: accept every offer at once, close it after handle.
	events, cancel := n.Subscribe()
	defer cancel()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for p := range events {
			if e, ok := p.Event.(routing.TaskReserved); ok {
				go func() {
					_, _ = n.Submit(context.Background(), routing.AcceptTask{Task: e.Task, Agent: e.Agent})
					time.AfterFunc(handle, func() {
						_, _ = n.Submit(context.Background(), routing.CloseTask{Task: e.Task, Agent: e.Agent})
					})
				}()
			}
		}
	}()
	var seq atomic.Int64
	traffic := func(d time.Duration) {
		t := time.NewTicker(time.Second / perSecond)
		defer t.Stop()
		end := time.After(d)
		for {
			select {
			case <-end:
				return
			case <-t.C:
				i := seq.Add(1)
				go func() {
					_, _ = n.Submit(context.Background(), routing.CreateConversation{ID: fmt.Sprintf("c%d", i), RequestID: fmt.Sprintf("r%d", i),
						Queue: fmt.Sprintf("q%03d", i%queues)})
				}()
			}
		}
	}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b.ResetTimer()
	traffic(2 * time.Second) // warm up to the steady state
	c0 := cpu()
	traffic(phase)
	without := cpu() - c0

	req, _ := http.NewRequest("GET", srv.URL+"/ui/api/board", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var bytes atomic.Int64
	go func() {
		r := bufio.NewReader(res.Body)
		buf := make([]byte, 64<<10)
		for {
			k, err := r.Read(buf)
			bytes.Add(int64(k))
			if err != nil {
				return
			}
		}
	}()
	traffic(time.Second)
	c1, b1 := cpu(), bytes.Load()
	ui.board.mu.Lock()
	f0, fn0 := ui.board.flushes, ui.board.flushNanos
	ui.board.mu.Unlock()
	traffic(phase)
	with, sent := cpu()-c1, bytes.Load()-b1
	ui.board.mu.Lock()
	f1, fn1 := ui.board.flushes, ui.board.flushNanos
	ui.board.mu.Unlock()
	b.StopTimer()
	res.Body.Close()
	close(stop)
	cancel()
	wg.Wait()
	secs := phase.Seconds()
	b.ReportMetric(float64(without.Milliseconds())/secs, "cpu-ms/s-no-wallboard")
	b.ReportMetric(float64(with.Milliseconds())/secs, "cpu-ms/s-one-wallboard")
	b.ReportMetric(float64((with-without).Milliseconds())/secs, "cpu-ms/s-wallboard")
	b.ReportMetric(float64(sent)/secs, "bytes/s-to-browser")
	b.ReportMetric(float64(f1-f0)/secs, "flushes/s")
	if f1 > f0 {
		b.ReportMetric(float64(fn1-fn0)/float64(f1-f0)/1e6, "ms/flush")
	}
	b.ReportMetric(float64(seq.Load())/(secs*2+3), "conversations/s")
}
