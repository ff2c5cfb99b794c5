package webui

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omniroute/omniroute/clock"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
	"github.com/omniroute/omniroute/routing/waittime"
)

// The board is the wallboard's live model. One goroutine follows the node's
// events (node.Subscribe): each event marks the queues and agents it touched
// dirty; the first dirty mark arms a timer, and when it fires one node.View
// reads only the dirty rows (never a scan of the whole state on a clock),
// encodes each changed row once, and hands the batch to every open stream.
// Coalescing bounds the cost under load: at most one View and one message
// per stream per FlushInterval, however many events arrived.

// QueueRow is one queue on the wallboard (times in seconds).
type QueueRow struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	MRD  string `json:"mrd"`
	// Stats are the engine's counters, exactly as GET /v1/queues/{id}/stats
	// returns them (since the state began).
	Stats routing.QueueStats `json:"stats"`
	// EWTSeconds is waittime.Arrival, as the stats route computes it.
	EWTSeconds float64 `json:"ewtSeconds"`
	// OldestSince is when the oldest waiting request entered (zero when none
	// waits): the browser counts the longest wait up from it.
	OldestSince time.Time `json:"oldestSince,omitzero"`
	// EligibleAgents counts the agents who may take the queue's work,
	// whatever their state.
	EligibleAgents int `json:"eligibleAgents"`
	// Today and Last15 are the interval figures (history.go) of the
	// current day (UTC) and of the last 15 minutes.
	Today  Figures `json:"today"`
	Last15 Figures `json:"last15"`
	// Target is the service-level target (0..1); AtRisk is true when the
	// last 15 minutes' service level is under it, or the oldest waiting
	// request is past the queue's threshold.
	Target float64 `json:"target"`
	AtRisk bool    `json:"atRisk"`
	// Minutes are the last hour, one entry a minute (oldest first), for the
	// charts; only in snapshots, the browser appends Minute afterwards.
	Minutes []Minute `json:"minutes,omitempty"`
	Minute  Minute   `json:"minute"`
}

// AgentRow is one agent on the wallboard.
type AgentRow struct {
	ID         string                   `json:"id"`
	Name       string                   `json:"name"`
	Role       routing.Role             `json:"role"`
	Teams      []string                 `json:"teams"`
	Queues     []string                 `json:"queues"`
	State      routing.AgentState       `json:"state"`
	ReasonCode string                   `json:"reasonCode,omitempty"`
	Since      time.Time                `json:"since"`
	MRDs       []AgentMRD               `json:"mrds"`
	Tasks      []routing.Task           `json:"tasks"`
	Convs      map[string][]Participant `json:"participants,omitempty"`
}

// AgentMRD is an agent's state on one MRD.
type AgentMRD struct {
	MRD      string           `json:"mrd"`
	State    routing.MRDState `json:"state"`
	Load     int              `json:"load"`
	Capacity int              `json:"capacity"`
}

// Participant is who is in one of the agent's conversations (supervisors
// included), for the supervisor view.
type Participant struct {
	Agent string `json:"agent"`
	Role  string `json:"role"`
}

// update is one flush: the rows that changed, each encoded once.
type update struct {
	at     time.Time
	queues []encodedRow
	agents []encodedRow
	// full is set on a snapshot sent after a resubscription: the browser
	// replaces what it holds.
	full bool
	// seq orders the reads (taken inside node.View): a stream drops the
	// updates read before its snapshot.
	seq uint64
}

type encodedRow struct {
	id    string
	teams []string // agents only: who may see the row
	json  []byte
}

type board struct {
	node     *node.Node
	hist     *History
	targets  Targets
	now      func() time.Time
	clock    clock.Clock
	interval time.Duration
	log      *slog.Logger

	mu          sync.Mutex
	subs        map[chan update]struct{}
	dirtyQueues map[string]bool
	dirtyAgents map[string]bool
	armed       bool
	// queuesByMRD and taskQueue say which queues an agent or task event
	// touches; rebuilt from definitions.
	queuesByMRD map[string][]string
	thresholds  map[string]time.Duration
	taskQueue   map[string]string
	seq         *atomic.Uint64
	flushes     uint64
	flushNanos  int64
}

