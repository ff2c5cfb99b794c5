package webui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// feed observes the same events on every history of hs.
type feed []*History

func (f feed) state(agent string, s routing.AgentState, at time.Time) {
	for _, h := range f {
		h.Observe(node.Published{At: at, Event: routing.AgentStateChanged{Agent: agent, State: s, At: at}})
	}
}

// task gives agent a task of queue from at, with work for d.
func (f feed) task(agent, id string, at time.Time, d time.Duration) {
	for _, h := range f {
		h.Observe(node.Published{At: at, Event: routing.TaskReserved{Task: id, Agent: agent, Queue: "sales"}})
		h.Observe(node.Published{At: at, Event: routing.TaskActivated{Task: id, Agent: agent, At: at}})
		h.Observe(node.Published{At: at.Add(d), Event: routing.TaskClosed{Task: id, Agent: agent, At: at.Add(d)}})
	}
}

// workDay is one day of agents: READY 09:00, a task 10:00-10:10, NOT_READY
// 12:00-12:30, LOGOUT 17:00 (32 intervals each).
func (f feed) workDay(agents []string, day time.Time) {
	for _, a := range agents {
		f.state(a, routing.AgentReady, day.Add(9*time.Hour))
	}
	for _, a := range agents {
		f.task(a, a+day.Format("-20060102"), day.Add(10*time.Hour), 10*time.Minute)
	}
	for _, a := range agents {
		f.state(a, routing.AgentNotReady, day.Add(12*time.Hour))
	}
	for _, a := range agents {
		f.state(a, routing.AgentReady, day.Add(12*time.Hour+30*time.Minute))
	}
	for _, a := range agents {
		f.state(a, routing.AgentLogout, day.Add(17*time.Hour))
	}
}

func agentNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("agent-%d", i)
	}
	return out
}

