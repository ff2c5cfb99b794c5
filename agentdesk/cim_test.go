package agentdesk_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroute/omniroute/agentdesk"
	"github.com/omniroute/omniroute/agentdesk/deskclient"
	"github.com/omniroute/omniroute/clock/clocktest"
	"github.com/omniroute/omniroute/conversation"
	"github.com/omniroute/omniroute/routing"
)

// cimOn is an onCimEvent decoded for checks.
type cimOn struct {
	ConversationID string `json:"conversationId"`
	Seq            uint64 `json:"seq"`
	CimEvent       struct {
		ID           string                    `json:"id"`
		Name         string                    `json:"name"`
		Type         string                    `json:"type"`
		EventEmitter conversation.EventEmitter `json:"eventEmitter"`
		Data         struct {
			ID     string         `json:"id"`
			Header map[string]any `json:"header"`
			Body   map[string]any `json:"body"`
			// system events
			AgentID string `json:"agentId"`
			State   string `json:"state"`
		} `json:"data"`
	} `json:"cimEvent"`
}

func named(name string) func(cimOn) bool {
	return func(c cimOn) bool { return c.CimEvent.Name == name }
}

// activeChat connects agent, makes it READY, offers conversation conv on
// queue chat and accepts it; it returns the socket, recorder and task.
func (e *env) activeChat(agent, conv string) (*deskclient.Conn, *recorder, string) {
	e.t.Helper()
	c, r := e.connect(agent)
	if a := setState(e.t, c, agent, "READY", nil); !a.OK {
		e.t.Fatalf("READY: %+v", a)
	}
	e.createConversation(conv, "chat")
	tr := next(e.t, r, agentdesk.EventTaskRequest, func(t agentdesk.TaskRequest) bool { return t.ConversationID == conv })
	if a := ack(e.t, c, agentdesk.EventTopicSubscription, map[string]any{"conversationId": conv, "taskId": tr.TaskID}); !a.OK {
		e.t.Fatalf("topicSubscription: %+v", a)
	}
	next[agentdesk.OnTopicData](e.t, r, agentdesk.EventOnTopicData, nil)
	return c, r, tr.TaskID
}

func agentMsg(conv string, body map[string]any) map[string]any {
	return map[string]any{"conversationId": conv, "cimEvent": map[string]any{
		"name": "AGENT_MESSAGE", "type": "MESSAGE",
		"data": map[string]any{"header": map[string]any{"sender": map[string]any{"id": "spoofed", "type": "CUSTOMER"}}, "body": body}}}
}

// bodies is one valid body per checked body type.
var bodies = []map[string]any{
	{"type": "PLAIN", "markdownText": "hello"},
	{"type": "URL", "mediaUrl": "https://example.com/x"},
	{"type": "FILE", "caption": "invoice", "attachment": map[string]any{"mediaUrl": "https://example.com/f.pdf", "mimeType": "application/pdf", "size": 1200}},
	{"type": "IMAGE", "attachment": map[string]any{"mediaUrl": "https://example.com/i.png"}},
	{"type": "LOCATION", "location": map[string]any{"latitude": 52.5, "longitude": 13.4}},
	{"type": "BUTTON", "buttonMessageType": "QUICK", "buttons": []any{map[string]any{"type": "postback", "title": "Yes", "payload": "y"}}},
	{"type": "CONTACT", "contacts": []any{}},
}

// customerStream collects what CustomerEvents sends.
type customerStream struct {
	mu     sync.Mutex
	events []cimOn
	ch     chan struct{}
}

func (e *env) customer(conv string, after uint64) *customerStream {
	cs := &customerStream{ch: make(chan struct{}, 1024)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	e.t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		_ = e.conv.CustomerEvents(ctx, conv, after, func(seq uint64, ev json.RawMessage) error {
			var c cimOn
			_ = json.Unmarshal(ev, &c.CimEvent)
			c.Seq, c.ConversationID = seq, conv
			cs.mu.Lock()
			cs.events = append(cs.events, c)
			cs.mu.Unlock()
			cs.ch <- struct{}{}
			return nil
		})
	}()
	return cs
}

// wait returns the first event named name, failing after waitTimeout.
func (cs *customerStream) wait(t testing.TB, name string) cimOn {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		cs.mu.Lock()
		for _, c := range cs.events {
			if c.CimEvent.Name == name {
				cs.mu.Unlock()
				return c
			}
		}
		cs.mu.Unlock()
		select {
		case <-cs.ch:
		case <-deadline:
			t.Fatalf("customer stream: no %s", name)
		}
	}
}

