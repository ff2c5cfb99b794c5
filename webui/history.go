package webui

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// History keeps per-queue 15-minute intervals (offered, answered, abandoned,
// ASA, service level, handle time) and per-agent time in each state, built
// from the node's events (the same counting rules as the engine's queue
// counters: offered when a conversation is created, answered at its first
// accept, abandoned when the customer leaves unanswered; routing/conversation.go and task.go),
// and an hour of per-minute figures per queue for the wallboard's charts.
//
// Intervals are written to a Store (a JetStream KV bucket, 30 days, in the
// server) when they change, at most every PersistEvery, and read back at
// start, so a restart keeps them. The node does not republish recovered
// events, so nothing is counted twice.
type History struct {
	store Store
	log   *slog.Logger
	// thresholds are the queues' service-level thresholds, kept from the
	// definitions (threshold reads queue definitions through the node).
	threshold func(queue string) time.Duration

	mu     sync.Mutex
	queues map[intervalKey]*QueueInterval
	agents map[intervalKey]*AgentInterval
	dirty  map[intervalKey]bool // "q"/"a" + start
	// members lists the agents with an interval at each start, by
	// AgentGroups group: the agents stored together in one value.
	members  map[groupKey]map[string]struct{}
	minutes  map[string]*minuteRing
	answered map[string]bool // conversations answered, until closed
	tasks    map[string]taskInfo
	presence map[string]agentPresence
	metrics  *Metrics
}

// Interval is the length of one history interval (the usual 15 minutes of
// contact-center reporting).
const Interval = 15 * time.Minute

// Retention is how long intervals are kept (Twilio TaskRouter keeps 30
// days of cumulative statistics).
const Retention = 30 * 24 * time.Hour

type intervalKey struct {
	kind  byte // 'q' or 'a'
	id    string
	start int64 // Unix seconds
}

// AgentGroups is how many stored values one interval's agent figures are
// spread over: every agent's interval starting at a time is stored with
// the others of its group (FNV-1a of the agent id, mod AgentGroups) as
// one JSON array under "g.<start>.<group>". With sync_always every KV put
// is an fsync; a value per agent came to about one fsync per conversation
// at contact-center rates (0.84-0.90, `omniroute loadtest` at 1,000
// agents), and a group's put is shared by its agents, so a PersistEvery
// writes at most AgentGroups values per interval however many agents
// changed. A value holds about 150 bytes per agent: within the 1 MiB NATS
// message limit up to about 6,500 agents per group (400,000 agents).
const AgentGroups = 64

// groupKey names one stored group of agent intervals.
type groupKey struct {
	start int64 // Unix seconds
	group uint32
}

func groupOf(agent string, start int64) groupKey {
	h := fnv.New32a()
	h.Write([]byte(agent))
	return groupKey{start: start, group: h.Sum32() % AgentGroups}
}

// addMember records that agent has an interval at start.
func (h *History) addMember(agent string, start int64) {
	g := groupOf(agent, start)
	m := h.members[g]
	if m == nil {
		m = map[string]struct{}{}
		h.members[g] = m
	}
	m[agent] = struct{}{}
}

type taskInfo struct {
	queue     string
	activated time.Time
}

type agentPresence struct {
	state routing.AgentState
	since time.Time
	// busy counts open ACTIVE or WRAP_UP tasks; busySince is when it last
	// went from 0 to 1.
	busy      int
	busySince time.Time
}

