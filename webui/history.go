package webui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"math"
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
//
// Queue intervals are all held in memory (queues x 96 a day x 30 days).
// Agent intervals are held for AgentMemoryDays only: older ones stay in
// the Store until Retention and AgentIntervals reads them from it on
// demand (at most MaxStoredReportIntervals a call).
type History struct {
	store Store
	log   *slog.Logger
	// thresholds are the queues' service-level thresholds, kept from the
	// definitions (threshold reads queue definitions through the node).
	threshold func(queue string) time.Duration

	mu     sync.Mutex
	queues map[intervalKey]*QueueInterval
	dirty  map[intervalKey]bool // queue intervals changed since Persist
	// agents holds agent intervals by start (Unix seconds), then agent:
	// every stored one starting at or after floor, and the whole groups
	// of faulted below it.
	agents map[int64]map[string]*agentTime
	// floor is the start of the memory window (memoryFloor), Unix
	// seconds; it only grows.
	floor int64
	// faulted are the groups before floor read whole from the store
	// because an event changed one of their intervals (an agent in one
	// state since before the window); forgotten once written.
	faulted     map[groupKey]bool
	dirtyGroups map[groupKey]bool // agent groups changed since Persist
	minutes     map[string]*minuteRing
	answered    map[string]bool // conversations answered, until closed
	tasks       map[string]taskInfo
	presence    map[string]agentPresence
	metrics     *Metrics
}

// Interval is the length of one history interval (the usual 15 minutes of
// contact-center reporting).
const Interval = 15 * time.Minute

// Retention is how long intervals are kept (Twilio TaskRouter keeps 30
// days of cumulative statistics).
const Retention = 30 * 24 * time.Hour

// AgentMemoryDays is how many UTC days of agent intervals a History holds
// in memory: the current day and the one before. The wallboard and
// /metrics occupancy read the current interval, the agents report's
// default range is the last 24 hours (reports.go), and open presence
// accrues into the latest intervals. Older intervals are read from the
// Store when asked for. At 10,000 agents logged in 8 hours a day, 30 days
// of intervals are about 10 million; two days are at most 640,000.
const AgentMemoryDays = 2

// MaxStoredReportIntervals is the most agent intervals from before the
// memory window (AgentMemoryDays) one AgentIntervals call returns from the
// Store, counting only those its keep accepts: past it the call fails
// with ErrTooManyStoredIntervals (the reports answer 400), so that one
// report's reads stay within about 30 MB. A report of one agent or a team
// over 30 days fits (2,880 intervals an agent); all of 10,000 agents fits
// for about 10 hours of their older intervals.
const MaxStoredReportIntervals = 100_000

// ErrTooManyStoredIntervals is AgentIntervals' refusal of a range holding
// more than MaxStoredReportIntervals stored agent intervals.
var ErrTooManyStoredIntervals = errors.New("webui: history: too many stored agent intervals")

// faultTimeout bounds the store reads of an event that changes an agent
// interval from before the memory window (they run on the board's
// goroutine).
const faultTimeout = 2 * time.Second

// memoryFloor is the first start (Unix seconds) of the agent intervals
// held in memory as of t: midnight UTC AgentMemoryDays-1 days before t.
func memoryFloor(t time.Time) int64 {
	return t.UTC().Truncate(24*time.Hour).AddDate(0, 0, -(AgentMemoryDays - 1)).Unix()
}

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

func groupOf(agent string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(agent))
	return h.Sum32() % AgentGroups
}

// agentTime is one agent's interval in memory: an AgentInterval without
// the agent and start (the keys it is held under) and without its map of
// seconds, the bulk of it (a map is about 300 bytes; this is 48).
type agentTime struct {
	ready, notReady, busy float64
	// other holds states other than READY and NOT_READY (none today).
	other map[string]float64
	// has says which of ready and notReady are keys of the stored
	// Seconds, so that a value read and written back is unchanged.
	has   uint8
	group uint8 // groupOf(agent)
}

