package agentdesk_test

import (
	"bufio"
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
	"github.com/omniroute/omniroute/conversation"
	"github.com/omniroute/omniroute/journal/natsjournal"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
	"github.com/omniroute/omniroute/transcript"
)

// CIM fan-out benchmark (Issue 3 goal): cimAgents agents connected with
// deskclient, each the PRIMARY participant of its own ACTIVE chat; the
// transcript is a transcript.JetStream store on an embedded NATS server
// (natsjournal.StartEmbedded: file storage, sync_always), so every message
// is fsynced before it is delivered. Messages are published at cimRate per
// second with publishCimEvent from the desks, round-robin over the agents;
// the latency of one message is the time from just before the desk's emit
// to the moment the same desk has read and decoded the onCimEvent (the
// participant echo: decode, participant check through node.View, durable
// append, fan-out through node.View, Socket.IO emit, client read).
//
//	go test ./agentdesk -run '^$' -bench BenchmarkCIMFanout -benchtime 5000x
//
// Reports p50-ms, p99-ms, max-ms and rss-KiB/conn: the growth of the
// process's VmRSS from before the first dial to after the last, divided by
// the connections. Client and server share the process, so that figure
// counts both ends of every connection (an upper bound for the server).
const (
	cimAgents = 5000
	cimRate   = 1000
)

type cimBenchEnv struct {
	n        *node.Node
	conv     *conversation.Conversations
	srv      *agentdesk.Server
	ts       *httptest.Server
	conns    []*deskclient.Conn
	run      atomic.Pointer[cimRun]
	seq      atomic.Int64
	rssPerKB float64
}

type cimRun struct {
	prefix   string
	start    []atomic.Int64
	latency  []int64
	seen     []atomic.Bool
	received atomic.Int64
	done     chan struct{}
}

var (
	cimOnce  sync.Once
	cimBench *cimBenchEnv
	cimErr   error
)

func vmRSSKiB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.Fields(v)[0], 64)
			return kb
		}
	}
	return 0
}

func setupCIMBench() (*cimBenchEnv, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "omniroute-cimbench-")
	if err != nil {
		return nil, err
	}
	ns, err := natsjournal.StartEmbedded(natsjournal.EmbeddedOptions{DataDir: dir})
	if err != nil {
		return nil, err
	}
	nc, err := ns.Conn()
	if err != nil {
		return nil, err
	}
	var store transcript.Store = transcript.NewMemory(transcript.Limits{})
	if os.Getenv("CIMBENCH_MEMORY") == "" { // CIMBENCH_MEMORY=1: the memory store, for comparison
		if store, err = transcript.OpenJetStream(ctx, nc, transcript.JSOptions{}); err != nil {
			return nil, err
		}
	}
	log := transcript.NewLog(store)
	n, err := fixture.Open(ctx)
	if err != nil {
		return nil, err
	}
	e := &cimBenchEnv{n: n}
	prev := benchCloser
	benchCloser = func() {
		if prev != nil {
			prev()
		}
		for _, c := range e.conns {
			if c != nil {
				_ = c.Close()
			}
		}
		if e.srv != nil {
			e.srv.Close()
		}
		if e.conv != nil {
			e.conv.Close()
		}
		if e.ts != nil {
			e.ts.Close()
		}
		_ = n.Close()
		_ = log.Close()
		nc.Close()
		ns.Shutdown()
		_ = os.RemoveAll(dir)
	}
	ids := make([]string, cimAgents)
	for i := range ids {
		ids[i] = fmt.Sprintf("c%04d", i)
		conv := "cim-" + ids[i]
		for _, cmd := range []routing.Command{
			routing.UpsertAgent{Agent: routing.Agent{ID: ids[i], Name: "Bench " + ids[i]}},
			routing.SetAgentState{Agent: ids[i], State: routing.AgentReady},
			routing.CreateConversation{ID: conv, RequestID: "req-" + conv, Queue: "chat"},
		} {
			if _, err := n.Submit(ctx, cmd); err != nil {
				return nil, err
			}
		}
		var task string
		_ = n.View(ctx, func(st routing.View) {
			if ts, _ := st.Tasks(ids[i]); len(ts) > 0 {
				task = ts[0].ID
			}
		})
		if _, err := n.Submit(ctx, routing.AcceptTask{Task: task, Agent: ids[i]}); err != nil {
			return nil, fmt.Errorf("accept %s: %w", task, err)
		}
		// No more offers: capacity stays for nothing else.
		if _, err := n.Submit(ctx, routing.SetAgentState{Agent: ids[i], State: routing.AgentNotReady}); err != nil {
			return nil, err
		}
	}
	if e.conv, err = conversation.New(n, conversation.Options{Logger: quietLogger(), Transcripts: log}); err != nil {
		return nil, err
	}
	e.srv, err = agentdesk.New(n, fixture.Verify, agentdesk.Options{Logger: quietLogger(), Conversations: e.conv,
		MaxEventsPerSecond: -1})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(e.srv.Path()+"/", e.srv.Handler())
	e.ts = httptest.NewServer(mux)

	before := vmRSSKiB()
	e.conns = make([]*deskclient.Conn, cimAgents)
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
			dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			c, err := deskclient.Dial(dctx, e.ts.URL, "", map[string]any{"agent": id, "fcm": "", "token": "token-" + id},
				deskclient.WithHandler(agentdesk.EventOnCimEvent, e.onCimEvent))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				first = cmp.Or(first, fmt.Errorf("dial %s: %w", id, err))
				return
			}
			e.conns[i] = c
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	// Every dial has returned: this is no synchronization but the pause a
	// memory reading takes after a burst of connections, so the RSS is the
	// idle desks' and not the dials' passing garbage.
	time.Sleep(time.Second)
	e.rssPerKB = (vmRSSKiB() - before) / cimAgents
	return e, nil
}

