package agentdesk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/agentdesk"
	"github.com/omniroute/omniroute/agentdesk/deskclient"
	"github.com/omniroute/omniroute/agentdesk/internal/fixture"
	"github.com/omniroute/omniroute/routing"
)

func TestConnectErrors(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	cases := []struct {
		name string
		auth map[string]any
		code string
	}{
		{"no token", map[string]any{"agent": "a1", "fcm": ""}, agentdesk.CodeUnauthorized},
		{"bad token", map[string]any{"agent": "a1", "token": "nope"}, agentdesk.CodeUnauthorized},
		{"no auth at all", nil, agentdesk.CodeUnauthorized},
		{"agent string mismatch", map[string]any{"agent": "a2", "token": "token-a1"}, agentdesk.CodeAgentMismatch},
		{"agent object mismatch", map[string]any{"agent": map[string]any{"id": "a2", "username": "a2"}, "token": "token-a1"}, agentdesk.CodeAgentMismatch},
		{"unknown agent", map[string]any{"agent": "zz", "token": "token-zz"}, agentdesk.CodeUnknownAgent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := e.dial(tc.auth)
			var ce *deskclient.ConnectError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a ConnectError", err)
			}
			if ce.Code != tc.code || ce.Message == "" {
				t.Fatalf("connect_error = %+v, want code %s and a message", ce, tc.code)
			}
		})
	}
}

