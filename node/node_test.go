package node_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/omniroute/omniroute/journal"
	"github.com/omniroute/omniroute/journal/memjournal"
	"github.com/omniroute/omniroute/journal/natsjournal"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

func setup() []routing.Command {
	return []routing.Command{
		routing.UpsertMRD{MRD: routing.MRD{ID: "chat", MaxRequests: 2, Interruptible: true}},
		routing.UpsertQueue{Queue: routing.Queue{ID: "q", MRD: "chat", RONATimeout: 200 * time.Millisecond}},
		routing.UpsertAgent{Agent: routing.Agent{ID: "a1"}},
		routing.UpsertAgent{Agent: routing.Agent{ID: "a2"}},
	}
}

func open(t testing.TB, j journal.Journal, cfg node.Config) *node.Node {
	t.Helper()
	cfg.Journal = j
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	n, err := node.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func submit(t testing.TB, n *node.Node, cmds ...routing.Command) []routing.Event {
	t.Helper()
	var all []routing.Event
	for _, c := range cmds {
		ev, err := n.Submit(context.Background(), c)
		if err != nil {
			t.Fatalf("%s: %v", c.CommandName(), err)
		}
		all = append(all, ev...)
	}
	return all
}

func digest(t testing.TB, n *node.Node) string {
	t.Helper()
	d, err := n.Digest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRefusedCommandIsNotJournaled(t *testing.T) {
	j := memjournal.New()
	n := open(t, j, node.Config{})
	defer n.Close()
	submit(t, n, setup()...)
	before, _ := j.LastSeq(context.Background())
	d := digest(t, n)
	_, err := n.Submit(context.Background(), routing.SetMRDState{Agent: "a1", MRD: "chat", State: routing.MRDReady})
	var re *routing.Error
	if !errors.As(err, &re) || re.Code != routing.CodeAgentNotReady {
		t.Fatalf("err = %v, want AGENT_NOT_READY", err)
	}
	after, _ := j.LastSeq(context.Background())
	if after != before || digest(t, n) != d {
		t.Fatalf("refused command changed the journal (%d -> %d) or the state", before, after)
	}
	if st := n.Stats(); st.Rejected != 1 {
		t.Fatalf("rejected = %d, want 1", st.Rejected)
	}
}

// workload drives agents and conversations so the state has every kind of
// object: reserved, active and closed work, waiting requests.
// workload reserves and accepts work. Its queue's RONA is an hour, so no
// deadline falls due while a test compares digests: on a slow machine (the
// race detector) setup's 200 ms RONA would journal a Tick between the
// digest taken and the restart.
func workload(t testing.TB, n *node.Node, convs int) {
	submit(t, n, setup()...)
	submit(t, n, routing.UpsertQueue{Queue: routing.Queue{ID: "q", MRD: "chat", RONATimeout: time.Hour}})
	submit(t, n, routing.SetAgentState{Agent: "a1", State: routing.AgentReady})
	for i := range convs {
		ev := submit(t, n, routing.CreateConversation{ID: fmt.Sprint("c", i), RequestID: fmt.Sprint("r", i), Queue: "q", Priority: i % 3})
		for _, e := range ev {
			if r, ok := e.(routing.TaskReserved); ok && i%2 == 0 {
				submit(t, n, routing.AcceptTask{Task: r.Task, Agent: r.Agent})
			}
		}
	}
}

func TestRecoveryFromJournalAndSnapshot(t *testing.T) {
	for _, every := range []int{-1, 3} {
		t.Run(fmt.Sprint("snapshotEvery=", every), func(t *testing.T) {
			j := memjournal.New()
			n := open(t, j, node.Config{SnapshotEvery: every})
			workload(t, n, 9)
			want := digest(t, n)
			snaps := n.Stats().Snapshots
			// No Close: the node is abandoned as a crash would leave it.
			n2 := open(t, j, node.Config{SnapshotEvery: -1})
			defer n2.Close()
			if got := digest(t, n2); got != want {
				t.Fatalf("digest after recovery %s, want %s", got, want)
			}
			if every > 0 && snaps == 0 {
				t.Fatal("no snapshot was taken")
			}
			n.Close()
		})
	}
}

func TestRecoveryOnJetStreamAfterServerStop(t *testing.T) {
	dir := t.TempDir()
	srv, err := natsjournal.StartEmbedded(natsjournal.EmbeddedOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := srv.Conn()
	if err != nil {
		t.Fatal(err)
	}
	j, err := natsjournal.Open(context.Background(), nc, natsjournal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := open(t, j, node.Config{SnapshotEvery: 5})
	workload(t, n, 12)
	want := digest(t, n)
	// Stop the server under the node, without closing node or journal.
	srv.Shutdown()
	n.Close()

	srv2, err := natsjournal.StartEmbedded(natsjournal.EmbeddedOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Shutdown()
	nc2, err := srv2.Conn()
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	j2, err := natsjournal.Open(context.Background(), nc2, natsjournal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n2 := open(t, j2, node.Config{})
	defer n2.Close()
	if got := digest(t, n2); got != want {
		t.Fatalf("digest after restart %s, want %s", got, want)
	}
}

func TestDeadlinesFireAsJournaledTicks(t *testing.T) {
	j := memjournal.New()
	n := open(t, j, node.Config{})
	events, cancel := n.Subscribe()
	defer cancel()
	submit(t, n, setup()...)
	submit(t, n, routing.SetAgentState{Agent: "a1", State: routing.AgentReady},
		routing.CreateConversation{ID: "c1", RequestID: "r1", Queue: "q"})
	deadline := time.After(60 * time.Second)
	for {
		select {
		case p := <-events:
			if r, ok := p.Event.(routing.TaskRevoked); ok {
				if r.Reason != routing.ReasonRONA || r.Agent != "a1" {
					t.Fatalf("revoked %+v", r)
				}
				want := digest(t, n)
				n.Close()
				n2 := open(t, j, node.Config{})
				defer n2.Close()
				if got := digest(t, n2); got != want {
					t.Fatal("RONA tick was not journaled: replay differs")
				}
				return
			}
		case <-deadline:
			t.Fatal("no RONA within 60 s of a 200 ms timeout")
		}
	}
}

// slowJournal takes as long as a disk's fsync to append, the condition
// under which group commit matters: while one batch is being made durable,
// the commands submitted meanwhile must gather into the next.
type slowJournal struct {
	journal.Journal
	delay time.Duration
}

func (s slowJournal) Append(ctx context.Context, data []byte) (uint64, error) {
	time.Sleep(s.delay)
	return s.Journal.Append(ctx, data)
}

func TestGroupCommit(t *testing.T) {
	// With an instant journal a loaded machine may run each writer's
	// command alone; 2 ms per append leaves the other 31 writers time to
	// queue, however the scheduler runs them.
	j := slowJournal{Journal: memjournal.New(), delay: 2 * time.Millisecond}
	n := open(t, j, node.Config{})
	defer n.Close()
	submit(t, n, setup()...)
	var wg sync.WaitGroup
	const writers, each = 32, 50
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("c-%d-%d", w, i)
				if _, err := n.Submit(context.Background(), routing.CreateConversation{ID: id, RequestID: "r" + id, Queue: "q"}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := n.Stats()
	if st.Commands != writers*each+4 {
		t.Fatalf("commands = %d, want %d", st.Commands, writers*each+4)
	}
	if st.Entries >= st.Commands {
		t.Fatalf("%d entries for %d commands: no batching", st.Entries, st.Commands)
	}
}

type failingJournal struct {
	journal.Journal
	fail bool
}

func (f *failingJournal) Append(ctx context.Context, data []byte) (uint64, error) {
	if f.fail {
		return 0, errors.New("disk on fire")
	}
	return f.Journal.Append(ctx, data)
}

func TestJournalFailureStopsTheNode(t *testing.T) {
	fj := &failingJournal{Journal: memjournal.New()}
	n := open(t, fj, node.Config{})
	submit(t, n, setup()...)
	fj.fail = true
	_, err := n.Submit(context.Background(), routing.SetAgentState{Agent: "a1", State: routing.AgentReady})
	if !errors.Is(err, node.ErrJournal) {
		t.Fatalf("err = %v, want ErrJournal", err)
	}
	<-n.Done()
	if _, err := n.Submit(context.Background(), routing.SetAgentState{Agent: "a2", State: routing.AgentReady}); !errors.Is(err, node.ErrJournal) {
		t.Fatalf("after failure err = %v, want ErrJournal", err)
	}
	// The unacknowledged change must not be visible after recovery.
	n2 := open(t, fj.Journal, node.Config{})
	defer n2.Close()
	n2.View(context.Background(), func(s routing.View) {
		if a, _ := s.Agent("a1"); a.State != routing.AgentLogout {
			t.Fatalf("a1 is %s after recovery; the failed command leaked", a.State)
		}
	})
}