// Figures are one queue's counts over a period, and what follows from them.
type Figures struct {
	Offered           int64 `json:"offered"`
	Answered          int64 `json:"answered"`
	Abandoned         int64 `json:"abandoned"`
	Expired           int64 `json:"expired"`
	AnsweredWithinSL  int64 `json:"answeredWithinThreshold"`
	AbandonedWithinSL int64 `json:"abandonedWithinThreshold"`
	// WaitAnsweredSeconds sums the answered requests' waits.
	WaitAnsweredSeconds float64 `json:"waitAnsweredSeconds"`
	// Handled counts tasks that ended after being accepted; HandleSeconds
	// sums their time from accept to close (talk plus wrap-up).
	Handled       int64   `json:"handled"`
	HandleSeconds float64 `json:"handleSeconds"`
	// Derived: ASA (mean answered wait, s), service level (the engine's
	// formula: within / (answered + abandoned after the threshold); 1 when
	// none), abandon rate (abandoned / offered) and AHT (s).
	ASASeconds   float64 `json:"asaSeconds"`
	ServiceLevel float64 `json:"serviceLevel"`
	AbandonRate  float64 `json:"abandonRate"`
	AHTSeconds   float64 `json:"ahtSeconds"`
}

func (f *Figures) add(g Figures) {
	f.Offered += g.Offered
	f.Answered += g.Answered
	f.Abandoned += g.Abandoned
	f.Expired += g.Expired
	f.AnsweredWithinSL += g.AnsweredWithinSL
	f.AbandonedWithinSL += g.AbandonedWithinSL
	f.WaitAnsweredSeconds += g.WaitAnsweredSeconds
	f.Handled += g.Handled
	f.HandleSeconds += g.HandleSeconds
}

func (f Figures) derive() Figures {
	f.ASASeconds, f.AbandonRate, f.AHTSeconds = 0, 0, 0
	if f.Answered > 0 {
		f.ASASeconds = f.WaitAnsweredSeconds / float64(f.Answered)
	}
	f.ServiceLevel = 1
	if den := f.Answered + f.Abandoned - f.AbandonedWithinSL; den > 0 {
		f.ServiceLevel = float64(f.AnsweredWithinSL) / float64(den)
	}
	if f.Offered > 0 {
		f.AbandonRate = float64(f.Abandoned) / float64(f.Offered)
	}
	if f.Handled > 0 {
		f.AHTSeconds = f.HandleSeconds / float64(f.Handled)
	}
	return f
}

// QueueInterval is one queue's figures over [Start, Start+Interval).
type QueueInterval struct {
	Queue string    `json:"queue"`
	Start time.Time `json:"start"`
	Figures
}

// AgentInterval is one agent's time over [Start, Start+Interval): seconds
// in each global state (READY, NOT_READY, LOGOUT is not counted) and with
// work (an ACTIVE or WRAP_UP task); Occupancy = busy / logged-in time.
type AgentInterval struct {
	Agent       string             `json:"agent"`
	Start       time.Time          `json:"start"`
	Seconds     map[string]float64 `json:"seconds"`
	BusySeconds float64            `json:"busySeconds"`
	Occupancy   float64            `json:"occupancy"`
}

// Minute is one queue's minute on the wallboard charts.
type Minute struct {
	T          time.Time `json:"t"`
	Offered    int64     `json:"offered"`
	Answered   int64     `json:"answered"`
	Abandoned  int64     `json:"abandoned"`
	WaitingMax int       `json:"waitingMax"`
}

type minuteRing struct{ m [60]Minute }

func (r *minuteRing) at(t time.Time) *Minute {
	t = t.Truncate(time.Minute)
	e := &r.m[(t.Unix()/60)%60]
	if !e.T.Equal(t) {
		*e = Minute{T: t}
	}
	return e
}

// Store persists intervals by key. The server's is a JetStream KV bucket
// (OpenKV); nil keeps history in memory only.
type Store interface {
	Put(ctx context.Context, key string, value []byte) error
	// All returns every stored key and value.
	All(ctx context.Context) (map[string][]byte, error)
}

