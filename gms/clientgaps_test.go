package gms_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/omniroute/omniroute/gms"
	"github.com/omniroute/omniroute/routing"
)

// TestAgentSideAuthorization: internal-notification and
// retrieve-agent-notifications answer only an admin, the agent the
// callback's conversation is assigned to (held, offered or active) and a
// supervisor of that agent's team; never the device's gms_user nor another
// agent (issue 9 item 9).
func TestAgentSideAuthorization(t *testing.T) {
	e := newEnv(t)
	e.submit(routing.UpsertAgent{Agent: routing.Agent{ID: "alice", Name: "Alice", Teams: []string{"t1"},
		Skills: map[string]int{"support": 50, "English": 30}}})
	e.submit(routing.UpsertAgent{Agent: routing.Agent{ID: "sue", Name: "Sue", Role: routing.RoleSupervisor, Teams: []string{"t1"}}})
	e.submit(routing.UpsertAgent{Agent: routing.Agent{ID: "tom", Name: "Tom", Role: routing.RoleSupervisor, Teams: []string{"t2"}}})
	id := e.create(seedUser, "comet")
	e.ready("alice")
	waitFor(t, "held", func() bool { st, _ := e.state(id, seedUser); return st == "ROUTING" })

	send := func(op string, hdr ...string) int {
		t.Helper()
		body := "_display_message=hello"
		return e.do("POST", "/genesys/1/service/"+id+"/"+op, "application/x-www-form-urlencoded", body, hdr...).status
	}
	for _, op := range []string{"internal-notification", "retrieve-agent-notifications"} {
		for _, tc := range []struct {
			who  string
			hdr  []string
			want int
		}{
			{"the device's own gms_user", []string{"gms_user", seedUser}, 401},
			{"nobody", nil, 401},
			{"another agent", []string{"Authorization", "Bearer agent:bob"}, 404},
			{"a supervisor of another team", []string{"Authorization", "Bearer agent:tom"}, 404},
			{"the assigned agent", []string{"Authorization", "Bearer agent:alice"}, 200},
			{"a supervisor of the agent's team", []string{"Authorization", "Bearer agent:sue"}, 200},
			{"an admin", []string{"Authorization", "Bearer " + adminToken}, 200},
		} {
			before := len(e.push.all())
			if got := send(op, tc.hdr...); got != tc.want {
				t.Errorf("%s by %s: %d, want %d", op, tc.who, got, tc.want)
			}
			if tc.want != 200 && op == "internal-notification" && len(e.push.all()) != before {
				t.Errorf("%s by %s pushed a message", op, tc.who)
			}
		}
	}
	// Unknown callback: 404 even for an admin.
	if r := e.do("POST", "/genesys/1/service/1-nope/internal-notification", "application/x-www-form-urlencoded",
		"_display_message=x", "Authorization", "Bearer "+adminToken); r.status != 404 {
		t.Errorf("unknown callback %d", r.status)
	}
}

// lockedBuffer is a log sink safe for the server's goroutines.
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