func TestConnectTokenSources(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	cases := []struct {
		name string
		auth map[string]any
		opts []deskclient.Option
		url  string
	}{
		{"auth.agent.token with keycloak user", map[string]any{"agent": map[string]any{"id": "kc-uuid", "username": "a1", "token": "token-a1"}}, nil, ""},
		{"auth.agent.access_token", map[string]any{"agent": map[string]any{"id": "a1", "access_token": "token-a1"}}, nil, ""},
		{"bearer header", map[string]any{"agent": "a1"}, []deskclient.Option{deskclient.WithHeader(http.Header{"Authorization": {"Bearer token-a1"}})}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecorder()
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			c, err := deskclient.Dial(ctx, e.ts.URL+tc.url, "/socket.io", tc.auth, append(r.options(), tc.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			p := next[agentdesk.AgentPresence](t, r, agentdesk.EventAgentPresence, nil)
			if p.Agent.ID != "a1" {
				t.Fatalf("presence agent %q, want a1", p.Agent.ID)
			}
		})
	}
}

// TestQueryTokenRefused: a token in the query string is not a credential.
func TestQueryTokenRefused(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := deskclient.Dial(ctx, e.ts.URL+"?token=token-a1", "/socket.io", map[string]any{"fcm": ""}, newRecorder().options()...)
	if err == nil {
		c.Close()
	}
	var ce *deskclient.ConnectError
	if !errors.As(err, &ce) || ce.Code != agentdesk.CodeUnauthorized {
		t.Fatalf("query token: err = %v, want %s", err, agentdesk.CodeUnauthorized)
	}
}

func TestConnectLimits(t *testing.T) {
	t.Run("sockets per agent", func(t *testing.T) {
		e := newEnv(t, agentdesk.Options{MaxSocketsPerAgent: 1})
		e.connect("a1")
		_, _, err := e.dial(auth("a1"))
		var ce *deskclient.ConnectError
		if !errors.As(err, &ce) || ce.Code != agentdesk.CodeTooManySockets {
			t.Fatalf("second socket: err = %v, want %s", err, agentdesk.CodeTooManySockets)
		}
		e.connect("a2") // other agents are not affected
	})
	t.Run("connections", func(t *testing.T) {
		e := newEnv(t, agentdesk.Options{MaxConnections: 1})
		e.connect("a1")
		_, _, err := e.dial(auth("a2"))
		var he *deskclient.HandshakeError
		if !errors.As(err, &he) || he.StatusCode != http.StatusBadRequest || !strings.Contains(he.Body, "too many connections") {
			t.Fatalf("second connection: err = %v, want HTTP 400 too many connections", err)
		}
	})
	t.Run("payload size", func(t *testing.T) {
		e := newEnv(t, agentdesk.Options{MaxPayloadBytes: 1024})
		c, _ := e.connect("a1")
		big := map[string]any{"agentId": "a1", "action": "agentState", "state": map[string]any{"name": "READY"}, "pad": string(make([]byte, 2048))}
		// Emit itself may already fail: the server may close at once.
		_ = c.Emit(agentdesk.EventChangeAgentState, big)
		select {
		case <-c.Done():
		case <-time.After(waitTimeout):
			t.Fatal("the server kept a connection that sent an oversize message")
		}
	})
	t.Run("events per second", func(t *testing.T) {
		e := newEnv(t, agentdesk.Options{MaxEventsPerSecond: 1}) // burst 2
		c, r := e.connect("a1")
		for range 2 {
			if a := setState(t, c, "a1", "NOT_READY", nil); a.Code == agentdesk.CodeRateLimited {
				t.Fatalf("rate limited within the burst: %+v", a)
			}
		}
		if a := setState(t, c, "a1", "NOT_READY", nil); a.Code != agentdesk.CodeRateLimited {
			t.Fatalf("third event: ack %+v, want %s", a, agentdesk.CodeRateLimited)
		}
		next(t, r, agentdesk.EventErrors, func(x agentdesk.ErrorEvent) bool { return x.Code == agentdesk.CodeRateLimited })
	})
}

func TestPresenceOnConnect(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	_, r, err := e.dial(auth("a1"))
	if err != nil {
		t.Fatal(err)
	}
	raw := nextRaw(t, r, agentdesk.EventAgentPresence, nil)
	for _, k := range []string{"agent", "state", "stateChangeTime", "agentMrdStates", "action", "agentLoginTime", "agentStateChanged", "mrdStateChanges"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("agentPresence has no %q: %v", k, raw)
		}
	}
	b, _ := json.Marshal(raw)
	var p agentdesk.AgentPresence
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	want := agentdesk.CCUser{ParticipantType: "CCUser", ID: "a1",
		KeycloakUser: agentdesk.KeycloakUser{ID: "a1", Username: "a1", FirstName: "Agent One", Roles: []string{"agent"}},
		AssociatedRoutingAttributes: []agentdesk.AssociatedRoutingAttribute{{
			RoutingAttribute: agentdesk.RoutingAttribute{ID: "english", Name: "english", Type: "PROFICIENCY_LEVEL"}, Value: 5}}}
	if !reflect.DeepEqual(p.Agent, want) {
		t.Errorf("agent = %+v, want %+v", p.Agent, want)
	}
	if p.State.Name != "LOGOUT" || p.State.ReasonCode != nil || p.Action != agentdesk.ActionStateChanged || p.AgentStateChanged ||
		len(p.MrdStateChanges) != 0 || p.AgentLoginTime != nil || p.Reason != nil {
		t.Errorf("presence = %+v", p)
	}
	if len(p.AgentMrdStates) != 2 || p.AgentMrdStates[0].MRD.ID != "chat" || p.AgentMrdStates[0].MRD.MaxRequests != 2 ||
		!p.AgentMrdStates[0].MRD.Interruptible || p.AgentMrdStates[1].MRD.ID != "voice" || p.AgentMrdStates[1].MRD.Interruptible {
		t.Errorf("agentMrdStates = %+v", p.AgentMrdStates)
	}
	for _, m := range p.AgentMrdStates {
		if m.State != "NOT_READY" || m.LastReadyStateChangeTime != nil {
			t.Errorf("mrd state = %+v", m)
		}
	}
}