func (cs *customerStream) names() []string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	var out []string
	for _, c := range cs.events {
		out = append(out, c.CimEvent.Name)
	}
	return out
}

func TestCIMMessagesBothWays(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	c, r, _ := e.activeChat("a1", "cv1")
	cust := e.customer("cv1", 0)

	// Agent -> everyone, every body type; the sender is the connection's.
	for _, b := range bodies {
		if a := ack(t, c, agentdesk.EventPublishCimEvent, agentMsg("cv1", b)); !a.OK {
			t.Fatalf("%v: %+v", b["type"], a)
		}
		got := next(t, r, agentdesk.EventOnCimEvent, named("AGENT_MESSAGE"))
		if got.CimEvent.Data.Body["type"] != b["type"] || got.CimEvent.Data.Header["sender"].(map[string]any)["id"] != "a1" ||
			got.CimEvent.EventEmitter.Type != "AGENT" || got.CimEvent.Data.ID == "" || got.Seq == 0 {
			t.Fatalf("onCimEvent %+v", got)
		}
		cust.wait(t, "AGENT_MESSAGE")
	}
	// Customer -> agent.
	ctx := context.Background()
	seq, raw, err := e.conv.CustomerMessage(ctx, "cv1", []byte(`{"body":{"type":"PLAIN","markdownText":"hi from Ada"}}`))
	if err != nil || seq == 0 {
		t.Fatal(seq, err)
	}
	got := next(t, r, agentdesk.EventOnCimEvent, named("CUSTOMER_MESSAGE"))
	if got.CimEvent.Data.Body["markdownText"] != "hi from Ada" || got.CimEvent.Data.Header["sender"].(map[string]any)["senderName"] != "Ada" {
		t.Fatalf("customer message %+v", got)
	}
	var stored struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(raw, &stored)

	// Reply by id: data.id of an earlier message -> new id, originalMessageId set.
	reply := agentMsg("cv1", map[string]any{"type": "PLAIN", "markdownText": "re"})
	reply["cimEvent"].(map[string]any)["data"].(map[string]any)["id"] = stored.Data.ID
	if a := ack(t, c, agentdesk.EventPublishCimEvent, reply); !a.OK {
		t.Fatalf("reply: %+v", a)
	}
	rp := next(t, r, agentdesk.EventOnCimEvent, func(c cimOn) bool { return c.CimEvent.Data.Body["markdownText"] == "re" })
	if rp.CimEvent.Data.Header["originalMessageId"] != stored.Data.ID || rp.CimEvent.Data.ID == stored.Data.ID {
		t.Fatalf("reply %+v", rp)
	}
	// Customer reply with an explicit originalMessageId.
	if _, _, err := e.conv.CustomerMessage(ctx, "cv1", []byte(`{"header":{"originalMessageId":"`+rp.CimEvent.Data.ID+`"},"body":{"type":"PLAIN","markdownText":"ok"}}`)); err != nil {
		t.Fatal(err)
	}
	next(t, r, agentdesk.EventOnCimEvent, func(c cimOn) bool { return c.CimEvent.Data.Header["originalMessageId"] == rp.CimEvent.Data.ID })

	// Whisper: agents yes, customer never.
	w := map[string]any{"conversationId": "cv1", "cimEvent": map[string]any{"name": "WHISPER_MESSAGE",
		"data": map[string]any{"body": map[string]any{"type": "PLAIN", "markdownText": "psst"}}}}
	if a := ack(t, c, agentdesk.EventPublishCimEvent, w); !a.OK {
		t.Fatalf("whisper: %+v", a)
	}
	next(t, r, agentdesk.EventOnCimEvent, named("WHISPER_MESSAGE"))
	if _, _, err := e.conv.CustomerMessage(ctx, "cv1", []byte(`{"body":{"type":"PLAIN","markdownText":"after"}}`)); err != nil {
		t.Fatal(err)
	}
	cust.wait(t, "CUSTOMER_MESSAGE")
	next(t, r, agentdesk.EventOnCimEvent, func(c cimOn) bool { return c.CimEvent.Data.Body["markdownText"] == "after" })
	for _, n := range cust.names() {
		if n == "WHISPER_MESSAGE" {
			t.Fatal("the customer saw a whisper")
		}
	}
	// A typing indicator (ACTIVITY) needs no body.
	if a := ack(t, c, agentdesk.EventPublishCimEvent, map[string]any{"conversationId": "cv1", "cimEvent": map[string]any{"name": "TYPING_INDICATOR"}}); !a.OK {
		t.Fatalf("typing: %+v", a)
	}

	// Reconnect: onTopicData carries the whole transcript.
	_ = c.Close()
	c2, r2 := e.connect("a1")
	tasks := []routing.Task{}
	e.view(func(st routing.View) { tasks, _ = st.Tasks("a1") })
	if a := ack(t, c2, agentdesk.EventTopicSubscription, map[string]any{"conversationId": "cv1", "taskId": tasks[0].ID}); !a.OK {
		t.Fatal(a)
	}
	td := next[agentdesk.OnTopicData](t, r2, agentdesk.EventOnTopicData, nil)
	var names []string
	for _, raw := range td.TopicData.TopicEvents {
		var ev struct{ Name string }
		_ = json.Unmarshal(raw, &ev)
		names = append(names, ev.Name)
	}
	joined := strings.Join(names, ",")
	for _, want := range []string{"CHANNEL_SESSION_STARTED", "AGENT_SUBSCRIBED", "AGENT_MESSAGE", "CUSTOMER_MESSAGE", "WHISPER_MESSAGE", "TYPING_INDICATOR"} {
		if !strings.Contains(joined, want) {
			t.Fatalf("topicEvents %s lack %s", joined, want)
		}
	}
	if strings.Count(joined, "AGENT_MESSAGE") != len(bodies)+1 {
		t.Fatalf("topicEvents %s", joined)
	}
	// The customer resumes after a sequence: only later entries.
	last := cust.wait(t, "CUSTOMER_MESSAGE").Seq
	resumed := e.customer("cv1", last)
	resumed.wait(t, "TYPING_INDICATOR")
	for _, n := range resumed.names() {
		if n == "AGENT_SUBSCRIBED" {
			t.Fatal("resume replayed old entries")
		}
	}

	// Customer left: CUSTOMER_LEFT reaches the agent; more messages are refused.
	if _, _, err := e.conv.CustomerLeft(ctx, "cv1"); err != nil {
		t.Fatal(err)
	}
	next(t, r2, agentdesk.EventOnCimEvent, named("CUSTOMER_LEFT"))
	if _, _, err := e.conv.CustomerMessage(ctx, "cv1", []byte(`{"body":{"type":"PLAIN","markdownText":"x"}}`)); code(err) != agentdesk.CodeCustomerGone {
		t.Fatalf("message after leaving: %v", err)
	}
	if _, _, err := e.conv.CustomerLeft(ctx, "cv1"); code(err) != routing.CodeInvalidTransition {
		t.Fatalf("left twice: %v", err)
	}
}