// TestMalformedCreateRefused: a body that declares multipart but is not
// (no boundary line, a truncated part), and a create without
// _customer_number, are refused with 400 and queue nothing (issue 9 item 7).
func TestMalformedCreateRefused(t *testing.T) {
	e := newEnv(t)
	const bd = "----WebKitFormBoundary0WnE36LruxJ4S5nu"
	mp := "multipart/form-data; boundary=" + bd
	for _, tc := range []struct{ name, ct, body string }{
		{"not multipart at all", mp, "_customer_number=4082652649"},
		{"JSON under a multipart type", mp, `{"_customer_number":"4082652649"}`},
		{"no closing boundary", mp, "--" + bd + "\r\nContent-Disposition: form-data; name=\"_customer_number\"\r\n\r\n4082652649"},
		{"boundary of another body", mp, multipart("other", "_customer_number", "4082652649")},
		{"empty multipart form", mp, "--" + bd + "--\r\n"},
		{"no body", "", ""},
		{"no _customer_number", mp, multipart(bd, "usr_customer_name", "Bob")},
		{"blank _customer_number", "application/x-www-form-urlencoded", "_customer_number=%20%20"},
		{"long _customer_number", "application/x-www-form-urlencoded", "_customer_number=" + strings.Repeat("4", gms.MaxCustomerNumberBytes+1)},
		{"scheduled", "application/x-www-form-urlencoded", "_customer_number=1&_desired_time=2099-01-01T00:00:00.000Z"},
		{"bad desired time", "application/x-www-form-urlencoded", "_customer_number=1&_desired_time=tomorrow"},
	} {
		before := e.digest()
		r := e.do("POST", "/genesys/1/service/callback/chat-delay", tc.ct, tc.body, "gms_user", seedUser)
		if r.status != 400 || r.json(t)["exception"] != "BadRequestException" {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
		if e.digest() != before {
			t.Errorf("%s: a refused create changed the engine", tc.name)
		}
	}
	// The decoder itself: a body that is not multipart is an error, not an
	// empty form (every endpoint decodes its body with it).
	for _, body := range []string{"_customer_number=4082652649", "hello", "--" + bd + "\r\nbroken"} {
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("Content-Type", mp)
		if f, err := gms.DecodeForm(req); err == nil {
			t.Errorf("DecodeForm(%q) = %v, want an error", body, f)
		}
	}
	// The seed's own body is accepted, in each encoding.
	for _, tc := range []struct{ ct, body string }{
		{mp, multipart(bd, "_customer_number", "4082652649")},
		{"application/x-www-form-urlencoded", "_customer_number=4082652649"},
		{"application/json", `{"_customer_number":4082652649}`},
	} {
		if r := e.do("POST", "/genesys/1/service/callback/chat-delay", tc.ct, tc.body, "gms_user", seedUser); r.status != 200 {
			t.Errorf("%s: %d %s", tc.ct, r.status, r.body)
		}
	}
}

// TestChatFieldsReachTheConversation: the Create Chat Interaction fields
// (seed 003: firstName, lastName, email, subject) become the
// conversation's customer and attributes before the chat is offered
// (issue 9 item 8).
func TestChatFieldsReachTheConversation(t *testing.T) {
	e := newEnv(t)
	id := e.create(seedUser, "comet")
	e.ready("alice")
	waitFor(t, "held", func() bool { st, _ := e.state(id, seedUser); return st == "ROUTING" })
	const bd = "----WebKitFormBoundaryteXJ8ZpAGGDTAMFN"
	body := multipart(bd, "notify_by", "comet", "firstName", "John", "lastName", "Harry", "_verbose", "false",
		"subject", "testing", "email", "j.h@gmail.com")
	if r := e.do("POST", "/genesys/1/service/"+id+"/ixn/chat", "multipart/form-data; boundary="+bd, body, "gms_user", seedUser); r.status != 200 {
		t.Fatalf("ixn/chat %d %s", r.status, r.body)
	}
	var cv routing.Conversation
	var offered bool
	_ = e.node.View(t.Context(), func(s routing.View) {
		cv, _ = s.Conversation(id)
		tasks, _ := s.Tasks("alice")
		offered = len(tasks) == 1 && tasks[0].State == routing.TaskReservedState
	})
	if !offered {
		t.Fatal("the chat was not offered")
	}
	var customer map[string]string
	if err := json.Unmarshal(cv.Customer, &customer); err != nil {
		t.Fatalf("customer %s: %v", cv.Customer, err)
	}
	want := map[string]string{"firstName": "John", "lastName": "Harry", "email": "j.h@gmail.com", "phoneNumber": "4082652649"}
	for k, v := range want {
		if customer[k] != v {
			t.Errorf("customer[%s] = %q, want %q (customer %s)", k, customer[k], v, cv.Customer)
		}
	}
	for k, v := range map[string]string{"subject": "testing", "firstName": "John", "email": "j.h@gmail.com", "notify_by": "comet",
		"usr_customer_name": "Bob Markel"} {
		if cv.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q (%v)", k, cv.Attributes[k], v, cv.Attributes)
		}
	}
}