func TestChangeAgentState(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	c, r := e.connect("a1")
	c2, r2 := e.connect("a1") // a second tab of the same agent

	// READY: every MRD follows; both sockets hear it.
	if a := setState(t, c, "a1", "READY", nil); !a.OK {
		t.Fatalf("READY ack %+v", a)
	}
	for _, rec := range []*recorder{r, r2} {
		p := next(t, rec, agentdesk.EventAgentPresence, isState("READY"))
		if p.Action != agentdesk.ActionStateChanged || !p.AgentStateChanged || !slices.Equal(p.MrdStateChanges, []string{"chat", "voice"}) ||
			p.AgentLoginTime == nil || p.State.ReasonCode != nil {
			t.Fatalf("READY presence = %+v", p)
		}
		for _, m := range p.AgentMrdStates {
			if m.State != "READY" || m.LastReadyStateChangeTime == nil {
				t.Fatalf("READY mrd = %+v", m)
			}
		}
	}

	// MRD NOT_READY on voice: only that MRD changes.
	if a := ack(t, c2, agentdesk.EventChangeAgentState, map[string]any{"agentId": "a1", "action": "agentMRDState", "state": "NOT_READY", "mrdId": "voice"}); !a.OK {
		t.Fatalf("MRD NOT_READY ack %+v", a)
	}
	p := next(t, r, agentdesk.EventAgentPresence, func(p agentdesk.AgentPresence) bool { return slices.Equal(p.MrdStateChanges, []string{"voice"}) })
	if p.AgentStateChanged || p.Action != agentdesk.ActionStateChanged || p.AgentMrdStates[1].State != "NOT_READY" || p.AgentMrdStates[0].State != "READY" {
		t.Fatalf("MRD presence = %+v", p)
	}
	next(t, r2, agentdesk.EventAgentPresence, func(p agentdesk.AgentPresence) bool { return slices.Equal(p.MrdStateChanges, []string{"voice"}) })

	// NOT_READY with a reason code.
	setState(t, c, "a1", "NOT_READY", map[string]any{"id": "lunch", "name": "Lunch Break", "type": "NOT_READY"})
	p = next(t, r, agentdesk.EventAgentPresence, isState("NOT_READY"))
	if p.State.ReasonCode == nil || *p.State.ReasonCode != (agentdesk.ReasonCode{ID: "lunch", Name: "Lunch Break", Type: "NOT_READY"}) || !p.AgentStateChanged {
		t.Fatalf("NOT_READY presence = %+v", p)
	}

	// The same again: unchanged, to the requesting socket only.
	if a := setState(t, c, "a1", "NOT_READY", map[string]any{"id": "lunch"}); a.OK || a.Code != agentdesk.CodeStateUnchanged {
		t.Fatalf("no-op ack %+v", a)
	}
	p = next[agentdesk.AgentPresence](t, r, agentdesk.EventAgentPresence, nil)
	if p.Action != agentdesk.ActionStateUnchanged || p.Reason == nil || p.Reason.Code != agentdesk.CodeStateUnchanged || p.State.Name != "NOT_READY" {
		t.Fatalf("no-op presence = %+v", p)
	}

	// MRD READY while the agent is NOT_READY: refused with AGENT_NOT_READY.
	if a := ack(t, c, agentdesk.EventChangeAgentState, map[string]any{"agentId": "a1", "action": "agentMRDState", "state": "READY", "mrdId": "chat"}); a.Code != routing.CodeAgentNotReady {
		t.Fatalf("MRD READY ack %+v", a)
	}
	p = next[agentdesk.AgentPresence](t, r, agentdesk.EventAgentPresence, nil)
	if p.Action != agentdesk.ActionStateUnchanged || p.Reason == nil || p.Reason.Code != routing.CodeAgentNotReady || p.Reason.Message == "" ||
		p.State.Name != "NOT_READY" || p.AgentMrdStates[0].State != "NOT_READY" {
		t.Fatalf("refused MRD presence = %+v", p)
	}
	// The other tab heard the two real changes and nothing of the refusals.
	next(t, r2, agentdesk.EventAgentPresence, isState("NOT_READY"))
	none(t, r2, agentdesk.EventAgentPresence, 200*time.Millisecond)

	// An unknown reason code is refused by the engine.
	if a := setState(t, c, "a1", "LOGOUT", map[string]any{"id": "nope"}); a.Code != routing.CodeReasonCodeNotFound {
		t.Fatalf("unknown reason ack %+v", a)
	}
	next(t, r, agentdesk.EventAgentPresence, func(p agentdesk.AgentPresence) bool {
		return p.Action == agentdesk.ActionStateUnchanged && p.Reason.Code == routing.CodeReasonCodeNotFound
	})

	// LOGOUT with a logout reason.
	setState(t, c, "a1", "LOGOUT", map[string]any{"id": "eod"})
	p = next(t, r, agentdesk.EventAgentPresence, isState("LOGOUT"))
	if p.State.ReasonCode == nil || p.State.ReasonCode.Type != "LOGOUT" {
		t.Fatalf("LOGOUT presence = %+v", p)
	}

	// A change from elsewhere (the REST API, a supervisor) reaches the desk too.
	e.submit(routing.SetAgentState{Agent: "a1", State: routing.AgentNotReady})
	p = next(t, r, agentdesk.EventAgentPresence, isState("NOT_READY"))
	if !p.AgentStateChanged || p.State.ReasonCode != nil {
		t.Fatalf("external change presence = %+v", p)
	}
}