const (
	hasReady uint8 = 1 << iota
	hasNotReady
)

func (t *agentTime) add(state string, sec float64) {
	switch state {
	case string(routing.AgentReady):
		t.ready += sec
		t.has |= hasReady
	case string(routing.AgentNotReady):
		t.notReady += sec
		t.has |= hasNotReady
	default:
		if t.other == nil {
			t.other = map[string]float64{}
		}
		t.other[state] += sec
	}
}

func (t *agentTime) clone() *agentTime {
	c := *t
	c.other = maps.Clone(t.other)
	return &c
}

// interval is t as the AgentInterval of agent at start (Occupancy 0, as
// stored).
func (t *agentTime) interval(agent string, start int64) AgentInterval {
	sec := make(map[string]float64, 2+len(t.other))
	if t.has&hasReady != 0 {
		sec[string(routing.AgentReady)] = t.ready
	}
	if t.has&hasNotReady != 0 {
		sec[string(routing.AgentNotReady)] = t.notReady
	}
	maps.Copy(sec, t.other)
	return AgentInterval{Agent: agent, Start: time.Unix(start, 0).UTC(), Seconds: sec, BusySeconds: t.busy}
}

// loggedSeconds is the time in every state, summed in a fixed order.
func (t *agentTime) loggedSeconds() float64 {
	s := t.ready + t.notReady
	for _, k := range slices.Sorted(maps.Keys(t.other)) {
		s += t.other[k]
	}
	return s
}

func newAgentTime(agent string) *agentTime { return &agentTime{group: uint8(groupOf(agent))} }

// agentTimeOf is a stored interval in memory.
func agentTimeOf(ai *AgentInterval) *agentTime {
	t := newAgentTime(ai.Agent)
	t.busy = ai.BusySeconds
	for _, k := range slices.Sorted(maps.Keys(ai.Seconds)) {
		t.add(k, ai.Seconds[k])
	}
	return t
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
// (OpenKV); nil keeps history in memory only (nothing is forgotten but
// what Retention drops).
//
// Keys (storeKey, groupStoreKey): "q.<start>.<hex queue id>" one queue
// interval; "g.<start>.<group>" a group of agent intervals (AgentGroups);
// "a.<start>.<hex agent id>" one agent interval, the layout before
// AgentGroups, still read (and never written) until Retention ages it out.
type Store interface {
	Put(ctx context.Context, key string, value []byte) error
	// Scan returns the latest value of every key that begins with one
	// of prefixes, each a run of whole key tokens ending in "." ("q.",
	// "g.1740819600.").
	Scan(ctx context.Context, prefixes []string) (map[string][]byte, error)
	// Get returns key's latest value, nil when it has none.
	Get(ctx context.Context, key string) ([]byte, error)
}

// NewHistory returns a History reading stored intervals from store (nil:
// memory only): every queue interval, and the agent intervals of the
// memory window as of now (AgentMemoryDays). threshold gives a queue's
// service-level threshold.
func NewHistory(ctx context.Context, store Store, now time.Time, threshold func(string) time.Duration, log *slog.Logger) (*History, error) {
	if log == nil {
		log = slog.Default()
	}
	h := &History{store: store, log: log, threshold: threshold,
		queues: map[intervalKey]*QueueInterval{}, dirty: map[intervalKey]bool{},
		agents: map[int64]map[string]*agentTime{}, faulted: map[groupKey]bool{}, dirtyGroups: map[groupKey]bool{},
		minutes: map[string]*minuteRing{}, answered: map[string]bool{}, tasks: map[string]taskInfo{},
		presence: map[string]agentPresence{}}
	h.metrics = newMetrics(h, time.Now)
	if store == nil {
		h.floor = math.MinInt64
		return h, nil
	}
	h.floor = memoryFloor(now)
	qs, err := store.Scan(ctx, []string{"q."})
	if err != nil {
		return nil, fmt.Errorf("webui: history: %w", err)
	}
	for _, v := range qs {
		var qi QueueInterval
		if json.Unmarshal(v, &qi) == nil {
			h.queues[intervalKey{'q', qi.Queue, qi.Start.Unix()}] = &qi
		}
	}
	// The window up to now's interval; starts after it are new, nothing
	// is stored there (the history's clock does not go back across a
	// restart). One scan per day of starts.
	last := intervalStart(now).Unix()
	for day := h.floor; day <= last; day += 24 * 3600 {
		var starts []int64
		for s := day; s < day+24*3600 && s <= last; s += int64(Interval / time.Second) {
			starts = append(starts, s)
		}
		err := scanAgents(ctx, store, starts, func(start int64, agent string, t *agentTime) {
			h.startMap(start)[agent] = t
		})
		if err != nil {
			return nil, fmt.Errorf("webui: history: %w", err)
		}
	}
	return h, nil
}

// scanAgents reads the stored agent intervals of starts and calls fn with
// each: values of the earlier layout ("a.") before groups ("g."), so that
// a group, written later, wins for the same agent and interval.
func scanAgents(ctx context.Context, store Store, starts []int64, fn func(start int64, agent string, t *agentTime)) error {
	if len(starts) == 0 {
		return nil
	}
	prefixes := make([]string, 0, 2*len(starts))
	for _, s := range starts {
		p := strconv.FormatInt(s, 10) + "."
		prefixes = append(prefixes, "a."+p, "g."+p)
	}
	vals, err := store.Scan(ctx, prefixes)
	if err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		for _, ai := range storedAgents(k, vals[k]) {
			fn(ai.Start.Unix(), ai.Agent, agentTimeOf(ai))
		}
	}
	return nil
}

