package webui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/clock/clocktest"
	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/journal/memjournal"
	"github.com/omniroute/omniroute/journal/natsjournal"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

const adminToken = "test-admin-token-0123456789"

const fixture = `
mrds:
  - {id: chat, name: Chat, interruptible: true, maxRequests: 2}
queues:
  - {id: sales, name: Sales, mrd: chat, ronaTimeoutSeconds: 20, serviceLevelSeconds: 30}
  - {id: other, name: Other, mrd: chat, members: [dan]}
agents:
  - {id: alice, name: Alice, teams: [team-a]}
  - {id: bob, name: Bob, teams: [team-a]}
  - {id: dan, name: Dan, teams: [team-b]}
  - {id: sam, name: Sam, role: supervisor, teams: [team-a], capacity: {chat: 0}}
`

type env struct {
	t      *testing.T
	node   *node.Node
	ui     *UI
	srv    *httptest.Server
	clock  *clocktest.Clock
	tokens map[string]string
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newEnv(t *testing.T, store Store) *env {
	t.Helper()
	e := &env{t: t, clock: clocktest.New(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)), tokens: map[string]string{}}
	n, err := node.Open(context.Background(), node.Config{Journal: memjournal.New(), Now: e.clock.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	e.node = n
	cfg, err := config.Parse([]byte(fixture))
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range cfg.Commands() {
		if _, err := n.Submit(context.Background(), cmd); err != nil {
			t.Fatal(err)
		}
	}
	var users []auth.User
	for _, id := range []string{"alice", "bob", "sam"} {
		h, _ := bcrypt.GenerateFromPassword([]byte(id+"-pass"), bcrypt.MinCost)
		users = append(users, auth.User{Username: id, AgentID: id, PasswordHash: h})
	}
	a, err := auth.New(auth.Options{AdminTokens: []string{adminToken}, Users: users, Secret: bytes.Repeat([]byte("s"), 32), Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"alice", "bob", "sam"} {
		e.tokens[id] = a.Issue(id, time.Hour)
	}
	e.tokens["admin"] = adminToken
	e.ui, err = New(context.Background(), n, a, Options{Logger: quiet, Now: e.clock.Now, FlushInterval: 5 * time.Millisecond, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.ui.Handler())
	t.Cleanup(func() {
		e.srv.Close()
		e.ui.Close()
		n.Close()
	})
	return e
}

func (e *env) submit(cmd routing.Command) {
	e.t.Helper()
	if _, err := e.node.Submit(context.Background(), cmd); err != nil {
		e.t.Fatalf("%s: %v", cmd.CommandName(), err)
	}
}

func (e *env) do(method, path, who, body string) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[who])
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

type boardMsg struct {
	Name   string
	Queues []QueueRow `json:"queues"`
	Agents []AgentRow `json:"agents"`
}

// stream opens the board stream as who and returns a channel of messages.
func (e *env) stream(who string) <-chan boardMsg {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/ui/api/board", nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens[who])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if res.StatusCode != 200 {
		e.t.Fatalf("board stream as %s: %d", who, res.StatusCode)
	}
	ch := make(chan boardMsg, 100)
	go func() {
		defer res.Body.Close()
		defer close(ch)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(nil, 1<<22)
		var name string
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				name = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				m := boardMsg{Name: name}
				if err := json.Unmarshal([]byte(v), &m); err != nil {
					panic(err)
				}
				ch <- m
			}
		}
	}()
	return ch
}

// waitQueue reads messages until a row of queue satisfies ok.
func waitQueue(t *testing.T, ch <-chan boardMsg, queue string, ok func(QueueRow) bool) QueueRow {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m, open := <-ch:
			if !open {
				t.Fatal("stream ended")
			}
			for _, q := range m.Queues {
				if q.ID == queue && ok(q) {
					return q
				}
			}
		case <-timeout:
			t.Fatalf("queue %s: no matching row within 10 s", queue)
		}
	}
}

