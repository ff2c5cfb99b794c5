package gms_test

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/routing"
)

// TestSeedSequence plays seed 003's whole request sequence, with the
// seed's boundaries and fields, against an in-process recording Pusher.
func TestSeedSequence(t *testing.T) {
	e := newEnv(t)
	// Start callback: nobody is ready, the callback waits.
	id := e.create(seedUser, "comet")
	if !regexp.MustCompile(`^1-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Fatalf("id %q", id)
	}
	if st, _ := e.state(id, seedUser); st != "QUEUED" {
		t.Fatalf("state %s", st)
	}
	// usr_* and _customer_number are conversation attributes; the device id is not.
	_ = e.node.View(t.Context(), func(s routing.View) {
		c, _ := s.Conversation(id)
		if c.Attributes["usr_customer_name"] != "Bob Markel" || c.Attributes["usr_reason"] != "billing question" ||
			c.Attributes["_customer_number"] != "4082652649" || c.Attributes["gms_service"] != "chat-delay" ||
			c.Attributes["_device_notification_id"] != "" || c.Queue != "chat-support" {
			t.Errorf("conversation %+v", c)
		}
	})

	// check-queue-position: first in line, no statistics yet: eta n/a.
	r := e.post("/genesys/1/service/"+id+"/check-queue-position", seedUser)
	want := map[string]any{"_position": 1.0, "_eta": "n/a", "_total_waiting": 1.0,
		"_agent_ready_threshold_passed": true, "_agent_ready_threshold_passed_reason": "eta n/a"}
	if got := r.json(t); r.status != 200 || !reflect.DeepEqual(got, want) {
		t.Fatalf("position %d %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
		t.Errorf("content type %q", ct)
	}

	// ixn/chat before the agent-available notification: 503.
	const chatBD = "----WebKitFormBoundaryteXJ8ZpAGGDTAMFN"
	chatBody := multipart(chatBD, "notify_by", "comet", "firstName", "John", "lastName", "Harry", "_verbose", "false",
		"subject", "testing", "email", "j.h@gmail.com")
	before := e.digest()
	r = e.do("POST", "/genesys/1/service/"+id+"/ixn/chat", "multipart/form-data; boundary="+chatBD, chatBody, "gms_user", seedUser)
	if r.status != 503 || r.json(t)["exception"] == nil || e.digest() != before {
		t.Fatalf("early chat %d %s", r.status, r.body)
	}

	// An agent becomes available: the engine holds alice, the device is notified.
	e.ready("alice")
	waitFor(t, "agent-available push", func() bool { return len(e.push.all()) == 1 })
	p := e.push.all()[0]
	if p.os != "comet" || p.id != seedUser || len(p.n.ID) != 32 || p.n.Tag != "service.agentavailable."+id ||
		!reflect.DeepEqual(p.n.Message, map[string]any{"_action": "get-dialog-user-confirmation-provide_code-false", "_id": id}) {
		t.Fatalf("push %+v", p)
	}
	b, _ := json.Marshal(p.n)
	if !strings.HasPrefix(string(b), `{"id":"`) || !strings.Contains(string(b), `"tag":"service.agentavailable.`) {
		t.Fatalf("notification JSON %s", b)
	}
	if st, _ := e.state(id, seedUser); st != "ROUTING" {
		t.Fatalf("state %s", st)
	}
	r = e.post("/genesys/1/service/"+id+"/check-queue-position", seedUser)
	if m := r.json(t); m["_position"] != 0.0 || m["_agent_ready_threshold_passed"] != true {
		t.Fatalf("held position %s", r.body)
	}

	// Connect (user confirmation): the StartChat dialog.
	r = e.do("POST", "/genesys/1/service/"+id+"/connect", "multipart/form-data; boundary=----WebKitFormBoundaryNY84ld7wm7oHB9fp",
		"------WebKitFormBoundaryNY84ld7wm7oHB9fp--", "gms_user", seedUser)
	wantDialog := map[string]any{"_dialog_id": "1", "_action": "StartChat", "_label": "Start Chat",
		"_start_chat_url": e.hs.URL + "/genesys/1/service/" + id + "/ixn/chat", "_comet_url": e.hs.URL + "/genesys/cometd",
		"_user_header": seedUser, "_id_to_jump_before": "exit://", "_chat_parameters": map[string]any{"subject": "None"}, "_id": id}
	if got := r.json(t); r.status != 200 || !reflect.DeepEqual(got, wantDialog) {
		t.Fatalf("connect %d %s", r.status, r.body)
	}

	// Initiate chat: the hold is confirmed, alice is offered the chat.
	r = e.do("POST", "/genesys/1/service/"+id+"/ixn/chat", "multipart/form-data; boundary="+chatBD, chatBody, "gms_user", seedUser)
	if got := r.json(t); r.status != 200 || !reflect.DeepEqual(got, map[string]any{"_id": id, "comet_channel": "/_genesys"}) {
		t.Fatalf("chat %d %s", r.status, r.body)
	}
	_ = e.node.View(t.Context(), func(s routing.View) {
		tasks, _ := s.Tasks("alice")
		if len(tasks) != 1 || tasks[0].Conversation != id || tasks[0].State != routing.TaskReservedState {
			t.Errorf("alice tasks %+v", tasks)
		}
	})
	if st, _ := e.state(id, seedUser); st != "PROCESSING" {
		t.Fatalf("state %s", st)
	}

	// internal-notification (agent -> mobile): pushed, so retrieve gives [].
	const inBD = "----WebKitFormBoundary8rbhQqxP5LoJ61i1"
	r = e.do("POST", "/genesys/1/service/"+id+"/internal-notification", "multipart/form-data; boundary="+inBD,
		multipart(inBD, "_display_message", "Message to be displayed to user", "_application_message", "MESSAGE_FOR_MOBILE_APP_INTERNAL_USE"),
		"Authorization", "Bearer agent:alice")
	if got := r.json(t); r.status != 200 || !reflect.DeepEqual(got, map[string]any{"message": "Notification Sent"}) {
		t.Fatalf("internal-notification %d %s", r.status, r.body)
	}
	waitFor(t, "message push", func() bool { return len(e.push.all()) == 2 })
	if m := e.push.all()[1].n.Message; !reflect.DeepEqual(m, map[string]any{"_internal_message": "MESSAGE_FOR_MOBILE_APP_INTERNAL_USE",
		"_id": id, "_display_message": "Message to be displayed to user"}) {
		t.Fatalf("message push %v", m)
	}
	r = e.post("/genesys/1/service/"+id+"/retrieve-notifications", seedUser)
	if r.status != 200 || strings.TrimSpace(string(r.body)) != "[]" {
		t.Fatalf("retrieve-notifications %d %s", r.status, r.body)
	}

	// agent-notification (mobile -> agent) and retrieve-agent-notifications.
	const anBD = "----WebKitFormBoundaryyN11ULST36Tmhzro"
	r = e.do("POST", "/genesys/1/service/"+id+"/agent-notification", "multipart/form-data; boundary="+anBD,
		multipart(anBD, "_display_message", "Message to be displayed to agent", "_application_message", "MESSAGE_FOR_AGENT_DESKTOP_INTERNAL_USE"),
		"gms_user", seedUser)
	if r.status != 200 || r.json(t)["message"] != "Notification Sent" {
		t.Fatalf("agent-notification %d %s", r.status, r.body)
	}
	// The note also reaches the agent desk of the conversation at once.
	select {
	case n := <-e.deskNotes:
		if n.conversation != id || !reflect.DeepEqual(n.data, map[string]string{"_id": id, "tag": "agent.message." + id,
			"_internal_message": "MESSAGE_FOR_AGENT_DESKTOP_INTERNAL_USE", "_display_message": "Message to be displayed to agent"}) {
			t.Fatalf("desk note %+v", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("agent-notification did not reach the agent desk")
	}
	r = e.do("POST", "/genesys/1/service/"+id+"/retrieve-agent-notifications", "", "", "Authorization", "Bearer agent:alice")
	var notes []map[string]string
	if err := json.Unmarshal(r.body, &notes); err != nil || len(notes) != 1 || notes[0]["tag"] != "agent.message."+id {
		t.Fatalf("retrieve-agent-notifications %d %s", r.status, r.body)
	}
	var inner map[string]string
	if err := json.Unmarshal([]byte(notes[0]["message"]), &inner); err != nil || !reflect.DeepEqual(inner, map[string]string{
		"_id": id, "_internal_message": "MESSAGE_FOR_AGENT_DESKTOP_INTERNAL_USE", "_display_message": "Message to be displayed to agent"}) {
		t.Fatalf("agent message %q", notes[0]["message"])
	}
	r = e.do("POST", "/genesys/1/service/"+id+"/retrieve-agent-notifications", "", "", "Authorization", "Bearer agent:alice")
	if strings.TrimSpace(string(r.body)) != "[]" {
		t.Fatalf("second retrieve %s", r.body)
	}

	// Another device sees nothing of it.
	for _, op := range []string{"connect", "check-queue-position", "ixn/chat", "internal-notification", "retrieve-notifications",
		"agent-notification", "retrieve-agent-notifications"} {
		want, exc := 404, "CallbackNotFoundException"
		if op == "internal-notification" || op == "retrieve-agent-notifications" {
			want, exc = 401, "UnauthorizedException" // agent-side: no gms_user is a credential
		}
		if r := e.post("/genesys/1/service/"+id+"/"+op, "someone-else"); r.status != want || r.json(t)["exception"] != exc {
			t.Errorf("%s by another device: %d %s", op, r.status, r.body)
		}
	}
	if r := e.do("GET", "/genesys/1/service/callback/chat-delay/"+id, "", "", "gms_user", "someone-else"); r.status != 404 {
		t.Errorf("GET by another device: %d", r.status)
	}
	// The agent desktop may post internal notifications with its own credential.
	r = e.do("POST", "/genesys/1/service/"+id+"/internal-notification", "application/x-www-form-urlencoded",
		"_display_message=hi", "Authorization", "Bearer agent:alice")
	if r.status != 200 {
		t.Fatalf("agent-side internal-notification %d %s", r.status, r.body)
	}

	// The agent accepts and later closes: COMPLETED SUCCESS.
	var task string
	_ = e.node.View(t.Context(), func(s routing.View) { ts, _ := s.Tasks("alice"); task = ts[0].ID })
	e.submit(routing.AcceptTask{Task: task, Agent: "alice"})
	e.clock.Advance(90 * time.Second)
	e.submit(routing.CloseTask{Task: task, Agent: "alice"})
	waitFor(t, "completed", func() bool { st, _ := e.state(id, seedUser); return st == "COMPLETED" })
	if _, reason := e.state(id, seedUser); reason != "SUCCESS" {
		t.Fatalf("reason %s", reason)
	}
}

// A device whose OS has no pusher gets everything through
// retrieve-notifications, in the seed's "push not configured" shape.
func TestRetrieveWithoutPush(t *testing.T) {
	e := newEnv(t)
	id := e.create("dev-2", "customhttp")
	e.ready("alice")
	waitFor(t, "held", func() bool { st, _ := e.state(id, "dev-2"); return st == "ROUTING" })
	r := e.do("POST", "/genesys/1/service/"+id+"/internal-notification", "application/json",
		`{"_display_message":"Message to be displayed to user","_application_message":"MESSAGE_FOR_MOBILE_APP_INTERNAL_USE"}`,
		"Authorization", "Bearer agent:alice")
	if r.status != 200 {
		t.Fatalf("internal-notification %d %s", r.status, r.body)
	}
	r = e.post("/genesys/1/service/"+id+"/retrieve-notifications", "dev-2")
	var got []map[string]any
	_ = json.Unmarshal(r.body, &got)
	want := []map[string]any{
		{"_action": "get-dialog-user-confirmation-provide_code-false", "_id": id},
		{"_internal_message": "MESSAGE_FOR_MOBILE_APP_INTERNAL_USE", "_id": id, "_display_message": "Message to be displayed to user"},
	}
	if !reflect.DeepEqual(got, want) || len(e.push.all()) != 0 {
		t.Fatalf("retrieve %s", r.body)
	}
}

// The hold expires without confirmation: COMPLETED FAIL_USER_NOT_CONFIRMED,
// alice is free again.
func TestUnconfirmed(t *testing.T) {
	e := newEnv(t)
	id := e.create(seedUser, "comet")
	e.ready("alice")
	waitFor(t, "held", func() bool { st, _ := e.state(id, seedUser); return st == "ROUTING" })
	e.clock.Advance(61 * time.Second)
	e.submit(routing.Tick{})
	waitFor(t, "completed", func() bool { st, _ := e.state(id, seedUser); return st == "COMPLETED" })
	if _, reason := e.state(id, seedUser); reason != "FAIL_USER_NOT_CONFIRMED" {
		t.Fatalf("reason %q", reason)
	}
	if r := e.post("/genesys/1/service/"+id+"/ixn/chat", seedUser); r.status != 409 {
		t.Fatalf("chat after expiry %d %s", r.status, r.body)
	}
}

// DELETE cancels; the engine closes the conversation.
func TestCancel(t *testing.T) {
	e := newEnv(t)
	id := e.create(seedUser, "comet")
	r := e.do("DELETE", "/genesys/1/service/callback/chat-delay/"+id, "", "", "gms_user", seedUser)
	if m := r.json(t); r.status != 200 || m["_callback_state"] != "COMPLETED" || m["_callback_reason"] != "CANCELLED" {
		t.Fatalf("delete %d %s", r.status, r.body)
	}
	_ = e.node.View(t.Context(), func(s routing.View) {
		if c, _ := s.Conversation(id); c.State != "CLOSED" {
			t.Errorf("conversation %s", c.State)
		}
	})
	if r := e.do("DELETE", "/genesys/1/service/callback/chat-delay/"+id, "", "", "gms_user", seedUser); r.status != 409 {
		t.Fatalf("second delete %d", r.status)
	}
}

// With service statistics known, _eta is whole seconds (seed's "Response
// Body 2") and the threshold reason names the limits.
func TestETA(t *testing.T) {
	e := newEnv(t)
	e.ready("bob")
	// Teach the queue a service time: one chat handled by bob for 20 s.
	e.submit(routing.CreateConversation{ID: "warm", RequestID: "warm", Queue: "chat-support"})
	var task string
	_ = e.node.View(t.Context(), func(s routing.View) { ts, _ := s.Tasks("bob"); task = ts[0].ID })
	e.submit(routing.AcceptTask{Task: task, Agent: "bob"})
	e.clock.Advance(20 * time.Second)
	e.submit(routing.CloseTask{Task: task, Agent: "bob"})
	e.submit(routing.SetAgentState{Agent: "bob", State: routing.AgentNotReady})
	id1 := e.create("d1", "comet")
	id2 := e.create("d2", "comet")
	waitFor(t, "stats", func() bool {
		r := e.post("/genesys/1/service/"+id2+"/check-queue-position", "d2")
		_, isNum := r.json(t)["_eta"].(float64)
		return isNum
	})
	r := e.post("/genesys/1/service/"+id2+"/check-queue-position", "d2")
	m := r.json(t)
	if m["_position"] != 2.0 || m["_total_waiting"] != 2.0 || m["_eta"].(float64) <= 0 {
		t.Fatalf("position %s", r.body)
	}
	if m["_agent_ready_threshold_passed"] == true && m["_agent_ready_threshold_passed_reason"] != "eta <= 35 and position <= 5" {
		t.Fatalf("reason %s", r.body)
	}
	_ = id1
}
