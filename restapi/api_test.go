package restapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/routing"
)

func TestDefinitionsHappyPath(t *testing.T) {
	e := newEnv(t)
	a := adminToken

	// MRD: defaults filled in (name = id, maxRequests 1), and idempotent.
	r := e.ok(200, "PUT", "/v1/mrds/email", a, `{"interruptible":true}`)
	var m config.MRDSpec
	r.decode(t, &m)
	if m != (config.MRDSpec{ID: "email", Name: "email", Interruptible: true, MaxRequests: 1}) {
		t.Fatalf("stored mrd: %+v", m)
	}
	d := e.digest()
	e.ok(200, "PUT", "/v1/mrds/email", a, `{"id":"email","interruptible":true}`)
	if e.digest() != d {
		t.Fatal("repeating an upsert changed the state")
	}
	var got config.MRDSpec
	e.ok(200, "GET", "/v1/mrds/email", e.tokens["alice"], "").decode(t, &got)
	if got != m {
		t.Fatalf("GET mrd %+v", got)
	}
	var mrds Items[config.MRDSpec]
	e.ok(200, "GET", "/v1/mrds", a, "").decode(t, &mrds)
	if len(mrds.Items) != 3 || mrds.Items[1].ID != "email" {
		t.Fatalf("mrds: %+v", mrds)
	}

	// Queue: seconds in, seconds out.
	var q config.QueueSpec
	e.ok(200, "PUT", "/v1/queues/email-q", a, `{"mrd":"email","skills":{"writing":5},"ronaTimeoutSeconds":45.5,"ttlSeconds":86400,"wrapUpSeconds":10}`).decode(t, &q)
	want := config.QueueSpec{ID: "email-q", Name: "email-q", MRD: "email", Mode: routing.Internal, Strategy: routing.LongestIdle,
		Skills: map[string]int{"writing": 5}, RONATimeoutSeconds: 45.5, TTLSeconds: 86400, WrapUpSeconds: 10, RONAAction: "NOT_READY"}
	if !reflect.DeepEqual(q, want) {
		t.Fatalf("stored queue %+v", q)
	}
	var queues Items[config.QueueSpec]
	e.ok(200, "GET", "/v1/queues", e.tokens["bob"], "").decode(t, &queues)
	if len(queues.Items) != 3 {
		t.Fatalf("queues: %+v", queues)
	}
	e.ok(200, "GET", "/v1/queues/email-q", a, "")

	// Agent.
	var ag config.AgentSpec
	e.ok(200, "PUT", "/v1/agents/dave", a, `{"name":"Dave","teams":["b","a","a"],"skills":{"writing":50},"capacity":{"email":3}}`).decode(t, &ag)
	if ag.Role != routing.RoleAgent || !reflect.DeepEqual(ag.Teams, []string{"a", "b"}) || ag.Capacity["email"] != 3 {
		t.Fatalf("stored agent %+v", ag)
	}
	if strings.Contains(string(e.ok(200, "GET", "/v1/agents/dave", a, "").body), "password") {
		t.Fatal("credentials field in agent JSON")
	}
	var agents Items[config.AgentSpec]
	e.ok(200, "GET", "/v1/agents", a, "").decode(t, &agents)
	if len(agents.Items) != 4 {
		t.Fatalf("agents: %+v", agents)
	}

	// Reason code.
	var rc config.ReasonCodeSpec
	e.ok(200, "PUT", "/v1/reason-codes/meeting", a, `{"name":"Meeting","type":"NOT_READY"}`).decode(t, &rc)
	if rc != (config.ReasonCodeSpec{ID: "meeting", Name: "Meeting", Type: routing.ReasonTypeNotReady}) {
		t.Fatalf("reason %+v", rc)
	}
	var rcs Items[config.ReasonCodeSpec]
	e.ok(200, "GET", "/v1/reason-codes", a, "").decode(t, &rcs)
	if len(rcs.Items) != 5 { // lunch, eos, meeting and the engine's RONA and DISCONNECTED
		t.Fatalf("reason codes %+v", rcs)
	}
	e.ok(200, "GET", "/v1/reason-codes/meeting", a, "")
	// Path ids may hold escaped slashes.
	e.ok(200, "PUT", "/v1/reason-codes/a%2Fb", a, `{"type":"LOGOUT"}`)
	e.ok(200, "GET", "/v1/reason-codes/a%2Fb", a, "")
}