// NewHistory returns a History reading stored intervals from store (nil:
// memory only). threshold gives a queue's service-level threshold.
func NewHistory(ctx context.Context, store Store, threshold func(string) time.Duration, log *slog.Logger) (*History, error) {
	if log == nil {
		log = slog.Default()
	}
	h := &History{store: store, log: log, threshold: threshold,
		queues: map[intervalKey]*QueueInterval{}, agents: map[intervalKey]*AgentInterval{}, dirty: map[intervalKey]bool{},
		members: map[groupKey]map[string]struct{}{},
		minutes: map[string]*minuteRing{}, answered: map[string]bool{}, tasks: map[string]taskInfo{},
		presence: map[string]agentPresence{}}
	h.metrics = newMetrics(h, time.Now)
	if store == nil {
		return h, nil
	}
	all, err := store.All(ctx)
	if err != nil {
		return nil, fmt.Errorf("webui: history: %w", err)
	}
	// By key: "a." (one agent's interval, as stored before AgentGroups)
	// before "g." (a group), so a group written later wins over an
	// agent's older value for the same interval.
	for _, k := range slices.Sorted(maps.Keys(all)) {
		v := all[k]
		switch {
		case strings.HasPrefix(k, "q."):
			var qi QueueInterval
			if json.Unmarshal(v, &qi) == nil {
				h.queues[intervalKey{'q', qi.Queue, qi.Start.Unix()}] = &qi
			}
		case strings.HasPrefix(k, "a."):
			var ai AgentInterval
			if json.Unmarshal(v, &ai) == nil {
				h.loadAgent(&ai)
			}
		case strings.HasPrefix(k, "g."):
			var group []*AgentInterval
			if json.Unmarshal(v, &group) == nil {
				for _, ai := range group {
					h.loadAgent(ai)
				}
			}
		}
	}
	return h, nil
}

// loadAgent keeps a stored agent interval.
func (h *History) loadAgent(ai *AgentInterval) {
	if ai == nil || ai.Agent == "" {
		return
	}
	if ai.Seconds == nil {
		ai.Seconds = map[string]float64{}
	}
	start := ai.Start.Unix()
	h.agents[intervalKey{'a', ai.Agent, start}] = ai
	h.addMember(ai.Agent, start)
}

func intervalStart(t time.Time) time.Time { return t.UTC().Truncate(Interval) }

func (h *History) queue(id string, at time.Time) *QueueInterval {
	start := intervalStart(at)
	k := intervalKey{'q', id, start.Unix()}
	qi := h.queues[k]
	if qi == nil {
		qi = &QueueInterval{Queue: id, Start: start}
		h.queues[k] = qi
	}
	h.dirty[k] = true
	return qi
}

func (h *History) minute(id string, at time.Time) *Minute {
	r := h.minutes[id]
	if r == nil {
		r = &minuteRing{}
		h.minutes[id] = r
	}
	return r.at(at)
}

