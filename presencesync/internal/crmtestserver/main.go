// Command crmtestserver is a test-only server for e2e/presencesync.test.mjs
// (not shipped): a routing node (memory journal) with the presence sync of
// two CRM partners, served on two origins so that the browser connector
// runs cross-origin exactly as in a real CRM (seed 002 "Omnichannel"):
//
//   - omniroute on http://127.0.0.1:A: the presencesync Handler
//     (/presencesync/crm/connector.html, config, events, report,
//     /v1/agents/{id}/presence-sync, ...) and test endpoints:
//     POST /test/agents/{id}/state {"state","reasonCode"}   omniroute change (SetAgentState)
//     GET  /test/agents/{id}                                {"state","reasonCode","tasks":[{id,state}]}
//     POST /test/conversations {"id","queue"}                work arriving: CreateConversation -> {"task","agent"}
//     POST /test/tasks/{task}/accept {"agent"}               AcceptTask
//     POST /test/tasks/{task}/close {"agent"}                CloseTask
//   - a test CRM page on http://localhost:B/crm?partner=&agent=[&delay=]
//     (the partners' configured origin): the Client Application of seed
//     002, embedding the connector in an iframe. delay (milliseconds,
//     0..10000, default 0) is how long the CRM takes to apply each
//     requestSyncOmnichannel, a slow CRM.
//   - the same page on http://localhost:C/crm (an origin no partner
//     accepts), for the wrong-origin check.
//
// Partners: "crm-sync" (synchronized) and "crm-comp" (complementary,
// reason "digital", status Away), both with a CRM work status "crm-work"
// (omniroute NOT_READY/crm-work) and workStatusId "on-work". Agents alice
// and bob (chat MRD, queue chat); admin token AdminToken.
//
// It prints "OTHER <url-C>" then "LISTEN <omniroute-url> <crm-url>" on
// stdout once it serves, and exits when stdin reaches end of file.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/internal/testserver"
	"github.com/omniroute/omniroute/journal/memjournal"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/presencesync"
	"github.com/omniroute/omniroute/routing"
)

// AdminToken is the admin bearer token of the test server.
const AdminToken = "crmtest-admin-token-0123456789"

// Catalog status ids.
const (
	stOffline = "0"
	stAvail   = "0N5xx0000004CSO"
	stAway    = "0N5xx0000004D56"
	stBusy    = "0N5xx0000004D3U"
	stCRMWork = "crm-work"
	stOnWork  = "on-work"
)

var catalog = []config.PresenceStatusSpec{
	{StatusID: stOffline, StatusName: "Offline", IsOffline: true},
	{StatusID: stAvail, StatusName: "Available", HasChannels: true},
	{StatusID: stAway, StatusName: "Away"},
	{StatusID: stBusy, StatusName: "Busy"},
	{StatusID: stCRMWork, StatusName: "On a CRM case"},
	{StatusID: stOnWork, StatusName: "On omniroute work"},
}

func partnerSpec(id, mode, origin string) config.PresencePartnerSpec {
	p := config.PresencePartnerSpec{
		ID: id, Kind: config.PresenceCRM, Origins: []string{origin}, Mode: mode,
		WorkReasonCode: "crm-work", WorkStatusID: stOnWork,
		Mapping: []config.PresenceMappingSpec{
			{StatusID: stAvail, AgentState: routing.AgentReady},
			{StatusID: stAway, AgentState: routing.AgentNotReady, ReasonCode: "break"},
			{StatusID: stBusy, AgentState: routing.AgentNotReady, ReasonCode: "busy"},
			{StatusID: stCRMWork, AgentState: routing.AgentNotReady, ReasonCode: "crm-work", Work: true},
			{StatusID: stOnWork, AgentState: routing.AgentNotReady, ReasonCode: "busy"},
		},
	}
	if mode == config.PresenceComplementary {
		p.ComplementaryReasonCode, p.ComplementaryStatusID = "digital", stAway
	}
	return p
}

func main() {
	os.Exit(testserver.Main("crmtestserver", run))
}