func TestDefinitionErrors(t *testing.T) {
	e := newEnv(t)
	a := adminToken
	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		code                            string
		headers                         []string
	}{
		{"no token", "PUT", "/v1/mrds/x", "", `{}`, 401, CodeUnauthorized, nil},
		{"bad token", "PUT", "/v1/mrds/x", "nope", `{}`, 401, CodeUnauthorized, nil},
		{"basic auth", "GET", "/v1/mrds", "", ``, 401, CodeUnauthorized, []string{"Authorization", "Basic YTpi"}},
		{"agent token on PUT", "PUT", "/v1/mrds/x", e.tokens["alice"], `{}`, 403, CodeForbidden, nil},
		{"id mismatch", "PUT", "/v1/mrds/x", a, `{"id":"y"}`, 400, routing.CodeInvalidArgument, nil},
		{"unknown field", "PUT", "/v1/mrds/x", a, `{"colour":"red"}`, 400, CodeInvalidJSON, nil},
		{"wrong type", "PUT", "/v1/mrds/x", a, `{"maxRequests":"two"}`, 400, CodeInvalidJSON, nil},
		{"trailing data", "PUT", "/v1/mrds/x", a, `{} {}`, 400, CodeInvalidJSON, nil},
		{"trailing garbage", "PUT", "/v1/mrds/x", a, `{}x`, 400, CodeInvalidJSON, nil},
		{"syntax", "PUT", "/v1/mrds/x", a, `{"name":`, 400, CodeInvalidJSON, nil},
		{"array", "PUT", "/v1/mrds/x", a, `[]`, 400, CodeInvalidJSON, nil},
		{"null", "PUT", "/v1/mrds/x", a, `null`, 400, CodeInvalidJSON, nil},
		{"empty body", "PUT", "/v1/mrds/x", a, ``, 400, CodeInvalidJSON, []string{"Content-Type", "application/json"}},
		{"too large", "PUT", "/v1/mrds/x", a, `{"description":"` + strings.Repeat("d", MaxBodyBytes) + `"}`, 413, CodeBodyTooLarge, nil},
		{"queue too large", "PUT", "/v1/queues/x", a, `{"mrd":"chat","name":"` + strings.Repeat("d", MaxQueueBodyBytes) + `"}`, 413, CodeBodyTooLarge, nil},
		{"form content type", "PUT", "/v1/mrds/x", a, `{}`, 415, CodeUnsupportedMediaType, []string{"Content-Type", "application/x-www-form-urlencoded"}},
		{"no content type", "PUT", "/v1/mrds/x", a, `{}`, 415, CodeUnsupportedMediaType, []string{"Content-Type", ""}},
		{"max requests", "PUT", "/v1/mrds/x", a, `{"maxRequests":500}`, 400, routing.CodeInvalidArgument, nil},
		{"long id", "PUT", "/v1/mrds/" + strings.Repeat("i", 129), a, `{}`, 400, routing.CodeInvalidArgument, nil},
		{"queue without mrd", "PUT", "/v1/queues/x", a, `{}`, 400, routing.CodeInvalidArgument, nil},
		{"queue unknown mrd", "PUT", "/v1/queues/x", a, `{"mrd":"sms"}`, 404, routing.CodeMRDNotFound, nil},
		{"queue negative duration", "PUT", "/v1/queues/x", a, `{"mrd":"chat","ttlSeconds":-1}`, 400, routing.CodeInvalidArgument, nil},
		{"queue huge duration", "PUT", "/v1/queues/x", a, `{"mrd":"chat","ttlSeconds":1e300}`, 400, routing.CodeInvalidArgument, nil},
		{"queue strategy", "PUT", "/v1/queues/x", a, `{"mrd":"chat","strategy":"random"}`, 400, routing.CodeInvalidArgument, nil},
		{"queue skill level", "PUT", "/v1/queues/x", a, `{"mrd":"chat","skills":{"s":0}}`, 400, routing.CodeInvalidArgument, nil},
		{"agent password", "PUT", "/v1/agents/x", a, `{"password":"secret"}`, 400, CodeInvalidJSON, nil},
		{"agent username", "PUT", "/v1/agents/x", a, `{"username":"x"}`, 400, CodeInvalidJSON, nil},
		{"agent role", "PUT", "/v1/agents/x", a, `{"role":"boss"}`, 400, routing.CodeInvalidArgument, nil},
		{"agent capacity mrd", "PUT", "/v1/agents/x", a, `{"capacity":{"sms":1}}`, 404, routing.CodeMRDNotFound, nil},
		{"reason type", "PUT", "/v1/reason-codes/x", a, `{"type":"AWAY"}`, 400, routing.CodeInvalidArgument, nil},
		{"get missing mrd", "GET", "/v1/mrds/nope", a, ``, 404, routing.CodeMRDNotFound, nil},
		{"get missing queue", "GET", "/v1/queues/nope", a, ``, 404, routing.CodeQueueNotFound, nil},
		{"get missing agent", "GET", "/v1/agents/nope", a, ``, 404, routing.CodeAgentNotFound, nil},
		{"get missing reason", "GET", "/v1/reason-codes/nope", a, ``, 404, routing.CodeReasonCodeNotFound, nil},
		{"get without token", "GET", "/v1/mrds", "", ``, 401, CodeUnauthorized, nil},
		{"unknown route", "GET", "/v1/nothing", a, ``, 404, CodeNotFound, nil},
		{"unknown root route", "GET", "/nothing", "", ``, 404, CodeNotFound, nil},
		{"wrong method", "DELETE", "/v1/mrds/chat", a, ``, 405, CodeMethodNotAllowed, nil},
		{"wrong method on collection", "POST", "/v1/mrds", a, `{}`, 405, CodeMethodNotAllowed, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			r := e.refused(tc.status, tc.code, tc.method, tc.path, tc.token, tc.body, tc.headers...)
			if tc.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tc.status == 405 && r.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

func TestLimitExceededIs422(t *testing.T) {
	e := newEnv(t)
	for i := 2; i < routing.MaxMRDs; i++ {
		e.ok(200, "PUT", fmt.Sprintf("/v1/mrds/m%d", i), adminToken, `{}`)
	}
	e.refused(422, routing.CodeLimitExceeded, "PUT", "/v1/mrds/one-too-many", adminToken, `{}`)
}

func TestConversationLifecycle(t *testing.T) {
	e := newEnv(t)
	a := adminToken
	r := e.ok(201, "POST", "/v1/conversations", a,
		`{"queue":"sales","mrd":"chat","priority":5,"customer":{"name":"Carla"},"attributes":{"lang":"en"},"ttlSeconds":600}`)
	var c ConversationCreated
	r.decode(t, &c)
	if c.ID == "" || c.RequestID == "" || c.ID == c.RequestID || r.header.Get("Location") != "/v1/conversations/"+c.ID {
		t.Fatalf("created %+v, Location %q", c, r.header.Get("Location"))
	}
	var conv routing.Conversation
	e.ok(200, "GET", "/v1/conversations/"+c.ID, a, "").decode(t, &conv)
	if conv.State != "OPEN" || conv.Priority != 5 || conv.Attributes["lang"] != "en" || conv.Request == nil ||
		conv.Request.ID != c.RequestID || !conv.Request.TTLDeadline.Equal(e.clock.Now().Add(10*time.Minute)) {
		t.Fatalf("conversation %+v", conv)
	}

	// A second one waits behind the first (higher priority first).
	var c2 ConversationCreated
	e.ok(201, "POST", "/v1/conversations", a, `{"queue":"sales"}`).decode(t, &c2)
	var pos PositionBody
	e.ok(200, "GET", "/v1/requests/"+c2.RequestID+"/position", e.tokens["bob"], "").decode(t, &pos)
	if pos != (PositionBody{RequestID: c2.RequestID, Position: 2, Waiting: 2}) {
		t.Fatalf("position %+v", pos)
	}

	e.clock.Advance(30 * time.Second)
	var st QueueStatsBody
	e.ok(200, "GET", "/v1/queues/sales/stats", a, "").decode(t, &st)
	if st.Queue != "sales" || st.Waiting != 2 || st.Offered != 2 || st.LongestWaitSeconds != 30 ||
		st.EWTSeconds != 3*DefaultHandleSeconds {
		t.Fatalf("stats %+v", st)
	}
	// The raw JSON carries ewtSeconds next to the engine's fields.
	if raw := string(e.ok(200, "GET", "/v1/queues/sales/stats", a, "").body); !strings.Contains(raw, `"ewtSeconds":900`) || !strings.Contains(raw, `"waiting":2`) {
		t.Fatalf("stats json %s", raw)
	}

	// Abandon the second, close the first.
	var ab routing.Conversation
	e.ok(200, "POST", "/v1/conversations/"+c2.ID+"/abandon", a, "").decode(t, &ab)
	if ab.State != "CLOSED" || ab.CloseReason != routing.ReasonAbandoned {
		t.Fatalf("abandoned %+v", ab)
	}
	var cl routing.Conversation
	e.ok(200, "POST", "/v1/conversations/"+c.ID+"/close", a, "").decode(t, &cl)
	if cl.State != "CLOSED" {
		t.Fatalf("closed %+v", cl)
	}
	e.refused(404, CodeRequestNotFound, "GET", "/v1/requests/"+c.RequestID+"/position", a, "")
	e.ok(200, "GET", "/v1/queues/sales/stats", a, "").decode(t, &st)
	if st.Waiting != 0 || st.Abandoned != 1 || st.Cancelled != 1 {
		t.Fatalf("stats after %+v", st)
	}
}

func TestConversationErrors(t *testing.T) {
	e := newEnv(t)
	a := adminToken
	var c ConversationCreated
	e.ok(201, "POST", "/v1/conversations", a, `{"queue":"sales"}`).decode(t, &c)
	e.ok(200, "POST", "/v1/conversations/"+c.ID+"/close", a, "")
	big := `{"queue":"sales","customer":{"x":"` + strings.Repeat("c", routing.MaxCustomerBytes) + `"}}`
	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		code                            string
	}{
		{"no token", "POST", "/v1/conversations", "", `{"queue":"sales"}`, 401, CodeUnauthorized},
		{"agent token", "POST", "/v1/conversations", e.tokens["alice"], `{"queue":"sales"}`, 403, CodeForbidden},
		{"no queue", "POST", "/v1/conversations", a, `{}`, 400, routing.CodeInvalidArgument},
		{"unknown queue", "POST", "/v1/conversations", a, `{"queue":"nope"}`, 404, routing.CodeQueueNotFound},
		{"unknown queue with mrd", "POST", "/v1/conversations", a, `{"queue":"nope","mrd":"chat"}`, 404, routing.CodeQueueNotFound},
		{"mrd mismatch", "POST", "/v1/conversations", a, `{"queue":"sales","mrd":"voice"}`, 400, routing.CodeInvalidArgument},
		{"negative ttl", "POST", "/v1/conversations", a, `{"queue":"sales","ttlSeconds":-5}`, 400, routing.CodeInvalidArgument},
		{"negative priority", "POST", "/v1/conversations", a, `{"queue":"sales","priority":-1}`, 400, routing.CodeInvalidArgument},
		{"fractional priority", "POST", "/v1/conversations", a, `{"queue":"sales","priority":1.5}`, 400, CodeInvalidJSON},
		{"customer not object", "POST", "/v1/conversations", a, `{"queue":"sales","customer":[1]}`, 400, routing.CodeInvalidArgument},
		{"customer too large", "POST", "/v1/conversations", a, big, 422, routing.CodeLimitExceeded},
		{"attribute not string", "POST", "/v1/conversations", a, `{"queue":"sales","attributes":{"a":1}}`, 400, CodeInvalidJSON},
		{"unknown field", "POST", "/v1/conversations", a, `{"queue":"sales","channel":"web"}`, 400, CodeInvalidJSON},
		{"body too large", "POST", "/v1/conversations", a, `{"queue":"` + strings.Repeat("q", MaxBodyBytes) + `"}`, 413, CodeBodyTooLarge},
		{"get unknown", "GET", "/v1/conversations/nope", a, ``, 404, routing.CodeConversationNotFound},
		{"close unknown", "POST", "/v1/conversations/nope/close", a, ``, 404, routing.CodeConversationNotFound},
		{"close twice", "POST", "/v1/conversations/" + c.ID + "/close", a, ``, 409, routing.CodeInvalidTransition},
		{"abandon closed", "POST", "/v1/conversations/" + c.ID + "/abandon", a, ``, 409, routing.CodeConversationNotWaiting},
		{"close as agent", "POST", "/v1/conversations/" + c.ID + "/close", e.tokens["alice"], ``, 403, CodeForbidden},
		{"stats unknown queue", "GET", "/v1/queues/nope/stats", a, ``, 404, routing.CodeQueueNotFound},
		{"position unknown", "GET", "/v1/requests/nope/position", a, ``, 404, CodeRequestNotFound},
		{"no such route", "POST", "/v1/conversations/" + c.ID + "/nothing", a, `{}`, 404, CodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.refused(tc.status, tc.code, tc.method, tc.path, tc.token, tc.body)
		})
	}
	t.Run("duplicate id", func(t *testing.T) {
		e.t = t
		e.fixedID = c.ID
		defer func() { e.fixedID = "" }()
		e.refused(409, routing.CodeAlreadyExists, "POST", "/v1/conversations", a, `{"queue":"sales"}`)
	})
}