func TestChangeAgentStateErrors(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	c, r := e.connect("a1")
	cases := []struct {
		name    string
		payload any
		code    string
		field   string
	}{
		{"other agent", map[string]any{"agentId": "a2", "action": "agentState", "state": map[string]any{"name": "READY"}}, agentdesk.CodeForbidden, "agentId"},
		{"bad action", map[string]any{"action": "dance", "state": map[string]any{"name": "READY"}}, agentdesk.CodeInvalidField, "action"},
		{"bad state", map[string]any{"action": "agentState", "state": map[string]any{"name": "LOGIN"}}, agentdesk.CodeInvalidField, "state.name"},
		{"no state", map[string]any{"action": "agentState"}, agentdesk.CodeMissingField, "state"},
		{"not an object", []any{1, 2}, agentdesk.CodeInvalidPayload, ""},
		{"mrd without id", map[string]any{"action": "agentMRDState", "state": "READY"}, agentdesk.CodeMissingField, "mrdId"},
		{"unknown mrd", map[string]any{"action": "agentMRDState", "state": "NOT_READY", "mrdId": "fax"}, routing.CodeMRDNotFound, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := ack(t, c, agentdesk.EventChangeAgentState, tc.payload)
			if a.OK || a.Code != tc.code {
				t.Fatalf("ack %+v, want code %s", a, tc.code)
			}
			if tc.code == routing.CodeMRDNotFound {
				next(t, r, agentdesk.EventAgentPresence, func(p agentdesk.AgentPresence) bool {
					return p.Action == agentdesk.ActionStateUnchanged && p.Reason.Code == tc.code
				})
				return
			}
			x := next[agentdesk.ErrorEvent](t, r, agentdesk.EventErrors, nil)
			if x.Code != tc.code || x.Event != agentdesk.EventChangeAgentState || x.Field != tc.field || x.Message == "" {
				t.Fatalf("errors = %+v, want code %s field %q", x, tc.code, tc.field)
			}
		})
	}
	t.Run("unsupported event", func(t *testing.T) {
		a := ack(t, c, "subscribePullModeList", map[string]any{"conversationId": "x"})
		if a.Code != agentdesk.CodeUnsupportedEvent {
			t.Fatalf("ack %+v", a)
		}
		x := next[agentdesk.ErrorEvent](t, r, agentdesk.EventErrors, nil)
		if x.Code != agentdesk.CodeUnsupportedEvent || x.Event != "subscribePullModeList" {
			t.Fatalf("errors = %+v", x)
		}
	})
}

// createConversation submits a conversation on queue.
func (e *env) createConversation(id, queue string) {
	e.t.Helper()
	e.submit(routing.CreateConversation{ID: id, RequestID: "req-" + id, Queue: queue,
		Customer:   json.RawMessage(`{"id":"cust-1","firstName":"Ada"}`),
		Attributes: map[string]string{"topic": "billing"}})
}