func TestBoardRowsEqualQueueStats(t *testing.T) {
	e := newEnv(t, nil)
	ch := e.stream("admin")
	snap := <-ch
	if snap.Name != "snapshot" || len(snap.Queues) != 2 || len(snap.Agents) != 4 {
		t.Fatalf("snapshot: %s with %d queues, %d agents", snap.Name, len(snap.Queues), len(snap.Agents))
	}
	e.submit(routing.SetAgentState{Agent: "alice", State: routing.AgentReady})
	for i, id := range []string{"c1", "c2", "c3"} {
		e.submit(routing.CreateConversation{ID: id, RequestID: "r" + id, Queue: "sales"})
		_ = i
	}
	e.clock.Advance(5 * time.Second)
	e.submit(routing.AbandonConversation{Conversation: "c3"})
	row := waitQueue(t, ch, "sales", func(q QueueRow) bool { return q.Stats.Abandoned == 1 })
	var want routing.QueueStats
	_ = e.node.View(context.Background(), func(st routing.View) { want, _ = st.QueueStats("sales", e.clock.Now()) })
	if row.Stats != want {
		t.Fatalf("board row stats\n got %+v\nwant %+v", row.Stats, want)
	}
	if row.Stats.Offered != 3 || row.Stats.Waiting != 0 || row.EligibleAgents != 3 {
		t.Fatalf("row %+v", row)
	}
	if row.Today.Offered != 3 || row.Today.Abandoned != 1 || row.Last15.Offered != 3 {
		t.Fatalf("today %+v last15 %+v", row.Today, row.Last15)
	}
}

func TestAgentTokenCannotOpenTheSupervisorView(t *testing.T) {
	e := newEnv(t, nil)
	for _, path := range []string{"/ui/api/board", "/v1/reports/queues", "/v1/reports/agents"} {
		if st, body := e.do("GET", path, "alice", ""); st != http.StatusForbidden || !strings.Contains(string(body), "FORBIDDEN") {
			t.Fatalf("%s as an agent: %d %s", path, st, body)
		}
		if st, _ := e.do("GET", path, "", ""); st != http.StatusUnauthorized {
			t.Fatalf("%s without a token: %d", path, st)
		}
	}
	if st, body := e.do("GET", "/ui/api/me", "alice", ""); st != 200 || !strings.Contains(string(body), `"role":"agent"`) {
		t.Fatalf("me: %d %s", st, body)
	}
}

func TestSupervisorSeesItsTeamsAndForcesState(t *testing.T) {
	e := newEnv(t, nil)
	snap := <-e.stream("sam")
	var ids []string
	for _, a := range snap.Agents {
		ids = append(ids, a.ID)
	}
	if strings.Join(ids, ",") != "alice,bob,sam" {
		t.Fatalf("sam sees %v, want team-a only", ids)
	}
	e.submit(routing.SetAgentState{Agent: "alice", State: routing.AgentReady})
	if st, body := e.do("PUT", "/ui/api/agents/alice/state", "sam", `{"state":"NOT_READY"}`); st != 200 {
		t.Fatalf("force: %d %s", st, body)
	}
	if st, _ := e.do("PUT", "/ui/api/agents/dan/state", "sam", `{"state":"LOGOUT"}`); st != http.StatusForbidden {
		t.Fatalf("force another team's agent: %d", st)
	}
	if st, _ := e.do("PUT", "/ui/api/agents/bob/state", "alice", `{"state":"LOGOUT"}`); st != http.StatusForbidden {
		t.Fatalf("an agent forcing: %d", st)
	}
	if st, _ := e.do("PUT", "/ui/api/agents/bob/state", "admin", `{"state":"READY"}`); st != http.StatusBadRequest {
		t.Fatalf("forcing READY: %d", st)
	}
	var got routing.AgentState
	_ = e.node.View(context.Background(), func(st routing.View) { a, _ := st.Agent("alice"); got = a.State })
	if got != routing.AgentNotReady {
		t.Fatalf("alice is %s", got)
	}
}

func TestPagesAreEmbeddedAndSelfContained(t *testing.T) {
	e := newEnv(t, nil)
	for _, p := range []string{"/", "/desk", "/chat/sales", "/history"} {
		st, body := e.do("GET", p, "", "")
		if st != 200 || !strings.Contains(string(body), "<html") {
			t.Fatalf("%s: %d", p, st)
		}
		if strings.Contains(string(body), "http://") || strings.Contains(string(body), "https://") {
			t.Fatalf("%s loads something from elsewhere", p)
		}
	}
	for _, p := range []string{"/ui/vendor/socket.io-4.4.0.min.js", "/ui/vendor/uPlot-1.6.32.iife.min.js", "/ui/common.js"} {
		if st, _ := e.do("GET", p, "", ""); st != 200 {
			t.Fatalf("%s: %d", p, st)
		}
	}
}

