package extrouting

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/routing"
)

func ptr(n int64) *int64 { return &n }

// created queues a conversation on queue and returns the PSR "created" data.
func (e *env) created(c *cometd, conv, queue string) map[string]any {
	e.t.Helper()
	e.submit(routing.CreateConversation{ID: conv, RequestID: "r-" + conv, Queue: queue})
	d := c.next(1)[0]
	if evType(d) != "created" || sobj(d)["WorkItemId"] != conv || sobj(d)["IsPushed"] != false {
		e.t.Fatalf("want created for %s: %v", conv, d)
	}
	return d
}

func (e *env) assign(c *cometd, psr, conv, agent string) string {
	e.t.Helper()
	st, b := e.createWork(psr, conv, agent)
	if st != 201 {
		e.t.Fatalf("create AgentWork: %d %s", st, b)
	}
	var res struct {
		ID      string `json:"id"`
		Success bool   `json:"success"`
		Errors  []any  `json:"errors"`
	}
	if err := json.Unmarshal(b, &res); err != nil || !res.Success || len(res.ID) != 18 || !strings.HasPrefix(res.ID, "0Bz") || res.Errors == nil {
		e.t.Fatalf("create AgentWork reply %s", b)
	}
	d := c.next(1)[0]
	if evType(d) != "updated" || sobj(d)["IsPushed"] != true {
		e.t.Fatalf("want updated IsPushed=true: %v", d)
	}
	e.waitWork(res.ID, StatusAssigned)
	return res.ID
}

// Seed 000 "Agent accepts the work".
func TestAccept(t *testing.T) {
	e := newEnv(t)
	e.ready("alice")
	c := e.subscribe(DefaultTopic, nil)
	d := e.created(c, "c1", "ext")
	psr := sobj(d)["Id"].(string)
	if len(psr) != 18 || !strings.HasPrefix(psr, "0JR") || sobj(d)["QueueId"] != "ext" || sobj(d)["ServiceChannelId"] != "chat" ||
		sobj(d)["LastDeclinedAgentSession"] != nil || sobj(d)["IsTransfer"] != false {
		t.Fatalf("sobject %v", d)
	}
	if replayID(d) < 1 || d["event"].(map[string]any)["createdDate"] != "2025-03-01T09:00:00.000Z" {
		t.Fatalf("event %v", d)
	}
	st, b := e.do("GET", base+"PendingServiceRouting/"+psr, partnerToken, "")
	var rec map[string]any
	_ = json.Unmarshal(b, &rec)
	if st != 200 || rec["RoutingModel"] != "ExternalRouting" || rec["WorkItemId"] != "c1" || rec["PushTimeout"] != 20.0 ||
		rec["attributes"].(map[string]any)["type"] != "PendingServiceRouting" {
		t.Fatalf("GET PSR: %d %s", st, b)
	}
	aw := e.assign(c, psr, "c1", "alice")
	e.submit(routing.AcceptTask{Task: aw, Agent: "alice"})
	d = c.next(1)[0]
	if evType(d) != "deleted" || sobj(d)["Id"] != psr {
		t.Fatalf("want deleted: %v", d)
	}
	w := e.waitWork(aw, StatusOpened)
	if w["AcceptDateTime"] != "2025-03-01T09:00:00.000+0000" || w["PendingServiceRoutingId"] != psr || w["UserId"] != "alice" {
		t.Fatalf("AgentWork %v", w)
	}
	if st, _ := e.do("GET", base+"PendingServiceRouting/"+psr, partnerToken, ""); st != 404 {
		t.Fatalf("deleted PSR: %d", st)
	}
	e.submit(routing.CloseTask{Task: aw, Agent: "alice"})
	e.waitWork(aw, StatusClosed)
}