// storedAgents decodes the stored value v of key: one agent's interval
// ("a.", the layout before AgentGroups) or a group of them ("g."). A
// value that does not decode, and entries without an agent, are left
// out.
func storedAgents(key string, v []byte) []*AgentInterval {
	var list []*AgentInterval
	switch {
	case v == nil:
	case strings.HasPrefix(key, "a."):
		var ai AgentInterval
		if json.Unmarshal(v, &ai) == nil {
			list = []*AgentInterval{&ai}
		}
	case strings.HasPrefix(key, "g."):
		if json.Unmarshal(v, &list) != nil {
			list = nil
		}
	}
	return slices.DeleteFunc(list, func(ai *AgentInterval) bool { return ai == nil || ai.Agent == "" })
}

// readAgent reads the stored interval of agent at start and calls fn
// with it: its group's, else the earlier layout's.
func readAgent(ctx context.Context, store Store, agent string, start int64, fn func(start int64, agent string, t *agentTime)) error {
	old, err := store.Get(ctx, storeKey(intervalKey{'a', agent, start}))
	if err != nil {
		return err
	}
	group, err := store.Get(ctx, groupStoreKey(groupKey{start, groupOf(agent)}))
	if err != nil {
		return err
	}
	// The earlier layout first, so that the group wins.
	for _, ai := range append(storedAgents("a.", old), storedAgents("g.", group)...) {
		if ai.Agent == agent {
			fn(ai.Start.Unix(), agent, agentTimeOf(ai))
		}
	}
	return nil
}

// startMap returns the agents' intervals held at start, made when none.
func (h *History) startMap(start int64) map[string]*agentTime {
	m := h.agents[start]
	if m == nil {
		m = map[string]*agentTime{}
		h.agents[start] = m
	}
	return m
}