// onCimEvent runs on a desk's reader goroutine.
func (e *cimBenchEnv) onCimEvent(p json.RawMessage) {
	now := time.Now().UnixNano()
	var m struct {
		CimEvent struct {
			Data struct {
				Body struct {
					MarkdownText string `json:"markdownText"`
				} `json:"body"`
			} `json:"data"`
		} `json:"cimEvent"`
	}
	if json.Unmarshal(p, &m) != nil {
		return
	}
	r := e.run.Load()
	text := m.CimEvent.Data.Body.MarkdownText
	if r == nil || !strings.HasPrefix(text, r.prefix) {
		return
	}
	i, err := strconv.Atoi(text[len(r.prefix):])
	if err != nil || i < 0 || i >= len(r.latency) || r.seen[i].Swap(true) {
		return
	}
	r.latency[i] = now - r.start[i].Load()
	if r.received.Add(1) == int64(len(r.latency)) {
		close(r.done)
	}
}

func BenchmarkCIMFanout(b *testing.B) {
	cimOnce.Do(func() { cimBench, cimErr = setupCIMBench() })
	if cimErr != nil {
		b.Fatal(cimErr)
	}
	cimBench.measure(b)
	b.ReportMetric(cimBench.rssPerKB, "rss-KiB/conn")
}

// measure publishes b.N messages at cimRate per second over e.conns and
// reports their latency percentiles.
func (e *cimBenchEnv) measure(b *testing.B) {
	r := &cimRun{
		prefix:  fmt.Sprintf("m%d-", e.seq.Add(1)),
		start:   make([]atomic.Int64, b.N),
		latency: make([]int64, b.N),
		seen:    make([]atomic.Bool, b.N),
		done:    make(chan struct{}),
	}
	e.run.Store(r)
	defer e.run.Store(nil)
	interval := time.Second / cimRate
	b.ResetTimer()
	t0 := time.Now()
	for i := range b.N {
		if d := time.Until(t0.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		k := i % cimAgents
		msg := map[string]any{"conversationId": fmt.Sprintf("cim-c%04d", k), "cimEvent": map[string]any{
			"name": "AGENT_MESSAGE", "type": "MESSAGE",
			"data": map[string]any{"body": map[string]any{"type": "PLAIN", "markdownText": r.prefix + strconv.Itoa(i)}}}}
		r.start[i].Store(time.Now().UnixNano())
		if err := e.conns[k].Emit(agentdesk.EventPublishCimEvent, msg); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-r.done:
	case <-time.After(60 * time.Second):
		b.Fatalf("only %d of %d messages came back", r.received.Load(), b.N)
	}
	b.StopTimer()
	lat := slices.Clone(r.latency)
	slices.Sort(lat)
	pct := func(p float64) float64 {
		i := int(p*float64(len(lat))+0.999999) - 1
		return float64(lat[max(0, min(i, len(lat)-1))]) / 1e6
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1])/1e6, "max-ms")
}