// Seed 000 "Agent declines the work through Omni-Channel".
func TestDecline(t *testing.T) {
	e := newEnv(t)
	e.ready("alice")
	e.ready("bob")
	c := e.subscribe(DefaultTopic, nil)
	psr := sobj(e.created(c, "c1", "ext"))["Id"].(string)
	aw := e.assign(c, psr, "c1", "alice")
	e.submit(routing.DeclineTask{Task: aw, Agent: "alice"})
	d := c.next(1)[0]
	var loginAt time.Time
	_ = e.node.View(t.Context(), func(s routing.View) { st, _ := s.Agent("alice"); loginAt = st.LoginAt })
	if evType(d) != "updated" || sobj(d)["IsPushed"] != false || sobj(d)["LastDeclinedAgentSession"] != SessionID("alice", loginAt) {
		t.Fatalf("want updated with session: %v", d)
	}
	e.waitWork(aw, StatusDeclined)
	// Re-routing: alice is excluded, bob takes it.
	digest := e.digest()
	if st, b := e.createWork(psr, "c1", "alice"); st != 400 || !strings.Contains(string(b), "NOT_ELIGIBLE") {
		t.Fatalf("alice again: %d %s", st, b)
	}
	if e.digest() != digest {
		t.Fatal("refusal changed the state")
	}
	e.assign(c, psr, "c1", "bob")
}

// Seed 000 "Agent doesn't accept the work due to push time-out".
func TestPushTimeout(t *testing.T) {
	e := newEnv(t)
	e.ready("alice")
	c := e.subscribe(DefaultTopic, nil)
	psr := sobj(e.created(c, "c1", "ext"))["Id"].(string)
	aw := e.assign(c, psr, "c1", "alice")
	e.clock.Advance(21 * time.Second)
	e.submit(routing.Tick{})
	d := c.next(1)[0]
	if evType(d) != "updated" || sobj(d)["IsPushed"] != false || sobj(d)["LastDeclinedAgentSession"] == nil {
		t.Fatalf("want updated: %v", d)
	}
	w := e.waitWork(aw, StatusDeclinedOnPushTimeout)
	if w["DeclineDateTime"] != "2025-03-01T09:00:21.000+0000" {
		t.Fatalf("AgentWork %v", w)
	}
}

// Seed 000 transfers: to an external queue (created, IsTransfer) and to an
// agent directly (deleted, no created).
func TestTransfers(t *testing.T) {
	e := newEnv(t)
	e.ready("alice")
	e.ready("bob")
	c := e.subscribe(DefaultTopic, nil)
	psr := sobj(e.created(c, "c1", "ext"))["Id"].(string)
	aw := e.assign(c, psr, "c1", "alice")
	e.submit(routing.AcceptTask{Task: aw, Agent: "alice"})
	if evType(c.next(1)[0]) != "deleted" {
		t.Fatal("want deleted")
	}
	e.submit(routing.RequestTransfer{Conversation: "c1", RequestID: "t1", Agent: "alice", FromTask: aw,
		Mode: routing.TransferModeTransfer, Queue: "ext2"})
	d := c.next(1)[0]
	if evType(d) != "created" || sobj(d)["IsTransfer"] != true || sobj(d)["QueueId"] != "ext2" || sobj(d)["IsPushed"] != false {
		t.Fatalf("want created transfer: %v", d)
	}
	psr2 := sobj(d)["Id"].(string)
	aw2 := e.assign(c, psr2, "c1", "bob")
	e.submit(routing.AcceptTask{Task: aw2, Agent: "bob"})
	if d := c.next(1)[0]; evType(d) != "deleted" || sobj(d)["Id"] != psr2 {
		t.Fatalf("want deleted: %v", d)
	}
	e.waitWork(aw, StatusTransferred)

	// Direct transfer bob -> alice: no created, deleted once accepted.
	e.submit(routing.RequestTransfer{Conversation: "c1", RequestID: "t2", Agent: "bob", FromTask: aw2,
		Mode: routing.TransferModeTransfer, TargetAgent: "alice"})
	var task string
	_ = e.node.View(t.Context(), func(s routing.View) { r, _ := s.Request("t2"); task = r.OfferedTask })
	if task == "" {
		t.Fatal("direct transfer not offered")
	}
	e.submit(routing.AcceptTask{Task: task, Agent: "alice"})
	d = c.next(1)[0]
	if evType(d) != "deleted" || sobj(d)["Id"] != PSRID("t2") {
		t.Fatalf("want deleted for the direct transfer: %v", d)
	}
	c.none()
}

