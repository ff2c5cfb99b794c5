package agentdesk_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/agentdesk"
	"github.com/omniroute/omniroute/agentdesk/deskclient"
	"github.com/omniroute/omniroute/agentdesk/internal/fixture"
	"github.com/omniroute/omniroute/conversation"
	"github.com/omniroute/omniroute/routing"
)

// Tests of transfer.go, supervisor.go and wrapup.go (Issue 3 items 3-6).

// participantEvents are the server events of this issue the shared
// recorder may not register yet.
var participantEvents = []string{agentdesk.EventOnCimEvent, agentdesk.EventWrapupTimerStarted}

// connectAll is connect with the participant events recorded too.
func (e *env) connectAll(agent string) (*deskclient.Conn, *recorder) {
	e.t.Helper()
	r := newRecorder()
	opts := r.options()
	for _, ev := range participantEvents {
		if slices.Contains(serverEvents, ev) {
			continue // already recorded
		}
		opts = append(opts, deskclient.WithHandler(ev, func(p json.RawMessage) {
			r.mu.Lock()
			r.got = append(r.got, received{event: ev, payload: p})
			close(r.changed)
			r.changed = make(chan struct{})
			r.mu.Unlock()
		}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := deskclient.Dial(ctx, e.ts.URL, "", auth(agent), opts...)
	if err != nil {
		e.t.Fatalf("dial %s: %v", agent, err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	next(e.t, r, agentdesk.EventAgentPresence, func(p agentdesk.AgentPresence) bool { return p.Agent.ID == agent })
	return c, r
}

// digest is the node's state digest.
func (e *env) digest() string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	d, err := e.n.Digest(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// answer makes agent READY, creates conversation id on queue and accepts
// its offer; it returns the task id.
func (e *env) answer(c *deskclient.Conn, r *recorder, agent, id, queue string) string {
	e.t.Helper()
	e.createConversation(id, queue)
	tr := next(e.t, r, agentdesk.EventTaskRequest, func(x agentdesk.TaskRequest) bool { return x.ConversationID == id })
	if a := ack(e.t, c, agentdesk.EventTopicSubscription, map[string]any{"conversationId": id, "taskId": tr.TaskID}); !a.OK {
		e.t.Fatalf("accept %s: %+v", id, a)
	}
	next(e.t, r, agentdesk.EventOnTopicData, func(x agentdesk.OnTopicData) bool { return x.ConversationID == id })
	return tr.TaskID
}

// ready sets agent READY and waits for it.
func ready(t *testing.T, c *deskclient.Conn, r *recorder, agent string) {
	t.Helper()
	setState(t, c, agent, "READY", nil)
	next(t, r, agentdesk.EventAgentPresence, isState("READY"))
}

func TestDirectTransferToQueue(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	c1, r1 := e.connectAll("a1")
	c2, r2 := e.connectAll("a2")
	ready(t, c1, r1, "a1")
	task1 := e.answer(c1, r1, "a1", "c1", "chat")
	ready(t, c2, r2, "a2")

	a := ack(t, c1, agentdesk.EventDirectTransferRequest, map[string]any{
		"channelSession": map[string]any{"conversationId": "c1"}, "agentParticipant": map[string]any{"id": task1},
		"mode": "QUEUE", "queueName": "Chat Sales", "note": "wants a refund", "offerToAgent": true})
	if !a.OK {
		t.Fatalf("ack %+v", a)
	}
	tr := next(t, r2, agentdesk.EventTaskRequest, func(x agentdesk.TaskRequest) bool { return x.ConversationID == "c1" })
	var by agentdesk.CCUser
	_ = json.Unmarshal(tr.RequestedBy, &by)
	if tr.TaskDirection != agentdesk.TaskDirectionDirectTransfer || tr.Note != "wants a refund" || by.ID != "a1" || tr.Queue.ID != "chat" {
		t.Fatalf("taskRequest = %+v (requestedBy %s)", tr, tr.RequestedBy)
	}
	// The requester stays ACTIVE until the accept.
	e.view(func(st routing.View) {
		if tk, ok := st.Task(task1); !ok || tk.State != routing.TaskActiveState {
			t.Fatalf("requester's task before accept: %+v", tk)
		}
	})
	if a := ack(t, c2, agentdesk.EventTopicSubscription, map[string]any{"conversationId": "c1", "taskId": tr.TaskID}); !a.OK {
		t.Fatalf("accept: %+v", a)
	}
	td := next(t, r2, agentdesk.EventOnTopicData, func(x agentdesk.OnTopicData) bool { return x.ConversationID == "c1" })
	if td.TopicData.TopicParticipant.Role != string(routing.RolePrimary) {
		t.Fatalf("new agent's role %q", td.TopicData.TopicParticipant.Role)
	}
	u := next(t, r1, agentdesk.EventTopicUnsubscription, func(x agentdesk.TopicUnsubscription) bool { return x.ConversationID == "c1" })
	if u.Reason != "TRANSFERRED" || u.TaskID != task1 {
		t.Fatalf("requester's topicUnsubscription %+v", u)
	}
	e.view(func(st routing.View) {
		if _, ok := st.Task(task1); ok {
			t.Fatal("the requester's task is still open")
		}
	})
}

func TestDirectConferenceToAgent(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	c1, r1 := e.connectAll("a1")
	c2, r2 := e.connectAll("a2")
	c3, r3 := e.connectAll("a3")
	ready(t, c1, r1, "a1")
	task1 := e.answer(c1, r1, "a1", "c1", "chat")
	ready(t, c3, r3, "a3") // READY, but not the one asked for
	ready(t, c2, r2, "a2")
	if a := ack(t, c1, agentdesk.EventDirectConferenceRequest, map[string]any{
		"conversationId": "c1", "mode": "agent", "requestedAgentId": "a2", "note": "second opinion"}); !a.OK {
		t.Fatalf("ack %+v", a)
	}
	tr := next(t, r2, agentdesk.EventTaskRequest, func(x agentdesk.TaskRequest) bool { return x.ConversationID == "c1" })
	if tr.TaskDirection != agentdesk.TaskDirectionDirectConference || tr.Note != "second opinion" {
		t.Fatalf("taskRequest %+v", tr)
	}
	none(t, r3, agentdesk.EventTaskRequest, 200*time.Millisecond)
	if a := ack(t, c2, agentdesk.EventTopicSubscription, map[string]any{"conversationId": "c1"}); !a.OK {
		t.Fatalf("accept: %+v", a)
	}
	td := next(t, r2, agentdesk.EventOnTopicData, func(x agentdesk.OnTopicData) bool { return x.ConversationID == "c1" })
	if td.TopicData.TopicParticipant.Role != string(routing.RoleConference) || len(td.TopicData.AgentParticipants) != 2 {
		t.Fatalf("onTopicData %+v", td.TopicData)
	}
	e.view(func(st routing.View) {
		if tk, ok := st.Task(task1); !ok || tk.State != routing.TaskActiveState {
			t.Fatal("the requester left on a conference")
		}
	})
}

func TestDirectTransferExpires(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	c1, r1 := e.connectAll("a1")
	ready(t, c1, r1, "a1")
	e.answer(c1, r1, "a1", "c1", "chat")
	// Nobody of queue support (a2, a3) is READY: its TTL (1 s) passes.
	if a := ack(t, c1, agentdesk.EventDirectTransferRequest, map[string]any{"conversationId": "c1", "mode": "queue", "queueId": "support"}); !a.OK {
		t.Fatalf("ack %+v", a)
	}
	ev := next(t, r1, agentdesk.EventOnCimEvent, func(x map[string]any) bool {
		ce, _ := x["cimEvent"].(map[string]any)
		return ce["name"] == conversation.CimNoAgentAvailable
	})
	ce := ev["cimEvent"].(map[string]any)
	data, _ := ce["data"].(map[string]any)
	if ce["type"] != "NOTIFICATION" || ce["conversationId"] != "c1" || data["reason"] != "EXPIRED" || data["mode"] != "transfer" {
		t.Fatalf("onCimEvent %v", ev)
	}
	e.view(func(st routing.View) {
		if cv, _ := st.Conversation("c1"); cv.State != "OPEN" || len(cv.Participants) != 1 {
			t.Fatalf("conversation after a failed transfer: %+v", cv)
		}
	})
}

func TestSupervisorMonitorAndBargeIn(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	c1, r1 := e.connectAll("a1")
	cs, rs := e.connectAll("s1")
	ready(t, c1, r1, "a1")
	e.answer(c1, r1, "a1", "c1", "chat")
	digest := e.digest()
	if a := ack(t, cs, agentdesk.EventJoinAsSilentMonitor, map[string]any{
		"agentId": "s1", "topicParticipant": map[string]any{"topicId": "c1"}, "channelSession": map[string]any{}}); !a.OK {
		t.Fatalf("join: %+v", a)
	}
	td := next(t, rs, agentdesk.EventOnTopicData, func(x agentdesk.OnTopicData) bool { return x.ConversationID == "c1" })
	if p := td.TopicData.TopicParticipant; p.Role != string(routing.RoleSilentMonitor) || p.ID != "c1:s1" {
		t.Fatalf("supervisor's topicParticipant %+v", p)
	}
	if d := e.digest(); d == digest {
		t.Fatal("joining changed nothing")
	}
	// No capacity: s1's MRDs and a1's load are untouched.
	e.view(func(st routing.View) {
		as, _ := st.Agent("a1")
		ss, _ := st.Agent("s1")
		if as.MRDs[0].Load != 1 || ss.MRDs[0].Load != 0 {
			t.Fatalf("loads a1 %d s1 %d", as.MRDs[0].Load, ss.MRDs[0].Load)
		}
	})
	if a := ack(t, cs, agentdesk.EventJoinAsBargin, map[string]any{"conversationId": "c1", "participantId": "c1:s1"}); !a.OK {
		t.Fatalf("barge in: %+v", a)
	}
	for _, r := range []*recorder{r1, rs} { // every participant sees the role change
		next(t, r, agentdesk.EventOnCimEvent, func(x map[string]any) bool {
			ce, _ := x["cimEvent"].(map[string]any)
			data, _ := ce["data"].(map[string]any)
			return ce["name"] == conversation.CimParticipantRole && data["role"] == string(routing.RoleBargeIn) && data["agentId"] == "s1"
		})
	}
	// Leaving as a supervisor: topicUnsubscription_ without a task.
	if a := ack(t, cs, agentdesk.EventTopicUnsubscriptionRequest, map[string]any{"conversationId": "c1"}); !a.OK {
		t.Fatalf("leave: %+v", a)
	}
	next(t, rs, agentdesk.EventTopicUnsubscription, func(x agentdesk.TopicUnsubscription) bool { return x.ConversationID == "c1" })
	// Direct barge-in (the other spelling) without a silent join first.
	if a := ack(t, cs, agentdesk.EventJoinAsBargeIn, map[string]any{"roomInfo": map[string]any{"id": "c1"}}); !a.OK {
		t.Fatalf("barge in: %+v", a)
	}
	next(t, rs, agentdesk.EventOnTopicData, func(x agentdesk.OnTopicData) bool {
		return x.ConversationID == "c1" && x.TopicData.TopicParticipant.Role == string(routing.RoleBargeIn)
	})
}

func TestWrapUpDeskEvents(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	c1, r1 := e.connectAll("a1")
	ready(t, c1, r1, "a1")
	task := e.answer(c1, r1, "a1", "c1", "chat-wrap")
	if a := ack(t, c1, agentdesk.EventTopicUnsubscriptionRequest, map[string]any{"conversationId": "c1"}); !a.OK {
		t.Fatalf("leave %+v", a)
	}
	u := next[agentdesk.TopicUnsubscription](t, r1, agentdesk.EventTopicUnsubscription, nil)
	w := next[agentdesk.WrapupTimerStarted](t, r1, agentdesk.EventWrapupTimerStarted, nil)
	if u.Reason != "WRAP_UP" || w.ConversationID != "c1" || w.TaskID != task || w.WrapupTime != fixture.WrapUpTime.Seconds() {
		t.Fatalf("topicUnsubscription %+v, wrapupTimerStarted %+v", u, w)
	}
	// NOT_READY while wrapping up: PENDING_NOT_READY until the work ends.
	setState(t, c1, "a1", "NOT_READY", nil)
	next(t, r1, agentdesk.EventAgentPresence, func(p agentdesk.AgentPresence) bool {
		return p.State.Name == "NOT_READY" && mrdState(p, "chat") == "PENDING_NOT_READY"
	})
	if a := ack(t, c1, agentdesk.EventCloseWrapup, map[string]any{"conversationId": "c1", "taskId": task}); !a.OK {
		t.Fatalf("closeWrapup %+v", a)
	}
	next(t, r1, agentdesk.EventAgentPresence, func(p agentdesk.AgentPresence) bool { return mrdState(p, "chat") == "NOT_READY" })
	e.view(func(st routing.View) {
		if _, ok := st.Task(task); ok {
			t.Fatal("task still open after closeWrapup")
		}
	})
}

func mrdState(p agentdesk.AgentPresence, mrd string) string {
	for _, m := range p.AgentMrdStates {
		if m.MRD.ID == mrd {
			return m.State
		}
	}
	return ""
}

// TestParticipantRefusals: every refusal of the new desk events is an
// errors event with a stable code, an Ack with the same code, and no change
// to the engine state (node digest before and after).
func TestParticipantRefusals(t *testing.T) {
	// Large enough that an oversize string payload reaches the decoder
	// instead of closing the connection.
	e := newEnv(t, agentdesk.Options{MaxPayloadBytes: 256 << 10})
	c1, r1 := e.connectAll("a1")
	cs1, rs1 := e.connectAll("s1")
	cs2, rs2 := e.connectAll("s2")
	ready(t, c1, r1, "a1")
	task1 := e.answer(c1, r1, "a1", "c1", "chat")
	long := strings.Repeat("x", routing.MaxIDLength+1)
	cases := []struct {
		name    string
		c       *deskclient.Conn
		r       *recorder
		event   string
		payload any
		code    string
	}{
		{"transfer: null payload", c1, r1, agentdesk.EventDirectTransferRequest, nil, agentdesk.CodeInvalidPayload},
		{"transfer: array", c1, r1, agentdesk.EventDirectTransferRequest, []any{1}, agentdesk.CodeInvalidPayload},
		{"transfer: oversize string payload", c1, r1, agentdesk.EventDirectTransferRequest, strings.Repeat(" ", 100<<10), agentdesk.CodeInvalidPayload},
		{"transfer: no conversation", c1, r1, agentdesk.EventDirectTransferRequest, map[string]any{"mode": "queue", "queueId": "chat"}, agentdesk.CodeMissingField},
		{"transfer: no mode", c1, r1, agentdesk.EventDirectTransferRequest, map[string]any{"conversationId": "c1", "queueId": "chat"}, agentdesk.CodeMissingField},
		{"transfer: bad mode", c1, r1, agentdesk.EventDirectTransferRequest, map[string]any{"conversationId": "c1", "mode": "skill"}, agentdesk.CodeInvalidField},
		{"transfer: queue mode without queue", c1, r1, agentdesk.EventDirectTransferRequest, map[string]any{"conversationId": "c1", "mode": "queue"}, agentdesk.CodeMissingField},
		{"transfer: agent mode without agent", c1, r1, agentdesk.EventDirectTransferRequest, map[string]any{"conversationId": "c1", "mode": "agent"}, agentdesk.CodeMissingField},
		{"transfer: note too long", c1, r1, agentdesk.EventDirectTransferRequest, map[string]any{"conversationId": "c1", "mode": "queue", "queueId": "chat", "note": strings.Repeat("n", routing.MaxNoteBytes+1)}, agentdesk.CodeFieldTooLong},
		{"transfer: id too long", c1, r1, agentdesk.EventDirectTransferRequest, map[string]any{"conversationId": long, "mode": "queue", "queueId": "chat"}, agentdesk.CodeFieldTooLong},
		{"transfer: mode not a string", c1, r1, agentdesk.EventDirectTransferRequest, map[string]any{"conversationId": "c1", "mode": 3}, agentdesk.CodeInvalidField},
		{"transfer: foreign agentId", c1, r1, agentdesk.EventDirectTransferRequest, map[string]any{"conversationId": "c1", "agentId": "a2", "mode": "queue", "queueId": "chat"}, agentdesk.CodeForbidden},
		{"transfer: unknown conversation", c1, r1, agentdesk.EventDirectTransferRequest, map[string]any{"conversationId": "nope", "mode": "queue", "queueId": "chat"}, routing.CodeConversationNotFound},
		{"transfer: unknown queue", c1, r1, agentdesk.EventDirectTransferRequest, map[string]any{"conversationId": "c1", "mode": "queue", "queueId": "nope"}, routing.CodeQueueNotFound},
		{"transfer: unknown queue name", c1, r1, agentdesk.EventDirectTransferRequest, map[string]any{"conversationId": "c1", "mode": "queue", "queueName": "Nope"}, routing.CodeQueueNotFound},
		{"transfer: queue on another mrd", c1, r1, agentdesk.EventDirectTransferRequest, map[string]any{"conversationId": "c1", "mode": "queue", "queueId": "voice"}, routing.CodeInvalidArgument},
		{"transfer: to itself", c1, r1, agentdesk.EventDirectTransferRequest, map[string]any{"conversationId": "c1", "mode": "agent", "requestedAgentId": "a1"}, routing.CodeInvalidArgument},
		{"transfer: unknown agent", c1, r1, agentdesk.EventDirectTransferRequest, map[string]any{"conversationId": "c1", "mode": "agent", "requestedAgentId": "zz"}, routing.CodeAgentNotFound},
		{"transfer: agent not eligible", c1, r1, agentdesk.EventDirectTransferRequest, map[string]any{"conversationId": "c1", "mode": "agent", "requestedAgentId": "s1"}, routing.CodeNotEligible},
		{"transfer: not my task", c1, r1, agentdesk.EventDirectTransferRequest, map[string]any{"conversationId": "c1", "taskId": "task-999", "mode": "queue", "queueId": "chat"}, routing.CodeTaskNotFound},
		{"conference: not a participant", cs1, rs1, agentdesk.EventDirectConferenceRequest, map[string]any{"conversationId": "c1", "mode": "queue", "queueId": "chat"}, routing.CodeTaskNotFound},
		{"monitor: no payload", cs1, rs1, agentdesk.EventJoinAsSilentMonitor, nil, agentdesk.CodeInvalidPayload},
		{"monitor: no conversation", cs1, rs1, agentdesk.EventJoinAsSilentMonitor, map[string]any{"agentId": "s1"}, agentdesk.CodeMissingField},
		{"monitor: conversation too long", cs1, rs1, agentdesk.EventJoinAsSilentMonitor, map[string]any{"conversationId": long}, agentdesk.CodeFieldTooLong},
		{"monitor: topicParticipant not an object", cs1, rs1, agentdesk.EventJoinAsSilentMonitor, map[string]any{"topicParticipant": "c1"}, agentdesk.CodeInvalidField},
		{"monitor: foreign agentId", cs1, rs1, agentdesk.EventJoinAsSilentMonitor, map[string]any{"conversationId": "c1", "agentId": "s2"}, agentdesk.CodeForbidden},
		{"monitor: not a supervisor", c1, r1, agentdesk.EventJoinAsSilentMonitor, map[string]any{"conversationId": "c1"}, routing.CodeNotSupervisor},
		{"monitor: wrong team", cs2, rs2, agentdesk.EventJoinAsSilentMonitor, map[string]any{"conversationId": "c1"}, routing.CodeTeamMismatch},
		{"monitor: unknown conversation", cs1, rs1, agentdesk.EventJoinAsSilentMonitor, map[string]any{"conversationId": "nope"}, routing.CodeConversationNotFound},
		{"bargin: not a supervisor", c1, r1, agentdesk.EventJoinAsBargin, map[string]any{"conversationId": "c1"}, routing.CodeNotSupervisor},
		{"bargeIn: wrong team", cs2, rs2, agentdesk.EventJoinAsBargeIn, map[string]any{"conversationId": "c1"}, routing.CodeTeamMismatch},
		{"bargeIn: unknown conversation", cs1, rs1, agentdesk.EventJoinAsBargeIn, map[string]any{"conversationId": "nope"}, routing.CodeConversationNotFound},
		{"bargeIn: malformed", cs1, rs1, agentdesk.EventJoinAsBargeIn, map[string]any{"roomInfo": 7}, agentdesk.CodeInvalidField},
		{"whisper: not a supervisor", c1, r1, agentdesk.EventJoinAsWhisper, map[string]any{"conversationId": "c1"}, routing.CodeNotSupervisor},
		{"whisper: wrong team", cs2, rs2, agentdesk.EventJoinAsWhisper, map[string]any{"participantId": "c1:s2", "conversationId": "c1", "roomInfo": map[string]any{"id": "c1"}}, routing.CodeTeamMismatch},
		{"whisper: unknown conversation", cs1, rs1, agentdesk.EventJoinAsWhisperCap, map[string]any{"roomInfo": map[string]any{"id": "nope"}}, routing.CodeConversationNotFound},
		{"whisper: no conversation", cs1, rs1, agentdesk.EventJoinAsWhisper, map[string]any{"participantId": "c1:s1"}, agentdesk.CodeMissingField},
		{"whisper: malformed", cs1, rs1, agentdesk.EventJoinAsWhisper, map[string]any{"roomInfo": []any{"c1"}}, agentdesk.CodeInvalidField},
		{"whisper: foreign agentId", cs1, rs1, agentdesk.EventJoinAsWhisper, map[string]any{"conversationId": "c1", "agentId": "s2"}, agentdesk.CodeForbidden},
		{"closeWrapup: no payload", c1, r1, agentdesk.EventCloseWrapup, nil, agentdesk.CodeInvalidPayload},
		{"closeWrapup: no conversation", c1, r1, agentdesk.EventCloseWrapup, map[string]any{"taskId": task1}, agentdesk.CodeMissingField},
		{"closeWrapup: not in wrap-up", c1, r1, agentdesk.EventCloseWrapup, map[string]any{"conversationId": "c1", "taskId": task1}, routing.CodeInvalidTransition},
		{"closeWrapup: unknown conversation", c1, r1, agentdesk.EventCloseWrapup, map[string]any{"conversationId": "nope"}, routing.CodeTaskNotFound},
		{"closeWrapup: foreign agentId", c1, r1, agentdesk.EventCloseWrapup, map[string]any{"conversationId": "c1", "agentId": "a2"}, agentdesk.CodeForbidden},
		{"leave: supervisor not in it", cs1, rs1, agentdesk.EventTopicUnsubscriptionRequest, map[string]any{"conversationId": "c1"}, routing.CodeTaskNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.digest()
			a := ack(t, tc.c, tc.event, tc.payload)
			if a.OK || a.Code != tc.code {
				t.Fatalf("ack %+v, want %s", a, tc.code)
			}
			x := next[agentdesk.ErrorEvent](t, tc.r, agentdesk.EventErrors, nil)
			if x.Code != tc.code || x.Event != tc.event || x.Message == "" {
				t.Fatalf("errors %+v, want code %s event %s", x, tc.code, tc.event)
			}
			if after := e.digest(); after != before {
				t.Fatalf("refused %s changed the state", tc.event)
			}
		})
	}
}

// TestAgentParticipantForms: agentParticipant as ExpertFlow desks send it
// (issue 9 item 5): the agent itself (a bare {"id": agent} or a CCUser),
// the requester's topicParticipant from onTopicData, or a bare task id; a
// wrong one is refused naming the field and what it must hold.
func TestAgentParticipantForms(t *testing.T) {
	ccUser := func(id string) map[string]any {
		return map[string]any{"participantType": "CCUser", "id": id, "keycloakUser": map[string]any{"id": id, "username": id}}
	}
	forms := []struct {
		name string
		ap   func(task string) any
	}{
		{"bare agent id", func(string) any { return map[string]any{"id": "a1"} }},
		{"CCUser", func(string) any { return ccUser("a1") }},
		{"keycloakUser only", func(string) any { return map[string]any{"keycloakUser": map[string]any{"id": "a1"}} }},
		{"topicParticipant", func(task string) any {
			return map[string]any{"id": task, "type": "AGENT", "participant": ccUser("a1"), "role": "PRIMARY", "state": "SUBSCRIBED"}
		}},
		{"bare task id", func(task string) any { return map[string]any{"id": task} }},
	}
	for _, ev := range []string{agentdesk.EventDirectTransferRequest, agentdesk.EventDirectConferenceRequest} {
		for _, f := range forms {
			t.Run(ev+"/"+f.name, func(t *testing.T) {
				e := newEnv(t, agentdesk.Options{})
				c1, r1 := e.connectAll("a1")
				ready(t, c1, r1, "a1")
				task1 := e.answer(c1, r1, "a1", "c1", "chat")
				a := ack(t, c1, ev, map[string]any{"conversationId": "c1", "agentParticipant": f.ap(task1),
					"mode": "queue", "queueId": "chat"})
				if !a.OK {
					t.Fatalf("ack %+v", a)
				}
			})
		}
	}

	e := newEnv(t, agentdesk.Options{})
	c1, r1 := e.connectAll("a1")
	ready(t, c1, r1, "a1")
	task1 := e.answer(c1, r1, "a1", "c1", "chat")
	for _, tc := range []struct {
		name, code, field string
		ap                any
	}{
		{"another agent's id", routing.CodeTaskNotFound, "agentParticipant.id", map[string]any{"id": "a2"}},
		{"another CCUser", agentdesk.CodeForbidden, "agentParticipant.id", ccUser("a2")},
		{"another topicParticipant", agentdesk.CodeForbidden, "agentParticipant.participant.id",
			map[string]any{"id": task1, "participant": ccUser("a2")}},
		{"unknown task", routing.CodeTaskNotFound, "agentParticipant.id", map[string]any{"id": "task-999"}},
		{"not an object", agentdesk.CodeInvalidField, "agentParticipant", "a1"},
		{"id not a string", agentdesk.CodeInvalidField, "agentParticipant.id", map[string]any{"id": 7}},
	} {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			before := e.digest()
			a := ack(t, c1, agentdesk.EventDirectTransferRequest, map[string]any{"conversationId": "c1",
				"agentParticipant": tc.ap, "mode": "queue", "queueId": "chat"})
			if a.OK || a.Code != tc.code || a.Field != tc.field || a.Message == "" {
				t.Fatalf("ack %+v, want %s at %s", a, tc.code, tc.field)
			}
			x := next[agentdesk.ErrorEvent](t, r1, agentdesk.EventErrors, nil)
			if x.Code != tc.code || x.Field != tc.field {
				t.Fatalf("errors %+v", x)
			}
			if e.digest() != before {
				t.Fatal("a refusal changed the state")
			}
		})
	}
}

// TestDeclineRevokes: a decline through the REST API (routing.DeclineTask;
// the desk protocol has no decline event) withdraws the offer from the
// agent's desk with revokeTask reason DECLINED (issue 9 item 16).
func TestDeclineRevokes(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	c1, r1 := e.connectAll("a1")
	ready(t, c1, r1, "a1")
	e.createConversation("c1", "chat")
	tr := next(t, r1, agentdesk.EventTaskRequest, func(x agentdesk.TaskRequest) bool { return x.ConversationID == "c1" })
	e.submit(routing.DeclineTask{Task: tr.TaskID, Agent: "a1"})
	rv := next(t, r1, agentdesk.EventRevokeTask, func(x agentdesk.RevokeTask) bool { return x.TaskID == tr.TaskID })
	if rv.Reason != "DECLINED" || rv.ConversationID != "c1" {
		t.Fatalf("revokeTask %+v", rv)
	}
}