func TestTaskFlow(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	c, r := e.connect("a1")
	_, r2 := e.connect("a1")
	setState(t, c, "a1", "READY", nil)
	next(t, r, agentdesk.EventAgentPresence, isState("READY"))

	e.createConversation("c1", "chat")
	var tr agentdesk.TaskRequest
	for _, rec := range []*recorder{r, r2} { // both sockets of the agent get the offer
		tr = next[agentdesk.TaskRequest](t, rec, agentdesk.EventTaskRequest, nil)
	}
	raw, _ := json.Marshal(tr)
	var shape map[string]any
	_ = json.Unmarshal(raw, &shape)
	for _, k := range []string{"conversationId", "channelSession", "roomInfo", "taskId", "taskState", "taskDirection", "queue", "mrd", "note", "requestedBy", "correlationId", "ccUser"} {
		if _, ok := shape[k]; !ok {
			t.Errorf("taskRequest has no %q", k)
		}
	}
	if tr.ConversationID != "c1" || tr.TaskID == "" || tr.TaskState.Name != "RESERVED" || tr.TaskDirection != "INBOUND" ||
		tr.Queue != (agentdesk.QueueRef{ID: "chat", Name: "Chat Sales"}) || tr.MRD.ID != "chat" || tr.CCUser.ID != "a1" ||
		tr.RoomInfo != (agentdesk.RoomInfo{ID: "c1", Mode: "CONTACT_CENTER"}) || tr.CorrelationID != "req-c1" ||
		tr.ChannelSession.Channel.ChannelConfig.RoutingPolicy.AgentRequestTTL != 30 || string(tr.RequestedBy) != "null" ||
		string(tr.ChannelSession.Customer) != `{"id":"cust-1","firstName":"Ada"}` {
		t.Fatalf("taskRequest = %s", raw)
	}
	// The offer moved the chat MRD to ACTIVE: one presence, MRD change only.
	p := next(t, r, agentdesk.EventAgentPresence, func(p agentdesk.AgentPresence) bool { return slices.Equal(p.MrdStateChanges, []string{"chat"}) })
	if p.AgentStateChanged || p.AgentMrdStates[0].State != "ACTIVE" {
		t.Fatalf("presence after offer = %+v", p)
	}

	// Accept without taskId: the offered task on that conversation.
	if a := ack(t, c, agentdesk.EventTopicSubscription, map[string]any{
		"topicParticipant": map[string]any{"type": "AGENT", "role": "PRIMARY", "participant": map[string]any{"id": "a1"}},
		"conversationId":   "c1", "agentId": "a1"}); !a.OK {
		t.Fatalf("topicSubscription ack %+v", a)
	}
	for _, rec := range []*recorder{r, r2} {
		d := next[agentdesk.OnTopicData](t, rec, agentdesk.EventOnTopicData, nil)
		td := d.TopicData
		if d.ConversationID != "c1" || d.TaskID != tr.TaskID || d.CorrelationID != "req-c1" || d.RoomInfo.ID != "c1" ||
			td.ID != "c1" || td.State != "ACTIVE" || td.ConversationData["topic"] != "billing" ||
			string(td.Customer) != `{"id":"cust-1","firstName":"Ada"}` || len(td.Participants) != 2 || len(td.AgentParticipants) != 1 ||
			td.TopicParticipant.Role != "PRIMARY" || td.TopicParticipant.Type != "AGENT" || td.TopicParticipant.ID != tr.TaskID ||
			td.AgentParticipants[0].TopicID != "c1" || td.Participants[0].Type != "CUSTOMER" || td.ChannelSession.ID != "c1" {
			b, _ := json.Marshal(d)
			t.Fatalf("onTopicData = %s", b)
		}
	}
	e.view(func(st routing.View) {
		task, ok := st.Task(tr.TaskID)
		if !ok || task.State != routing.TaskActiveState {
			t.Fatalf("task after accept = %+v %t", task, ok)
		}
	})

	// Subscribing again (a reload) resends the topic and accepts nothing.
	if a := ack(t, c, agentdesk.EventTopicSubscription, map[string]any{"conversationId": "c1", "taskId": tr.TaskID}); !a.OK {
		t.Fatalf("re-subscription ack %+v", a)
	}
	next[agentdesk.OnTopicData](t, r, agentdesk.EventOnTopicData, nil)

	// Leave.
	if a := ack(t, c, agentdesk.EventTopicUnsubscriptionRequest, map[string]any{"conversationId": "c1", "agentId": "a1", "taskId": tr.TaskID}); !a.OK {
		t.Fatalf("topicUnsubscription_ ack %+v", a)
	}
	for _, rec := range []*recorder{r, r2} {
		u := next[agentdesk.TopicUnsubscription](t, rec, agentdesk.EventTopicUnsubscription, nil)
		if u != (agentdesk.TopicUnsubscription{Task: "topicUnsubscription", ConversationID: "c1", StatusCode: 200,
			RoomInfo: agentdesk.RoomInfo{ID: "c1", Mode: "CONTACT_CENTER"}, Reason: "DONE", TaskID: tr.TaskID}) {
			t.Fatalf("topicUnsubscription = %+v", u)
		}
	}
	e.view(func(st routing.View) {
		if _, ok := st.Task(tr.TaskID); ok {
			t.Fatal("task still open after topicUnsubscription_")
		}
		if cv, _ := st.Conversation("c1"); cv.State != "CLOSED" {
			t.Fatalf("conversation = %+v", cv)
		}
	})
	next(t, r, agentdesk.EventAgentPresence, func(p agentdesk.AgentPresence) bool {
		return slices.Equal(p.MrdStateChanges, []string{"chat"}) && p.AgentMrdStates[0].State == "READY"
	})

	// Leaving again is refused.
	if a := ack(t, c, agentdesk.EventTopicUnsubscriptionRequest, map[string]any{"conversationId": "c1"}); a.Code != routing.CodeTaskNotFound {
		t.Fatalf("second leave ack %+v", a)
	}
	x := next[agentdesk.ErrorEvent](t, r, agentdesk.EventErrors, nil)
	if x.Code != routing.CodeTaskNotFound || x.Event != agentdesk.EventTopicUnsubscriptionRequest {
		t.Fatalf("errors = %+v", x)
	}
}

