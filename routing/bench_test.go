package routing_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/omniroute/omniroute/routing"
)

// The benchmarks measure a routing decision in a large contact center:
// 10,000 agents with 3-5 skills out of 50, 500 queues (half voice, half
// chat, every strategy) requiring 1-2 skills, every agent READY on voice
// and chat. Run:
//
//	go test ./routing -run '^$' -bench . -benchtime 100000x -benchmem
//
// Besides ns/op and allocs/op, each benchmark times the decision itself
// (one Apply) individually and reports its median and 99th percentile as
// p50-ns and p99-ns. The goal: median under 5 µs, p99 under 50 µs.

const (
	benchAgents = 10_000
	benchQueues = 500
	benchSkills = 50
)

var benchEpoch = time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)

type benchCenter struct {
	s      *routing.State
	now    time.Time
	rng    *rand.Rand
	queues []string
	n      int
}

func (c *benchCenter) apply(b *testing.B, cmd routing.Command) []routing.Event {
	evs, err := c.s.Apply(c.now, cmd)
	if err != nil {
		b.Fatalf("%s: %v", cmd.CommandName(), err)
	}
	return evs
}

// newBenchCenter builds the state; ready says whether agents log in READY.
func newBenchCenter(b *testing.B, ready bool) *benchCenter {
	return newBenchCenterSteps(b, ready, false)
}

// benchSteps are three escalation steps for q: after 30 s the skill levels
// drop to 1, after 60 s one skill is enough and the neighbouring queue on
// the same MRD is added (overflow), after 120 s priority +1 and a second
// neighbour (Genesys bullseye rings, Amazon Connect routing steps).
func benchSteps(q routing.Queue, i int) []routing.EscalationStep {
	low := map[string]int{}
	one := map[string]int{}
	for k := range q.Skills {
		low[k] = 1
	}
	for _, k := range slices.Sorted(maps.Keys(q.Skills))[:1] {
		one[k] = 1
	}
	next := func(d int) string { return fmt.Sprintf("q%03d", (i+2*d)%benchQueues) }
	return []routing.EscalationStep{
		{After: 30 * time.Second, Skills: low},
		{After: 60 * time.Second, Skills: one, AddQueues: []string{next(1)}},
		{After: 120 * time.Second, AddQueues: []string{next(1), next(2)}, Priority: 1},
	}
}

// newBenchCenterSteps is newBenchCenter with, when steps, three escalation
// steps per queue (benchSteps).
func newBenchCenterSteps(b *testing.B, ready, steps bool) *benchCenter {
	b.Helper()
	c := &benchCenter{s: routing.New(), now: benchEpoch, rng: rand.New(rand.NewPCG(1, 2))}
	c.apply(b, routing.UpsertMRD{MRD: routing.MRD{ID: "voice", MaxRequests: 1}})
	c.apply(b, routing.UpsertMRD{MRD: routing.MRD{ID: "chat", Interruptible: true, MaxRequests: 3}})
	strategies := []routing.Strategy{routing.LongestIdle, routing.MostAvailable, routing.LeastActive, routing.RoundRobin, routing.BestSkill}
	for i := range benchQueues {
		q := routing.Queue{ID: fmt.Sprintf("q%03d", i), MRD: []string{"voice", "chat"}[i%2],
			Strategy: strategies[(i/2)%len(strategies)], Skills: map[string]int{}}
		for len(q.Skills) < 1+c.rng.IntN(2) {
			q.Skills[fmt.Sprintf("s%02d", c.rng.IntN(benchSkills))] = 1 + c.rng.IntN(20)
		}
		if steps {
			q.Steps = benchSteps(q, i)
		}
		c.apply(b, routing.UpsertQueue{Queue: q})
		c.queues = append(c.queues, q.ID)
	}
	for i := range benchAgents {
		a := routing.Agent{ID: fmt.Sprintf("agent%05d", i), Skills: map[string]int{}}
		for len(a.Skills) < 3+c.rng.IntN(3) {
			a.Skills[fmt.Sprintf("s%02d", c.rng.IntN(benchSkills))] = 1 + c.rng.IntN(100)
		}
		c.apply(b, routing.UpsertAgent{Agent: a})
		if ready {
			c.apply(b, routing.SetAgentState{Agent: a.ID, State: routing.AgentReady})
		}
	}
	return c
}

// servedQueues keeps the queues that have at least one READY eligible agent.
func (c *benchCenter) servedQueues() []string {
	var out []string
	for _, id := range c.queues {
		if st, _ := c.s.QueueStats(id, c.now); st.ReadyAgents > 0 {
			out = append(out, id)
		}
	}
	return out
}