func code(err error) string {
	var re *routing.Error
	if errors.As(err, &re) {
		return re.Code
	}
	return ""
}

func TestCIMRefusals(t *testing.T) {
	e := newEnvConv(t, agentdesk.Options{}, conversation.Options{MaxEventBytes: 2048})
	c, r, _ := e.activeChat("a1", "cv1")
	c3, r3 := e.connect("a3")
	e.createConversation("waiting", "voice") // nobody READY on voice
	plain := map[string]any{"type": "PLAIN", "markdownText": "x"}
	for _, tc := range []struct {
		name    string
		c       *deskclient.Conn
		r       *recorder
		payload any
		code    string
	}{
		{"not a participant", c3, r3, agentMsg("cv1", plain), agentdesk.CodeNotParticipant},
		{"no task yet", c, r, agentMsg("waiting", plain), agentdesk.CodeNotParticipant},
		{"unknown conversation", c, r, agentMsg("nope", plain), routing.CodeConversationNotFound},
		{"not an object", c, r, "[1]", agentdesk.CodeInvalidPayload},
		{"no cimEvent", c, r, map[string]any{"conversationId": "cv1"}, agentdesk.CodeMissingField},
		{"no name", c, r, map[string]any{"conversationId": "cv1", "cimEvent": map[string]any{}}, agentdesk.CodeMissingField},
		{"server-only name", c, r, map[string]any{"conversationId": "cv1", "cimEvent": map[string]any{"name": "CUSTOMER_MESSAGE"}}, agentdesk.CodeInvalidField},
		{"bad type", c, r, map[string]any{"conversationId": "cv1", "cimEvent": map[string]any{"name": "X", "type": "NOPE"}}, agentdesk.CodeInvalidField},
		{"message without body", c, r, map[string]any{"conversationId": "cv1", "cimEvent": map[string]any{"name": "AGENT_MESSAGE", "data": map[string]any{}}}, agentdesk.CodeMissingField},
		{"unknown body type", c, r, agentMsg("cv1", map[string]any{"type": "HOLOGRAM"}), agentdesk.CodeInvalidField},
		{"plain without text", c, r, agentMsg("cv1", map[string]any{"type": "PLAIN"}), agentdesk.CodeMissingField},
		{"bad latitude", c, r, agentMsg("cv1", map[string]any{"type": "LOCATION", "location": map[string]any{"latitude": 91, "longitude": 0}}), agentdesk.CodeInvalidField},
		{"file without url", c, r, agentMsg("cv1", map[string]any{"type": "FILE", "attachment": map[string]any{}}), agentdesk.CodeMissingField},
		{"no buttons", c, r, agentMsg("cv1", map[string]any{"type": "BUTTON", "buttons": []any{}}), agentdesk.CodeInvalidField},
		{"foreign agentId", c, r, map[string]any{"agentId": "a2", "conversationId": "cv1", "cimEvent": map[string]any{"name": "X"}}, agentdesk.CodeForbidden},
		{"oversize", c, r, agentMsg("cv1", map[string]any{"type": "PLAIN", "markdownText": strings.Repeat("x", 4000)}), agentdesk.CodePayloadTooLarge},
		{"reply to nothing", c, r, map[string]any{"conversationId": "cv1", "cimEvent": map[string]any{"name": "AGENT_MESSAGE",
			"data": map[string]any{"header": map[string]any{"originalMessageId": "ghost"}, "body": plain}}}, agentdesk.CodeReplyNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := ack(t, tc.c, agentdesk.EventPublishCimEvent, tc.payload)
			if a.OK || a.Code != tc.code {
				t.Fatalf("ack %+v, want %s", a, tc.code)
			}
			x := next[agentdesk.ErrorEvent](t, tc.r, agentdesk.EventErrors, nil)
			if x.Code != tc.code || x.Event != agentdesk.EventPublishCimEvent {
				t.Fatalf("errors %+v", x)
			}
		})
	}
	// Nothing was stored: the transcript holds only system events.
	cust := e.customer("cv1", 0)
	// A typing indicator after the refusals is the marker: once the
	// customer stream has it, everything stored before it has been read.
	if a := ack(t, c, agentdesk.EventPublishCimEvent, map[string]any{"conversationId": "cv1", "cimEvent": map[string]any{"name": "TYPING_INDICATOR"}}); !a.OK {
		t.Fatalf("typing: %+v", a)
	}
	cust.wait(t, "TYPING_INDICATOR")
	for _, n := range cust.names() {
		if strings.HasSuffix(n, "_MESSAGE") {
			t.Fatalf("refused message stored: %v", cust.names())
		}
	}
	// Customer side refusals.
	ctx := context.Background()
	for _, tc := range []struct {
		name, conv, body, code string
	}{
		{"unknown", "nope", `{"body":{"type":"PLAIN","markdownText":"x"}}`, routing.CodeConversationNotFound},
		{"not JSON", "cv1", `{`, agentdesk.CodeInvalidPayload},
		{"no body", "cv1", `{"id":"x"}`, agentdesk.CodeMissingField},
		{"oversize", "cv1", `{"body":{"type":"PLAIN","markdownText":"` + strings.Repeat("x", 3000) + `"}}`, agentdesk.CodePayloadTooLarge},
		{"reply to nothing", "cv1", `{"header":{"originalMessageId":"ghost"},"body":{"type":"PLAIN","markdownText":"x"}}`, agentdesk.CodeReplyNotFound},
	} {
		if _, _, err := e.conv.CustomerMessage(ctx, tc.conv, []byte(tc.body)); code(err) != tc.code {
			t.Errorf("customer %s: %v, want %s", tc.name, err, tc.code)
		}
	}
	if err := e.conv.CustomerEvents(ctx, "nope", 0, nil); code(err) != routing.CodeConversationNotFound {
		t.Errorf("events of unknown: %v", err)
	}
	// Closed conversation.
	e.submit(routing.CloseConversation{Conversation: "cv1"})
	if a := ack(t, c, agentdesk.EventPublishCimEvent, agentMsg("cv1", plain)); a.Code != agentdesk.CodeConversationClosed {
		t.Fatalf("closed: %+v", a)
	}
	if _, _, err := e.conv.CustomerMessage(ctx, "cv1", []byte(`{"body":{"type":"PLAIN","markdownText":"x"}}`)); code(err) != agentdesk.CodeConversationClosed {
		t.Fatalf("customer on closed: %v", err)
	}
}