func TestAgentState(t *testing.T) {
	e := newEnv(t)
	alice := e.tokens["alice"]
	var st routing.AgentStatus
	e.ok(200, "PUT", "/v1/agents/alice/state", alice, `{"state":"READY"}`).decode(t, &st)
	if st.State != routing.AgentReady || st.Agent.ID != "alice" || len(st.MRDs) != 2 || st.MRDs[0].State != routing.MRDReady {
		t.Fatalf("ready: %+v", st)
	}
	e.ok(200, "PUT", "/v1/agents/alice/mrds/chat/state", alice, `{"state":"NOT_READY"}`).decode(t, &st)
	if st.MRDs[0].MRD.ID != "chat" || st.MRDs[0].State != routing.MRDNotReady {
		t.Fatalf("mrd not ready: %+v", st.MRDs)
	}
	e.ok(200, "PUT", "/v1/agents/alice/mrds/chat/state", alice, `{"state":"READY"}`)
	// An admin acts for anyone.
	e.ok(200, "PUT", "/v1/agents/bob/state", adminToken, `{"state":"NOT_READY","reasonCode":"lunch"}`).decode(t, &st)
	if st.State != routing.AgentNotReady || st.ReasonCode != "lunch" {
		t.Fatalf("bob: %+v", st)
	}
	e.ok(200, "GET", "/v1/agents/bob/state", alice, "").decode(t, &st)
	if st.ReasonCode != "lunch" {
		t.Fatalf("get bob: %+v", st)
	}
	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		code                            string
	}{
		{"other agent", "PUT", "/v1/agents/bob/state", alice, `{"state":"READY"}`, 403, CodeForbidden},
		{"other agent mrd", "PUT", "/v1/agents/bob/mrds/chat/state", alice, `{"state":"READY"}`, 403, CodeForbidden},
		{"other agent bad body", "PUT", "/v1/agents/bob/state", alice, `nonsense`, 403, CodeForbidden},
		{"no token", "PUT", "/v1/agents/alice/state", "", `{"state":"READY"}`, 401, CodeUnauthorized},
		{"bad state", "PUT", "/v1/agents/alice/state", alice, `{"state":"AWAY"}`, 400, routing.CodeInvalidArgument},
		{"missing state", "PUT", "/v1/agents/alice/state", alice, `{}`, 400, routing.CodeInvalidArgument},
		{"unknown reason", "PUT", "/v1/agents/alice/state", alice, `{"state":"NOT_READY","reasonCode":"nap"}`, 404, routing.CodeReasonCodeNotFound},
		{"reason of wrong type", "PUT", "/v1/agents/alice/state", alice, `{"state":"NOT_READY","reasonCode":"eos"}`, 400, routing.CodeInvalidArgument},
		{"ready with reason", "PUT", "/v1/agents/alice/state", alice, `{"state":"READY","reasonCode":"lunch"}`, 400, routing.CodeInvalidArgument},
		{"unknown field", "PUT", "/v1/agents/alice/state", alice, `{"state":"READY","mood":"happy"}`, 400, CodeInvalidJSON},
		{"wrong content type", "PUT", "/v1/agents/alice/state", alice, `{"state":"READY"}`, 415, CodeUnsupportedMediaType},
		{"unknown agent", "PUT", "/v1/agents/zed/state", adminToken, `{"state":"READY"}`, 404, routing.CodeAgentNotFound},
		{"get unknown agent", "GET", "/v1/agents/zed/state", adminToken, ``, 404, routing.CodeAgentNotFound},
		{"mrd ready while agent not ready", "PUT", "/v1/agents/bob/mrds/chat/state", adminToken, `{"state":"READY"}`, 409, routing.CodeAgentNotReady},
		{"unknown mrd", "PUT", "/v1/agents/alice/mrds/sms/state", alice, `{"state":"READY"}`, 404, routing.CodeMRDNotFound},
		{"bad mrd state", "PUT", "/v1/agents/alice/mrds/chat/state", alice, `{"state":"BUSY"}`, 400, routing.CodeInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			var h []string
			if tc.code == CodeUnsupportedMediaType {
				h = []string{"Content-Type", "text/plain"}
			}
			e.refused(tc.status, tc.code, tc.method, tc.path, tc.token, tc.body, h...)
		})
	}
}

