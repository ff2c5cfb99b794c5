package presencesync

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/journal/natsjournal"
	"github.com/omniroute/omniroute/routing"
)

func (e *testEnv) do(method, path, token, body string) (int, http.Header, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

type sseEvent struct{ name, data string }

// openSSE opens /presencesync/crm/events with token in the header and
// returns its events.
func (e *testEnv) openSSE(query, token string) (<-chan sseEvent, func()) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/presencesync/crm/events?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("events: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	ch := make(chan sseEvent, 64)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			case line == "" && ev.name != "":
				ch <- ev
				ev = sseEvent{}
			}
		}
	}()
	e.t.Cleanup(cancel)
	return ch, cancel
}

func nextEvent(t *testing.T, ch <-chan sseEvent, name string) sseEvent {
	t.Helper()
	timeout := time.After(callWaitTime)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("stream closed waiting for %s", name)
			}
			if ev.name == name {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event", name)
		}
	}
}

// TestCRMEndpoints: the connector's files, config, the SSE stream (the
// agent taken from the token, the re-sync on connection, omniroute's
// changes as requestSyncOmnichannel) and the report (applied, "id;..."
// statusIds, success=false, unknown status, wrong agent or partner).
func TestCRMEndpoints(t *testing.T) {
	e := newEnv(t, testPartner(config.PresenceSynchronized))
	alice := e.auth.Issue("alice", time.Hour)
	bob := e.auth.Issue("bob", time.Hour)

	code, h, body := e.do("GET", "/presencesync/crm/connector.html", "", "")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(body, `src="connector.js"`) {
		t.Fatalf("connector.html: %d %v %s", code, h, body)
	}
	code, h, body = e.do("GET", "/presencesync/crm/connector.js", "", "")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/javascript") || !strings.Contains(body, "CRMConnectMessage") {
		t.Fatalf("connector.js: %d %v", code, h)
	}
	if code, _, _ := e.do("GET", "/presencesync/crm/other.js", "", ""); code != 404 {
		t.Fatalf("other file: %d", code)
	}

	code, _, body = e.do("GET", "/presencesync/crm/config?partner=crm", "", "")
	var cfg struct {
		Origins     []string                     `json:"origins"`
		Mode        string                       `json:"mode"`
		HeartbeatMs int64                        `json:"heartbeatMs"`
		Statuses    map[string]map[string]string `json:"userPresenceStatuses"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &cfg) != nil {
		t.Fatalf("config: %d %s", code, body)
	}
	if len(cfg.Origins) != 1 || cfg.Origins[0] != "http://localhost:1" || cfg.Mode != config.PresenceSynchronized ||
		cfg.HeartbeatMs != HeartbeatInterval.Milliseconds() || cfg.Statuses[stAvail]["hasChannels"] != "true" {
		t.Fatalf("config: %+v", cfg)
	}
	for _, p := range []string{"nope", "phone"} { // unknown; a telephony partner
		if code, _, _ := e.do("GET", "/presencesync/crm/config?partner="+p, "", ""); code != 404 {
			t.Fatalf("config %s: %d", p, code)
		}
	}

	// events: auth.
	if code, _, _ := e.do("GET", "/presencesync/crm/events?partner=crm&agent=alice", "", ""); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	// A token in the query string is not read (URLs end up in logs).
	if code, _, _ := e.do("GET", "/presencesync/crm/events?partner=crm&agent=alice&token="+alice, "", ""); code != 401 {
		t.Fatalf("?token=: %d", code)
	}
	if code, _, _ := e.do("GET", "/presencesync/crm/events?partner=crm&agent=alice", bob, ""); code != 403 {
		t.Fatalf("bob for alice: %d", code)
	}
	if code, _, _ := e.do("GET", "/presencesync/crm/events?partner=phone", alice, ""); code != 403 {
		t.Fatalf("telephony partner: %d", code)
	}
	// The agent comes from the token when absent; on connection omniroute
	// re-syncs the CRM (alice is logged out: Offline).
	ev, _ := e.openSSE("partner=crm", alice)
	nextEvent(t, ev, "hello")
	if got := nextEvent(t, ev, "requestSyncOmnichannel"); got.data != `{"statusId":"0"}` {
		t.Fatalf("re-sync: %+v", got)
	}
	e.submit(routing.SetAgentState{Agent: "alice", State: routing.AgentNotReady, ReasonCode: "busy"})
	if got := nextEvent(t, ev, "requestSyncOmnichannel"); got.data != `{"statusId":"`+stBusy+`"}` {
		t.Fatalf("omniroute change: %+v", got)
	}

	// report.
	report := func(token, body string) (int, string) {
		code, _, b := e.do("POST", "/presencesync/crm/report", token, body)
		return code, b
	}
	if code, b := report(alice, `{"partner":"crm","statusId":"`+stAway+`;chat","success":true}`); code != 200 || !strings.Contains(b, `"outcome":"applied"`) {
		t.Fatalf("report: %d %s", code, b)
	}
	e.waitState(routing.AgentNotReady, "break")
	if code, b := report(alice, `{"partner":"crm","statusId":"`+stAway+`"}`); code != 200 || !strings.Contains(b, `"outcome":"in-sync"`) {
		t.Fatalf("repeat report: %d %s", code, b)
	}
	if code, b := report(alice, `{"partner":"crm","statusId":"`+stAvail+`","success":false}`); code != 200 || !strings.Contains(b, `"outcome":"partner-refused"`) {
		t.Fatalf("success=false: %d %s", code, b)
	}
	if st, _ := e.agentState(); st != routing.AgentNotReady {
		t.Fatalf("a refused status was applied: %s", st)
	}
	if code, b := report(alice, `{"partner":"crm","statusId":"nope"}`); code != 404 {
		t.Fatalf("unknown status: %d %s", code, b)
	}
	if code, b := report(bob, `{"partner":"crm","agent":"alice","statusId":"`+stAvail+`"}`); code != 403 {
		t.Fatalf("bob for alice: %d %s", code, b)
	}
	if code, b := report(alice, `{"partner":"phone","statusId":"`+stAvail+`"}`); code != 403 {
		t.Fatalf("telephony partner: %d %s", code, b)
	}
	if code, b := report("", `{"partner":"crm","statusId":"`+stAvail+`"}`); code != 401 {
		t.Fatalf("no token: %d %s", code, b)
	}
	if code, b := report(alice, `{"partner":`); code != 400 {
		t.Fatalf("bad json: %d %s", code, b)
	}
	e.waitState(routing.AgentNotReady, "break")
	_, body = e.get("/v1/agents/alice/presence-sync", alice)
	for _, want := range []string{`"change":"omnichannelResponse ` + stAway + `"`, `"outcome":"partner-refused"`, `"change":"connector connected`} {
		if !strings.Contains(body, want) {
			t.Fatalf("decisions: no %s in %s", want, body)
		}
	}
}

