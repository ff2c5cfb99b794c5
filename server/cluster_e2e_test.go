package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/omniroute/omniroute/internal/natscluster"
	"github.com/omniroute/omniroute/internal/nodee2e"
	"github.com/omniroute/omniroute/journal"
	"github.com/omniroute/omniroute/journal/natsjournal"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// clusterEnv is a running cluster: three nats-server processes and three
// `omniroute serve --cluster` processes, all on 127.0.0.1.
type clusterEnv struct {
	t     testing.TB
	bin   string
	nats  *natscluster.Cluster
	nodes []*omniNode
}

type omniNode struct {
	id, addr, dataDir, natsURL string
	cmd                        *exec.Cmd
	logs                       *lockedBuffer
	exited                     chan struct{}
	proxy                      *natscluster.Proxy // its NATS connection, when proxied
	paused                     bool               // SIGSTOPped
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// buildNATS builds nats-server once per test binary (omniroute itself:
// nodee2e.Build).
var buildNATS = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "omniroute-cluster-bin-")
	if err != nil {
		return "", err
	}
	return natscluster.Build("..", dir)
})

// startClusterEnv starts the NATS cluster and the three nodes. Node i
// connects to all three servers, or, when proxied is set, only to server i
// through proxy i (natscluster.Proxy: the partition test cuts one node off
// or holds what it sends).
func startClusterEnv(t testing.TB, proxied bool) *clusterEnv {
	t.Helper()
	natsBin, err := buildNATS()
	if err != nil {
		t.Fatal(err)
	}
	nc, err := natscluster.Start(natsBin, t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Stop)
	e := &clusterEnv{t: t, bin: nodee2e.Build(t, "./cmd/omniroute"), nats: nc}
	for i := range 3 {
		n := &omniNode{id: fmt.Sprintf("n%d", i+1), addr: freeAddr(t), dataDir: t.TempDir(), natsURL: nc.URLs()}
		if proxied {
			p, err := natscluster.StartProxy(nc.Servers[i].URL())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Close)
			n.proxy, n.natsURL = p, p.URL()
		}
		e.nodes = append(e.nodes, n)
	}
	for _, n := range e.nodes {
		e.start(n)
		e.waitReady(n)
	}
	t.Cleanup(func() {
		for _, n := range e.nodes {
			e.resume(n)
			e.stop(n, syscall.SIGTERM)
		}
		if t.Failed() {
			for _, n := range e.nodes {
				t.Logf("--- %s log (last 6000 bytes):\n%s", n.id, tail(n.logs.String(), 6000))
			}
		}
	})
	return e
}

// pause freezes n's process (SIGSTOP: a long GC pause or a stopped VM as
// the rest of the cluster sees it); resume thaws it.
func (e *clusterEnv) pause(n *omniNode) {
	if n.cmd != nil && !n.paused {
		_ = n.cmd.Process.Signal(syscall.SIGSTOP)
		n.paused = true
	}
}