func TestTasks(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.tokens["alice"], e.tokens["bob"]
	e.ok(200, "PUT", "/v1/agents/alice/state", alice, `{"state":"READY"}`)
	var c ConversationCreated
	e.ok(201, "POST", "/v1/conversations", adminToken, `{"queue":"sales"}`).decode(t, &c)

	var tasks Items[routing.Task]
	e.ok(200, "GET", "/v1/tasks", alice, "").decode(t, &tasks)
	if len(tasks.Items) != 1 || tasks.Items[0].State != routing.TaskReservedState || tasks.Items[0].Conversation != c.ID {
		t.Fatalf("tasks %+v", tasks)
	}
	task := tasks.Items[0].ID
	e.ok(200, "GET", "/v1/tasks?agent=alice", adminToken, "").decode(t, &tasks)
	if len(tasks.Items) != 1 {
		t.Fatalf("admin tasks %+v", tasks)
	}
	e.ok(200, "GET", "/v1/tasks?agent=bob", bob, "").decode(t, &tasks)
	if len(tasks.Items) != 0 || string(e.ok(200, "GET", "/v1/tasks", bob, "").body) != "{\"items\":[]}\n" {
		t.Fatalf("bob tasks %+v", tasks)
	}

	for _, tc := range []struct {
		name, method, path, token string
		status                    int
		code                      string
	}{
		{"list for another agent", "GET", "/v1/tasks?agent=alice", bob, 403, CodeForbidden},
		{"admin list without agent", "GET", "/v1/tasks", adminToken, 400, routing.CodeInvalidArgument},
		{"admin list unknown agent", "GET", "/v1/tasks?agent=zed", adminToken, 404, routing.CodeAgentNotFound},
		{"list without token", "GET", "/v1/tasks", "", 401, CodeUnauthorized},
		{"accept others' task", "POST", "/v1/tasks/" + task + "/accept", bob, 409, routing.CodeNotTaskOwner},
		{"accept as another agent", "POST", "/v1/tasks/" + task + "/accept?agent=alice", bob, 403, CodeForbidden},
		{"admin accept without agent", "POST", "/v1/tasks/" + task + "/accept", adminToken, 400, routing.CodeInvalidArgument},
		{"accept unknown task", "POST", "/v1/tasks/nope/accept", alice, 404, routing.CodeTaskNotFound},
		{"close reserved task", "POST", "/v1/tasks/" + task + "/close", alice, 409, routing.CodeInvalidTransition},
		{"unknown action", "POST", "/v1/tasks/" + task + "/transfer", alice, 404, CodeNotFound},
		{"GET an action", "GET", "/v1/tasks/" + task + "/accept", alice, 405, CodeMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.refused(tc.status, tc.code, tc.method, tc.path, tc.token, "")
		})
	}
	e.t = t

	var v TaskView
	e.ok(200, "POST", "/v1/tasks/"+task+"/accept?agent=alice", alice, "").decode(t, &v)
	if v.ID != task || v.State != routing.TaskActiveState || v.AcceptedAt.IsZero() {
		t.Fatalf("accepted %+v", v)
	}
	e.refused(409, routing.CodeInvalidTransition, "POST", "/v1/tasks/"+task+"/accept", alice, "")
	e.refused(409, routing.CodeInvalidTransition, "POST", "/v1/tasks/"+task+"/decline", alice, "")
	var conv routing.Conversation
	e.ok(200, "GET", "/v1/conversations/"+c.ID, alice, "").decode(t, &conv)
	if len(conv.Participants) != 1 || conv.Participants[0].Agent != "alice" {
		t.Fatalf("participants %+v", conv.Participants)
	}
	// Chat has no wrap-up: close ends the task and the conversation.
	e.ok(200, "POST", "/v1/tasks/"+task+"/close", alice, "").decode(t, &v)
	if v.ID != task || v.State != routing.TaskClosedState || v.CloseReason != routing.ReasonDone || v.Conversation != c.ID || v.Agent != "alice" {
		t.Fatalf("closed %+v", v)
	}
	// Closed, the conversation has no task of alice's any more: an admin
	// reads it (restapi/access.go).
	e.ok(200, "GET", "/v1/conversations/"+c.ID, adminToken, "").decode(t, &conv)
	if conv.State != "CLOSED" {
		t.Fatalf("conversation %+v", conv)
	}

	// Voice has a wrap-up; the admin acts for alice; then decline re-queues.
	var cv ConversationCreated
	e.ok(201, "POST", "/v1/conversations", adminToken, `{"queue":"support"}`).decode(t, &cv)
	e.ok(200, "GET", "/v1/tasks", alice, "").decode(t, &tasks)
	if len(tasks.Items) != 1 || tasks.Items[0].MRD != "voice" {
		t.Fatalf("voice tasks %+v", tasks)
	}
	vt := tasks.Items[0].ID
	e.ok(200, "POST", "/v1/tasks/"+vt+"/accept?agent=alice", adminToken, "")
	e.ok(200, "POST", "/v1/tasks/"+vt+"/close?agent=alice", adminToken, "").decode(t, &v)
	if v.State != routing.TaskWrapUpState || !v.Deadline.Equal(e.clock.Now().Add(30*time.Second)) {
		t.Fatalf("wrap-up %+v", v)
	}
	e.ok(200, "POST", "/v1/tasks/"+vt+"/close", alice, "").decode(t, &v)
	if v.State != routing.TaskClosedState || v.CloseReason != routing.ReasonDone {
		t.Fatalf("wrap-up end %+v", v)
	}
	var c3 ConversationCreated
	e.ok(201, "POST", "/v1/conversations", adminToken, `{"queue":"sales"}`).decode(t, &c3)
	e.ok(200, "GET", "/v1/tasks", alice, "").decode(t, &tasks)
	e.ok(200, "POST", "/v1/tasks/"+tasks.Items[0].ID+"/decline", alice, "").decode(t, &v)
	if v.State != routing.TaskClosedState || v.CloseReason != routing.ReasonDeclined {
		t.Fatalf("declined %+v", v)
	}
	var pos PositionBody
	e.ok(200, "GET", "/v1/requests/"+c3.RequestID+"/position", alice, "").decode(t, &pos)
	if pos.Position != 1 || pos.Waiting != 1 {
		t.Fatalf("position after decline %+v", pos)
	}
}