// Targets are the service-level targets that make a queue "at risk".
type Targets struct {
	// Default applies to queues not in Queues (0: DefaultServiceLevelTarget).
	Default float64
	Queues  map[string]float64
}

// DefaultServiceLevelTarget is the usual 80 % (the 80/20 rule of contact
// centers: 80 % answered within the threshold).
const DefaultServiceLevelTarget = 0.8

func (t Targets) of(queue string) float64 {
	if v, ok := t.Queues[queue]; ok {
		return v
	}
	if t.Default > 0 {
		return t.Default
	}
	return DefaultServiceLevelTarget
}

func newBoard(n *node.Node, h *History, o Options) *board {
	return &board{node: n, hist: h, targets: o.Targets, now: o.Now, clock: o.Clock, interval: o.FlushInterval, log: o.Logger,
		subs: map[chan update]struct{}{}, dirtyQueues: map[string]bool{}, dirtyAgents: map[string]bool{},
		queuesByMRD: map[string][]string{}, taskQueue: map[string]string{}}
}

// run follows the node until ctx ends or the node stops. A subscription cut
// off for being slow is renewed, and every stream gets a full snapshot.
func (b *board) run(ctx context.Context, events <-chan node.Published, cancel func()) {
	defer func() { cancel() }()
	b.reloadDefinitions(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.node.Done():
			return
		case p, ok := <-events:
			if !ok {
				events, cancel = b.node.Subscribe()
				b.reloadDefinitions(ctx)
				b.broadcastFull(ctx)
				continue
			}
			b.hist.Observe(p)
			b.mark(ctx, p.Event)
		}
	}
}

func (b *board) mark(ctx context.Context, ev routing.Event) {
	var queues, agents []string
	switch e := ev.(type) {
	case routing.AgentStateChanged:
		agents = append(agents, e.Agent)
	case routing.MRDStateChanged:
		agents = append(agents, e.Agent)
		b.mu.Lock()
		queues = append(queues, b.queuesByMRD[e.MRD]...)
		b.mu.Unlock()
	case routing.ConversationCreated:
		queues = append(queues, e.Queue)
	case routing.RequestQueued:
		queues = append(queues, e.Queue)
	case routing.RequestUpdated:
		queues = append(queues, e.Queue)
	case routing.RequestRemoved:
		queues = append(queues, e.Queue)
	case routing.TaskReserved:
		b.mu.Lock()
		b.taskQueue[e.Task] = e.Queue
		b.mu.Unlock()
		queues, agents = append(queues, e.Queue), append(agents, e.Agent)
	case routing.TaskRevoked:
		queues, agents = append(queues, b.forget(e.Task, true)), append(agents, e.Agent)
	case routing.TaskActivated:
		queues, agents = append(queues, b.forget(e.Task, false)), append(agents, e.Agent)
	case routing.TaskWrapUp:
		queues, agents = append(queues, b.forget(e.Task, false)), append(agents, e.Agent)
	case routing.TaskClosed:
		queues, agents = append(queues, b.forget(e.Task, true)), append(agents, e.Agent)
	case routing.ParticipantJoined:
		agents = append(agents, e.Agent)
		agents = append(agents, b.primaries(ctx, e.Conversation)...)
	case routing.ParticipantLeft:
		agents = append(agents, e.Agent)
		agents = append(agents, b.primaries(ctx, e.Conversation)...)
	case routing.DefinitionChanged:
		b.reloadDefinitions(ctx)
		switch e.Kind {
		case "queue":
			queues = append(queues, e.ID)
		case "agent":
			agents = append(agents, e.ID)
			b.mu.Lock()
			for _, qs := range b.queuesByMRD {
				queues = append(queues, qs...)
			}
			b.mu.Unlock()
		}
	}
	if len(queues) == 0 && len(agents) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, q := range queues {
		if q != "" {
			b.dirtyQueues[q] = true
		}
	}
	for _, a := range agents {
		b.dirtyAgents[a] = true
	}
	if !b.armed && len(b.subs) > 0 {
		b.armed = true
		b.clock.AfterFunc(b.interval, func() { b.flush(ctx) })
	}
}

