package presencesync

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/journal/memjournal"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

const (
	testAdmin    = "presencesync-admin-token"
	phoneToken   = "phone-partner-token-0123"
	callWaitTime = 5 * time.Second
)

type testEnv struct {
	t    *testing.T
	node *node.Node
	auth *auth.Authenticator
	svc  *Service
	srv  *httptest.Server
	reg  *prometheus.Registry
}

// newEnv starts a node (memory journal) with MRDs chat and voice (not
// interruptible), queues chat and voice, agent alice, and the sync with a
// telephony partner "phone" (synchronized) and the given CRM partners.
func newEnv(t *testing.T, crm ...config.PresencePartnerSpec) *testEnv {
	t.Helper()
	ctx := context.Background()
	n, err := node.Open(ctx, node.Config{Journal: memjournal.New(), SnapshotEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	for _, c := range []routing.Command{
		routing.UpsertMRD{MRD: routing.MRD{ID: "chat", Name: "Chat", Interruptible: true, MaxRequests: 2}},
		routing.UpsertMRD{MRD: routing.MRD{ID: "voice", Name: "Voice", MaxRequests: 1}},
		routing.UpsertReasonCode{ReasonCode: routing.ReasonCode{ID: "break", Name: "Break", Type: routing.ReasonTypeNotReady}},
		routing.UpsertReasonCode{ReasonCode: routing.ReasonCode{ID: "busy", Name: "Busy", Type: routing.ReasonTypeNotReady}},
		routing.UpsertReasonCode{ReasonCode: routing.ReasonCode{ID: "digital", Name: "Digital Not Ready", Type: routing.ReasonTypeNotReady}},
		routing.UpsertReasonCode{ReasonCode: routing.ReasonCode{ID: "crm-work", Name: "CRM work", Type: routing.ReasonTypeNotReady}},
		routing.UpsertAgent{Agent: routing.Agent{ID: "alice", Name: "Alice"}},
		routing.UpsertQueue{Queue: routing.Queue{ID: "voice", Name: "Voice", MRD: "voice", RONATimeout: time.Hour}},
		routing.UpsertQueue{Queue: routing.Queue{ID: "chat", Name: "Chat", MRD: "chat", RONATimeout: time.Hour}},
	} {
		if _, err := n.Submit(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	a, err := auth.New(auth.Options{AdminTokens: []string{testAdmin}, Secret: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	phone := testPartner(config.PresenceSynchronized)
	phone.ID, phone.Kind, phone.Token, phone.Origins = "phone", config.PresenceTelephony, phoneToken, nil
	phone.WorkStatusID = ""
	cfg := config.PresenceSync{Statuses: testCatalog, Partners: append([]config.PresencePartnerSpec{phone}, crm...)}
	reasons := []config.ReasonCodeSpec{{ID: "break", Type: routing.ReasonTypeNotReady}, {ID: "busy", Type: routing.ReasonTypeNotReady},
		{ID: "digital", Type: routing.ReasonTypeNotReady}, {ID: "crm-work", Type: routing.ReasonTypeNotReady}}
	for _, p := range cfg.Partners {
		if probs := config.ValidatePresencePartner(p, cfg.Catalog(), map[string]routing.ReasonType{"break": "NOT_READY", "busy": "NOT_READY", "digital": "NOT_READY", "crm-work": "NOT_READY"}); len(probs) > 0 {
			t.Fatalf("partner %s: %v", p.ID, probs)
		}
	}
	reg := prometheus.NewRegistry()
	svc, err := New(ctx, n, a, cfg, reasons, Options{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", svc.Handler())
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); svc.Close() })
	return &testEnv{t: t, node: n, auth: a, svc: svc, srv: srv, reg: reg}
}

// voiceOffer creates conversation c1 in the voice queue and returns the
// task it offers (the test fails when there is none).
func (e *testEnv) voiceOffer(t *testing.T) string {
	t.Helper()
	ev := e.submit(routing.CreateConversation{ID: "c1", RequestID: "q1", Queue: "voice"})
	for _, x := range ev {
		if r, ok := x.(routing.TaskReserved); ok {
			return r.Task
		}
	}
	t.Fatalf("no offer: %v", ev)
	return ""
}

func (e *testEnv) submit(c routing.Command) []routing.Event {
	e.t.Helper()
	ev, err := e.node.Submit(context.Background(), c)
	if err != nil {
		e.t.Fatalf("%s: %v", c.CommandName(), err)
	}
	return ev
}

func (e *testEnv) agentState() (routing.AgentState, string) {
	var st routing.AgentState
	var r string
	e.node.View(context.Background(), func(s routing.View) {
		a, _ := s.Agent("alice")
		st, r = a.State, a.ReasonCode
	})
	return st, r
}

func (e *testEnv) waitState(want routing.AgentState, reason string) {
	e.t.Helper()
	deadline := time.Now().Add(callWaitTime)
	for {
		st, r := e.agentState()
		if st == want && r == reason {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("agent is %s/%s, want %s/%s", st, r, want, reason)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitDecision waits until one of alice's decisions satisfies ok.
func (e *testEnv) waitDecision(what string, ok func(Decision) bool) {
	e.t.Helper()
	deadline := time.Now().Add(callWaitTime)
	for {
		ds := e.svc.Decisions("alice")
		if slices.ContainsFunc(ds, ok) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no decision %s in %+v", what, ds)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sawCall: an omniroute-side decision made on a snapshot of the agent on a call.
func sawCall(d Decision) bool {
	return d.Side == SideOmniroute && strings.Contains(d.Change, "onCall=true")
}

func (e *testEnv) get(path, token string) (int, string) {
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type wsClient struct {
	t  *testing.T
	ws *websocket.Conn
	in chan map[string]any
}

func (e *testEnv) dialPhone() *wsClient {
	e.t.Helper()
	h := http.Header{"Authorization": {"Bearer " + phoneToken}}
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/presencesync/telephony", h)
	if err != nil {
		e.t.Fatal(err)
	}
	c := &wsClient{t: e.t, ws: ws, in: make(chan map[string]any, 100)}
	go func() {
		for {
			var m map[string]any
			if ws.ReadJSON(&m) != nil {
				close(c.in)
				return
			}
			c.in <- m
		}
	}()
	e.t.Cleanup(func() { ws.Close() })
	return c
}

func (c *wsClient) next(typ string) map[string]any {
	c.t.Helper()
	timeout := time.After(callWaitTime)
	for {
		select {
		case m, ok := <-c.in:
			if !ok {
				c.t.Fatalf("connection closed waiting for %s", typ)
			}
			if m["type"] == typ {
				return m
			}
		case <-timeout:
			c.t.Fatalf("no %s message", typ)
		}
	}
}

func (c *wsClient) setStatus(id, status string, enqueue bool) map[string]any {
	c.t.Helper()
	c.ws.WriteJSON(map[string]any{"type": "publishEvent", "id": id, "eventType": "SET_AGENT_STATUS", "agent": "alice",
		"payload": map[string]string{"statusId": status}, "enqueueNextState": enqueue})
	for {
		m := c.next("result")
		if m["id"] == id {
			return m
		}
	}
}

// TestTelephonyOnCall is the seed 001 flow end to end over the websocket:
// init with the catalog, omniroute's change pushed as setAgentStatus, a
// partner change applied, ignored while the agent is on a call, enqueued
// with enqueueNextState and applied when the call ends; every decision on
// the agent's REST view and in /metrics.
func TestTelephonyOnCall(t *testing.T) {
	e := newEnv(t)
	c := e.dialPhone()
	init := c.next("init")
	var cat map[string]map[string]string
	if err := json.Unmarshal([]byte(init["callCenterConfig"].(map[string]any)["userPresenceStatuses"].(string)), &cat); err != nil {
		t.Fatal(err)
	}
	if cat["0"]["isOffline"] != "true" || cat[stAvail]["hasChannels"] != "true" || cat[stBusy]["statusName"] != "Busy" {
		t.Fatalf("catalog %v", cat)
	}
	// omniroute -> partner.
	e.submit(routing.SetAgentState{Agent: "alice", State: routing.AgentReady})
	m := c.next("setAgentStatus")
	if m["agentStatus"] != stAvail || m["statusInfo"].(map[string]any)["statusName"] != "Available" || m["enqueueNextState"] != false {
		t.Fatalf("%v", m)
	}
	c.ws.WriteJSON(map[string]any{"type": "setAgentStatusResult", "id": m["id"], "success": true, "isStatusSyncNeeded": false})
	// partner -> omniroute: Away = NOT_READY(break); not echoed back.
	if r := c.setStatus("r1", stAway, false); r["success"] != true || r["outcome"] != OutcomeApplied {
		t.Fatalf("%v", r)
	}
	e.waitState(routing.AgentNotReady, "break")
	if r := c.setStatus("r2", stAvail, false); r["outcome"] != OutcomeApplied {
		t.Fatalf("%v", r)
	}
	e.waitState(routing.AgentReady, "")
	// A voice call: reserved, accepted.
	task := e.voiceOffer(t)
	e.submit(routing.AcceptTask{Task: task, Agent: "alice"})
	e.waitDecision("seeing the call", sawCall)
	if r := c.setStatus("r3", stAway, false); r["success"] != false || r["outcome"] != OutcomeIgnored {
		t.Fatalf("on a call: %v", r)
	}
	if st, _ := e.agentState(); st != routing.AgentReady {
		t.Fatalf("ignored change applied: %s", st)
	}
	if r := c.setStatus("r4", stAway, true); r["success"] != true || r["outcome"] != OutcomeEnqueued {
		t.Fatalf("enqueue: %v", r)
	}
	e.submit(routing.CloseTask{Task: task, Agent: "alice"})
	e.waitState(routing.AgentNotReady, "break")
	// The decision is recorded once omniroute has taken the state.
	e.waitDecision(OutcomeAppliedAfterCall, func(d Decision) bool { return d.Outcome == OutcomeAppliedAfterCall })

	code, body := e.get("/v1/agents/alice/presence-sync", testAdmin)
	for _, want := range []string{`"outcome":"ignored"`, `"outcome":"enqueued"`, `"outcome":"applied-after-call"`, `"side":"omniroute"`, `"side":"partner"`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Fatalf("%d %s: no %s", code, body, want)
		}
	}
	other := e.auth.Issue("bob", time.Hour)
	if code, body := e.get("/v1/agents/alice/presence-sync", other); code != 403 || !strings.Contains(body, `"code":"FORBIDDEN"`) {
		t.Fatalf("%d %s", code, body)
	}
	_, metrics := e.get("/metrics", "")
	if !strings.Contains(metrics, `omniroute_presencesync_decisions_total{outcome="ignored",partner="phone",side="partner"} 1`) {
		t.Fatalf("metrics:\n%s", metrics)
	}
	// REST flavour and errors.
	req, _ := http.NewRequest("POST", e.srv.URL+"/presencesync/telephony/phone/agents/alice/status", strings.NewReader(`{"statusId":"nope"}`))
	req.Header.Set("Authorization", "Bearer "+phoneToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 404 {
		t.Fatalf("%v %v", err, resp.StatusCode)
	}
	req, _ = http.NewRequest("POST", e.srv.URL+"/presencesync/telephony/phone/agents/alice/status", strings.NewReader(`{"statusId":"0"}`))
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 401 {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	req.Header.Set("Authorization", "Bearer "+phoneToken)
	req, _ = http.NewRequest("POST", e.srv.URL+"/presencesync/telephony/phone/agents/alice/status", strings.NewReader(`{"statusId":"0"}`))
	req.Header.Set("Authorization", "Bearer "+phoneToken)
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 200 {
		t.Fatalf("offline: %d", resp.StatusCode)
	}
	e.waitState(routing.AgentLogout, "")
	if code, body := e.get("/v1/presence-sync/statuses", testAdmin); code != 200 || !strings.Contains(body, `"userPresenceStatuses"`) {
		t.Fatalf("%d %s", code, body)
	}
}

// TestLateSnapshotNeverGoesBack: the subscription's snapshot is taken
// before the service's lock, so a partner report's newer one may be
// applied in between. Here the subscription's decision on the agent's
// reservation (a snapshot from before the call) comes after the partner
// enqueued a change during the call: the core must keep the newer state,
// so the change waits for the end of the call instead of being applied
// on the stale "not on a call".
func TestLateSnapshotNeverGoesBack(t *testing.T) {
	e := newEnv(t)
	c := e.dialPhone()
	c.next("init")
	e.submit(routing.SetAgentState{Agent: "alice", State: routing.AgentReady})
	m := c.next("setAgentStatus")
	c.ws.WriteJSON(map[string]any{"type": "setAgentStatusResult", "id": m["id"], "success": true, "isStatusSyncNeeded": false})
	task := e.voiceOffer(t)
	ctx := context.Background()
	before, seq, ok, err := e.svc.snapshot(ctx, "alice")
	if err != nil || !ok || !before.Work || before.OnCall {
		t.Fatalf("snapshot of the reservation: %+v %v %v", before, ok, err)
	}
	e.submit(routing.AcceptTask{Task: task, Agent: "alice"})
	e.waitDecision("seeing the call", sawCall)
	if r := c.setStatus("r1", stAway, true); r["outcome"] != OutcomeEnqueued {
		t.Fatalf("enqueue: %v", r)
	}
	e.svc.omniApply(ctx, "alice", "omniroute TaskReserved", before, seq)
	for _, d := range e.svc.Decisions("alice") {
		if d.Outcome == OutcomeAppliedAfterCall {
			t.Fatalf("the enqueued change was applied during the call: %+v", d)
		}
	}
	if st, r := e.agentState(); st != routing.AgentReady {
		t.Fatalf("on a call, omniroute is %s/%s, want READY", st, r)
	}
	e.submit(routing.CloseTask{Task: task, Agent: "alice"})
	e.waitState(routing.AgentNotReady, "break")
	e.waitDecision(OutcomeAppliedAfterCall, func(d Decision) bool { return d.Outcome == OutcomeAppliedAfterCall })
}