func TestInUseIs409(t *testing.T) {
	e := newEnv(t)
	e.ok(201, "POST", "/v1/conversations", adminToken, `{"queue":"sales"}`)
	e.refused(409, routing.CodeInUse, "PUT", "/v1/queues/sales", adminToken, `{"mrd":"voice"}`)
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	r := e.ok(200, "POST", "/agent-manager/agent/login", "", `{"username":"sam","password":"sam-pass","realm":"expertflow"}`)
	var lr LoginResponse
	r.decode(t, &lr)
	if lr.StatusCode != 200 || lr.Data == nil || lr.Data.Token == "" || lr.Data.RefreshToken == "" || lr.Data.RefreshToken == lr.Data.Token || lr.Data.AgentID != "sam" ||
		!reflect.DeepEqual(lr.Data.KeycloakUser, KeycloakUser{ID: "sam", Username: "sam", Name: "Sam", Roles: []string{"agent", "supervisor"}, Token: lr.Data.Token}) {
		t.Fatalf("login %s", r.body)
	}
	// The exact wire keys of the ExpertFlow shape.
	var raw map[string]map[string]any
	json.Unmarshal(r.body, &raw)
	for _, k := range []string{"token", "refresh_token", "agentId", "keycloak_User"} {
		if _, ok := raw["data"][k]; !ok {
			t.Fatalf("no data.%s in %s", k, r.body)
		}
	}
	// The token works on /v1.
	e.ok(200, "GET", "/v1/agents/sam/state", lr.Data.Token, "")

	for _, tc := range []struct {
		name, body, ct string
		status         int
		code           string
	}{
		{"wrong password", `{"username":"sam","password":"nope"}`, "application/json", 401, CodeUnauthorized},
		{"unknown user", `{"username":"zed","password":"zed-pass"}`, "application/json", 401, CodeUnauthorized},
		{"empty", `{}`, "application/json", 401, CodeUnauthorized},
		{"bad json", `{"username":`, "application/json", 400, CodeInvalidJSON},
		{"wrong type", `{"username":1}`, "application/json", 400, CodeInvalidJSON},
		{"content type", `{"username":"sam","password":"sam-pass"}`, "text/plain", 415, CodeUnsupportedMediaType},
		{"too large", `{"username":"` + strings.Repeat("u", MaxBodyBytes) + `"}`, "application/json", 413, CodeBodyTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			before := e.digest()
			r := e.do("POST", "/agent-manager/agent/login", "", tc.body, "Content-Type", tc.ct)
			var lr LoginResponse
			r.decode(t, &lr)
			if r.status != tc.status || lr.StatusCode != tc.status || lr.Error == nil || lr.Error.Code != tc.code || lr.Data != nil {
				t.Fatalf("got %d %s", r.status, r.body)
			}
			if e.digest() != before {
				t.Fatal("state changed")
			}
		})
	}
}