// TestPartnerPutPersists: PUT /v1/presence-sync/partners/{id} validates,
// keeps the token, stores the partner in the JetStream KV bucket, and a
// new Service on the same NATS data directory (after a restart) loads it.
func TestPartnerPutPersists(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	open := func() (*natsjournal.EmbeddedServer, *KVStore) {
		es, err := natsjournal.StartEmbedded(natsjournal.EmbeddedOptions{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		nc, err := es.Conn()
		if err != nil {
			es.Shutdown()
			t.Fatal(err)
		}
		kv, err := OpenKV(ctx, nc, 1)
		if err != nil {
			nc.Close()
			es.Shutdown()
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close(); es.Shutdown() })
		return es, kv
	}
	e := newEnv(t, testPartner(config.PresenceSynchronized))
	es, kv := open()
	svc, err := New(ctx, e.node, e.auth, config.PresenceSync{Statuses: testCatalog, Partners: []config.PresencePartnerSpec{testPartner(config.PresenceSynchronized)}},
		[]config.ReasonCodeSpec{{ID: "break", Type: routing.ReasonTypeNotReady}, {ID: "busy", Type: routing.ReasonTypeNotReady},
			{ID: "digital", Type: routing.ReasonTypeNotReady}, {ID: "crm-work", Type: routing.ReasonTypeNotReady}}, Options{Store: kv})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = svc.Handler()

	p := testPartner(config.PresenceComplementary)
	p.Origins = []string{"https://crm.example.com"}
	b, _ := json.Marshal(p)
	if code, _, body := e.do("PUT", "/v1/presence-sync/partners/crm", e.auth.Issue("alice", time.Hour), string(b)); code != 403 {
		t.Fatalf("agent PUT: %d %s", code, body)
	}
	bad := p
	bad.ComplementaryReasonCode = "no-such-reason"
	bb, _ := json.Marshal(bad)
	if code, _, body := e.do("PUT", "/v1/presence-sync/partners/crm", testAdmin, string(bb)); code != 400 || !strings.Contains(body, "INVALID_ARGUMENT") {
		t.Fatalf("invalid PUT: %d %s", code, body)
	}
	if code, _, body := e.do("PUT", "/v1/presence-sync/partners/crm", testAdmin, `{"mode":"complementary","bogus":1}`); code != 400 {
		t.Fatalf("unknown field: %d %s", code, body)
	}
	if code, _, body := e.do("PUT", "/v1/presence-sync/partners/crm", testAdmin, string(b)); code != 200 || !strings.Contains(body, `"mode":"complementary"`) {
		t.Fatalf("PUT: %d %s", code, body)
	}
	if code, _, body := e.do("GET", "/presencesync/crm/config?partner=crm", "", ""); code != 200 || !strings.Contains(body, `"mode":"complementary"`) || !strings.Contains(body, "https://crm.example.com") {
		t.Fatalf("config after PUT: %d %s", code, body)
	}
	svc.Close()
	es.Shutdown()

	// Restart NATS on the same directory; a new Service loads the stored
	// partner over the file's (synchronized) one.
	_, kv2 := open()
	stored, err := kv2.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := stored["crm"]; got.Mode != config.PresenceComplementary || len(got.Origins) != 1 || got.Origins[0] != "https://crm.example.com" || got.ComplementaryReasonCode != "digital" {
		t.Fatalf("stored: %+v", stored)
	}
	svc2, err := New(ctx, e.node, e.auth, config.PresenceSync{Statuses: testCatalog, Partners: []config.PresencePartnerSpec{testPartner(config.PresenceSynchronized)}},
		[]config.ReasonCodeSpec{{ID: "break", Type: routing.ReasonTypeNotReady}, {ID: "busy", Type: routing.ReasonTypeNotReady},
			{ID: "digital", Type: routing.ReasonTypeNotReady}, {ID: "crm-work", Type: routing.ReasonTypeNotReady}}, Options{Store: kv2})
	if err != nil {
		t.Fatal(err)
	}
	defer svc2.Close()
	e.srv.Config.Handler = svc2.Handler()
	code, _, body := e.do("GET", "/v1/presence-sync/partners", testAdmin, "")
	if code != 200 || !strings.Contains(body, `"mode":"complementary"`) || strings.Contains(body, `"token"`) {
		t.Fatalf("partners after restart: %d %s", code, body)
	}
}