func TestInternalQueueIgnored(t *testing.T) {
	e := newEnv(t)
	c := e.subscribe(DefaultTopic, nil)
	e.submit(routing.CreateConversation{ID: "c1", RequestID: "r1", Queue: "internal"})
	c.none()
	e.created(c, "c2", "ext")
}

// Every REST refusal leaves the state unchanged.
func TestRESTRefusals(t *testing.T) {
	e := newEnv(t)
	e.ready("alice")
	c := e.subscribe(DefaultTopic, nil)
	psr := sobj(e.created(c, "c1", "ext"))["Id"].(string)
	e.submit(routing.CreateConversation{ID: "ci", RequestID: "ri", Queue: "internal"})
	digest := e.digest()
	good := func(over map[string]any) string {
		m := map[string]any{"ServiceChannelId": "chat", "WorkItemId": "c1", "UserId": "alice", "PendingServiceRoutingId": psr}
		for k, v := range over {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	cases := []struct {
		name, method, path, token, body string
		status                          int
		code                            string
	}{
		{"no token", "POST", base + "AgentWork", "", good(nil), 401, "INVALID_SESSION_ID"},
		{"bad token", "POST", base + "AgentWork", "nope-nope-nope-nope", good(nil), 401, "INVALID_SESSION_ID"},
		{"not json", "POST", base + "AgentWork", partnerToken, "{", 400, "JSON_PARSER_ERROR"},
		{"array", "POST", base + "AgentWork", partnerToken, "[]", 400, "JSON_PARSER_ERROR"},
		{"missing", "POST", base + "AgentWork", partnerToken, good(map[string]any{"UserId": nil}), 400, "REQUIRED_FIELD_MISSING"},
		{"unknown field", "POST", base + "AgentWork", partnerToken, good(map[string]any{"Foo": "x"}), 400, "INVALID_FIELD"},
		{"number", "POST", base + "AgentWork", partnerToken, good(map[string]any{"UserId": 5}), 400, "INVALID_FIELD"},
		{"long", "POST", base + "AgentWork", partnerToken, good(map[string]any{"UserId": strings.Repeat("a", 200)}), 400, "STRING_TOO_LONG"},
		{"unknown psr", "POST", base + "AgentWork", partnerToken, good(map[string]any{"PendingServiceRoutingId": "0JRxxxxxxxxxxxxAAA"}), 400, "INVALID_CROSS_REFERENCE_KEY"},
		{"work item", "POST", base + "AgentWork", partnerToken, good(map[string]any{"WorkItemId": "c9"}), 400, "FIELD_INTEGRITY_EXCEPTION"},
		{"channel", "POST", base + "AgentWork", partnerToken, good(map[string]any{"ServiceChannelId": "voice"}), 400, "FIELD_INTEGRITY_EXCEPTION"},
		{"unknown agent", "POST", base + "AgentWork", partnerToken, good(map[string]any{"UserId": "zed"}), 400, "INVALID_CROSS_REFERENCE_KEY"},
		{"not ready", "POST", base + "AgentWork", partnerToken, good(map[string]any{"UserId": "bob"}), 400, "INVALID_CROSS_REFERENCE_KEY"},
		{"get work 404", "GET", base + "AgentWork/0Bz000000000000AAA", partnerToken, "", 404, "NOT_FOUND"},
		{"get psr 404", "GET", base + "PendingServiceRouting/0JR000000000000AAA", partnerToken, "", 404, "NOT_FOUND"},
		{"get no token", "GET", base + "PendingServiceRouting/" + psr, "", "", 401, "INVALID_SESSION_ID"},
		{"other sobject", "GET", base + "Account/1", partnerToken, "", 404, "NOT_FOUND"},
		{"bad version", "POST", "/services/data/vX/sobjects/AgentWork", partnerToken, good(nil), 404, "NOT_FOUND"},
		{"method", "DELETE", base + "AgentWork/0Bz000000000000AAA", partnerToken, "", 405, "METHOD_NOT_ALLOWED"},
		{"post psr", "POST", base + "PendingServiceRouting", partnerToken, good(nil), 404, "NOT_FOUND"},
	}
	for _, tc := range cases {
		st, b := e.do(tc.method, tc.path, tc.token, tc.body)
		var errs []SFError
		if err := json.Unmarshal(b, &errs); err != nil || st != tc.status || len(errs) == 0 || errs[0].ErrorCode != tc.code || errs[0].Fields == nil {
			t.Errorf("%s: %d %s, want %d %s", tc.name, st, b, tc.status, tc.code)
		}
		if d := e.digest(); d != digest {
			t.Fatalf("%s changed the state", tc.name)
		}
	}
	// Assigned PSR: a second AgentWork is INVALID_OPERATION; internal request unknown as PSR.
	e.ready("bob")
	e.assign(c, psr, "c1", "alice")
	digest = e.digest()
	if st, b := e.createWork(psr, "c1", "bob"); st != 400 || !strings.Contains(string(b), "INVALID_OPERATION") {
		t.Fatalf("second AgentWork: %d %s", st, b)
	}
	if st, _ := e.createWork(PSRID("ri"), "ci", "bob"); st != 400 {
		t.Fatalf("internal request: %d", st)
	}
	if e.digest() != digest {
		t.Fatal("refusal changed the state")
	}
}

func TestCometDAuthAndPaths(t *testing.T) {
	e := newEnv(t)
	hs := map[string]any{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}}
	_, out := e.post("/cometd/41.0", "", hs)
	if rep := find(out, "/meta/handshake"); rep == nil || rep["successful"] != false || !strings.HasPrefix(rep["error"].(string), "401::") {
		t.Fatalf("handshake without token: %v", out)
	}
	_, out = e.post("/cometd/41.0", "wrong-token-wrong-token", hs)
	if rep := find(out, "/meta/handshake"); rep == nil || rep["successful"] != false {
		t.Fatalf("handshake with a bad token: %v", out)
	}
	if st, _ := e.post("/cometd/latest", partnerToken, hs); st != 404 {
		t.Fatalf("bad version path: %d", st)
	}
	_, out = e.post("/cometd/41.0", partnerToken, hs)
	id := find(out, "/meta/handshake")["clientId"]
	for _, ch := range []string{"/topic/*", "/foo", "/topic/a b"} {
		_, out = e.post("/cometd/41.0", partnerToken, map[string]any{"channel": "/meta/subscribe", "clientId": id, "subscription": ch})
		if rep := find(out, "/meta/subscribe"); rep == nil || rep["successful"] != false {
			t.Fatalf("subscribe %s: %v", ch, out)
		}
	}
	_, out = e.post("/cometd/41.0", partnerToken, map[string]any{"channel": "/meta/subscribe", "clientId": id,
		"subscription": "/topic/" + DefaultTopic, "ext": map[string]any{"replay": map[string]int64{"/topic/" + DefaultTopic: 99}}})
	if rep := find(out, "/meta/subscribe"); rep == nil || rep["successful"] != false || !strings.HasPrefix(rep["error"].(string), "400::") {
		t.Fatalf("invalid replay id: %v", out)
	}
}

// TestCometDAdminHandshake: an admin token (Options.Admin) handshakes on
// the partner CometD endpoint and subscribes to the PushTopic, its session
// identity carrying the token's expiry; an expired admin token and a token
// that is neither a partner's nor an admin's are refused with 401.
func TestCometDAdminHandshake(t *testing.T) {
	e := newEnv(t)
	hs := map[string]any{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}}
	for _, tok := range []string{expiredAdminToken, "an-agent-token-not-admin"} {
		_, out := e.post("/cometd/59.0", tok, hs)
		if rep := find(out, "/meta/handshake"); rep == nil || rep["successful"] != false || !strings.HasPrefix(rep["error"].(string), "401::") {
			t.Fatalf("handshake with %s: %v", tok, out)
		}
	}
	for _, tok := range []string{adminToken, hourAdminToken} {
		_, out := e.post("/cometd/59.0", tok, hs)
		rep := find(out, "/meta/handshake")
		if rep == nil || rep["successful"] != true {
			t.Fatalf("admin handshake with %s: %v", tok, out)
		}
		id, _ := rep["clientId"].(string)
		_, out = e.post("/cometd/59.0", tok, map[string]any{"channel": "/meta/subscribe", "clientId": id, "subscription": "/topic/" + DefaultTopic})
		if rep := find(out, "/meta/subscribe"); rep == nil || rep["successful"] != true {
			t.Fatalf("admin subscribe: %v", out)
		}
		c := e.ad.bx.Client(id)
		ident, ok := c.Identity().(AdminIdentity)
		if !ok || (tok == adminToken) != ident.Until.IsZero() {
			t.Fatalf("identity of %s: %#v", tok, c.Identity())
		}
	}
}