func TestExpiredAgentToken(t *testing.T) {
	e := newEnv(t)
	e.ok(200, "GET", "/v1/mrds", e.tokens["bob"], "")
	e.clock.Advance(time.Hour)
	e.refused(401, CodeUnauthorized, "GET", "/v1/mrds", e.tokens["bob"], "")
	e.refused(401, CodeUnauthorized, "PUT", "/v1/agents/bob/state", e.tokens["bob"], `{"state":"READY"}`)
}

func TestHealthReadyAndUnavailable(t *testing.T) {
	e := newEnv(t)
	e.ok(200, "GET", "/healthz", "", "")
	e.ok(200, "GET", "/readyz", "", "")
	e.node.Close()
	if r := e.do("GET", "/readyz", "", ""); r.status != 503 || r.errorCode() != CodeUnavailable {
		t.Fatalf("readyz after close: %d %s", r.status, r.body)
	}
	e.ok(200, "GET", "/healthz", "", "")
	for _, c := range []struct{ method, path, body string }{
		{"PUT", "/v1/mrds/x", `{}`},
		{"GET", "/v1/mrds", ``},
		{"POST", "/v1/conversations", `{"queue":"sales","mrd":"chat"}`},
		{"GET", "/v1/queues/sales/stats", ``},
	} {
		if r := e.do(c.method, c.path, adminToken, c.body); r.status != 503 || r.errorCode() != CodeUnavailable {
			t.Fatalf("%s %s after close: %d %s", c.method, c.path, r.status, r.body)
		}
	}
}