// Observe counts one published event.
func (h *History) Observe(p node.Published) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if rr, ok := p.Event.(routing.RequestRemoved); ok {
		h.metrics.observe(p, h.answered[rr.Conversation], nil)
	} else {
		h.metrics.observe(p, false, func(task string) (string, time.Duration, bool) {
			ti, ok := h.tasks[task]
			if !ok || ti.activated.IsZero() {
				return "", 0, false
			}
			return ti.queue, p.At.Sub(ti.activated), true
		})
	}
	switch e := p.Event.(type) {
	case routing.ConversationCreated:
		h.queue(e.Queue, e.At).Offered++
		h.minute(e.Queue, e.At).Offered++
	case routing.ConversationClosed:
		delete(h.answered, e.Conversation)
	case routing.RequestRemoved:
		wait := time.Duration(e.WaitSeconds * float64(time.Second))
		switch e.Reason {
		case routing.ReasonAccepted:
			if h.answered[e.Conversation] {
				return
			}
			h.answered[e.Conversation] = true
			qi := h.queue(e.Queue, e.At)
			qi.Answered++
			qi.WaitAnsweredSeconds += e.WaitSeconds
			if wait <= h.threshold(e.Queue) {
				qi.AnsweredWithinSL++
			}
			h.minute(e.Queue, e.At).Answered++
		case routing.ReasonAbandoned:
			if h.answered[e.Conversation] {
				return
			}
			qi := h.queue(e.Queue, e.At)
			qi.Abandoned++
			if wait < h.threshold(e.Queue) {
				qi.AbandonedWithinSL++
			}
			h.minute(e.Queue, e.At).Abandoned++
		case routing.ReasonExpired, routing.ReasonNoAgentAvailable:
			h.queue(e.Queue, e.At).Expired++
		}
	case routing.TaskReserved:
		h.tasks[e.Task] = taskInfo{queue: e.Queue}
	case routing.TaskRevoked:
		delete(h.tasks, e.Task)
	case routing.TaskActivated:
		ti := h.tasks[e.Task]
		ti.activated = e.At
		h.tasks[e.Task] = ti
		h.busy(e.Agent, e.At, +1)
	case routing.TaskClosed:
		ti, ok := h.tasks[e.Task]
		delete(h.tasks, e.Task)
		if ok && !ti.activated.IsZero() {
			qi := h.queue(ti.queue, e.At)
			qi.Handled++
			qi.HandleSeconds += e.At.Sub(ti.activated).Seconds()
			h.busy(e.Agent, e.At, -1)
		}
	case routing.AgentStateChanged:
		ap := h.presence[e.Agent]
		h.accrue(e.Agent, ap, e.At)
		ap.state, ap.since = e.State, e.At
		if ap.busy > 0 {
			ap.busySince = e.At
		}
		h.presence[e.Agent] = ap
	}
}

// busy moves an agent's count of tasks with work by d.
func (h *History) busy(agent string, at time.Time, d int) {
	ap := h.presence[agent]
	h.accrue(agent, ap, at)
	if ap.state != "" {
		ap.since = at
	}
	ap.busy += d
	if ap.busy < 0 {
		ap.busy = 0
	}
	ap.busySince = at
	h.presence[agent] = ap
}

// accrue adds the time since ap.since (in ap.state) and since busySince
// (with work) to the agent's intervals, split at interval boundaries.
func (h *History) accrue(agent string, ap agentPresence, at time.Time) {
	accrueInto(agent, ap, at, h.interval)
}

// interval returns the stored interval of k, made when there is none,
// and marks it changed.
func (h *History) interval(k intervalKey) *AgentInterval {
	ai := h.agents[k]
	if ai == nil {
		ai = &AgentInterval{Agent: k.id, Start: time.Unix(k.start, 0).UTC(), Seconds: map[string]float64{}}
		h.agents[k] = ai
		h.addMember(k.id, k.start)
	}
	h.dirty[k] = true
	return ai
}

// accrueInto is accrue on the intervals at returns.
func accrueInto(agent string, ap agentPresence, now time.Time, at func(intervalKey) *AgentInterval) {
	if ap.state == "" || ap.state == routing.AgentLogout {
		return
	}
	spread(agent, ap.since, now, at, func(ai *AgentInterval, sec float64) { ai.Seconds[string(ap.state)] += sec })
	if ap.busy > 0 {
		spread(agent, ap.busySince, now, at, func(ai *AgentInterval, sec float64) { ai.BusySeconds += sec })
	}
}

// spread adds the seconds of [from, to), split at interval boundaries, to
// the agent's intervals at returns.
func spread(agent string, from, to time.Time, at func(intervalKey) *AgentInterval, add func(*AgentInterval, float64)) {
	for from.Before(to) {
		start := intervalStart(from)
		end := start.Add(Interval)
		if to.Before(end) {
			end = to
		}
		add(at(intervalKey{'a', agent, start.Unix()}), end.Sub(from).Seconds())
		from = end
	}
}