func (e *clusterEnv) resume(n *omniNode) {
	if n.cmd != nil && n.paused {
		_ = n.cmd.Process.Signal(syscall.SIGCONT)
		n.paused = false
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (e *clusterEnv) start(n *omniNode) {
	cmd := exec.Command(e.bin, "serve", "--cluster", "e2e", "--node-id", n.id, "--nats-url", n.natsURL,
		"--listen", n.addr, "--data-dir", n.dataDir)
	n.logs = &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = n.logs, n.logs
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	n.cmd = cmd
	n.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(n.exited) }()
}

func (e *clusterEnv) stop(n *omniNode, sig syscall.Signal) {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(sig)
	select {
	case <-n.exited:
	case <-time.After(15 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
	n.cmd = nil
}

func (e *clusterEnv) waitReady(n *omniNode) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if st, _ := request(http.DefaultClient, "http://"+n.addr, "GET", "/readyz", "", ""); st == 200 {
			return
		}
		select {
		case <-n.exited:
			e.t.Fatalf("%s exited:\n%s", n.id, n.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	e.t.Fatalf("%s not ready within 60 s:\n%s", n.id, n.logs.String())
}

// clusterView is GET /v1/cluster.
type clusterView struct {
	Role, Node, Leader, Digest string
	Term, LastSeq, LagEntries  uint64
}

func (e *clusterEnv) view(n *omniNode) (clusterView, bool) {
	if n.cmd == nil || n.paused {
		return clusterView{}, false
	}
	c := &http.Client{Timeout: 3 * time.Second}
	st, body := request(c, "http://"+n.addr, "GET", "/v1/cluster", adminToken, "")
	if st != 200 {
		return clusterView{}, false
	}
	var v clusterView
	return v, json.Unmarshal(body, &v) == nil
}

// leader waits for exactly one live node reporting itself leader with a
// term above minTerm.
func (e *clusterEnv) leader(minTerm uint64, within time.Duration) (*omniNode, clusterView) {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var found []*omniNode
		var fv clusterView
		for _, n := range e.nodes {
			if v, ok := e.view(n); ok && v.Role == "leader" && v.Term > minTerm {
				found, fv = append(found, n), v
			}
		}
		if len(found) == 1 {
			return found[0], fv
		}
		time.Sleep(25 * time.Millisecond)
	}
	e.t.Fatalf("no leader with a term above %d within %s", minTerm, within)
	return nil, clusterView{}
}

// converged waits until every live node reports the same last entry and
// state digest, and returns them.
func (e *clusterEnv) converged(within time.Duration) clusterView {
	e.t.Helper()
	return e.convergedAt(0, within)
}

// convergedAt waits until every live node reports the same entry, at
// least seq, and the same digest.
func (e *clusterEnv) convergedAt(seq uint64, within time.Duration) clusterView {
	e.t.Helper()
	deadline := time.Now().Add(within)
	var seen []string
	for time.Now().Before(deadline) {
		seen = seen[:0]
		var first clusterView
		same := true
		for i, n := range e.live() {
			v, ok := e.view(n)
			if !ok {
				same = false
				break
			}
			seen = append(seen, fmt.Sprintf("%s %s seq %d digest %.12s", n.id, v.Role, v.LastSeq, v.Digest))
			if i == 0 {
				first = v
			} else if v.LastSeq != first.LastSeq || v.Digest != first.Digest {
				same = false
			}
		}
		if same && len(seen) == len(e.live()) && first.LastSeq >= seq {
			return first
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("nodes did not converge within %s: %v", within, seen)
	return clusterView{}
}

func (e *clusterEnv) live() []*omniNode {
	var out []*omniNode
	for _, n := range e.nodes {
		if n.cmd != nil {
			out = append(out, n)
		}
	}
	return out
}

// journalAudit reads the whole journal from NATS and replays it: the ids of
// conversations created and closed and of tasks accepted, how many times
// each, and the requests that had two live offers at once.
type journalAudit struct {
	entries               uint64
	created, closed       map[string]int
	accepted              map[string]int
	doubleOffers          []string
	commands, tickRecords int
	// entryData holds the SHA-256 of every entry's bytes; raw the bytes.
	entryData map[[32]byte]uint64
	raw       [][]byte
}

// auditJournal retries a read that JetStream refuses while it re-elects
// stream leaders (after a partition heals).
func auditJournal(t *testing.T, url string) journalAudit {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		a, err := readJournal(url)
		if err == nil {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		t.Logf("journal audit: %v; retrying", err)
		time.Sleep(time.Second)
	}
}

func readJournal(url string) (journalAudit, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return journalAudit{}, err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	j, err := natsjournal.Open(ctx, nc, natsjournal.Options{})
	if err != nil {
		return journalAudit{}, err
	}
	defer j.Close()
	a := journalAudit{created: map[string]int{}, closed: map[string]int{}, accepted: map[string]int{},
		entryData: map[[32]byte]uint64{}}
	st := routing.New()
	live := map[string]map[string]bool{} // request -> reserved/active tasks
	taskReq := map[string]string{}
	err = j.Read(ctx, 1, func(e journal.Entry) error {
		a.entries = e.Seq
		a.entryData[sha256.Sum256(e.Data)] = e.Seq
		a.raw = append(a.raw, bytes.Clone(e.Data))
		recs, err := node.DecodeEntry(e.Data)
		if err != nil {
			return err
		}
		for _, r := range recs {
			a.commands++
			switch c := r.Cmd.(type) {
			case routing.CreateConversation:
				a.created[c.ID]++
			case routing.CloseConversation:
				a.closed[c.Conversation]++
			case routing.AcceptTask:
				a.accepted[c.Task]++
			case routing.Tick:
				a.tickRecords++
			}
			evs, err := st.Apply(r.At, r.Cmd)
			if err != nil {
				return fmt.Errorf("entry %d: replay refused %s: %v", e.Seq, r.Cmd.CommandName(), err)
			}
			for _, ev := range evs {
				switch ev := ev.(type) {
				case routing.TaskReserved:
					if len(live[ev.Request]) > 0 {
						a.doubleOffers = append(a.doubleOffers, fmt.Sprintf("entry %d: %s offered to %s while tasks %v live", e.Seq, ev.Request, ev.Agent, live[ev.Request]))
					}
					if live[ev.Request] == nil {
						live[ev.Request] = map[string]bool{}
					}
					live[ev.Request][ev.Task] = true
					taskReq[ev.Task] = ev.Request
				case routing.TaskRevoked:
					delete(live[taskReq[ev.Task]], ev.Task)
				case routing.TaskClosed:
					delete(live[taskReq[ev.Task]], ev.Task)
				}
			}
		}
		return nil
	})
	return a, err
}

// load sends REST commands at about rate per second to the nodes in turn:
// each worker creates a conversation and closes it a moment later. It
// records every command a node acknowledged.
type load struct {
	mu       sync.Mutex
	created  []string
	closed   []string
	acked    atomic.Int64
	failed   atomic.Int64
	stop     chan struct{}
	wg       sync.WaitGroup
	started  time.Time
	finished time.Time
}

func startLoad(e *clusterEnv, rate int) *load {
	l := &load{stop: make(chan struct{}), started: time.Now()}
	const workers = 24
	interval := time.Duration(float64(time.Second) * workers / float64(rate))
	client := &http.Client{Timeout: 15 * time.Second}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			next := time.Now().Add(time.Duration(w) * interval / workers)
			var open []string
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				case <-time.After(time.Until(next)):
				}
				next = next.Add(interval)
				n := e.nodes[(w+i)%len(e.nodes)]
				base := "http://" + n.addr
				if len(open) > 2 { // close the oldest: the queue stays short
					id := open[0]
					open = open[1:]
					if st, _ := request(client, base, "POST", "/v1/conversations/"+id+"/close", adminToken, ""); st == 200 {
						l.acked.Add(1)
						l.mu.Lock()
						l.closed = append(l.closed, id)
						l.mu.Unlock()
					} else {
						l.failed.Add(1)
					}
					continue
				}
				st, body := request(client, base, "POST", "/v1/conversations", adminToken, fmt.Sprintf(`{"queue":"chat-sales","attributes":{"w":"%d"}}`, w))
				if st != http.StatusCreated {
					l.failed.Add(1)
					continue
				}
				var c struct{ ID string }
				if json.Unmarshal(body, &c) != nil || c.ID == "" {
					l.failed.Add(1)
					continue
				}
				l.acked.Add(1)
				open = append(open, c.ID)
				l.mu.Lock()
				l.created = append(l.created, c.ID)
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// waitAcked waits until n more commands are acknowledged than when it was
// called: the cluster has taken that much of the load (under whichever
// leader). Errors: fewer within within fail t.
func (l *load) waitAcked(t *testing.T, n int64, within time.Duration) {
	t.Helper()
	from := l.acked.Load()
	deadline := time.Now().Add(within)
	for got := int64(0); got < n; got = l.acked.Load() - from {
		if time.Now().After(deadline) {
			t.Fatalf("the load had %d of %d commands acknowledged within %s", got, n, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (l *load) end() {
	close(l.stop)
	l.wg.Wait()
	l.finished = time.Now()
}

// desks runs e2e/cluster_agents.mjs and collects its lines.
type desks struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	mu    sync.Mutex
	lines []deskLine
	done  chan struct{}
}

type deskLine struct {
	Ev, Agent, URL, Task, Reason, Presence, Error string
	OK, Ready                                     bool
	At                                            int64
}

func startDesks(t *testing.T, e *clusterEnv, agents map[string]string) *desks {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not in PATH")
	}
	if _, err := os.Stat("../e2e/node_modules/socket.io-client"); err != nil {
		t.Skip("e2e/node_modules missing: run (cd e2e && npm ci)")
	}
	var urls []string
	for _, n := range e.nodes {
		urls = append(urls, "http://"+n.addr)
	}
	type agent struct{ ID, Token string }
	var list []agent
	ids := make([]string, 0, len(agents))
	for id := range agents {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		list = append(list, agent{id, agents[id]})
	}
	aj, _ := json.Marshal(list)
	aj = bytes.ReplaceAll(bytes.ReplaceAll(aj, []byte(`"ID"`), []byte(`"id"`)), []byte(`"Token"`), []byte(`"token"`))
	cmd := exec.Command("node", "cluster_agents.mjs")
	cmd.Dir = "../e2e"
	cmd.Env = append(os.Environ(), "URLS="+strings.Join(urls, ","), "AGENTS="+string(aj))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &desks{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var l deskLine
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				d.mu.Lock()
				d.lines = append(d.lines, l)
				d.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		d.stdin.Close()
		select {
		case <-d.done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("desks stderr:\n%s", tail(stderr.String(), 4000))
		}
	})
	return d
}

func (d *desks) snapshot() []deskLine {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.lines)
}

// allConnected waits until every agent's last connection event is a
// connect that set it READY.
func (d *desks) allConnected(t *testing.T, agents []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		last := map[string]deskLine{}
		for _, l := range d.snapshot() {
			if l.Ev == "connected" || l.Ev == "disconnected" {
				last[l.Agent] = l
			}
		}
		ok := true
		for _, a := range agents {
			if l := last[a]; l.Ev != "connected" || !l.Ready {
				ok = false
			}
		}
		if ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("desks not all connected and READY within %s: %v", within, tail(fmt.Sprint(d.snapshot()), 3000))
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// TestClusterFailover is the cluster end-to-end test: three nats-server
// and three `omniroute serve --cluster` processes, three agent desks on
// socket.io-client 4.4.0 spread over the nodes, REST load on every node,
// and the leader SIGKILLed under load (twice; ten times with
// OMNIROUTE_LONG=1), each time restarted as a follower. It prints and
// checks: failover time (median, max; goal < 5 s), acknowledged commands
// lost (0: every acknowledged create, close and desk accept is in the
// journal, exactly once), requests offered to two agents at once (0, from
// a replay of the journal), equal state digests on every node at rest,
// and every desk reconnected and READY after each kill.
func TestClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nats-server and omniroute processes")
	}
	kills, rate, between := 2, 200, 3*time.Second
	if os.Getenv("OMNIROUTE_LONG") == "1" {
		kills, rate, between = 10, 240, 4*time.Second
	}
	// Before each kill and before the end, the cluster takes what the load
	// offers in between at its rate, acknowledged.
	batch := int64(float64(rate) * between.Seconds())
	e := startClusterEnv(t, false)
	leader, lv := e.leader(0, 30*time.Second)
	t.Logf("leader %s term %d", leader.id, lv.Term)
	base := "http://" + e.nodes[0].addr
	agents := map[string]string{}
	for _, a := range []string{"alice", "bob", "carol"} {
		agents[a] = login(t, base, a, a+"-pass")
	}
	names := []string{"alice", "bob", "carol"}
	d := startDesks(t, e, agents)
	d.allConnected(t, names, 30*time.Second)

	l := startLoad(e, rate)
	var failovers []time.Duration
	term := lv.Term
	for k := range kills {
		l.waitAcked(t, batch, 60*time.Second)
		old, _ := e.leader(term-1, 20*time.Second)
		killedAt := time.Now()
		e.stop(old, syscall.SIGKILL)
		next, nv := e.leader(term, 30*time.Second)
		took := time.Since(killedAt)
		failovers = append(failovers, took)
		t.Logf("kill %d: %s (term %d) SIGKILLed; %s leads term %d after %s", k+1, old.id, term, next.id, nv.Term, took.Round(time.Millisecond))
		term = nv.Term
		e.start(old) // back as a follower for the next round
		e.waitReady(old)
		d.allConnected(t, names, 30*time.Second)
	}
	l.waitAcked(t, batch, 60*time.Second)
	l.end()
	d.allConnected(t, names, 30*time.Second)
	at := e.converged(60 * time.Second)
	secs := l.finished.Sub(l.started).Seconds()

	// Every acknowledged command is in the journal, once.
	a := auditJournal(t, e.nats.URLs())
	lost := 0
	l.mu.Lock()
	created, closed := slices.Clone(l.created), slices.Clone(l.closed)
	l.mu.Unlock()
	for _, id := range created {
		if a.created[id] != 1 {
			lost++
			t.Errorf("acknowledged conversation %s is %d times in the journal", id, a.created[id])
		}
	}
	for _, id := range closed {
		if a.closed[id] < 1 {
			lost++
			t.Errorf("acknowledged close of %s is not in the journal", id)
		}
	}
	accepts, offers := 0, 0
	for _, dl := range d.snapshot() {
		switch {
		case dl.Ev == "offer":
			offers++
		case dl.Ev == "accepted" && dl.OK:
			accepts++
			if a.accepted[dl.Task] != 1 {
				lost++
				t.Errorf("acknowledged accept of %s is %d times in the journal", dl.Task, a.accepted[dl.Task])
			}
		}
	}
	for _, s := range a.doubleOffers {
		t.Errorf("double offer: %s", s)
	}
	// The journal may have grown since the nodes converged (a deadline's
	// Tick, a desk's command): every entry the audit read must be applied
	// on every node, with equal digests.
	if at.LastSeq < a.entries {
		at = e.convergedAt(a.entries, 60*time.Second)
	}
	reconnects := 0
	for _, dl := range d.snapshot() {
		if dl.Ev == "disconnected" {
			reconnects++
		}
	}
	mx := slices.Max(failovers)
	t.Logf("CLUSTER FAILOVER: %d SIGKILLs of the leader; failover median %s, max %s (lease TTL 3 s)",
		kills, median(failovers).Round(time.Millisecond), mx.Round(time.Millisecond))
	t.Logf("CLUSTER LOAD: %d REST commands acknowledged in %.1f s = %.0f/s (+ %d desk accepts of %d offers); %d refused or failed during failovers",
		l.acked.Load(), secs, float64(l.acked.Load())/secs, accepts, offers, l.failed.Load())
	t.Logf("CLUSTER CHECKS: acknowledged commands lost %d; requests offered to two agents at once %d; digests equal on %d nodes at entry %d (%.16s); desk reconnects %d, all desks READY again",
		lost, len(a.doubleOffers), len(e.live()), at.LastSeq, at.Digest, reconnects)
	// The goal is reported, not asserted: an election's length depends on
	// the machine's load; e.leader bounds each one generously (30 s).
	goal := "met"
	if mx >= 5*time.Second {
		goal = "MISSED"
	}
	t.Logf("CLUSTER FAILOVER GOAL (< 5 s): %s", goal)
	if accepts == 0 {
		t.Error("no desk accepted any offer: the desks did not work")
	}
}

// logTime returns the time of the first log line of n containing s.
func logTime(n *omniNode, s string) (time.Time, string, bool) {
	for _, line := range strings.Split(n.logs.String(), "\n") {
		if !strings.Contains(line, s) {
			continue
		}
		ts, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		return at, line, err == nil
	}
	return time.Time{}, "", false
}

// waitLog waits until n's log has a line containing s and returns it.
func waitLog(t *testing.T, n *omniNode, s string, within time.Duration) (time.Time, string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if at, line, ok := logTime(n, s); ok {
			return at, line
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in %s's log within %s", s, n.id, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logsAfter is the part of n's log written after the first len bytes.
func logsAfter(n *omniNode, from int) string {
	s := n.logs.String()
	if from > len(s) {
		return ""
	}
	return s[from:]
}

// waitLastSeq waits until n reports a journal entry above seq.
func (e *clusterEnv) waitLastSeq(n *omniNode, seq uint64, within time.Duration) clusterView {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if v, ok := e.view(n); ok && v.LastSeq > seq {
			return v
		}
		time.Sleep(25 * time.Millisecond)
	}
	e.t.Fatalf("%s did not write past entry %d within %s", n.id, seq, within)
	return clusterView{}
}

// TestClusterPartition shows both halves of the cluster's split-brain
// protection on real processes (three nats-server, three `omniroute serve
// --cluster`, each node reaching its own server through a natscluster.Proxy),
// under REST load on every node:
//
//  1. Partition: the leader's NATS connection is blackholed. The leader
//     stops writing (its lease renewal cannot complete) before the new
//     leader writes its first entry; after the heal it follows.
//  2. Pause (the GC-pause or stopped-VM case, where no timer of the
//     leader's can run): the leader's next journal append is held on the
//     wire, then its process is SIGSTOPped past the lease TTL and past the
//     new leader's first writes. The held append is released while the old
//     leader still believes it leads: the journal refuses it (wrong last
//     sequence, JetStream error 10071, shown from the wire and from the
//     old leader's log), the old leader steps down, and the refused entry
//     is nowhere in the journal. The command it carried lands once, through
//     the new leader.
//
// Afterwards every node holds the same state, every acknowledged command is
// in the journal once, and no request was offered to two agents at once.
func TestClusterPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nats-server and omniroute processes")
	}
	e := startClusterEnv(t, true)
	old, ov := e.leader(0, 30*time.Second)
	l := startLoad(e, 150)
	e.waitLastSeq(old, ov.LastSeq+20, 60*time.Second) // the load is flowing

	// Phase 1: partition.
	old.proxy.Blackhole()
	cutAt := time.Now()
	next, nv := e.leader(ov.Term, 60*time.Second)
	if next == old {
		t.Fatalf("the cut-off leader %s won term %d", old.id, nv.Term)
	}
	e.waitLastSeq(next, nv.LastSeq, 60*time.Second) // the new leader writes
	stoppedAt, stopLine := waitLog(t, old, "no longer leader", 30*time.Second)
	ledAt, _ := waitLog(t, next, fmt.Sprintf(`"cluster: leading" term=%d `, nv.Term), 30*time.Second)
	if !stoppedAt.Before(ledAt) {
		t.Errorf("old leader stopped at %s, after the new leader started at %s", stoppedAt, ledAt)
	}
	t.Logf("PARTITION: %s cut off; %s leads term %d %s after the cut (from its log); the old leader stopped writing %s before: %s",
		old.id, next.id, nv.Term, ledAt.Sub(cutAt).Round(time.Millisecond), ledAt.Sub(stoppedAt).Round(time.Millisecond), stopLine)
	old.proxy.Heal()
	// The old leader follows again: it reaches the entry the new leader
	// had written at the heal (the load goes on, so the nodes are compared
	// at rest only at the end).
	healed, _ := e.view(next)
	e.waitLastSeq(old, healed.LastSeq, 90*time.Second)
	if v, _ := e.view(old); v.Role != "follower" {
		t.Fatalf("%s is %q after the heal, want follower", old.id, v.Role)
	}

	// Phase 2: the leader paused with an append on the wire.
	p, pv := e.leader(0, 30*time.Second)
	logMark := len(p.logs.String())
	p.proxy.Hold()
	probe := fmt.Sprintf("fence-probe-%d", time.Now().UnixNano())
	probeDone := make(chan string, 1)
	go func() {
		c := &http.Client{Timeout: 2 * time.Minute}
		st, body := request(c, "http://"+p.addr, "POST", "/v1/conversations", adminToken,
			fmt.Sprintf(`{"queue":"chat-sales","attributes":{"probe":%q}}`, probe))
		var conv struct{ ID string }
		if st == http.StatusCreated && json.Unmarshal(body, &conv) == nil {
			probeDone <- conv.ID
			return
		}
		probeDone <- fmt.Sprintf("status %d: %s", st, body)
	}()
	held, err := p.proxy.WaitHeld(func(m natscluster.Msg) bool {
		return m.Op == "HPUB" && strings.HasSuffix(m.Subject, ".entries") && bytes.Contains(m.Header, []byte("Nats-Expected-Last-Sequence"))
	}, 30*time.Second)
	if err != nil {
		t.Fatalf("no journal append from the leader %s: %v", p.id, err)
	}
	e.pause(p)
	pausedAt := time.Now()
	expected := expectedLastSeq(t, held.Header)
	t.Logf("PAUSE: %s (term %d) SIGSTOPped with its append after entry %d held on the wire (%d bytes, reply %s)",
		p.id, pv.Term, expected, len(held.Payload), held.Reply)
	q, qv := e.leader(pv.Term, 60*time.Second)
	e.waitLastSeq(q, expected, 60*time.Second)
	reply := p.proxy.Watch(held.Reply)
	p.proxy.Release()
	var refusal natscluster.Msg
	select {
	case refusal = <-reply:
	case <-time.After(60 * time.Second):
		t.Fatal("the server never answered the held append")
	}
	if !bytes.Contains(refusal.Payload, []byte("10071")) {
		t.Fatalf("the held append was not refused by the fence: %s", refusal.Payload)
	}
	t.Logf("REFUSED APPEND (on the wire, while %s still believed it led term %d and %s led term %d): %s",
		p.id, pv.Term, q.id, qv.Term, refusal.Payload)
	pausedFor := time.Since(pausedAt)
	e.resume(p)
	var stepLine string
	for deadline := time.Now().Add(60 * time.Second); stepLine == ""; {
		if time.Now().After(deadline) {
			t.Fatalf("%s never stepped down after the pause", p.id)
		}
		time.Sleep(50 * time.Millisecond)
		stepLine = stepLineAfter(p, logMark)
	}
	switch {
	case strings.Contains(stepLine, "wrong last sequence"):
	case pausedFor > 12*time.Second:
		// The append's own 15 s timeout ran out during the pause and raced
		// the refusal on resume; the journal's answer (another entry at
		// the expected sequence) deposes the node all the same.
		t.Logf("paused %s: the publish timeout raced the refusal", pausedFor.Round(time.Millisecond))
	default:
		t.Errorf("step-down was not the fence: %s", stepLine)
	}
	t.Logf("REFUSED APPEND (in %s's log after %s paused): %s", p.id, pausedFor.Round(time.Millisecond), stepLine)
	var probeID string
	select {
	case probeID = <-probeDone:
	case <-time.After(2 * time.Minute):
		t.Fatal("the probe command never returned")
	}
	l.end()

	at := e.converged(90 * time.Second)
	a := auditJournal(t, e.nats.URLs())
	if seq, ok := a.entryData[sha256.Sum256(held.Payload)]; ok {
		t.Errorf("the refused append is in the journal at entry %d", seq)
	}
	// The probe's command was in the refused append; the node retried it
	// with the same id through the new leader. It is in the journal once
	// when the client got its 201, at most once when the client's request
	// failed (its HTTP deadlines ran through the pause).
	probeEntries := 0
	for _, d := range a.raw {
		if bytes.Contains(d, []byte(probe)) {
			probeEntries++
		}
	}
	if strings.HasPrefix(probeID, "status ") {
		t.Logf("the probe request failed on the client (%s); the probe is in %d journal entries", probeID, probeEntries)
		if probeEntries > 1 {
			t.Errorf("the probe is in %d journal entries", probeEntries)
		}
	} else if n := a.created[probeID]; n != 1 || probeEntries != 1 {
		t.Errorf("the probe conversation %s caught in the refused append is created %d times, in %d entries", probeID, n, probeEntries)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lost := 0
	for _, id := range l.created {
		if a.created[id] != 1 {
			lost++
		}
	}
	for _, id := range l.closed {
		if a.closed[id] < 1 {
			lost++
		}
	}
	if lost > 0 || len(a.doubleOffers) > 0 {
		t.Errorf("lost %d acknowledged commands; double offers %v", lost, a.doubleOffers)
	}
	// The journal may have grown since the nodes converged (a deadline's
	// Tick, a desk's command): every entry the audit read must be applied
	// on every node, with equal digests.
	if at.LastSeq < a.entries {
		at = e.convergedAt(a.entries, 60*time.Second)
	}
	t.Logf("CLUSTER PARTITION: %d commands acknowledged, lost %d, double offers %d, refused entry absent, probe in %d entries, digests equal on 3 nodes at entry %d",
		l.acked.Load(), lost, len(a.doubleOffers), probeEntries, at.LastSeq)
}

// stepLineAfter is the first step-down line n logged after from bytes.
func stepLineAfter(n *omniNode, from int) string {
	for _, line := range strings.Split(logsAfter(n, from), "\n") {
		if strings.Contains(line, "append failed; stepping down") {
			return line
		}
	}
	return ""
}

// expectedLastSeq reads Nats-Expected-Last-Sequence from a NATS header
// block ("NATS/1.0\r\nKey: value\r\n...").
func expectedLastSeq(t *testing.T, hdr []byte) uint64 {
	t.Helper()
	for _, line := range strings.Split(string(hdr), "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), "Nats-Expected-Last-Sequence") {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no expected last sequence in %q", hdr)
	return 0
}