func TestJournalFailureIs503(t *testing.T) {
	e := newEnv(t)
	before := e.digest()
	e.j.Close()
	if r := e.do("PUT", "/v1/mrds/x", adminToken, `{}`); r.status != 503 || r.errorCode() != CodeUnavailable {
		t.Fatalf("journal failure: %d %s", r.status, r.body)
	}
	// The node stops serving rather than answer from a state ahead of the
	// journal; what was durable is what a restart recovers.
	if _, err := e.node.Digest(context.Background()); err == nil {
		t.Fatal("node still serving after a journal failure")
	}
	_ = before
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	e.ok(200, "PUT", "/v1/agents/alice/state", e.tokens["alice"], `{"state":"READY"}`)
	e.ok(201, "POST", "/v1/conversations", adminToken, `{"queue":"sales"}`)
	e.ok(201, "POST", "/v1/conversations", adminToken, `{"queue":"support"}`)
	e.clock.Advance(7 * time.Second)
	r := e.do("GET", "/metrics", "", "")
	if r.status != 200 {
		t.Fatalf("metrics %d %s", r.status, r.body)
	}
	body := string(r.body)
	for _, want := range []string{
		`omniroute_state_up 1`,
		`omniroute_queue_waiting_requests{queue="support"} 0`,
		`omniroute_queue_requests_offered_total{queue="sales"} 1`,
		`omniroute_queue_service_level_ratio{queue="sales"} 1`,
		`omniroute_queue_available_agents{queue="sales"}`,
		`omniroute_queue_longest_wait_seconds{queue="sales"} 0`,
		`omniroute_queue_requests_answered_total{queue="sales"} 0`,
		`omniroute_queue_requests_abandoned_total{queue="sales"} 0`,
		`omniroute_queue_requests_expired_total{queue="sales"} 0`,
		`omniroute_agents{state="READY"} 1`,
		`omniroute_agents{state="LOGOUT"} 2`,
		`omniroute_conversations_open 2`,
		`omniroute_node_commands_total`,
		`omniroute_node_commands_rejected_total 0`,
		`omniroute_node_journal_entries_total`,
		`omniroute_node_journal_append_seconds_total`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// Whatever the engine decided for the call, the gauges and the engine agree.
	var waiting, tasks int
	e.node.View(context.Background(), func(s routing.View) { _, waiting, _, tasks = s.Counts() })
	for _, want := range []string{fmt.Sprintf("omniroute_requests_waiting %d", waiting), fmt.Sprintf("omniroute_tasks_open %d", tasks)} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestMetricsSharedRegistry(t *testing.T) {
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	h := New(e.node, e.auth, Options{Registry: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	// A second handler on the same registry logs the duplicate and still serves.
	New(e.node, e.auth, Options{Registry: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "omniroute_agents" {
			found = true
		}
		if strings.HasPrefix(mf.GetName(), "go_") {
			t.Errorf("caller's registry got %s", mf.GetName())
		}
	}
	if !found || h == nil {
		t.Fatal("collector not registered")
	}
}

func TestOpenAPIListsEveryRoute(t *testing.T) {
	e := newEnv(t)
	r := e.ok(200, "GET", "/v1/openapi.json", "", "")
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	r.decode(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.0") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	routes := e.h.(*api).routes
	seen := map[string]bool{}
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		raw, ok := doc.Paths[path][strings.ToLower(method)]
		if !ok {
			t.Errorf("openapi.json lacks %s", rt.pattern)
			continue
		}
		var op map[string]any
		if err := json.Unmarshal(raw, &op); err != nil {
			t.Fatal(err)
		}
		seen[strings.ToLower(method)+" "+path] = true
		// Protected routes declare the bearer scheme; public ones none.
		sec, _ := op["security"].([]any)
		if (rt.access != public) != (len(sec) > 0) {
			t.Errorf("%s: security %v for access %d", rt.pattern, op["security"], rt.access)
		}
	}
	for path, ops := range doc.Paths {
		for m, raw := range ops {
			var op struct {
				ServedBy string `json:"x-served-by"`
			}
			_ = json.Unmarshal(raw, &op)
			if op.ServedBy != "" {
				continue // another package's route: server.TestOpenAPIListsServedRoutes checks it
			}
			if m != "parameters" && !seen[m+" "+path] {
				t.Errorf("openapi.json documents %s %s, which is not a route", m, path)
			}
		}
	}
	if !reflect.DeepEqual(OpenAPI(), r.body) {
		t.Error("OpenAPI() differs from the served document")
	}
}

func TestEWT(t *testing.T) {
	e := newEnv(t)
	ewt := func() float64 {
		var v float64
		now := e.clock.Now()
		e.node.View(context.Background(), func(s routing.View) {
			st, _ := s.QueueStats("sales", now)
			v = EWT(s, st, now)
		})
		return v
	}
	// Nobody waiting, nobody available: one request's worth of the default.
	if v := ewt(); v != DefaultHandleSeconds {
		t.Fatalf("empty queue: %v", v)
	}
	// Alice ready: nothing waits and an agent is available.
	e.ok(200, "PUT", "/v1/agents/alice/state", e.tokens["alice"], `{"state":"READY"}`)
	if v := ewt(); v != 0 {
		t.Fatalf("agent available: %v", v)
	}
	// Alice takes two chats (her capacity), accepts both; 60 s later one
	// more waits: H = 60 s, staffed = 1 (busy alice), waiting 1 -> 2 x 60.
	var tasks Items[routing.Task]
	for i := 0; i < 2; i++ {
		e.ok(201, "POST", "/v1/conversations", adminToken, `{"queue":"sales"}`)
	}
	e.ok(200, "GET", "/v1/tasks", e.tokens["alice"], "").decode(t, &tasks)
	for _, tk := range tasks.Items {
		e.ok(200, "POST", "/v1/tasks/"+tk.ID+"/accept", e.tokens["alice"], "")
	}
	e.ok(201, "POST", "/v1/conversations", adminToken, `{"queue":"sales"}`)
	e.clock.Advance(time.Minute)
	if v := ewt(); v != 120 {
		t.Fatalf("busy agent: %v", v)
	}
}

// TestDefaultIDs: without Options.NewID, a new conversation and its
// request get two random UUIDs version 4.
func TestDefaultIDs(t *testing.T) {
	e := newEnv(t)
	e.h = New(e.node, e.auth, Options{Now: e.clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var c ConversationCreated
	e.ok(201, "POST", "/v1/conversations", adminToken, `{"queue":"sales"}`).decode(t, &c)
	for _, id := range []string{c.ID, c.RequestID} {
		if len(id) != 36 || id[14] != '4' || !strings.ContainsAny(id[19:20], "89ab") {
			t.Fatalf("ids %q %q", c.ID, c.RequestID)
		}
	}
	if c.ID == c.RequestID {
		t.Fatalf("one id twice: %q", c.ID)
	}
}

func TestIssueAgentToken(t *testing.T) {
	e := newEnv(t)
	// An agent created over the API has no password login; an admin mints
	// a token for it, and that token acts as the agent and nobody else.
	e.ok(200, "PUT", "/v1/agents/rest-agent", adminToken, `{"id":"rest-agent","name":"REST agent"}`)
	r := e.ok(200, "POST", "/v1/agents/rest-agent/token", adminToken, "")
	var tr TokenResponse
	r.decode(t, &tr)
	if tr.AgentID != "rest-agent" || tr.Token == "" || !tr.ExpiresAt.After(e.clock.Now()) {
		t.Fatalf("token response %s", r.body)
	}
	e.ok(200, "PUT", "/v1/agents/rest-agent/state", tr.Token, `{"state":"READY"}`)
	e.refused(403, CodeForbidden, "PUT", "/v1/agents/alice/state", tr.Token, `{"state":"READY"}`)
	e.refused(404, routing.CodeAgentNotFound, "POST", "/v1/agents/nobody/token", adminToken, "")
	e.refused(403, CodeForbidden, "POST", "/v1/agents/alice/token", e.tokens["alice"], "")
	e.refused(401, CodeUnauthorized, "POST", "/v1/agents/alice/token", "", "")
}