// forget returns the queue of task (and drops it when the task ended).
func (b *board) forget(task string, ended bool) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.taskQueue[task]
	if ended {
		delete(b.taskQueue, task)
	}
	return q
}

// primaries are the agents with a task in conversation: their rows show
// who monitors them.
func (b *board) primaries(ctx context.Context, conv string) []string {
	var out []string
	_ = b.node.View(ctx, func(st routing.View) {
		if c, ok := st.Conversation(conv); ok {
			for _, p := range c.Participants {
				out = append(out, p.Agent)
			}
		}
	})
	return out
}

func (b *board) reloadDefinitions(ctx context.Context) {
	byMRD := map[string][]string{}
	thresholds := map[string]time.Duration{}
	_ = b.node.View(ctx, func(st routing.View) {
		for _, q := range st.Queues() {
			byMRD[q.MRD] = append(byMRD[q.MRD], q.ID)
			thresholds[q.ID] = q.ServiceLevelThreshold
			if q.ServiceLevelThreshold <= 0 {
				thresholds[q.ID] = routing.DefaultServiceLevelThreshold
			}
		}
	})
	b.mu.Lock()
	b.queuesByMRD = byMRD
	b.thresholds = thresholds
	b.mu.Unlock()
}

// subscribe registers a stream; the caller reads updates until cancel.
func (b *board) subscribe() (chan update, func()) {
	ch := make(chan update, 64)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, ok := b.subs[ch]; ok {
			delete(b.subs, ch)
			close(ch)
		}
	}
}

// flush reads the dirty rows and sends them to every stream. A stream whose
// buffer is full is closed (its browser reconnects and gets a snapshot),
// so a slow browser never holds the others back.
func (b *board) flush(ctx context.Context) {
	start := time.Now()
	b.mu.Lock()
	qids := sortedKeys(b.dirtyQueues)
	aids := sortedKeys(b.dirtyAgents)
	clear(b.dirtyQueues)
	clear(b.dirtyAgents)
	b.armed = false
	b.mu.Unlock()
	now := b.now()
	var qrows []QueueRow
	var arows []AgentRow
	var seq uint64
	err := b.node.View(ctx, func(st routing.View) {
		seq = b.seq.Add(1)
		var elig map[string]int
		if len(qids) > 0 {
			elig = eligibleCounts(st)
		}
		for _, id := range qids {
			if r, ok := b.queueRow(st, id, now, elig, false); ok {
				qrows = append(qrows, r)
			}
		}
		for _, id := range aids {
			if r, ok := agentRow(st, id); ok {
				arows = append(arows, r)
			}
		}
	})
	if err != nil {
		return
	}
	u := update{at: now, queues: encodeQueues(qrows), agents: encodeAgents(arows), seq: seq}
	b.send(u)
	b.mu.Lock()
	b.flushes++
	b.flushNanos += time.Since(start).Nanoseconds()
	b.mu.Unlock()
}

func (b *board) send(u update) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- u:
		default:
			delete(b.subs, ch)
			close(ch)
		}
	}
}

func (b *board) broadcastFull(ctx context.Context) {
	u, err := b.snapshot(ctx)
	if err == nil {
		b.send(u)
	}
}