func TestTopicSubscriptionErrors(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	c, r := e.connect("a1")
	c2, r2 := e.connect("a2")
	setState(t, c, "a1", "READY", nil)
	e.createConversation("c1", "chat")
	tr := next[agentdesk.TaskRequest](t, r, agentdesk.EventTaskRequest, nil)
	cases := []struct {
		name    string
		c       *deskclient.Conn
		r       *recorder
		payload map[string]any
		code    string
	}{
		{"no such task", c, r, map[string]any{"conversationId": "c1", "taskId": "task-999"}, routing.CodeTaskNotFound},
		{"no task on conversation", c, r, map[string]any{"conversationId": "c9"}, routing.CodeTaskNotFound},
		{"wrong conversation", c, r, map[string]any{"conversationId": "c9", "taskId": tr.TaskID}, routing.CodeInvalidArgument},
		{"other agent's task", c2, r2, map[string]any{"conversationId": "c1", "taskId": tr.TaskID}, routing.CodeNotTaskOwner},
		{"foreign agentId", c, r, map[string]any{"conversationId": "c1", "agentId": "a2"}, agentdesk.CodeForbidden},
		{"no conversation", c, r, map[string]any{"taskId": tr.TaskID}, agentdesk.CodeMissingField},
		{"not PRIMARY", c, r, map[string]any{"conversationId": "c1", "topicParticipant": map[string]any{"role": "SILENT_MONITOR"}}, agentdesk.CodeInvalidField},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if a := ack(t, tc.c, agentdesk.EventTopicSubscription, tc.payload); a.OK || a.Code != tc.code {
				t.Fatalf("ack %+v, want %s", a, tc.code)
			}
			x := next[agentdesk.ErrorEvent](t, tc.r, agentdesk.EventErrors, nil)
			if x.Code != tc.code || x.Event != agentdesk.EventTopicSubscription || x.Message == "" {
				t.Fatalf("errors = %+v", x)
			}
		})
	}
	// Leaving a task that is only RESERVED is refused.
	if a := ack(t, c, agentdesk.EventTopicUnsubscriptionRequest, map[string]any{"conversationId": "c1", "taskId": tr.TaskID}); a.Code != routing.CodeInvalidTransition {
		t.Fatalf("leave reserved ack %+v", a)
	}
	e.view(func(st routing.View) {
		if task, _ := st.Task(tr.TaskID); task.State != routing.TaskReservedState {
			t.Fatalf("task = %+v, want still RESERVED", task)
		}
	})
}

