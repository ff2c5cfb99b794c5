package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/omniroute/omniroute/cluster"
	"github.com/omniroute/omniroute/journal/natsjournal"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// syncBuffer collects a node's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type member struct {
	id   string
	nc   *nats.Conn
	j    *natsjournal.Journal
	n    *node.Node
	c    *cluster.Cluster
	logs *syncBuffer
}

const ttl = 1500 * time.Millisecond

func startNATS(t *testing.T) string {
	t.Helper()
	srv, err := natsjournal.StartEmbedded(natsjournal.EmbeddedOptions{DataDir: t.TempDir(), Listen: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv.ClientURL()
}

func join(t *testing.T, url, id string, cfg node.Config) *member {
	t.Helper()
	ctx := context.Background()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	j, err := natsjournal.Open(ctx, nc, natsjournal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	c, err := cluster.Open(ctx, nc, cluster.Options{Name: "test", NodeID: id, LeaseTTL: ttl, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = log
	cfg.Replica = &node.Replica{Journal: j, NodeID: id, Forward: c.Forward, OnStepDown: c.OnStepDown}
	n, err := node.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Run(n)
	m := &member{id: id, nc: nc, j: j, n: n, c: c, logs: logs}
	t.Cleanup(m.stop)
	return m
}

// stop closes cleanly (a crashed member was stopped already: harmless).
func (m *member) stop() {
	m.c.Close()
	m.n.Close()
	m.nc.Close()
}

// crash ends a member the way SIGKILL does: no resignation reaches NATS.
func (m *member) crash() {
	m.nc.Close()
	m.stop()
}

func waitLeader(t *testing.T, ms ...*member) *member {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var leaders []*member
		for _, m := range ms {
			if m.n.Role() == node.RoleLeader {
				leaders = append(leaders, m)
			}
		}
		if len(leaders) == 1 {
			return leaders[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no single leader within 60 s")
	return nil
}

func setup() []routing.Command {
	return []routing.Command{
		routing.UpsertMRD{MRD: routing.MRD{ID: "chat", MaxRequests: 2, Interruptible: true}},
		routing.UpsertQueue{Queue: routing.Queue{ID: "q", MRD: "chat", RONATimeout: time.Minute}},
		routing.UpsertAgent{Agent: routing.Agent{ID: "a1"}},
		routing.UpsertAgent{Agent: routing.Agent{ID: "a2"}},
	}
}

func submit(t *testing.T, m *member, cmds ...routing.Command) {
	t.Helper()
	for _, c := range cmds {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err := m.n.Submit(ctx, c)
		cancel()
		if err != nil {
			t.Fatalf("%s on %s: %v", c.CommandName(), m.id, err)
		}
	}
}

// converged waits until every member applied the same last entry and
// returns their common digest.
func converged(t *testing.T, ms ...*member) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		got = got[:0]
		for _, m := range ms {
			d, err := m.n.Digest(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%d/%s", m.n.Stats().LastSeq, d))
		}
		same := true
		for _, g := range got {
			same = same && g == got[0]
		}
		if same {
			return got[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("members did not converge: %v", got)
	return ""
}

func conv(i int) routing.Command {
	return routing.CreateConversation{ID: fmt.Sprintf("c%d", i), RequestID: fmt.Sprintf("r%d", i), Queue: "q"}
}

// TestFollowersForwardAndReplicate: commands submitted on any member land
// once in the one journal and every member's state ends up equal; the
// followers' subscribers see the leader's events in the same order.
func TestFollowersForwardAndReplicate(t *testing.T) {
	url := startNATS(t)
	a := join(t, url, "a", node.Config{})
	b := join(t, url, "b", node.Config{})
	c := join(t, url, "c", node.Config{})
	leader := waitLeader(t, a, b, c)
	evA, cancelA := a.n.Subscribe()
	defer cancelA()
	evB, cancelB := b.n.Subscribe()
	defer cancelB()
	submit(t, leader, setup()...)
	for i, m := range []*member{a, b, c, a, b, c} {
		submit(t, m, conv(i))
	}
	submit(t, b, routing.SetAgentState{Agent: "a1", State: routing.AgentReady})
	converged(t, a, b, c)
	if last, _ := a.j.LastSeq(context.Background()); last != 11 {
		t.Fatalf("journal holds %d entries, want 11 (one per command)", last)
	}
	for _, m := range []*member{a, b, c} {
		if m != leader && m.n.Stats().Forwarded == 0 {
			t.Errorf("follower %s forwarded nothing", m.id)
		}
	}
	// Both subscribers saw the same events in the same order.
	var sa, sb []string
	for len(sa) < 20 {
		select {
		case p := <-evA:
			sa = append(sa, fmt.Sprintf("%d.%d %T", p.Seq, p.Cmd, p.Event))
		case p := <-evB:
			sb = append(sb, fmt.Sprintf("%d.%d %T", p.Seq, p.Cmd, p.Event))
		case <-time.After(30 * time.Second):
			t.Fatalf("events stopped: a %d, b %d", len(sa), len(sb))
		}
	}
	for len(sb) < len(sa) {
		p := <-evB
		sb = append(sb, fmt.Sprintf("%d.%d %T", p.Seq, p.Cmd, p.Event))
	}
	if strings.Join(sa, "\n") != strings.Join(sb[:len(sa)], "\n") {
		t.Fatalf("event streams differ:\n%v\n%v", sa, sb)
	}
}

// TestLeaderCrashFailover: the leader vanishes without resigning; a
// follower takes over after the lease TTL, commands submitted on the
// survivors during the election wait and land once, and the survivors
// converge.
func TestLeaderCrashFailover(t *testing.T) {
	url := startNATS(t)
	ms := []*member{join(t, url, "a", node.Config{}), join(t, url, "b", node.Config{}), join(t, url, "c", node.Config{})}
	leader := waitLeader(t, ms...)
	submit(t, leader, setup()...)
	term := leader.n.Term()
	var rest []*member
	for _, m := range ms {
		if m != leader {
			rest = append(rest, m)
		}
	}
	crashAt := time.Now()
	leader.crash()
	// Submitted during the election: retried until a leader takes it.
	submit(t, rest[0], conv(1))
	next := waitLeader(t, rest...)
	took := time.Since(crashAt)
	if next.n.Term() <= term {
		t.Fatalf("new term %d not above %d", next.n.Term(), term)
	}
	submit(t, rest[1], conv(2))
	converged(t, rest...)
	// Reported, not asserted: how long an election takes depends on the
	// machine's load (waitLeader bounds it generously).
	t.Logf("failover in %s (lease TTL %s), term %d -> %d", took.Round(time.Millisecond), ttl, term, next.n.Term())
}

// TestFenceDeposesStaleLeader: a second node made leader behind the first
// one's back (the split brain a partition could cause) appends first; the
// first one's next append is refused by the expected-last-sequence fence,
// it steps down, and its state follows the journal again.
func TestFenceDeposesStaleLeader(t *testing.T) {
	url := startNATS(t)
	a := join(t, url, "a", node.Config{})
	leader := waitLeader(t, a)
	submit(t, leader, setup()...)
	b := join(t, url, "b", node.Config{})
	converged(t, a, b)
	// b leads too, as if a's lease had expired unseen.
	if err := b.n.Promote(context.Background(), 1<<40); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := b.n.SubmitForwarded(ctx, "split-1", conv(1)); err != nil {
		t.Fatal(err)
	}
	// a still believes it leads; its append is refused.
	_, err := a.n.SubmitForwarded(ctx, "split-2", conv(2))
	if !errors.Is(err, node.ErrJournal) {
		t.Fatalf("stale leader's append: %v, want a refused append", err)
	}
	if !natsjournal.IsWrongLastSequence(err) && !strings.Contains(err.Error(), "wrong last sequence") {
		t.Fatalf("refusal is not the fence: %v", err)
	}
	// The refusal answers the caller before the writer steps down and
	// logs it: wait for the line.
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(a.logs.String(), "stepping down") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(a.logs.String(), "stepping down") {
		t.Fatalf("no step-down in the log:\n%s", a.logs.String())
	}
	t.Logf("refused append: %v", err)
	for a.n.Role() == node.RoleLeader && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if a.n.Role() == node.RoleLeader {
		t.Fatal("a still leads after the refused append")
	}
	converged(t, a, b)
	// c2 was never journaled: nobody holds it.
	var has bool
	a.n.View(ctx, func(s routing.View) { _, has = s.Conversation("c2") })
	if has {
		t.Fatal("the refused batch is still in the deposed leader's state")
	}
}

// TestRetriedCommandAppliedOnce: the same command id sent twice (an
// answer lost, a failover) is journaled once; the table of ids survives a
// snapshot and a restart.
func TestRetriedCommandAppliedOnce(t *testing.T) {
	url := startNATS(t)
	a := join(t, url, "a", node.Config{SnapshotEvery: 3})
	waitLeader(t, a)
	submit(t, a, setup()...)
	ctx := context.Background()
	s1, err := a.n.SubmitForwarded(ctx, "retry-me", conv(1))
	if err != nil {
		t.Fatal(err)
	}
	submit(t, a, conv(2), conv(3), conv(4)) // a snapshot after these
	s2, err := a.n.SubmitForwarded(ctx, "retry-me", conv(1))
	if err != nil || s2 != s1 {
		t.Fatalf("retry: seq %d err %v, want the first entry %d", s2, err, s1)
	}
	last, _ := a.j.LastSeq(ctx)
	a.stop()
	// A new member recovers from the snapshot (ids included).
	b := join(t, url, "b", node.Config{})
	waitLeader(t, b)
	s3, err := b.n.SubmitForwarded(ctx, "retry-me", conv(1))
	if err != nil || s3 != s1 {
		t.Fatalf("retry after restart: seq %d err %v, want %d", s3, err, s1)
	}
	if now, _ := b.j.LastSeq(ctx); now != last {
		t.Fatalf("journal grew from %d to %d on retries", last, now)
	}
	if b.n.Stats().Duplicates == 0 {
		t.Fatal("no duplicate counted")
	}
}

// TestClaimsOnce: of the nodes that claim one side effect, exactly one
// wins, whatever the order; another key is claimed afresh.
func TestClaimsOnce(t *testing.T) {
	url := startNATS(t)
	ctx := context.Background()
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 3 {
		nc, err := nats.Connect(url)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		c, err := cluster.OpenClaims(ctx, nc, "test", 1)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := c.Claim(ctx, "12.1.callback-7")
			if err != nil {
				t.Error(i, err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d nodes won one claim, want 1", wins.Load())
	}
	nc, _ := nats.Connect(url)
	defer nc.Close()
	c, _ := cluster.OpenClaims(ctx, nc, "test", 1)
	if ok, err := c.Claim(ctx, "13.1.callback-7"); !ok || err != nil {
		t.Fatalf("fresh key: %v %v", ok, err)
	}
}

// TestSubmitWithOnAFollower: a follower's SubmitWith runs its reads where
// the follower applies the forwarded command, so After sees the command's
// own effect even while the leader applies others to the same request.
func TestSubmitWithOnAFollower(t *testing.T) {
	url := startNATS(t)
	a := join(t, url, "a", node.Config{})
	b := join(t, url, "b", node.Config{})
	leader := waitLeader(t, a, b)
	follower := a
	if leader == a {
		follower = b
	}
	submit(t, leader, setup()...)
	submit(t, leader, conv(0)) // nobody READY: r0 waits
	priority := func(st routing.View) int {
		r, ok := st.Request("r0")
		if !ok {
			return -1
		}
		return r.Priority
	}
	var wg sync.WaitGroup
	wg.Go(func() { // the leader's own commands, interleaved
		for i := range 20 {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			_, err := leader.n.Submit(ctx, routing.SetRequestPriority{Request: "r0", Priority: 1000 + i})
			cancel()
			if err != nil {
				t.Errorf("leader: %v", err)
			}
		}
	})
	for i := range 20 {
		set := 1 + i
		before, after := -3, -3
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err := follower.n.SubmitWith(ctx, routing.SetRequestPriority{Request: "r0", Priority: set}, node.Reads{
			Before: func(st routing.View) { before = priority(st) },
			After:  func(st routing.View, _ []routing.Event) { after = priority(st) },
		})
		cancel()
		if err != nil {
			t.Fatalf("follower SubmitWith: %v", err)
		}
		if after != set || before == set || before < 0 {
			t.Fatalf("follower's reads saw %d before and %d after, want the command's %d after", before, after, set)
		}
	}
	wg.Wait()
	converged(t, a, b)
}