// live returns a queue's figures today (UTC day of now) and in the last 15
// minutes (the current and previous interval, pro rata), and the current
// minute, recording waiting as the minute's peak.
func (h *History) live(queue string, now time.Time, waiting int) (today, last15 Figures, m Minute) {
	h.mu.Lock()
	defer h.mu.Unlock()
	day := now.UTC().Truncate(24 * time.Hour)
	cur := intervalStart(now)
	for t := day; !t.After(cur); t = t.Add(Interval) {
		if qi := h.queues[intervalKey{'q', queue, t.Unix()}]; qi != nil {
			today.add(qi.Figures)
		}
	}
	if qi := h.queues[intervalKey{'q', queue, cur.Unix()}]; qi != nil {
		last15.add(qi.Figures)
	}
	// The previous interval weighs as much of it as the window still covers.
	if qi := h.queues[intervalKey{'q', queue, cur.Add(-Interval).Unix()}]; qi != nil {
		w := 1 - now.Sub(cur).Seconds()/Interval.Seconds()
		last15.add(scale(qi.Figures, w))
	}
	mm := h.minute(queue, now)
	mm.WaitingMax = max(mm.WaitingMax, waiting)
	return today.derive(), last15.derive(), *mm
}

func scale(f Figures, w float64) Figures {
	r := func(v int64) int64 { return int64(float64(v)*w + 0.5) }
	return Figures{Offered: r(f.Offered), Answered: r(f.Answered), Abandoned: r(f.Abandoned), Expired: r(f.Expired),
		AnsweredWithinSL: r(f.AnsweredWithinSL), AbandonedWithinSL: r(f.AbandonedWithinSL),
		WaitAnsweredSeconds: f.WaitAnsweredSeconds * w, Handled: r(f.Handled), HandleSeconds: f.HandleSeconds * w}
}

// lastHour returns the queue's minutes of the hour before now, oldest first
// (minutes without traffic included, so the charts have a regular axis).
func (h *History) lastHour(queue string, now time.Time) []Minute {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Minute, 0, 60)
	end := now.Truncate(time.Minute)
	r := h.minutes[queue]
	for t := end.Add(-59 * time.Minute); !t.After(end); t = t.Add(time.Minute) {
		m := Minute{T: t}
		if r != nil {
			if e := r.m[(t.Unix()/60)%60]; e.T.Equal(t) {
				m = e
			}
		}
		out = append(out, m)
	}
	return out
}

// QueueIntervals returns the intervals of queue (every queue when "")
// starting in [from, to), by start then queue.
func (h *History) QueueIntervals(queue string, from, to time.Time) []QueueInterval {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []QueueInterval
	for k, qi := range h.queues {
		if (queue == "" || k.id == queue) && !qi.Start.Before(from) && qi.Start.Before(to) {
			v := *qi
			v.Figures = v.Figures.derive()
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b QueueInterval) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.Queue, b.Queue)
	})
	return out
}

// AgentIntervals returns the intervals of the agents keep accepts (every
// agent when nil), starting in [from, to), with time accrued up to now for
// agents still in a state.
func (h *History) AgentIntervals(keep func(string) bool, from, to, now time.Time) []AgentInterval {
	h.mu.Lock()
	defer h.mu.Unlock()
	// Accrue open presence up to now on copies (open): the stored
	// intervals and their marks stay as they are. Only the intervals open
	// presence reaches are copied, not the whole history.
	open := map[intervalKey]*AgentInterval{}
	at := func(k intervalKey) *AgentInterval {
		if ai := open[k]; ai != nil {
			return ai
		}
		v := AgentInterval{Agent: k.id, Start: time.Unix(k.start, 0).UTC(), Seconds: map[string]float64{}}
		if ai := h.agents[k]; ai != nil {
			v = *ai
			v.Seconds = maps.Clone(ai.Seconds)
		}
		open[k] = &v
		return &v
	}
	for agent, ap := range h.presence {
		if keep == nil || keep(agent) {
			accrueInto(agent, ap, now, at)
		}
	}
	// Starts are whole seconds: start in [from, to) is k.start in [lo, hi).
	lo, hi := from.Unix(), to.Unix()
	if from.Nanosecond() > 0 {
		lo++
	}
	if to.Nanosecond() > 0 {
		hi++
	}
	wanted := func(k intervalKey) bool {
		return k.start >= lo && k.start < hi && (keep == nil || keep(k.id))
	}
	var out []AgentInterval
	add := func(ai AgentInterval) {
		logged := 0.0
		for _, s := range ai.Seconds {
			logged += s
		}
		if logged > 0 {
			ai.Occupancy = min(1, ai.BusySeconds/logged)
		}
		out = append(out, ai)
	}
	// members indexes the stored intervals by start: those in range are
	// found without a pass over the whole history.
	for g, agents := range h.members {
		if g.start < lo || g.start >= hi {
			continue
		}
		for agent := range agents {
			k := intervalKey{'a', agent, g.start}
			ai := h.agents[k]
			if ai == nil || !wanted(k) {
				continue
			}
			if _, ok := open[k]; ok {
				continue
			}
			v := *ai
			v.Seconds = maps.Clone(ai.Seconds)
			add(v)
		}
	}
	for k, ai := range open {
		if wanted(k) {
			add(*ai)
		}
	}
	slices.SortFunc(out, func(a, b AgentInterval) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.Agent, b.Agent)
	})
	return out
}