func TestRONA(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	c, r := e.connect("a1")
	setState(t, c, "a1", "READY", nil)
	next(t, r, agentdesk.EventAgentPresence, isState("READY"))

	e.createConversation("c1", "chat-rona")
	tr := next[agentdesk.TaskRequest](t, r, agentdesk.EventTaskRequest, nil)
	if ttl := tr.ChannelSession.Channel.ChannelConfig.RoutingPolicy.AgentRequestTTL; ttl != fixture.RONATimeout.Seconds() {
		t.Fatalf("agentRequestTtl = %v, want %v", ttl, fixture.RONATimeout.Seconds())
	}
	rv := next[agentdesk.RevokeTask](t, r, agentdesk.EventRevokeTask, nil)
	if rv != (agentdesk.RevokeTask{ConversationID: "c1", TaskID: tr.TaskID, Reason: "RONA"}) {
		t.Fatalf("revokeTask = %+v", rv)
	}
	p := next(t, r, agentdesk.EventAgentPresence, isState("NOT_READY"))
	if !p.AgentStateChanged || p.State.ReasonCode == nil || p.State.ReasonCode.ID != routing.RONAReasonCode || p.State.ReasonCode.Type != "NOT_READY" {
		t.Fatalf("presence after RONA = %+v", p)
	}
	// Too late to accept.
	if a := ack(t, c, agentdesk.EventTopicSubscription, map[string]any{"conversationId": "c1", "taskId": tr.TaskID}); a.Code != routing.CodeTaskNotFound {
		t.Fatalf("late accept ack %+v", a)
	}
	x := next[agentdesk.ErrorEvent](t, r, agentdesk.EventErrors, nil)
	if x.Code != routing.CodeTaskNotFound || x.Event != agentdesk.EventTopicSubscription {
		t.Fatalf("errors = %+v", x)
	}
}

func TestReconnectResendsOffer(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	c, r := e.connect("a1")
	setState(t, c, "a1", "READY", nil)
	e.createConversation("c1", "chat")
	tr := next[agentdesk.TaskRequest](t, r, agentdesk.EventTaskRequest, nil)
	_ = c.Close()

	_, r2, err := e.dial(auth("a1"))
	if err != nil {
		t.Fatal(err)
	}
	p := next[agentdesk.AgentPresence](t, r2, agentdesk.EventAgentPresence, nil)
	if p.State.Name != "READY" || p.AgentMrdStates[0].State != "ACTIVE" {
		t.Fatalf("presence on reconnect = %+v", p)
	}
	again := next[agentdesk.TaskRequest](t, r2, agentdesk.EventTaskRequest, nil)
	if !reflect.DeepEqual(again, tr) {
		t.Fatalf("re-sent taskRequest = %+v, want %+v", again, tr)
	}
}

func TestOfferWhileDisconnectedThenConnect(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	e.submit(routing.SetAgentState{Agent: "a2", State: routing.AgentReady})
	e.createConversation("c1", "chat")
	_, r, err := e.dial(auth("a2"))
	if err != nil {
		t.Fatal(err)
	}
	tr := next[agentdesk.TaskRequest](t, r, agentdesk.EventTaskRequest, nil)
	if tr.ConversationID != "c1" || tr.CCUser.ID != "a2" {
		t.Fatalf("taskRequest = %+v", tr)
	}
}

func TestServerCloseDisconnects(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	c, _ := e.connect("a1")
	e.srv.Close()
	select {
	case <-c.Done():
	case <-time.After(waitTimeout):
		t.Fatal("client still connected after Server.Close")
	}
	e.srv.Close() // idempotent
}