// TestHistoryIntervalsSurviveARestart counts a morning into 15-minute
// intervals, writes them to a real JetStream KV bucket and reads them back
// in a new History.
func TestHistoryIntervalsSurviveARestart(t *testing.T) {
	ns, err := natsjournal.StartEmbedded(natsjournal.EmbeddedOptions{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	nc, err := ns.Conn()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	store, err := OpenKV(context.Background(), nc)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, store)
	ch := e.stream("admin")
	e.submit(routing.SetAgentState{Agent: "alice", State: routing.AgentReady})
	// 09:00 one answered after 10 s and handled 60 s; 09:16 one abandoned after 40 s.
	e.submit(routing.CreateConversation{ID: "c1", RequestID: "r1", Queue: "sales"})
	var task string
	_ = e.node.View(context.Background(), func(st routing.View) { ts, _ := st.Tasks("alice"); task = ts[0].ID })
	e.clock.Advance(10 * time.Second)
	e.submit(routing.AcceptTask{Task: task, Agent: "alice"})
	e.clock.Advance(60 * time.Second)
	e.submit(routing.CloseTask{Task: task, Agent: "alice"})
	e.submit(routing.SetAgentState{Agent: "alice", State: routing.AgentNotReady})
	e.clock.Advance(15 * time.Minute)
	e.submit(routing.CreateConversation{ID: "c2", RequestID: "r2", Queue: "sales"})
	e.clock.Advance(40 * time.Second)
	e.submit(routing.AbandonConversation{Conversation: "c2"})

	from, to := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)
	// The board observes events on its own goroutine, then flushes: once
	// the row shows the abandon, the history holds it.
	waitQueue(t, ch, "sales", func(q QueueRow) bool { return q.Today.Abandoned == 1 })
	got := e.ui.History().QueueIntervals("sales", from, to)
	if len(got) != 2 {
		t.Fatalf("intervals %+v", got)
	}
	a, b := got[0], got[1]
	if !a.Start.Equal(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)) || a.Offered != 1 || a.Answered != 1 || a.AnsweredWithinSL != 1 ||
		a.ASASeconds != 10 || a.Handled != 1 || a.AHTSeconds != 60 || a.ServiceLevel != 1 {
		t.Fatalf("09:00 %+v", a)
	}
	if !b.Start.Equal(time.Date(2025, 3, 1, 9, 15, 0, 0, time.UTC)) || b.Offered != 1 || b.Abandoned != 1 || b.AbandonedWithinSL != 0 || b.ServiceLevel != 0 {
		t.Fatalf("09:15 %+v", b)
	}
	agents, err := e.ui.History().AgentIntervals(func(id string) bool { return id == "alice" }, from, to, e.clock.Now())
	if err != nil || len(agents) == 0 || agents[0].Seconds["READY"] != 70 || agents[0].BusySeconds != 60 {
		t.Fatalf("alice %+v", agents)
	}
	if err := e.ui.History().Persist(context.Background(), e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h, err := NewHistory(context.Background(), store, e.clock.Now(), func(string) time.Duration { return 30 * time.Second }, quiet)
	if err != nil {
		t.Fatal(err)
	}
	again := h.QueueIntervals("sales", from, to)
	if len(again) != 2 || again[0].Figures != a.Figures || again[1].Figures != b.Figures {
		t.Fatalf("after a restart %+v, want %+v", again, got)
	}
	// Alice's stored interval, read back in the memory window at start,
	// and from the bucket three days later (every group, then hers only).
	alice := func(id string) bool { return id == "alice" }
	later, err := NewHistory(context.Background(), store, e.clock.Now().AddDate(0, 0, 3), func(string) time.Duration { return 30 * time.Second }, quiet)
	if err != nil {
		t.Fatal(err)
	}
	for i, read := range []func() ([]AgentInterval, error){
		func() ([]AgentInterval, error) { return h.AgentIntervals(alice, from, to, from) },
		func() ([]AgentInterval, error) { return later.AgentIntervals(alice, from, to, to) },
		func() ([]AgentInterval, error) { return later.AgentIntervalsOf("alice", nil, from, to, to) },
	} {
		back, err := read()
		if err != nil || len(back) != 1 || back[0].Seconds["READY"] != 70 || back[0].BusySeconds != 60 {
			t.Fatalf("read %d: alice after a restart %+v (%v)", i, back, err)
		}
	}
	reg := prometheus.NewRegistry()
	if err := e.ui.Register(reg); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, mf := range mfs {
		seen[mf.GetName()] += ""
		for _, m := range mf.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				seen[mf.GetName()] = fmt.Sprintf("%d/%g", h.GetSampleCount(), h.GetSampleSum())
			}
		}
	}
	for name, want := range map[string]string{"omniroute_answer_seconds": "1/10", "omniroute_abandon_seconds": "1/40",
		"omniroute_handle_seconds": "1/60", "omniroute_offer_latency_seconds": "1/0"} {
		if seen[name] != want {
			t.Errorf("%s count/sum %q, want %q", name, seen[name], want)
		}
	}
	if _, ok := seen["go_gc_duration_seconds"]; !ok {
		t.Error("no Go runtime collector")
	}
	st, csv := e.do("GET", "/v1/reports/queues?from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z&format=csv", "admin", "")
	if st != 200 || !strings.Contains(string(csv), "2025-03-01T09:00:00Z,sales,1,1,0,0,1,0,10.000,1.0000,0.0000,1,60.000") {
		t.Fatalf("csv %d:\n%s", st, csv)
	}
}

