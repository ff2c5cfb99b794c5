package agentdesk_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omniroute/omniroute/agentdesk"
	"github.com/omniroute/omniroute/agentdesk/deskclient"
	"github.com/omniroute/omniroute/agentdesk/internal/fixture"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// Offer-latency benchmark: benchAgents agents connected with deskclient,
// READY on chat (capacity 2); conversations created at benchRate per second
// with node.Submit on queue chat; the latency of one offer is the time from
// just before Submit to the moment the agent's desk has read and decoded the
// taskRequest. Each desk accepts (topicSubscription) and leaves
// (topicUnsubscription_) at once, so capacity stays free.
//
//	go test ./agentdesk -run '^$' -bench BenchmarkOfferLatency -benchtime 4000x
//
// Reports p50-µs, p99-µs and max-µs. ns/op is the pacing (1/benchRate).
const (
	benchAgents = 1000
	benchRate   = 200
)

// benchEnv is built once per process and shared by every run of the
// benchmark (the testing package calls it with b.N = 1 first).
type benchEnv struct {
	n     *node.Node
	srv   *agentdesk.Server
	ts    *httptest.Server
	conns []*deskclient.Conn
	run   atomic.Pointer[benchRun]
	seq   atomic.Int64
}

// benchRun is one call of the benchmark function.
type benchRun struct {
	prefix   string
	start    []atomic.Int64 // Unix ns before Submit, per conversation
	latency  []int64        // ns, per conversation
	seen     []atomic.Bool
	received atomic.Int64
	done     chan struct{}
	errs     atomic.Int64
}

var (
	benchOnce   sync.Once
	bench       *benchEnv
	benchErr    error
	benchCloser func()
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchCloser != nil {
		benchCloser()
	}
	os.Exit(code)
}

func setupBench() (*benchEnv, error) {
	ctx := context.Background()
	n, err := fixture.Open(ctx)
	if err != nil {
		return nil, err
	}
	e := &benchEnv{n: n}
	benchCloser = func() {
		for _, c := range e.conns {
			if c != nil {
				_ = c.Close()
			}
		}
		if e.srv != nil {
			e.srv.Close()
		}
		if e.ts != nil {
			e.ts.Close()
		}
		_ = n.Close()
	}
	ids := make([]string, benchAgents)
	for i := range ids {
		ids[i] = fmt.Sprintf("b%04d", i)
		if _, err := n.Submit(ctx, routing.UpsertAgent{Agent: routing.Agent{ID: ids[i], Name: "Bench " + ids[i]}}); err != nil {
			return nil, err
		}
		if _, err := n.Submit(ctx, routing.SetAgentState{Agent: ids[i], State: routing.AgentReady}); err != nil {
			return nil, err
		}
	}
	e.srv, err = agentdesk.New(n, fixture.Verify, agentdesk.Options{Logger: quietLogger()})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(e.srv.Path()+"/", e.srv.Handler())
	e.ts = httptest.NewServer(mux)

	e.conns = make([]*deskclient.Conn, benchAgents)
	var (
		wg    sync.WaitGroup
		sem   = make(chan struct{}, 32)
		mu    sync.Mutex
		first error
	)
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			slot := new(atomic.Pointer[deskclient.Conn])
			c, err := deskclient.Dial(dctx, e.ts.URL, "", map[string]any{"agent": id, "fcm": "", "token": "token-" + id},
				deskclient.WithHandler(agentdesk.EventTaskRequest, func(p json.RawMessage) { e.onTaskRequest(slot.Load(), p) }))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				first = cmp.Or(first, fmt.Errorf("dial %s: %w", id, err))
				return
			}
			slot.Store(c)
			e.conns[i] = c
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return e, nil
}

// onTaskRequest runs on a desk's reader goroutine.
func (e *benchEnv) onTaskRequest(c *deskclient.Conn, p json.RawMessage) {
	now := time.Now().UnixNano()
	var tr struct {
		ConversationID string `json:"conversationId"`
		TaskID         string `json:"taskId"`
	}
	if err := json.Unmarshal(p, &tr); err != nil {
		return
	}
	r := e.run.Load()
	if r == nil || !strings.HasPrefix(tr.ConversationID, r.prefix) {
		return
	}
	i, err := strconv.Atoi(tr.ConversationID[len(r.prefix):])
	if err != nil || i < 0 || i >= len(r.latency) || r.seen[i].Swap(true) {
		return
	}
	r.latency[i] = now - r.start[i].Load()
	// c is nil only for an offer read before Dial returned: impossible
	// here, every desk connects before the first conversation.
	if c != nil {
		ref := map[string]any{"conversationId": tr.ConversationID, "taskId": tr.TaskID}
		if c.Emit(agentdesk.EventTopicSubscription, ref) != nil || c.Emit(agentdesk.EventTopicUnsubscriptionRequest, ref) != nil {
			r.errs.Add(1)
		}
	}
	if r.received.Add(1) == int64(len(r.latency)) {
		close(r.done)
	}
}

func BenchmarkOfferLatency(b *testing.B) {
	benchOnce.Do(func() { bench, benchErr = setupBench() })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	e := bench
	r := &benchRun{
		prefix:  fmt.Sprintf("bench-%d-", e.seq.Add(1)),
		start:   make([]atomic.Int64, b.N),
		latency: make([]int64, b.N),
		seen:    make([]atomic.Bool, b.N),
		done:    make(chan struct{}),
	}
	e.run.Store(r)
	defer e.run.Store(nil)
	ctx := context.Background()
	interval := time.Second / benchRate

	b.ResetTimer()
	t0 := time.Now()
	for i := range b.N {
		if d := time.Until(t0.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		id := r.prefix + strconv.Itoa(i)
		r.start[i].Store(time.Now().UnixNano())
		if _, err := e.n.Submit(ctx, routing.CreateConversation{ID: id, RequestID: "req-" + id, Queue: "chat"}); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		b.Fatalf("only %d of %d offers reached a desk", r.received.Load(), b.N)
	}
	b.StopTimer()
	if n := r.errs.Load(); n > 0 {
		b.Fatalf("%d accept/leave emits failed", n)
	}

	lat := slices.Clone(r.latency)
	slices.Sort(lat)
	pct := func(p float64) float64 {
		i := int(p*float64(len(lat))+0.999999) - 1
		return float64(lat[max(0, min(i, len(lat)-1))]) / 1e3
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1])/1e3, "max-µs")
}