func TestGraceReconnectKeepsEverything(t *testing.T) {
	clk := clocktest.New(t0)
	const grace = time.Minute
	e := newEnv(t, agentdesk.Options{DisconnectGrace: grace, Clock: clk})
	c, r := e.connect("a1")
	setState(t, c, "a1", "READY", nil)
	e.createConversation("g1", "chat")
	tr := next[agentdesk.TaskRequest](t, r, agentdesk.EventTaskRequest, nil)
	_ = c.Close()
	waitUntil(t, "the grace timer", func() bool { return e.srv.Graces() == 1 })
	// Back within the grace period: same state, the offer re-sent.
	_, r2 := e.connect("a1")
	got := next[agentdesk.TaskRequest](t, r2, agentdesk.EventTaskRequest, nil)
	if got.TaskID != tr.TaskID {
		t.Fatalf("offer %s, want %s", got.TaskID, tr.TaskID)
	}
	// The reconnect stopped the timer: the grace passing changes nothing
	// (an expiry would run inside Advance).
	waitUntil(t, "the grace timer to stop", func() bool { return e.srv.Graces() == 0 })
	clk.Advance(2 * grace)
	e.view(func(st routing.View) {
		as, _ := st.Agent("a1")
		if as.State != routing.AgentReady {
			t.Errorf("agent %s after reconnect within grace", as.State)
		}
		if _, ok := st.Task(tr.TaskID); !ok {
			t.Error("offer lost")
		}
	})
}

