package webui

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// mapStore is a Store in memory that counts its puts.
type mapStore struct {
	mu    sync.Mutex
	kv    map[string][]byte
	puts  int
	scans int
}

func (s *mapStore) Put(_ context.Context, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kv == nil {
		s.kv = map[string][]byte{}
	}
	s.kv[key] = value
	s.puts++
	return nil
}

func (s *mapStore) Scan(_ context.Context, prefixes []string) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scans++
	out := map[string][]byte{}
	for k, v := range s.kv {
		for _, p := range prefixes {
			if !strings.HasSuffix(p, ".") {
				return nil, fmt.Errorf("prefix %q", p)
			}
			if strings.HasPrefix(k, p) {
				out[k] = v
			}
		}
	}
	return out, nil
}

func (s *mapStore) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kv[key], nil
}

func agentSeconds(t testing.TB, h *History, from, to, now time.Time) map[string]AgentInterval {
	t.Helper()
	items, err := h.AgentIntervals(nil, from, to, now)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]AgentInterval{}
	for _, ai := range items {
		out[ai.Agent+"@"+ai.Start.Format(time.RFC3339)] = ai
	}
	return out
}

// TestAgentIntervalsStoredByGroup: 2,000 agents that each changed state
// are written as at most AgentGroups values per interval, not one each,
// and a new History reads back every agent's interval as it was.
func TestAgentIntervalsStoredByGroup(t *testing.T) {
	ctx := context.Background()
	store := &mapStore{}
	threshold := func(string) time.Duration { return 30 * time.Second }
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	h, err := NewHistory(ctx, store, t0, threshold, quiet)
	if err != nil {
		t.Fatal(err)
	}
	const agents = 2000
	state := func(i int, s routing.AgentState, at time.Time) {
		h.Observe(node.Published{At: at, Event: routing.AgentStateChanged{Agent: fmt.Sprintf("agent-%d", i), State: s, At: at}})
	}
	for i := range agents {
		state(i, routing.AgentReady, t0.Add(time.Duration(i)*time.Millisecond))
	}
	// Across the 09:15 boundary: two intervals for every agent.
	for i := range agents {
		state(i, routing.AgentNotReady, t0.Add(16*time.Minute+time.Duration(i)*time.Millisecond))
	}
	now := t0.Add(17 * time.Minute)
	if err := h.Persist(ctx, now); err != nil {
		t.Fatal(err)
	}
	if store.puts > 2*AgentGroups {
		t.Fatalf("%d puts for %d agents over 2 intervals, want at most %d", store.puts, agents, 2*AgentGroups)
	}
	for k := range store.kv {
		if !strings.HasPrefix(k, "g.") {
			t.Fatalf("key %q: want only agent groups", k)
		}
	}
	from, to := t0.Add(-time.Hour), t0.Add(time.Hour)
	// Read as of t0, before every change: no open time is accrued, so
	// the first History shows what it stored.
	want := agentSeconds(t, h, from, to, t0)
	if len(want) != 2*agents {
		t.Fatalf("%d agent intervals, want %d", len(want), 2*agents)
	}
	again, err := NewHistory(ctx, store, now, threshold, quiet)
	if err != nil {
		t.Fatal(err)
	}
	got := agentSeconds(t, again, from, to, t0)
	for k, w := range want {
		g, ok := got[k]
		if !ok || !maps.Equal(g.Seconds, w.Seconds) || g.BusySeconds != w.BusySeconds {
			t.Fatalf("%s after a restart %+v, want %+v", k, g, w)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d intervals after a restart, want %d", len(got), len(want))
	}
	// A second Persist with nothing changed writes nothing; one agent's
	// change rewrites its group only.
	puts := store.puts
	if err := h.Persist(ctx, now); err != nil || store.puts != puts {
		t.Fatalf("unchanged history wrote %d values (err %v)", store.puts-puts, err)
	}
	state(7, routing.AgentReady, t0.Add(16*time.Minute+30*time.Second))
	if err := h.Persist(ctx, now); err != nil || store.puts != puts+1 {
		t.Fatalf("one agent's change wrote %d values (err %v), want 1", store.puts-puts, err)
	}
}

// TestAgentIntervalsOfEarlierLayout: intervals stored one agent per value
// ("a.<start>.<hex id>", before AgentGroups) are read, and a group value
// for the same agent and interval, written later, wins.
func TestAgentIntervalsOfEarlierLayout(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	old := func(agent string, ready float64) (string, []byte) {
		b, _ := json.Marshal(AgentInterval{Agent: agent, Start: start, Seconds: map[string]float64{"READY": ready}})
		return storeKey(intervalKey{'a', agent, start.Unix()}), b
	}
	store := &mapStore{}
	for agent, ready := range map[string]float64{"alice": 100, "bob": 200} {
		k, v := old(agent, ready)
		_ = store.Put(ctx, k, v)
	}
	newer, _ := json.Marshal([]AgentInterval{{Agent: "bob", Start: start, Seconds: map[string]float64{"READY": 250}}})
	_ = store.Put(ctx, groupStoreKey(groupKey{start.Unix(), groupOf("bob")}), newer)
	h, err := NewHistory(ctx, store, start.Add(time.Hour), func(string) time.Duration { return 30 * time.Second }, quiet)
	if err != nil {
		t.Fatal(err)
	}
	got := agentSeconds(t, h, start, start.Add(time.Hour), start.Add(time.Hour))
	key := "@" + start.Format(time.RFC3339)
	if got["alice"+key].Seconds["READY"] != 100 || got["bob"+key].Seconds["READY"] != 250 {
		t.Fatalf("got %+v", got)
	}
	// Alice's next change is written in her group, with her earlier time.
	h.Observe(node.Published{At: start.Add(time.Minute), Event: routing.AgentStateChanged{Agent: "alice", State: routing.AgentReady, At: start.Add(time.Minute)}})
	h.Observe(node.Published{At: start.Add(2 * time.Minute), Event: routing.AgentStateChanged{Agent: "alice", State: routing.AgentNotReady, At: start.Add(2 * time.Minute)}})
	if err := h.Persist(ctx, start.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	var group []AgentInterval
	if err := json.Unmarshal(store.kv[groupStoreKey(groupKey{start.Unix(), groupOf("alice")})], &group); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(group, func(ai AgentInterval) bool { return ai.Agent == "alice" })
	if i < 0 || group[i].Seconds["READY"] != 160 {
		t.Fatalf("alice's group %+v, want READY 160 s (100 stored + 60)", group)
	}
}

// BenchmarkOccupancy is one /metrics scrape's occupancy read with 2,000
// agents and a day of their intervals in memory.
func BenchmarkOccupancy(b *testing.B) {
	h, err := NewHistory(context.Background(), nil, time.Time{}, func(string) time.Duration { return 30 * time.Second }, quiet)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range 2000 {
		agent := fmt.Sprintf("agent-%d", i)
		for m := 0; m < 24*60; m += 15 {
			at := t0.Add(time.Duration(m)*time.Minute + time.Duration(i)*time.Millisecond)
			h.Observe(node.Published{At: at, Event: routing.AgentStateChanged{Agent: agent, State: routing.AgentReady, At: at}})
		}
	}
	now := t0.Add(24*time.Hour - time.Minute)
	b.ResetTimer()
	for b.Loop() {
		if len(h.Occupancy(now)) != 2000 {
			b.Fatal("occupancy of 2,000 agents")
		}
	}
}