// snapshot is every row, with the charts' last hour.
func (b *board) snapshot(ctx context.Context) (update, error) {
	now := b.now()
	var qrows []QueueRow
	var arows []AgentRow
	var seq uint64
	err := b.node.View(ctx, func(st routing.View) {
		seq = b.seq.Add(1)
		elig := eligibleCounts(st)
		for _, q := range st.Queues() {
			if r, ok := b.queueRow(st, q.ID, now, elig, true); ok {
				qrows = append(qrows, r)
			}
		}
		for _, id := range st.AgentIDs() {
			if r, ok := agentRow(st, id); ok {
				arows = append(arows, r)
			}
		}
	})
	if err != nil {
		return update{}, err
	}
	return update{at: now, queues: encodeQueues(qrows), agents: encodeAgents(arows), full: true, seq: seq}, nil
}

// queueRow runs inside node.View.
func (b *board) queueRow(st routing.View, id string, now time.Time, elig map[string]int, withMinutes bool) (QueueRow, bool) {
	q, ok := st.Queue(id)
	if !ok {
		return QueueRow{}, false
	}
	stats, _ := st.QueueStats(id, now)
	r := QueueRow{ID: q.ID, Name: q.Name, MRD: q.MRD, Stats: stats, EWTSeconds: waittime.Arrival(st, stats, now),
		Target: b.targets.of(id)}
	if stats.LongestWaitSeconds > 0 {
		r.OldestSince = now.Add(-time.Duration(stats.LongestWaitSeconds * float64(time.Second)))
	}
	r.EligibleAgents = elig[id]
	r.Today, r.Last15, r.Minute = b.hist.live(id, now, stats.Waiting)
	if withMinutes {
		r.Minutes = b.hist.lastHour(id, now)
	}
	r.AtRisk = (r.Last15.Answered+r.Last15.Abandoned > 0 && r.Last15.ServiceLevel < r.Target) ||
		stats.LongestWaitSeconds > stats.ThresholdSeconds
	return r, true
}

// eligibleCounts counts each queue's eligible agents (inside node.View).
func eligibleCounts(st routing.View) map[string]int {
	out := map[string]int{}
	for _, aid := range st.AgentIDs() {
		for _, q := range st.EligibleQueues(aid) {
			out[q]++
		}
	}
	return out
}

func agentRow(st routing.View, id string) (AgentRow, bool) {
	a, ok := st.Agent(id)
	if !ok {
		return AgentRow{}, false
	}
	r := AgentRow{ID: id, Name: a.Agent.Name, Role: a.Agent.Role, Teams: a.Agent.Teams, Queues: st.EligibleQueues(id),
		State: a.State, ReasonCode: a.ReasonCode, Since: a.StateSince, MRDs: []AgentMRD{}, Tasks: []routing.Task{}}
	if r.Teams == nil {
		r.Teams = []string{}
	}
	if r.Queues == nil {
		r.Queues = []string{}
	}
	for _, m := range a.MRDs {
		r.MRDs = append(r.MRDs, AgentMRD{MRD: m.MRD.ID, State: m.State, Load: m.Load, Capacity: m.Capacity})
	}
	tasks, _ := st.Tasks(id)
	r.Tasks = append(r.Tasks, tasks...)
	for _, t := range tasks {
		if t.State != routing.TaskActiveState {
			continue
		}
		if c, ok := st.Conversation(t.Conversation); ok {
			if r.Convs == nil {
				r.Convs = map[string][]Participant{}
			}
			for _, p := range c.Participants {
				r.Convs[t.Conversation] = append(r.Convs[t.Conversation], Participant{Agent: p.Agent, Role: string(p.Role)})
			}
		}
	}
	return r, true
}

func encodeQueues(rows []QueueRow) []encodedRow {
	out := make([]encodedRow, 0, len(rows))
	for _, r := range rows {
		b, _ := json.Marshal(r)
		out = append(out, encodedRow{id: r.ID, json: b})
	}
	return out
}

func encodeAgents(rows []AgentRow) []encodedRow {
	out := make([]encodedRow, 0, len(rows))
	for _, r := range rows {
		b, _ := json.Marshal(r)
		out = append(out, encodedRow{id: r.ID, teams: r.Teams, json: b})
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