func TestGraceExpiryReroutes(t *testing.T) {
	clk := clocktest.New(t0)
	const grace = time.Minute
	e := newEnv(t, agentdesk.Options{DisconnectGrace: grace, Clock: clk})
	c, r := e.connect("a1")
	setState(t, c, "a1", "READY", nil)
	e.createConversation("g1", "chat")
	next[agentdesk.TaskRequest](t, r, agentdesk.EventTaskRequest, nil)
	c2, r2 := e.connect("a2")
	// Two sockets of a1: closing one starts nothing.
	c1b, _ := e.connect("a1")
	_ = c1b.Close()
	waitUntil(t, "the socket to close", func() bool { return e.srv.Stats().Sockets == 2 })
	if n := e.srv.Graces(); n != 0 {
		t.Fatalf("%d grace timers with a socket left", n)
	}
	clk.Advance(2 * grace)
	e.view(func(st routing.View) {
		if as, _ := st.Agent("a1"); as.State != routing.AgentReady {
			t.Fatalf("a1 %s with a socket left", as.State)
		}
	})
	setState(t, c2, "a2", "READY", nil)
	_ = c.Close()
	waitUntil(t, "the grace timer", func() bool { return e.srv.Graces() == 1 })
	clk.Advance(grace)
	// a2 gets the re-routed offer; a1 is NOT_READY DISCONNECTED.
	got := next[agentdesk.TaskRequest](t, r2, agentdesk.EventTaskRequest, nil)
	if got.ConversationID != "g1" {
		t.Fatalf("offer %+v", got)
	}
	e.view(func(st routing.View) {
		as, _ := st.Agent("a1")
		if as.State != routing.AgentNotReady || as.ReasonCode != routing.DisconnectedReasonCode {
			t.Fatalf("a1 %s %s", as.State, as.ReasonCode)
		}
	})
	// On its return the desk sees the reason.
	_, r3, err := e.dial(auth("a1"))
	if err != nil {
		t.Fatal(err)
	}
	p := next[agentdesk.AgentPresence](t, r3, agentdesk.EventAgentPresence, nil)
	if p.State.ReasonCode == nil || p.State.ReasonCode.ID != "DISCONNECTED" {
		t.Fatalf("presence %+v", p.State)
	}
}

// fcmRecorder is a local FCM HTTP v1 endpoint that checks the request
// shape; it fails the first `fail` requests with 503.
type fcmRecorder struct {
	t    *testing.T
	mu   sync.Mutex
	fail int
	got  []agentdesk.FCMMessage
	hits int
	ch   chan struct{}
}