func TestServiceLevelAtRisk(t *testing.T) {
	e := newEnv(t, nil)
	e.ui.board.targets = Targets{Queues: map[string]float64{"sales": 0.9}}
	ch := e.stream("admin")
	<-ch
	// One answered at once, one abandoned after the 30 s threshold: the
	// last 15 minutes' service level is 1/2, under the 0.9 target.
	e.submit(routing.SetAgentState{Agent: "alice", State: routing.AgentReady})
	e.submit(routing.CreateConversation{ID: "c1", RequestID: "r1", Queue: "sales"})
	var task string
	_ = e.node.View(context.Background(), func(st routing.View) { ts, _ := st.Tasks("alice"); task = ts[0].ID })
	e.submit(routing.AcceptTask{Task: task, Agent: "alice"})
	e.submit(routing.SetAgentState{Agent: "alice", State: routing.AgentNotReady})
	row := waitQueue(t, ch, "sales", func(q QueueRow) bool { return q.Stats.Answered == 1 })
	if row.AtRisk || row.Target != 0.9 {
		t.Fatalf("after one answer within the threshold: %+v", row)
	}
	e.submit(routing.CreateConversation{ID: "c2", RequestID: "r2", Queue: "sales"})
	e.clock.Advance(31 * time.Second)
	e.submit(routing.AbandonConversation{Conversation: "c2"})
	row = waitQueue(t, ch, "sales", func(q QueueRow) bool { return q.Stats.Abandoned == 1 })
	if !row.AtRisk || row.Last15.ServiceLevel != 0.5 {
		t.Fatalf("after an abandon past the threshold: at risk %v, SL15 %v", row.AtRisk, row.Last15.ServiceLevel)
	}
}

func TestChatNeedsItsKey(t *testing.T) {
	e := newEnv(t, nil)
	st, body := e.do("POST", "/ui/api/chat/sales", "", `{"name":"Ada"}`)
	if st != http.StatusServiceUnavailable {
		t.Fatalf("chat without a conversation layer: %d %s", st, body)
	}
	e.ui.o.Customers = nil
	if st, _ := e.do("POST", "/ui/api/chat/c1/messages", "", `{"text":"hi"}`); st != http.StatusUnauthorized {
		t.Fatalf("message without a key: %d", st)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/ui/api/chat/c1/leave", nil)
	req.Header.Set("X-Chat-Key", e.ui.chatKey("c2"))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("another conversation's key: %d", res.StatusCode)
	}
}