// fault reads the group g, before the memory window, whole from the
// store into memory, so that its next write keeps the agents no event
// touched. False when the store did not answer: the change is not counted
// (logged) rather than written over the stored group.
func (h *History) fault(g groupKey) bool {
	ctx, cancel := context.WithTimeout(context.Background(), faultTimeout)
	defer cancel()
	read := map[string]*agentTime{}
	// The earlier layout's values of the start, then the group's own.
	prefix := "a." + strconv.FormatInt(g.start, 10) + "."
	olds, err := h.store.Scan(ctx, []string{prefix})
	var group []byte
	if err == nil {
		group, err = h.store.Get(ctx, groupStoreKey(g))
	}
	if err != nil {
		h.log.Error("webui: history: an older interval not read, the change to it not counted", "start", time.Unix(g.start, 0).UTC(), "err", err)
		return false
	}
	for _, k := range slices.Sorted(maps.Keys(olds)) {
		for _, ai := range storedAgents(k, olds[k]) {
			if ai.Start.Unix() == g.start && groupOf(ai.Agent) == g.group {
				read[ai.Agent] = agentTimeOf(ai)
			}
		}
	}
	for _, ai := range storedAgents("g.", group) {
		if ai.Start.Unix() == g.start {
			read[ai.Agent] = agentTimeOf(ai)
		}
	}
	m := h.startMap(g.start)
	for agent, t := range read {
		if _, ok := m[agent]; !ok {
			m[agent] = t
		}
	}
	h.faulted[g] = true
	return true
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

// interval returns the held interval of agent at start, made when there
// is none, and marks its group changed; nil when its group is before the
// memory window and could not be read (fault).
func (h *History) interval(agent string, start int64) *agentTime {
	m := h.agents[start]
	t := m[agent]
	if t == nil {
		g := groupKey{start, groupOf(agent)}
		if start < h.floor && !h.faulted[g] {
			if !h.fault(g) {
				return nil
			}
			m = h.agents[start]
			t = m[agent]
		}
		if t == nil {
			t = newAgentTime(agent)
			h.startMap(start)[agent] = t
		}
	}
	h.dirtyGroups[groupKey{start, uint32(t.group)}] = true
	return t
}

// accrueInto is accrue on the intervals at returns (nil: not counted).
func accrueInto(agent string, ap agentPresence, now time.Time, at func(agent string, start int64) *agentTime) {
	if ap.state == "" || ap.state == routing.AgentLogout {
		return
	}
	state := string(ap.state)
	spread(agent, ap.since, now, at, func(t *agentTime, sec float64) { t.add(state, sec) })
	if ap.busy > 0 {
		spread(agent, ap.busySince, now, at, func(t *agentTime, sec float64) { t.busy += sec })
	}
}

// spread adds the seconds of [from, to), split at interval boundaries, to
// the agent's intervals at returns.
func spread(agent string, from, to time.Time, at func(agent string, start int64) *agentTime, add func(*agentTime, float64)) {
	for from.Before(to) {
		start := intervalStart(from)
		end := start.Add(Interval)
		if to.Before(end) {
			end = to
		}
		if t := at(agent, start.Unix()); t != nil {
			add(t, end.Sub(from).Seconds())
		}
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
// agent when nil), starting in [from, to) and at most Retention before
// now, by start then agent, with time accrued up to now for agents still
// in a state. Intervals before the memory window (AgentMemoryDays) are
// read from the store, one scan of every group per interval start.
// Errors: the store's; ErrTooManyStoredIntervals when more than
// MaxStoredReportIntervals of those would be returned (then nothing is).
func (h *History) AgentIntervals(keep func(string) bool, from, to, now time.Time) ([]AgentInterval, error) {
	return h.agentIntervals("", keep, from, to, now)
}

// AgentIntervalsOf is AgentIntervals of agent only (and only if keep
// accepts it): from the store it reads the agent's group and its value of
// the earlier layout per interval start (two gets), not every group.
func (h *History) AgentIntervalsOf(agent string, keep func(string) bool, from, to, now time.Time) ([]AgentInterval, error) {
	if agent == "" {
		return nil, errors.New("webui: history: no agent")
	}
	k := func(id string) bool { return id == agent && (keep == nil || keep(id)) }
	return h.agentIntervals(agent, k, from, to, now)
}

// agentIntervals is AgentIntervals; one, when not "", is the only agent
// keep may accept.
func (h *History) agentIntervals(one string, keep func(string) bool, from, to, now time.Time) ([]AgentInterval, error) {
	// Starts are whole seconds: start in [from, to) is start in [lo, hi).
	lo, hi := from.Unix(), to.Unix()
	if from.Nanosecond() > 0 {
		lo++
	}
	if to.Nanosecond() > 0 {
		hi++
	}
	lo = max(lo, now.Add(-Retention).Unix())
	wanted := func(agent string, start int64) bool {
		return start >= lo && start < hi && (keep == nil || keep(agent))
	}
	// The starts before the window are read from the store without the
	// lock (the board's events wait on it). Should a Persist raise the
	// floor meanwhile, the starts it forgot are read in the next round.
	stored := map[int64]map[string]*agentTime{}
	step := int64(Interval / time.Second)
	next := (lo + step - 1) / step * step // the first start not read
	n := 0
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.store != nil && next < min(hi, h.floor) {
		end := min(hi, h.floor)
		h.mu.Unlock()
		var err error
		for ; next < end && err == nil && n <= MaxStoredReportIntervals; next += step {
			s := next
			read := func(start int64, agent string, t *agentTime) {
				if start != s || !wanted(agent, start) {
					return
				}
				m := stored[start]
				if m == nil {
					m = map[string]*agentTime{}
					stored[start] = m
				}
				if _, ok := m[agent]; !ok {
					n++
				}
				m[agent] = t
			}
			if one != "" {
				err = readAgent(context.Background(), h.store, one, s, read)
			} else {
				err = scanAgents(context.Background(), h.store, []int64{s}, read)
			}
		}
		h.mu.Lock()
		if err != nil {
			return nil, fmt.Errorf("webui: history: %w", err)
		}
		if n > MaxStoredReportIntervals {
			return nil, fmt.Errorf("%w: more than %d from before %s; ask for a shorter range or fewer agents",
				ErrTooManyStoredIntervals, MaxStoredReportIntervals, time.Unix(h.floor, 0).UTC().Format(time.RFC3339))
		}
	}
	// The memory's intervals win over the store's read above (a group
	// faulted in holds changes not yet written).
	type key struct {
		start int64
		agent string
	}
	got := map[key]*agentTime{}
	for start, m := range stored {
		for agent, t := range m {
			got[key{start, agent}] = t
		}
	}
	for start, m := range h.agents {
		if start < lo || start >= hi {
			continue
		}
		for agent, t := range m {
			if keep == nil || keep(agent) {
				got[key{start, agent}] = t
			}
		}
	}
	// Accrue open presence up to now on copies: the held intervals and
	// their marks stay as they are. Only the intervals open presence
	// reaches in the range are copied.
	open := map[key]*agentTime{}
	at := func(agent string, start int64) *agentTime {
		if start < lo || start >= hi {
			return nil
		}
		k := key{start, agent}
		if t := open[k]; t != nil {
			return t
		}
		t := newAgentTime(agent)
		if held := got[k]; held != nil {
			t = held.clone()
		}
		open[k] = t
		got[k] = t
		return t
	}
	for agent, ap := range h.presence {
		if keep == nil || keep(agent) {
			accrueInto(agent, ap, now, at)
		}
	}
	out := make([]AgentInterval, 0, len(got))
	for k, t := range got {
		ai := t.interval(k.agent, k.start)
		if logged := t.loggedSeconds(); logged > 0 {
			ai.Occupancy = min(1, t.busy/logged)
		}
		out = append(out, ai)
	}
	slices.SortFunc(out, func(a, b AgentInterval) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.Agent, b.Agent)
	})
	return out, nil
}

// Occupancy returns each agent's occupancy over the current interval
// (for /metrics): held in memory, so the store is not read.
func (h *History) Occupancy(now time.Time) map[string]float64 {
	start := intervalStart(now)
	out := map[string]float64{}
	items, err := h.AgentIntervals(nil, start, start.Add(Interval), now)
	if err != nil {
		h.log.Error("webui: history: occupancy", "err", err)
	}
	for _, ai := range items {
		out[ai.Agent] = ai.Occupancy
	}
	return out
}

// Persist writes the intervals changed since the last call, then forgets
// the queue intervals older than Retention and the agent intervals before
// the memory window as of now (AgentMemoryDays; they stay in the store):
// each changed queue interval as one value, and the agent intervals by
// group (AgentGroups): a group with a changed interval is written whole.
// A write that fails forgets nothing.
func (h *History) Persist(ctx context.Context, now time.Time) error {
	if h.store == nil {
		return nil
	}
	h.mu.Lock()
	type kv struct {
		key   string
		val   []byte
		queue intervalKey // the queue interval written (kind 'q'),
		group groupKey    // or the agent group
	}
	var out []kv
	for k := range h.dirty {
		b, _ := json.Marshal(h.queues[k])
		out = append(out, kv{key: storeKey(k), val: b, queue: k})
	}
	// Each start's held agents, by group, once for all its changed groups.
	byStart := map[int64][AgentGroups][]string{}
	for g := range h.dirtyGroups {
		if _, ok := byStart[g.start]; ok {
			continue
		}
		var groups [AgentGroups][]string
		for agent, t := range h.agents[g.start] {
			groups[t.group] = append(groups[t.group], agent)
		}
		byStart[g.start] = groups
	}
	for g := range h.dirtyGroups {
		agents := byStart[g.start][g.group]
		slices.Sort(agents)
		list := make([]AgentInterval, 0, len(agents))
		for _, agent := range agents {
			list = append(list, h.agents[g.start][agent].interval(agent, g.start))
		}
		b, _ := json.Marshal(list)
		out = append(out, kv{key: groupStoreKey(g), val: b, group: g})
	}
	// Written in key order: the same changes give the same puts.
	slices.SortFunc(out, func(a, b kv) int { return strings.Compare(a.key, b.key) })
	clear(h.dirty)
	clear(h.dirtyGroups)
	h.mu.Unlock()
	for i, e := range out {
		if err := h.store.Put(ctx, e.key, e.val); err != nil {
			// What was not written is written by the next call.
			h.mu.Lock()
			defer h.mu.Unlock()
			for _, e := range out[i:] {
				if e.queue.kind != 0 {
					h.dirty[e.queue] = true
				} else {
					h.dirtyGroups[e.group] = true
				}
			}
			return err
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.forget(now)
	return nil
}

// forget drops the queue intervals older than Retention and the agent
// intervals before the memory window as of now, but for the groups
// changed since the last write (kept whole, as faulted, until written).
func (h *History) forget(now time.Time) {
	cutoff := now.Add(-Retention).Unix()
	for k := range h.queues {
		if k.start < cutoff {
			delete(h.queues, k)
			delete(h.dirty, k)
		}
	}
	h.floor = max(h.floor, memoryFloor(now))
	for start, m := range h.agents {
		if start >= h.floor {
			continue
		}
		for agent, t := range m {
			g := groupKey{start, uint32(t.group)}
			if h.dirtyGroups[g] {
				h.faulted[g] = true
				continue
			}
			delete(m, agent)
		}
		if len(m) == 0 {
			delete(h.agents, start)
		}
	}
	for g := range h.faulted {
		if g.start >= h.floor || !h.dirtyGroups[g] {
			delete(h.faulted, g)
		}
	}
}

// storeKey is "q.<start>.<hex id>" (or "a.<start>.<hex id>", one agent's
// interval as stored before AgentGroups, read only): KV keys allow only
// [-/_=.a-zA-Z0-9], ids may hold more.
func storeKey(k intervalKey) string {
	return fmt.Sprintf("%c.%s.%x", k.kind, strconv.FormatInt(k.start, 10), k.id)
}

// groupStoreKey is "g.<start>.<group>".
func groupStoreKey(g groupKey) string {
	return "g." + strconv.FormatInt(g.start, 10) + "." + strconv.FormatUint(uint64(g.group), 10)
}