// Replay -2, n and -1, and replay across a restart of NATS, node and
// adapter on the same data: no loss, no duplicate.
func TestReplayAcrossRestart(t *testing.T) {
	e := newEnv(t)
	c := e.subscribe(DefaultTopic, nil)
	e.created(c, "c1", "ext")
	e.created(c, "c2", "ext")
	e.created(c, "c3", "ext")

	all := e.subscribe(DefaultTopic, ptr(-2)).next(3)
	for i, d := range all {
		if replayID(d) != int64(i+1) || sobj(d)["WorkItemId"] != []string{"c1", "c2", "c3"}[i] {
			t.Fatalf("replay -2 [%d]: %v", i, d)
		}
	}
	after := e.subscribe(DefaultTopic, ptr(1))
	if got := after.next(2); replayID(got[0]) != 2 || replayID(got[1]) != 3 {
		t.Fatalf("replay after 1: %v", got)
	}
	after.none()
	newOnly := e.subscribe(DefaultTopic, ptr(-1))
	newOnly.none()

	// The client saw up to replayId 2; the server restarts; c4 happens.
	e.restart()
	e.submit(routing.CreateConversation{ID: "c4", RequestID: "r-c4", Queue: "ext"})
	// PSRs of live requests are readable after the restart.
	if st, b := e.do("GET", base+"PendingServiceRouting/"+PSRID("r-c1"), partnerToken, ""); st != 200 {
		t.Fatalf("PSR after restart: %d %s", st, b)
	}
	r := e.subscribe(DefaultTopic, ptr(2))
	got := r.next(2)
	if replayID(got[0]) != 3 || sobj(got[0])["WorkItemId"] != "c3" || replayID(got[1]) != 4 || sobj(got[1])["WorkItemId"] != "c4" {
		t.Fatalf("resume after restart: %v", got)
	}
	r.none()
	e.submit(routing.CreateConversation{ID: "c5", RequestID: "r-c5", Queue: "ext"})
	if d := r.next(1)[0]; replayID(d) != 5 {
		t.Fatalf("live after resume: %v", d)
	}
	r.none()
}

func TestIDs(t *testing.T) {
	id := NewAgentWorkID()
	if len(id) != 18 || id[:3] != "0Bz" {
		t.Fatal(id)
	}
	if x1, x2 := PSRID("x"), PSRID("x"); x1 != x2 || x1 == PSRID("y") {
		t.Fatal("PSR ids not stable")
	}
	// Salesforce's documented example: 001A0000006Vm9r -> 001A0000006Vm9rIAC.
	var seed [16]byte
	_ = seed
	if got := checksumOf("001A0000006Vm9r"); got != "IAC" {
		t.Fatalf("checksum %s", got)
	}
}