// TestConnectUnderLoad guards the connect gate (gate.go): without it,
// about one CONNECT in 500 to 1,000 was dropped by the library when the
// scheduler was busy, and the client hung.
func TestConnectUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	e := newEnv(t, agentdesk.Options{MaxSocketsPerAgent: -1})
	const dials = 3000
	var fails []string
	for i := range dials {
		go func() { // a burst of CPU work while the handshake runs
			x := 0
			for j := range 100_000 {
				x += j
			}
			_ = x
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := deskclient.Dial(ctx, e.ts.URL, "", auth("a1"))
		cancel()
		if err != nil {
			fails = append(fails, fmt.Sprintf("dial %d: %v", i, err))
			continue
		}
		_ = c.Close()
	}
	if len(fails) > 0 {
		t.Fatalf("%d of %d connections failed: %q", len(fails), dials, fails)
	}
	// Every socket is forgotten once its client left.
	deadline := time.Now().Add(waitTimeout)
	for e.srv.Stats() != (agentdesk.Stats{}) {
		if time.Now().After(deadline) {
			t.Fatalf("stats after every client left: %+v", e.srv.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOfferExpiresWhileDisconnected (issue 14, Build 3): an offer whose
// RONA timer fires while the agent's socket is gone (inside the
// reconnect grace) is revoked cleanly: the conversation goes back to the
// queue and reaches another agent, and the reconnecting desk is not
// handed the dead offer again: its greeting says NOT_READY with the RONA
// reason code and no taskRequest for it, and a late accept of the old
// taskId is refused with TASK_NOT_FOUND. Whether the timer really fired
// after the socket closed depends on the machine's speed, so that is
// logged, and the assertions hold either way.
func TestOfferExpiresWhileDisconnected(t *testing.T) {
	e := newEnv(t, agentdesk.Options{DisconnectGrace: time.Minute})
	c, r := e.connect("a1")
	setState(t, c, "a1", "READY", nil)
	next(t, r, agentdesk.EventAgentPresence, isState("READY"))
	e.createConversation("c1", "chat-rona")
	tr := next[agentdesk.TaskRequest](t, r, agentdesk.EventTaskRequest, nil)
	_ = c.Close()
	<-c.Done()
	r.mu.Lock()
	revokedBeforeClose := false
	for _, g := range r.got {
		revokedBeforeClose = revokedBeforeClose || g.event == agentdesk.EventRevokeTask
	}
	r.mu.Unlock()
	t.Logf("RONA fired after the socket closed: %v", !revokedBeforeClose)

	// Wait for the RONA revocation, however slow the machine.
	deadline := time.Now().Add(waitTimeout)
	for {
		var reserved bool
		e.view(func(st routing.View) {
			task, ok := st.Task(tr.TaskID)
			reserved = ok && task.State == routing.TaskReservedState
		})
		if !reserved {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("offer %s still RESERVED %v after its RONA timeout", tr.TaskID, waitTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Back in the queue: a READY agent gets the conversation as a new task.
	c2, r2 := e.connect("a2")
	setState(t, c2, "a2", "READY", nil)
	again := next(t, r2, agentdesk.EventTaskRequest, func(x agentdesk.TaskRequest) bool { return x.ConversationID == "c1" })
	if again.TaskID == tr.TaskID {
		t.Fatalf("re-queued offer reuses task id %s", tr.TaskID)
	}

	// The first agent comes back within the grace.
	c3, r3, err := e.dial(auth("a1"))
	if err != nil {
		t.Fatal(err)
	}
	p := next[agentdesk.AgentPresence](t, r3, agentdesk.EventAgentPresence, nil)
	if p.State.Name != "NOT_READY" || p.State.ReasonCode == nil || p.State.ReasonCode.ID != routing.RONAReasonCode {
		t.Fatalf("presence on reconnect = %+v, want NOT_READY with the RONA reason code", p)
	}
	if a := ack(t, c3, agentdesk.EventTopicSubscription, map[string]any{"conversationId": "c1", "taskId": tr.TaskID}); a.Code != routing.CodeTaskNotFound {
		t.Fatalf("late accept after reconnect: ack %+v, want %s", a, routing.CodeTaskNotFound)
	}
	// The greeting re-sends every task RESERVED for the agent, and the
	// engine holds none for a1 any more; nor did the desk receive the dead
	// offer (the greeting's events are sent right after the presence that
	// came before the accept).
	e.view(func(st routing.View) {
		tasks, _ := st.Tasks("a1")
		for _, task := range tasks {
			if task.State == routing.TaskReservedState {
				t.Fatalf("a1 still holds RESERVED task %+v", task)
			}
		}
	})
	r3.mu.Lock()
	defer r3.mu.Unlock()
	for _, g := range r3.got {
		if g.event == agentdesk.EventTaskRequest && strings.Contains(string(g.payload), tr.TaskID) {
			t.Fatalf("reconnected desk was re-sent the expired offer: %s", g.payload)
		}
	}
}