// TestCallbackRecordsAndQueries: records carry _desired_time and
// _expiration_time; GET .../callback/{service}?_customer_number= lists a
// device's callbacks with that number; GET /genesys/1/admin/callback/queues
// lists every service's waiting callbacks for an admin (issue 9 item 10).
func TestCallbackRecordsAndQueries(t *testing.T) {
	spec := chatDelay()
	spec.TTLSeconds = 600
	e := newEnv(t, spec)
	id := e.create(seedUser, "comet")
	other := e.create("dev-2", "comet")
	r := e.do("GET", "/genesys/1/service/callback/chat-delay/"+id, "", "", "gms_user", seedUser)
	m := r.json(t)
	if m["_desired_time"] != "2025-03-01T09:00:00.000Z" || m["_expiration_time"] != "2025-03-01T09:10:00.000Z" ||
		m["_customer_number"] != "4082652649" || m["_service_name"] != "chat-delay" || m["_callback_state"] != "QUEUED" {
		t.Fatalf("record %s", r.body)
	}
	r = e.do("GET", "/genesys/1/service/callback/chat-delay?_customer_number=4082652649", "", "", "gms_user", seedUser)
	var list []map[string]any
	if r.status != 200 || json.Unmarshal(r.body, &list) != nil || len(list) != 1 || list[0]["_id"] != id {
		t.Fatalf("query by number (own device): %d %s", r.status, r.body)
	}
	r = e.do("GET", "/genesys/1/service/callback/chat-delay?_customer_number=4082652649", "", "", "Authorization", "Bearer "+adminToken)
	if json.Unmarshal(r.body, &list) != nil || len(list) != 2 {
		t.Fatalf("query by number (admin): %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/genesys/1/service/callback/chat-delay?_customer_number=1", "", "", "gms_user", seedUser); string(r.body) != "[]\n" {
		t.Fatalf("unknown number %s", r.body)
	}
	if r := e.do("GET", "/genesys/1/service/callback/chat-delay", "", "", "gms_user", seedUser); r.status != 400 {
		t.Fatalf("no number %d", r.status)
	}
	if r := e.do("GET", "/genesys/1/admin/callback/queues", "", "", "gms_user", seedUser); r.status != 401 {
		t.Fatalf("queues without admin %d", r.status)
	}
	r = e.do("GET", "/genesys/1/admin/callback/queues", "", "", "Authorization", "Bearer "+adminToken)
	var queues map[string][]map[string]any
	if r.status != 200 || json.Unmarshal(r.body, &queues) != nil || len(queues["chat-delay"]) != 2 {
		t.Fatalf("queues %d %s", r.status, r.body)
	}
	for _, c := range queues["chat-delay"] {
		if c["_id"] != id && c["_id"] != other || c["_expiration_time"] == "" || c["_desired_time"] == "" {
			t.Fatalf("queues entry %v", c)
		}
	}
}

// TestDeviceSecretNotLogged: the gms_user (a comet device's id too) never
// appears in the log, even when a push to it fails (issue 9 item 10).
func TestDeviceSecretNotLogged(t *testing.T) {
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t)
	comet := gms.NewCometPusher(gms.CometOptions{Logger: logger})
	t.Cleanup(comet.Close)
	g, err := gms.New(e.node, gms.Options{Services: e.specs, Logger: logger, Now: e.clock.Now,
		Pushers: map[string]gms.Pusher{"comet": comet}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	e.hs.Config.Handler = g.Handler()
	id := e.create(seedUser, "comet")
	e.ready("alice")
	// Nobody is subscribed for seedUser: the push fails and is logged.
	waitFor(t, "push failure logged", func() bool { return strings.Contains(logs.String(), "push failed") })
	if strings.Contains(logs.String(), seedUser) || strings.Contains(logs.String(), seedUser[:16]) {
		t.Fatalf("the gms_user is in the log:\n%s", logs.String())
	}
	if st, _ := e.state(id, seedUser); st != "ROUTING" {
		t.Fatalf("state %s", st)
	}
}