// latencies collects individually timed decisions and reports percentiles.
type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	b.ReportMetric(float64(l[len(l)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(l[len(l)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(l[len(l)-1].Nanoseconds()), "max-ns")
}

// BenchmarkDecisionFindsAgent: CreateConversation into a random queue with
// idle eligible agents; the engine picks one (TaskReserved). The accept and
// close that free the agent again are part of the op (steady state) but
// not of the timed decision.
func BenchmarkDecisionFindsAgent(b *testing.B) { benchFindsAgent(b, false, false) }

// BenchmarkDecisionFindsAgentSteps: the same with three escalation steps
// per queue (benchSteps).
func BenchmarkDecisionFindsAgentSteps(b *testing.B) { benchFindsAgent(b, true, false) }

// BenchmarkDecisionFindsAgentStepsHot: the same once every step has been
// reached (every step pool is kept up to date: routing/steps.go warm).
func BenchmarkDecisionFindsAgentStepsHot(b *testing.B) { benchFindsAgent(b, true, true) }

func benchFindsAgent(b *testing.B, steps, hot bool) {
	c := newBenchCenterSteps(b, !hot, steps)
	if hot {
		// One request per queue waits through every step while nobody
		// is logged in, then leaves; then everybody logs in.
		for _, q := range c.queues {
			c.apply(b, routing.CreateConversation{ID: "warm-" + q, RequestID: "warm-" + q, Queue: q})
		}
		c.now = c.now.Add(121 * time.Second)
		c.apply(b, routing.Tick{})
		for _, q := range c.queues {
			c.apply(b, routing.CloseConversation{Conversation: "warm-" + q})
		}
		for _, id := range c.s.AgentIDs() {
			c.apply(b, routing.SetAgentState{Agent: id, State: routing.AgentReady})
		}
	}
	queues := c.servedQueues()
	if len(queues) < benchQueues/2 {
		b.Fatalf("only %d queues have agents", len(queues))
	}
	lat := make(latencies, 0, 100_000)
	b.ReportAllocs()
	for b.Loop() {
		c.n++
		c.now = c.now.Add(time.Millisecond)
		id := "c" + strconv.Itoa(c.n)
		cmd := routing.CreateConversation{ID: id, RequestID: id, Queue: queues[c.rng.IntN(len(queues))]}
		t0 := time.Now()
		evs, err := c.s.Apply(c.now, cmd)
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		var task, agent string
		for _, ev := range evs {
			if tr, ok := ev.(routing.TaskReserved); ok {
				task, agent = tr.Task, tr.Agent
			}
		}
		if task == "" {
			b.Fatalf("conversation %s in %s found no agent", id, cmd.Queue)
		}
		c.apply(b, routing.AcceptTask{Task: task, Agent: agent})
		c.apply(b, routing.CloseTask{Task: task, Agent: agent})
	}
	lat.report(b)
}

// BenchmarkDecisionWaits: CreateConversation while every agent is busy:
// no agent is available, the request waits. The customer's cancel that
// keeps the queues steady is part of the op, not of the timed decision.
func BenchmarkDecisionWaits(b *testing.B) { benchWaits(b, false) }

// BenchmarkDecisionWaitsSteps: the same with three escalation steps per
// queue (benchSteps): the request also gets its step deadline.
func BenchmarkDecisionWaitsSteps(b *testing.B) { benchWaits(b, true) }

func benchWaits(b *testing.B, steps bool) {
	c := newBenchCenterSteps(b, true, steps)
	// Make every agent busy: a NOT_READY agent is not available either,
	// but BUSY is the realistic case (indexes hold no one).
	for _, id := range c.s.AgentIDs() {
		c.apply(b, routing.SetMRDState{Agent: id, MRD: "chat", State: routing.MRDNotReady})
	}
	queues := c.servedQueues()
	for _, q := range queues { // voice: one call each until nobody is left
		for {
			c.n++
			id := "busy" + strconv.Itoa(c.n)
			evs := c.apply(b, routing.CreateConversation{ID: id, RequestID: id, Queue: q})
			if len(evs) == 2 { // created and queued: no agent left
				c.apply(b, routing.CloseConversation{Conversation: id})
				break
			}
		}
	}
	all := c.queues
	lat := make(latencies, 0, 100_000)
	b.ReportAllocs()
	for b.Loop() {
		c.n++
		c.now = c.now.Add(time.Millisecond)
		id := "c" + strconv.Itoa(c.n)
		cmd := routing.CreateConversation{ID: id, RequestID: id, Queue: all[c.rng.IntN(len(all))], Priority: c.rng.IntN(3)}
		t0 := time.Now()
		evs, err := c.s.Apply(c.now, cmd)
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		if len(evs) != 2 {
			b.Fatalf("expected the request to wait, got %d events", len(evs))
		}
		c.apply(b, routing.CloseConversation{Conversation: id})
	}
	lat.report(b)
}

// BenchmarkDecisionAgentPulls: an agent eligible for 5 queues, each with
// 1,000 waiting requests of mixed priorities, closes its call; the engine
// picks the best request over the 5 queues and offers it (the timed
// decision is that CloseTask). The accept, and a new request replacing the
// one served, keep the state steady and are part of the op.
func BenchmarkDecisionAgentPulls(b *testing.B) {
	c := newBenchCenter(b, true)
	const puller = "puller"
	var pq []string
	for i := range 5 {
		q := fmt.Sprintf("pull%d", i)
		c.apply(b, routing.UpsertQueue{Queue: routing.Queue{ID: q, MRD: "voice", Members: []string{puller}}})
		pq = append(pq, q)
	}
	c.apply(b, routing.UpsertAgent{Agent: routing.Agent{ID: puller}})
	c.apply(b, routing.SetAgentState{Agent: puller, State: routing.AgentReady})
	newReq := func() string {
		c.n++
		id := "p" + strconv.Itoa(c.n)
		c.apply(b, routing.CreateConversation{ID: id, RequestID: id, Queue: pq[c.rng.IntN(len(pq))], Priority: c.rng.IntN(5)})
		return id
	}
	task := ""
	for _, ev := range c.apply(b, routing.CreateConversation{ID: "first", RequestID: "first", Queue: pq[0]}) {
		if tr, ok := ev.(routing.TaskReserved); ok {
			task = tr.Task
		}
	}
	c.apply(b, routing.AcceptTask{Task: task, Agent: puller})
	for range 5000 {
		newReq()
	}
	lat := make(latencies, 0, 100_000)
	b.ReportAllocs()
	for b.Loop() {
		c.now = c.now.Add(time.Millisecond)
		newReq()
		t0 := time.Now()
		evs, err := c.s.Apply(c.now, routing.CloseTask{Task: task, Agent: puller})
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		next := ""
		for _, ev := range evs {
			if tr, ok := ev.(routing.TaskReserved); ok {
				next = tr.Task
			}
		}
		if next == "" {
			b.Fatal("the freed agent pulled nothing")
		}
		task = next
		c.apply(b, routing.AcceptTask{Task: task, Agent: puller})
	}
	lat.report(b)
}

// BenchmarkTickSteps: one Tick moves 1,000 waiting requests (every agent
// busy) to their next escalation step; the op is that Tick. Setting up
// the next 1,000 (and cancelling the last) is not timed.
func BenchmarkTickSteps(b *testing.B) {
	c := newBenchCenterSteps(b, false, true)
	b.ReportAllocs()
	var ids []string
	for b.Loop() {
		b.StopTimer()
		for _, id := range ids {
			c.apply(b, routing.CloseConversation{Conversation: id})
		}
		ids = ids[:0]
		for range 1000 {
			c.n++
			id := "t" + strconv.Itoa(c.n)
			c.apply(b, routing.CreateConversation{ID: id, RequestID: id, Queue: c.queues[c.rng.IntN(len(c.queues))]})
			ids = append(ids, id)
		}
		c.now = c.now.Add(30 * time.Second)
		b.StartTimer()
		evs := c.apply(b, routing.Tick{})
		b.StopTimer()
		if len(evs) != 1000 {
			b.Fatalf("tick: %d events, want 1000 steps", len(evs))
		}
		b.StartTimer()
	}
}

// BenchmarkMemoryPerWaitingRequest reports the heap bytes one waiting
// request costs (conversation, request, index entries, step deadline) in
// the 10,000-agent center with steps, every agent logged out: 10,000
// requests are created per op, then cancelled.
func BenchmarkMemoryPerWaitingRequest(b *testing.B) {
	c := newBenchCenterSteps(b, false, true)
	const n = 10_000
	var perReq float64
	for b.Loop() {
		ids := make([]string, 0, n)
		for i := range n {
			ids = append(ids, "m"+strconv.Itoa(c.n+i))
		}
		c.n += n
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		for _, id := range ids {
			c.apply(b, routing.CreateConversation{ID: id, RequestID: id, Queue: c.queues[c.rng.IntN(len(c.queues))]})
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		perReq = float64(m1.HeapAlloc-m0.HeapAlloc) / n
		for _, id := range ids {
			c.apply(b, routing.CloseConversation{Conversation: id})
		}
	}
	b.ReportMetric(perReq, "B/waiting-request")
}