func (f *fcmRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hits++
	if r.Method != http.MethodPost || r.URL.Path != "/v1/projects/proj-1/messages:send" {
		f.t.Errorf("FCM request %s %s", r.Method, r.URL.Path)
	}
	if r.Header.Get("Authorization") != "Bearer access-1" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		f.t.Errorf("FCM headers %v", r.Header)
	}
	if f.fail > 0 {
		f.fail--
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var raw map[string]map[string]any
	if err := json.Unmarshal(body, &raw); err != nil || raw["message"] == nil {
		f.t.Errorf("FCM body %s", body)
	}
	for k, v := range raw["message"]["data"].(map[string]any) {
		if _, ok := v.(string); !ok {
			f.t.Errorf("FCM data %s is not a string", k)
		}
	}
	var m agentdesk.FCMMessage
	_ = json.Unmarshal(body, &m)
	f.got = append(f.got, m)
	_, _ = w.Write([]byte(`{"name":"projects/proj-1/messages/1"}`))
	f.ch <- struct{}{}
}

func TestFCMPushWhenNoSocket(t *testing.T) {
	rec := &fcmRecorder{t: t, fail: 2, ch: make(chan struct{}, 16)}
	fcm := httptest.NewServer(rec)
	defer fcm.Close()
	clk := clocktest.New(t0)
	const grace = time.Minute
	e := newEnv(t, agentdesk.Options{FCMEndpoint: fcm.URL, FCMProject: "proj-1", FCMAccessToken: "access-1",
		FCMBackoff: 10 * time.Millisecond, DisconnectGrace: grace, Clock: clk})
	a := auth("a1")
	a["fcm"] = "device-token-1"
	c, r, err := e.dial(a)
	if err != nil {
		t.Fatal(err)
	}
	next[agentdesk.AgentPresence](t, r, agentdesk.EventAgentPresence, nil)
	setState(t, c, "a1", "READY", nil)
	_ = c.Close()
	waitUntil(t, "the grace timer", func() bool { return e.srv.Graces() == 1 })
	clk.Advance(grace) // past the grace: a pushable agent stays READY
	if n := e.srv.Graces(); n != 0 {
		t.Fatalf("%d grace timers after the grace", n)
	}
	e.view(func(st routing.View) {
		if as, _ := st.Agent("a1"); as.State != routing.AgentReady {
			t.Fatalf("a1 %s", as.State)
		}
	})
	e.submit(routing.CreateConversation{ID: "f1", RequestID: "rf1", Queue: "chat-rona"})
	// The retries after the two 503s wait on the fake clock: move it past
	// each backoff the notifier arms.
	for range 2 { // taskRequest (after two 503s), then revokeTask (RONA)
		deadline := time.After(waitTimeout)
	wait:
		for {
			select {
			case <-rec.ch:
				break wait
			case <-deadline:
				t.Fatalf("FCM got %d messages", len(rec.got))
			default:
				if clk.WaitArmed(1, 5*time.Millisecond) {
					clk.Advance(time.Second)
				}
			}
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	m0, m1 := rec.got[0].Message, rec.got[1].Message
	if m0.Token != "device-token-1" || m0.Android.Priority != "high" || m0.Data["event"] != "taskRequest" || m0.Data["conversationId"] != "f1" {
		t.Fatalf("first push %+v", m0)
	}
	var tr agentdesk.TaskRequest
	if err := json.Unmarshal([]byte(m0.Data["payload"]), &tr); err != nil || tr.TaskID != m0.Data["taskId"] {
		t.Fatalf("payload %s", m0.Data["payload"])
	}
	if m1.Data["event"] != "revokeTask" || m1.Data["taskId"] != m0.Data["taskId"] {
		t.Fatalf("second push %+v", m1)
	}
	if rec.hits != 4 {
		t.Fatalf("%d requests, want 2 failed + 2 sent", rec.hits)
	}
	// The handler signals before it answers: wait for the notifier's count.
	rec.mu.Unlock()
	deadline := time.Now().Add(waitTimeout)
	for e.srv.FCMStats().Sent != 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	rec.mu.Lock()
	if st := e.srv.FCMStats(); st.Sent != 2 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// snapshot returns the events received so far.
func (cs *customerStream) snapshot() []cimOn {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return slices.Clone(cs.events)
}