func run() error {
	ctx, stop := testserver.Context(true)
	defer stop()
	omniLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	crmLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	otherLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	omniURL := "http://" + omniLn.Addr().String()
	crmURL := fmt.Sprintf("http://localhost:%d", crmLn.Addr().(*net.TCPAddr).Port)
	otherURL := fmt.Sprintf("http://localhost:%d", otherLn.Addr().(*net.TCPAddr).Port)

	n, err := node.Open(ctx, node.Config{Journal: memjournal.New(), SnapshotEvery: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer n.Close()
	reasons := []config.ReasonCodeSpec{}
	cmds := []routing.Command{
		routing.UpsertMRD{MRD: routing.MRD{ID: "chat", Name: "Chat", Interruptible: true, MaxRequests: 2}},
		routing.UpsertQueue{Queue: routing.Queue{ID: "chat", Name: "Chat", MRD: "chat", RONATimeout: time.Hour}},
		routing.UpsertAgent{Agent: routing.Agent{ID: "alice", Name: "Alice"}},
		routing.UpsertAgent{Agent: routing.Agent{ID: "bob", Name: "Bob"}},
	}
	for _, r := range []string{"break", "busy", "digital", "crm-work"} {
		cmds = append(cmds, routing.UpsertReasonCode{ReasonCode: routing.ReasonCode{ID: r, Name: r, Type: routing.ReasonTypeNotReady}})
		reasons = append(reasons, config.ReasonCodeSpec{ID: r, Type: routing.ReasonTypeNotReady})
	}
	for _, c := range cmds {
		if _, err := n.Submit(ctx, c); err != nil {
			return fmt.Errorf("%s: %w", c.CommandName(), err)
		}
	}
	a, err := auth.New(auth.Options{AdminTokens: []string{AdminToken}, Secret: []byte(strings.Repeat("s", 32))})
	if err != nil {
		return err
	}
	cfg := config.PresenceSync{Statuses: catalog, Partners: []config.PresencePartnerSpec{
		partnerSpec("crm-sync", config.PresenceSynchronized, crmURL),
		partnerSpec("crm-comp", config.PresenceComplementary, crmURL),
	}}
	rt := map[string]routing.ReasonType{}
	for _, r := range reasons {
		rt[r.ID] = r.Type
	}
	for _, p := range cfg.Partners {
		if probs := config.ValidatePresencePartner(p, cfg.Catalog(), rt); len(probs) > 0 {
			return fmt.Errorf("partner %s: %v", p.ID, probs)
		}
	}
	svc, err := presencesync.New(ctx, n, a, cfg, reasons, presencesync.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer svc.Close()

	omni := http.NewServeMux()
	omni.Handle("/", svc.Handler())
	testAPI(omni, n)
	crm := http.NewServeMux()
	crm.HandleFunc("GET /crm", crmPage(a, omniURL))

	servers := []*http.Server{{Handler: omni}, {Handler: crm}, {Handler: crm}}
	for i, ln := range []net.Listener{omniLn, crmLn, otherLn} {
		go servers[i].Serve(ln)
	}
	fmt.Printf("OTHER %s\n", otherURL)
	fmt.Printf("LISTEN %s %s\n", omniURL, crmURL)
	<-ctx.Done()
	for _, s := range servers {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s.Shutdown(sctx)
		cancel()
		s.Close()
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func testAPI(m *http.ServeMux, n *node.Node) {
	submit := func(w http.ResponseWriter, r *http.Request, c routing.Command) ([]routing.Event, bool) {
		ev, err := n.Submit(r.Context(), c)
		if err != nil {
			writeJSON(w, http.StatusConflict, map[string]any{"error": map[string]string{"code": "REFUSED", "message": err.Error()}})
			return nil, false
		}
		return ev, true
	}
	m.HandleFunc("POST /test/agents/{id}/state", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			State  routing.AgentState `json:"state"`
			Reason string             `json:"reasonCode"`
		}
		if json.NewDecoder(r.Body).Decode(&b) != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad json"})
			return
		}
		if _, ok := submit(w, r, routing.SetAgentState{Agent: r.PathValue("id"), State: b.State, ReasonCode: b.Reason}); ok {
			writeJSON(w, http.StatusOK, map[string]string{})
		}
	})
	m.HandleFunc("GET /test/agents/{id}", func(w http.ResponseWriter, r *http.Request) {
		type task struct {
			ID    string `json:"id"`
			State string `json:"state"`
		}
		out := map[string]any{}
		found := false
		err := n.View(r.Context(), func(st routing.View) {
			ag, ok := st.Agent(r.PathValue("id"))
			if !ok {
				return
			}
			found = true
			ts := []task{}
			tasks, _ := st.Tasks(r.PathValue("id"))
			for _, t := range tasks {
				ts = append(ts, task{ID: t.ID, State: fmt.Sprint(t.State)})
			}
			out["state"], out["reasonCode"], out["tasks"] = ag.State, ag.ReasonCode, ts
		})
		switch {
		case err != nil:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		case !found:
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such agent"})
		default:
			writeJSON(w, http.StatusOK, out)
		}
	})
	m.HandleFunc("POST /test/conversations", func(w http.ResponseWriter, r *http.Request) {
		var b struct{ ID, Queue string }
		if json.NewDecoder(r.Body).Decode(&b) != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad json"})
			return
		}
		ev, ok := submit(w, r, routing.CreateConversation{ID: b.ID, RequestID: b.ID + "-r", Queue: b.Queue})
		if !ok {
			return
		}
		out := map[string]string{}
		for _, e := range ev {
			if t, ok := e.(routing.TaskReserved); ok {
				out["task"], out["agent"] = t.Task, t.Agent
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
	for _, op := range []string{"accept", "close"} {
		m.HandleFunc("POST /test/tasks/{task}/"+op, func(w http.ResponseWriter, r *http.Request) {
			var b struct{ Agent string }
			if json.NewDecoder(r.Body).Decode(&b) != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad json"})
				return
			}
			var c routing.Command = routing.AcceptTask{Task: r.PathValue("task"), Agent: b.Agent}
			if op == "close" {
				c = routing.CloseTask{Task: r.PathValue("task"), Agent: b.Agent}
			}
			if _, ok := submit(w, r, c); ok {
				writeJSON(w, http.StatusOK, map[string]string{})
			}
		})
	}
}

// crmPage is the test CRM: the seed 002 Client Application. It keeps a
// "CRM presence" (shown in #presence), answers the connector's ready,
// applies requestSyncOmnichannel (first id of statusId) after the query's
// delay milliseconds (0..10000, default 0; anything else is answered 400)
// and sends omnichannelResponse on every CRM presence change (a button
// click or window.setCrmPresence(id)). window.crm holds what it did:
// requests (status ids asked, in order of arrival), history (every
// presence it took, in order), pending (requests not yet applied).
func crmPage(a *auth.Authenticator, omniURL string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		agent, partner := q.Get("agent"), q.Get("partner")
		delay := 0
		if d := q.Get("delay"); d != "" {
			n, err := strconv.Atoi(d)
			if err != nil || n < 0 || n > 10000 {
				http.Error(w, "delay: want milliseconds 0..10000, got "+strconv.Quote(d), http.StatusBadRequest)
				return
			}
			delay = n
		}
		// The CRM's back end mints the connector's ticket with the agent's
		// token (over REST that is POST /v1/tickets {"scope":"crm-connector"});
		// only the single-use ticket goes into the iframe's URL.
		ticket, _, err := a.MintTicket(auth.ScopeCRMConnector, a.Issue(agent, time.Hour))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		src := omniURL + "/presencesync/crm/connector.html?partner=" + template.URLQueryEscaper(partner) +
			"&ticket=" + template.URLQueryEscaper(ticket)
		if q.Get("withAgent") != "" {
			src += "&agent=" + template.URLQueryEscaper(agent)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		pageTmpl.Execute(w, map[string]any{"Src": src, "Origin": omniURL, "Catalog": catalog, "Delay": delay})
	}
}

var pageTmpl = template.Must(template.New("crm").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Test CRM</title></head>
<body>
<h1>Test CRM</h1>
<p>Connector: <span id="handshake">waiting</span></p>
<p>CRM presence: <span id="presence" data-status="">none</span></p>
<p id="buttons">{{range .Catalog}}<button type="button" data-status="{{.StatusID}}">{{.StatusName}}</button> {{end}}</p>
<ol id="log"></ol>
<iframe id="connector" src="{{.Src}}" width="300" height="60"></iframe>
<script>
(function () {
  "use strict";
  var OMNI = {{.Origin}};
  var DELAY = {{.Delay}};
  var frame = document.getElementById("connector");
  var presenceEl = document.getElementById("presence");
  var crm = (window.crm = { presence: null, readyCount: 0, requests: [], history: [], pending: 0, sent: [] });
  function log(s) { var li = document.createElement("li"); li.textContent = s; document.getElementById("log").appendChild(li); }
  function publish(action, data) {
    var m = { type: "ClientAppMessage", action: action };
    if (data !== undefined) m.data = data;
    frame.contentWindow.postMessage(m, OMNI);
    crm.sent.push(action);
  }
  function setPresence(id) {
    crm.presence = id;
    crm.history.push(id);
    presenceEl.textContent = id;
    presenceEl.dataset.status = id;
    log("presence " + id);
    publish("omnichannelResponse", { statusId: id, success: true });
  }
  window.setCrmPresence = setPresence;
  document.getElementById("buttons").addEventListener("click", function (e) {
    var s = e.target && e.target.dataset && e.target.dataset.status;
    if (s) setPresence(s);
  });
  window.addEventListener("message", function (event) {
    if (event.origin !== OMNI || event.source !== frame.contentWindow) return;
    var m = event.data || {};
    if (m.type !== "CRMConnectMessage") return;
    if (m.action === "ready") {
      crm.readyCount++;
      document.getElementById("handshake").textContent = "ready";
      publish("ready");
    } else if (m.action === "requestSyncOmnichannel" && m.data && typeof m.data.statusId === "string") {
      var id = m.data.statusId;
      crm.requests.push(id);
      log("request " + id);
      if (DELAY <= 0) { setPresence(id.split(";")[0]); return; }
      crm.pending++;
      setTimeout(function () { crm.pending--; setPresence(id.split(";")[0]); }, DELAY);
    }
  });
})();
</script>
</body></html>
`))