// held counts the agent intervals h holds in memory, and the earliest
// start among them.
func held(h *History) (n int, first time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for start, m := range h.agents {
		n += len(m)
		if t := time.Unix(start, 0).UTC(); len(m) > 0 && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	return n, first
}

func intervals(t *testing.T, h *History, keep func(string) bool, from, to, now time.Time) []AgentInterval {
	t.Helper()
	items, err := h.AgentIntervals(keep, from, to, now)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// TestAgentIntervalsBeforeTheWindowComeFromTheStore: after four days,
// only the last AgentMemoryDays are held, yet AgentIntervals answers the
// four days as a History holding everything does, and so does a new
// History over the same store (a restart).
func TestAgentIntervalsBeforeTheWindowComeFromTheStore(t *testing.T) {
	ctx := context.Background()
	threshold := func(string) time.Duration { return 30 * time.Second }
	day0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	store := &mapStore{}
	h, err := NewHistory(ctx, store, day0, threshold, quiet)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := NewHistory(ctx, nil, day0, threshold, quiet) // memory only: keeps everything
	agents := agentNames(50)
	var now time.Time
	for d := range 4 {
		day := day0.AddDate(0, 0, d)
		feed{h, all}.workDay(agents, day)
		now = day.Add(17*time.Hour + 5*time.Minute)
		if err := h.Persist(ctx, now); err != nil {
			t.Fatal(err)
		}
	}
	n, first := held(h)
	if floor := day0.AddDate(0, 0, 4-AgentMemoryDays); n != AgentMemoryDays*50*32 || first.Before(floor) {
		t.Fatalf("%d intervals held from %v, want %d from %v", n, first, AgentMemoryDays*50*32, floor)
	}
	from, to := day0, day0.AddDate(0, 0, 4)
	want := intervals(t, all, nil, from, to, now)
	if len(want) != 4*50*32 {
		t.Fatalf("%d intervals in the memory-only history, want %d", len(want), 4*50*32)
	}
	if got := intervals(t, h, nil, from, to, now); !reflect.DeepEqual(got, want) {
		t.Fatalf("with a window: %d intervals, first %+v; want %d, first %+v", len(got), got[0], len(want), want[0])
	}
	// One agent, the first morning only: read from the store.
	keep := func(id string) bool { return id == "agent-7" }
	morning := intervals(t, h, keep, day0.Add(9*time.Hour), day0.Add(11*time.Hour), now)
	if len(morning) != 8 || morning[4].BusySeconds != 600 || morning[4].Occupancy != 600.0/900 || morning[0].Seconds["READY"] != 900 {
		t.Fatalf("agent-7's first morning %+v", morning)
	}
	// The same of one agent alone reads its groups only, no scan.
	scans := store.scans
	of, err := h.AgentIntervalsOf("agent-7", nil, day0.Add(9*time.Hour), day0.Add(11*time.Hour), now)
	if err != nil || !reflect.DeepEqual(of, morning) || store.scans != scans {
		t.Fatalf("AgentIntervalsOf %+v (%v, %d scans), want %+v", of, err, store.scans-scans, morning)
	}
	again, err := NewHistory(ctx, store, now, threshold, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if n2, _ := held(again); n2 != n {
		t.Fatalf("a restart holds %d intervals, want %d", n2, n)
	}
	if got := intervals(t, again, nil, from, to, now); !reflect.DeepEqual(got, want) {
		t.Fatalf("after a restart: %d intervals, want %d", len(got), len(want))
	}
	// A report in the window reads nothing from the store.
	scans = store.scans
	_ = intervals(t, again, nil, now.Add(-24*time.Hour), now, now)
	if store.scans != scans {
		t.Fatalf("a report of the last 24 hours scanned the store %d times", store.scans-scans)
	}
}

// TestAgentIntervalFaultedIn: an agent READY since three days changes
// state; the time is added to the stored intervals of the first day
// without losing the other agents of their groups, and then forgotten
// from memory again.
func TestAgentIntervalFaultedIn(t *testing.T) {
	ctx := context.Background()
	threshold := func(string) time.Duration { return 30 * time.Second }
	day0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	store := &mapStore{}
	h, _ := NewHistory(ctx, store, day0, threshold, quiet)
	all, _ := NewHistory(ctx, nil, day0, threshold, quiet)
	// peers share long's group, so that its write must keep them.
	var peers []string
	for _, a := range agentNames(2000) {
		if groupOf(a) == groupOf("long") {
			peers = append(peers, a)
		}
	}
	if len(peers) < 2 {
		t.Fatalf("%d peers", len(peers))
	}
	f := feed{h, all}
	f.state("long", routing.AgentReady, day0.Add(9*time.Hour))
	f.workDay(peers, day0)
	_ = h.Persist(ctx, day0.Add(18*time.Hour))
	now := day0.AddDate(0, 0, 3).Add(10 * time.Hour)
	if err := h.Persist(ctx, now); err != nil {
		t.Fatal(err)
	}
	if n, _ := held(h); n != 0 {
		t.Fatalf("%d intervals held three days later, want 0", n)
	}
	f.state("long", routing.AgentNotReady, now)
	if err := h.Persist(ctx, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Held again: long's intervals of the window only (34 hours).
	floor := day0.AddDate(0, 0, 3-(AgentMemoryDays-1))
	if n, first := held(h); n != int(now.Sub(floor)/Interval) || !first.Equal(floor) || len(h.faulted) != 0 {
		t.Fatalf("%d intervals held from %v after the write (%d groups faulted), want %d from %v",
			n, first, len(h.faulted), int(now.Sub(floor)/Interval), floor)
	}
	g := groupKey{day0.Add(9 * time.Hour).Unix(), groupOf("long")}
	var group []AgentInterval
	if err := json.Unmarshal(store.kv[groupStoreKey(g)], &group); err != nil || len(group) != len(peers)+1 {
		t.Fatalf("stored group of 09:00 holds %d intervals (%v), want %d", len(group), err, len(peers)+1)
	}
	from, to := day0, now.Add(Interval)
	want := intervals(t, all, nil, from, to, now.Add(time.Minute))
	if got := intervals(t, h, nil, from, to, now.Add(time.Minute)); !reflect.DeepEqual(got, want) {
		t.Fatalf("%d intervals, want %d", len(got), len(want))
	}
}

// TestHistoryRetention: Persist forgets queue intervals older than
// Retention, and AgentIntervals reports none older than Retention even
// while the store still has them (the bucket's TTL drops them).
func TestHistoryRetention(t *testing.T) {
	ctx := context.Background()
	day0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	store := &mapStore{}
	h, _ := NewHistory(ctx, store, day0, func(string) time.Duration { return 30 * time.Second }, quiet)
	feed{h}.workDay([]string{"alice"}, day0)
	if err := h.Persist(ctx, day0.Add(18*time.Hour)); err != nil {
		t.Fatal(err)
	}
	far := day0.Add(Retention + 24*time.Hour)
	if len(h.QueueIntervals("", day0, far)) == 0 || len(intervals(t, h, nil, day0, far, day0.Add(18*time.Hour))) != 32 {
		t.Fatal("the day is not in the history")
	}
	if err := h.Persist(ctx, far); err != nil {
		t.Fatal(err)
	}
	if q := h.QueueIntervals("", day0, far); len(q) != 0 {
		t.Fatalf("%d queue intervals older than Retention kept", len(q))
	}
	if n, _ := held(h); n != 0 {
		t.Fatalf("%d agent intervals held", n)
	}
	if a := intervals(t, h, nil, day0, far, far); len(a) != 0 {
		t.Fatalf("%d agent intervals older than Retention reported", len(a))
	}
}

// TestAgentIntervalsStoredLimit: a range of more than
// MaxStoredReportIntervals stored intervals is refused, and one agent's
// intervals over the same range are returned.
func TestAgentIntervalsStoredLimit(t *testing.T) {
	ctx := context.Background()
	day0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	store := &mapStore{}
	storeFullDay(store, agentNames(MaxStoredReportIntervals/96+50), day0)
	now := day0.AddDate(0, 0, 5)
	h, err := NewHistory(ctx, store, now, func(string) time.Duration { return 30 * time.Second }, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.AgentIntervals(nil, day0, now, now); !errors.Is(err, ErrTooManyStoredIntervals) {
		t.Fatalf("every agent for a day: %v, want ErrTooManyStoredIntervals", err)
	}
	one := intervals(t, h, func(id string) bool { return id == "agent-3" }, day0, now, now)
	if len(one) != 96 || one[95].Seconds["READY"] != 900 {
		t.Fatalf("one agent: %d intervals", len(one))
	}
}

// storeFullDay stores intervals of agents READY all of day (96 each) in
// the grouped layout.
func storeFullDay(store Store, agents []string, day time.Time) {
	for s := day; s.Before(day.AddDate(0, 0, 1)); s = s.Add(Interval) {
		var groups [AgentGroups][]AgentInterval
		for _, a := range agents {
			groups[groupOf(a)] = append(groups[groupOf(a)], AgentInterval{Agent: a, Start: s, Seconds: map[string]float64{"READY": 900}})
		}
		for g, list := range groups {
			b, _ := json.Marshal(list)
			_ = store.Put(context.Background(), groupStoreKey(groupKey{s.Unix(), uint32(g)}), b)
		}
	}
}

// TestAgentsReportPastTheStoredLimit: the agents report answers 400
// INVALID_ARGUMENT for a range of more than MaxStoredReportIntervals
// stored intervals, and one agent's report of it.
func TestAgentsReportPastTheStoredLimit(t *testing.T) {
	store := &mapStore{}
	// Ten days before the env's clock (2025-03-01 09:00): outside the window.
	storeFullDay(store, append(agentNames(MaxStoredReportIntervals/96+50), "alice"), time.Date(2025, 2, 19, 0, 0, 0, 0, time.UTC))
	e := newEnv(t, store)
	const day = "from=2025-02-19T00:00:00Z&to=2025-02-20T00:00:00Z"
	st, body := e.do("GET", "/v1/reports/agents?"+day, "admin", "")
	if st != http.StatusBadRequest || !strings.Contains(string(body), "INVALID_ARGUMENT") || !strings.Contains(string(body), "fewer agents") {
		t.Fatalf("every agent: %d %s", st, body)
	}
	st, body = e.do("GET", "/v1/reports/agents?agent=alice&"+day, "admin", "")
	var got collection[AgentInterval]
	if st != http.StatusOK || json.Unmarshal(body, &got) != nil || len(got.Items) != 96 || got.Items[0].Seconds["READY"] != 900 {
		t.Fatalf("alice: %d, %d intervals", st, len(got.Items))
	}
}

// TestEarlierLayoutBeforeTheWindow: intervals of the layout before
// AgentGroups ("a.<start>.<hex id>") from before the memory window are
// read on demand, a group's value winning for the same agent.
func TestEarlierLayoutBeforeTheWindow(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	store := &mapStore{}
	for agent, ready := range map[string]float64{"alice": 100, "bob": 200} {
		b, _ := json.Marshal(AgentInterval{Agent: agent, Start: start, Seconds: map[string]float64{"READY": ready}})
		_ = store.Put(ctx, storeKey(intervalKey{'a', agent, start.Unix()}), b)
	}
	newer, _ := json.Marshal([]AgentInterval{{Agent: "bob", Start: start, Seconds: map[string]float64{"READY": 250}}})
	_ = store.Put(ctx, groupStoreKey(groupKey{start.Unix(), groupOf("bob")}), newer)
	now := start.AddDate(0, 0, 7)
	h, err := NewHistory(ctx, store, now, func(string) time.Duration { return 30 * time.Second }, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := held(h); n != 0 {
		t.Fatalf("%d intervals held", n)
	}
	got := agentSeconds(t, h, start, start.Add(time.Hour), now)
	key := "@" + start.Format(time.RFC3339)
	if len(got) != 2 || got["alice"+key].Seconds["READY"] != 100 || got["bob"+key].Seconds["READY"] != 250 {
		t.Fatalf("got %+v", got)
	}
	for agent, ready := range map[string]float64{"alice": 100, "bob": 250} {
		of, err := h.AgentIntervalsOf(agent, nil, start, start.Add(time.Hour), now)
		if err != nil || len(of) != 1 || of[0].Seconds["READY"] != ready {
			t.Fatalf("AgentIntervalsOf(%s) %+v (%v)", agent, of, err)
		}
	}
}

// discardStore is a Store that keeps nothing: the memory of a History
// alone, for BenchmarkHistoryMemory.
type discardStore struct{}

func (discardStore) Put(context.Context, string, []byte) error { return nil }
func (discardStore) Scan(context.Context, []string) (map[string][]byte, error) {
	return map[string][]byte{}, nil
}
func (discardStore) Get(context.Context, string) ([]byte, error) { return nil, nil }

// BenchmarkHistoryMemory is the heap a History holds (in use after a
// GC) and its agent intervals after a week of 2,000 agents logged in 8
// hours a day (32 intervals a day each), written daily.
func BenchmarkHistoryMemory(b *testing.B) {
	ctx := context.Background()
	day0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	const days = 7
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		h, _ := NewHistory(ctx, discardStore{}, day0, func(string) time.Duration { return 30 * time.Second }, quiet)
		agents := agentNames(2000)
		now := day0
		for d := range days {
			day := day0.AddDate(0, 0, d)
			feed{h}.workDay(agents, day)
			now = day.Add(17*time.Hour + 5*time.Minute)
			if err := h.Persist(ctx, now); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		n, _ := held(h)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/(1<<20), "MiB-held")
		b.ReportMetric(float64(n), "intervals-held")
		runtime.KeepAlive(h)
	}
}

// failingStore is a mapStore whose puts fail while fail is set.
type failingStore struct {
	mapStore
	fail bool
}

func (s *failingStore) Put(ctx context.Context, key string, value []byte) error {
	if s.fail {
		return errors.New("store unavailable")
	}
	return s.mapStore.Put(ctx, key, value)
}

// TestPersistFailureForgetsNothing: a change to an interval before the
// window whose write fails is kept in memory and written by the next
// Persist.
func TestPersistFailureForgetsNothing(t *testing.T) {
	ctx := context.Background()
	day0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	store := &failingStore{}
	h, _ := NewHistory(ctx, store, day0, func(string) time.Duration { return 30 * time.Second }, quiet)
	f := feed{h}
	f.state("long", routing.AgentReady, day0.Add(9*time.Hour))
	now := day0.AddDate(0, 0, 3)
	_ = h.Persist(ctx, now)
	f.state("long", routing.AgentNotReady, now.Add(time.Hour))
	store.fail = true
	if err := h.Persist(ctx, now.Add(time.Hour)); err == nil {
		t.Fatal("Persist with failing puts: no error")
	}
	store.fail = false
	if err := h.Persist(ctx, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var group []AgentInterval
	k := groupStoreKey(groupKey{day0.Add(9 * time.Hour).Unix(), groupOf("long")})
	if err := json.Unmarshal(store.kv[k], &group); err != nil || len(group) != 1 || group[0].Seconds["READY"] != 900 {
		t.Fatalf("long's first interval %s after the failed write: %+v (%v)", k, group, err)
	}
}