// Occupancy returns each agent's occupancy over the current interval
// (for /metrics).
func (h *History) Occupancy(now time.Time) map[string]float64 {
	start := intervalStart(now)
	out := map[string]float64{}
	for _, ai := range h.AgentIntervals(nil, start, start.Add(Interval), now) {
		out[ai.Agent] = ai.Occupancy
	}
	return out
}

// Persist writes the intervals changed since the last call and forgets
// those older than Retention: each changed queue interval as one value,
// and the agent intervals by group (AgentGroups): a group with a changed
// interval is written whole.
func (h *History) Persist(ctx context.Context, now time.Time) error {
	if h.store == nil {
		return nil
	}
	h.mu.Lock()
	type kv struct {
		key string
		val []byte
	}
	var out []kv
	groups := map[groupKey]bool{}
	for k := range h.dirty {
		if k.kind == 'q' {
			b, _ := json.Marshal(h.queues[k])
			out = append(out, kv{storeKey(k), b})
			continue
		}
		groups[groupOf(k.id, k.start)] = true
	}
	for g := range groups {
		var list []*AgentInterval
		for _, agent := range slices.Sorted(maps.Keys(h.members[g])) {
			if ai := h.agents[intervalKey{'a', agent, g.start}]; ai != nil {
				list = append(list, ai)
			}
		}
		b, _ := json.Marshal(list)
		out = append(out, kv{groupStoreKey(g), b})
	}
	// Written in key order: the same changes give the same puts.
	slices.SortFunc(out, func(a, b kv) int { return strings.Compare(a.key, b.key) })
	clear(h.dirty)
	cutoff := now.Add(-Retention).Unix()
	for g := range h.members {
		if g.start < cutoff {
			delete(h.members, g)
		}
	}
	for k := range h.queues {
		if k.start < cutoff {
			delete(h.queues, k)
		}
	}
	for k := range h.agents {
		if k.start < cutoff {
			delete(h.agents, k)
		}
	}
	h.mu.Unlock()
	for _, e := range out {
		if err := h.store.Put(ctx, e.key, e.val); err != nil {
			return err
		}
	}
	return nil
}

// storeKey is "q.<start>.<hex id>" (or "a.<start>.<hex id>", one agent's
// interval as stored before AgentGroups): KV keys allow only
// [-/_=.a-zA-Z0-9], ids may hold more.
func storeKey(k intervalKey) string {
	return fmt.Sprintf("%c.%s.%x", k.kind, strconv.FormatInt(k.start, 10), k.id)
}

// groupStoreKey is "g.<start>.<group>".
func groupStoreKey(g groupKey) string {
	return "g." + strconv.FormatInt(g.start, 10) + "." + strconv.FormatUint(uint64(g.group), 10)
}
