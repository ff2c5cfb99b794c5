package agentdesk_test

import (
	"slices"
	"testing"
	"time"

	"github.com/omniroute/omniroute/agentdesk"
	"github.com/omniroute/omniroute/agentdesk/deskclient"
	"github.com/omniroute/omniroute/conversation"
	"github.com/omniroute/omniroute/routing"
)

// Supervisor whisper, role rules, joinAsWhisper and supervisor logout
// (supervisor.go, cim.go participantCheck, dispatch.go).

func cimMsg(conv, name string, body map[string]any) map[string]any {
	return map[string]any{"conversationId": conv, "cimEvent": map[string]any{
		"name": name, "type": "MESSAGE", "data": map[string]any{"body": body}}}
}

func isCim(name, text string) func(cimOn) bool {
	return func(c cimOn) bool {
		return c.CimEvent.Name == name && (text == "" || c.CimEvent.Data.Body["markdownText"] == text)
	}
}

// transcriptLen is the length of the conversation's transcript as the
// ACTIVE agent's desk sees it (topicSubscription again resends onTopicData
// with every topicEvent, whispers included).
func (e *env) transcriptLen(c *deskclient.Conn, r *recorder, conv, task string) int {
	e.t.Helper()
	if a := ack(e.t, c, agentdesk.EventTopicSubscription, map[string]any{"conversationId": conv, "taskId": task}); !a.OK {
		e.t.Fatalf("topicSubscription again: %+v", a)
	}
	td := next(e.t, r, agentdesk.EventOnTopicData, func(x agentdesk.OnTopicData) bool { return x.ConversationID == conv })
	return len(td.TopicData.TopicEvents)
}

// refused publishes payload from c and expects errors code on r.
func refused(t *testing.T, c *deskclient.Conn, r *recorder, payload any, code string) {
	t.Helper()
	if a := ack(t, c, agentdesk.EventPublishCimEvent, payload); a.OK || a.Code != code {
		t.Fatalf("ack %+v, want %s", a, code)
	}
	if x := next[agentdesk.ErrorEvent](t, r, agentdesk.EventErrors, nil); x.Code != code || x.Event != agentdesk.EventPublishCimEvent {
		t.Fatalf("errors %+v, want %s", x, code)
	}
}

// TestSupervisorWhisperAndRoles: a SILENT_MONITOR's and a WHISPER's
// WHISPER_MESSAGE reaches the agent and every supervisor, never the
// customer; any other type from them is ROLE_NOT_ALLOWED and stores
// nothing; once BARGE_IN the supervisor's AGENT_MESSAGE reaches the
// customer. Supervisor system events stay off the customer's stream.
func TestSupervisorWhisperAndRoles(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	c1, r1 := e.connectAll("a1")
	ready(t, c1, r1, "a1")
	task := e.answer(c1, r1, "a1", "c1", "chat")
	cust := e.customer("c1", 0)
	cs1, rs1 := e.connectAll("s1")
	cs3, rs3 := e.connectAll("s3")

	if a := ack(t, cs1, agentdesk.EventJoinAsSilentMonitor, map[string]any{"topicParticipant": map[string]any{"topicId": "c1"}}); !a.OK {
		t.Fatalf("silent join %+v", a)
	}
	next(t, rs1, agentdesk.EventOnTopicData, func(x agentdesk.OnTopicData) bool {
		return x.ConversationID == "c1" && x.TopicData.TopicParticipant.Role == string(routing.RoleSilentMonitor)
	})
	// joinAsWhisper (PROTOCOLS.md shape) joins s3 as WHISPER.
	if a := ack(t, cs3, agentdesk.EventJoinAsWhisper, map[string]any{"participantId": "c1:s3", "conversationId": "c1",
		"roomInfo": map[string]any{"id": "c1", "mode": "CONTACT_CENTER"}}); !a.OK {
		t.Fatalf("whisper join %+v", a)
	}
	td := next(t, rs3, agentdesk.EventOnTopicData, func(x agentdesk.OnTopicData) bool { return x.ConversationID == "c1" })
	if p := td.TopicData.TopicParticipant; p.Role != string(routing.RoleWhisper) || p.ID != "c1:s3" {
		t.Fatalf("whisperer's topicParticipant %+v", p)
	}
	e.view(func(st routing.View) {
		ss, _ := st.Agent("s3")
		if ss.MRDs[0].Load != 0 {
			t.Fatalf("s3 load %d", ss.MRDs[0].Load)
		}
	})
	// a1 sees both supervisors arrive.
	for _, who := range []string{"s1", "s3"} {
		next(t, r1, agentdesk.EventOnCimEvent, func(x cimOn) bool {
			return x.CimEvent.Name == conversation.CimAgentSubscribed && x.CimEvent.Data.AgentID == who
		})
	}
	before := e.transcriptLen(c1, r1, "c1", task)

	// SILENT_MONITOR whispers: a1, s1 (echo) and s3 get it.
	whisper := cimMsg("c1", conversation.CimWhisperMessage, map[string]any{"type": "PLAIN", "markdownText": "offer the discount"})
	if a := ack(t, cs1, agentdesk.EventPublishCimEvent, whisper); !a.OK {
		t.Fatalf("whisper %+v", a)
	}
	for _, r := range []*recorder{r1, rs1, rs3} {
		w := next(t, r, agentdesk.EventOnCimEvent, isCim(conversation.CimWhisperMessage, "offer the discount"))
		if w.CimEvent.EventEmitter.ID != "s1" || w.CimEvent.Data.Header["sender"].(map[string]any)["id"] != "s1" {
			t.Fatalf("whisper emitter %+v header %v", w.CimEvent.EventEmitter, w.CimEvent.Data.Header)
		}
	}
	// WHISPER whispers too.
	whisper3 := cimMsg("c1", conversation.CimWhisperMessage, map[string]any{"type": "PLAIN", "markdownText": "ask for the order"})
	if a := ack(t, cs3, agentdesk.EventPublishCimEvent, whisper3); !a.OK {
		t.Fatalf("whisper from WHISPER %+v", a)
	}
	for _, r := range []*recorder{r1, rs1, rs3} {
		next(t, r, agentdesk.EventOnCimEvent, isCim(conversation.CimWhisperMessage, "ask for the order"))
	}
	// Anything else from SILENT_MONITOR or WHISPER: ROLE_NOT_ALLOWED.
	plain := map[string]any{"type": "PLAIN", "markdownText": "hi, I am the supervisor"}
	for _, p := range []struct {
		c *deskclient.Conn
		r *recorder
	}{{cs1, rs1}, {cs3, rs3}} {
		refused(t, p.c, p.r, cimMsg("c1", conversation.CimAgentMessage, plain), agentdesk.CodeRoleNotAllowed)
		refused(t, p.c, p.r, map[string]any{"conversationId": "c1", "cimEvent": map[string]any{"name": "TYPING_INDICATOR", "type": "ACTIVITY"}},
			agentdesk.CodeRoleNotAllowed)
	}
	if got := e.transcriptLen(c1, r1, "c1", task); got != before+2 {
		t.Fatalf("transcript %d events, want %d (the two whispers only)", got, before+2)
	}
	// joinAsWhisper again: already WHISPER.
	if a := ack(t, cs3, agentdesk.EventJoinAsWhisperCap, map[string]any{"conversationId": "c1"}); a.OK || a.Code != routing.CodeInvalidTransition {
		t.Fatalf("whisper twice %+v", a)
	}
	next[agentdesk.ErrorEvent](t, rs3, agentdesk.EventErrors, nil)

	// Barge in: s1 may now talk to the customer.
	if a := ack(t, cs1, agentdesk.EventJoinAsBargeIn, map[string]any{"conversationId": "c1", "participantId": "c1:s1"}); !a.OK {
		t.Fatalf("barge in %+v", a)
	}
	for _, r := range []*recorder{r1, rs1, rs3} {
		next(t, r, agentdesk.EventOnCimEvent, func(x map[string]any) bool {
			ce, _ := x["cimEvent"].(map[string]any)
			data, _ := ce["data"].(map[string]any)
			return ce["name"] == conversation.CimParticipantRole && data["role"] == string(routing.RoleBargeIn) && data["agentId"] == "s1"
		})
	}
	if a := ack(t, cs1, agentdesk.EventPublishCimEvent, cimMsg("c1", conversation.CimAgentMessage, plain)); !a.OK {
		t.Fatalf("barge-in message %+v", a)
	}
	next(t, r1, agentdesk.EventOnCimEvent, isCim(conversation.CimAgentMessage, "hi, I am the supervisor"))
	got := cust.wait(t, conversation.CimAgentMessage)
	if got.CimEvent.EventEmitter.ID != "s1" || got.CimEvent.Data.Body["markdownText"] != "hi, I am the supervisor" {
		t.Fatalf("customer got %+v", got.CimEvent)
	}
	// The customer's stream is ordered: everything before the barge-in
	// message has arrived, and none of it is a whisper or a supervisor event.
	for _, c := range cust.snapshot() {
		switch {
		case c.CimEvent.Name == conversation.CimWhisperMessage:
			t.Fatalf("the customer saw a whisper: %+v", c.CimEvent)
		case c.CimEvent.Name == conversation.CimParticipantRole:
			t.Fatalf("the customer saw a supervisor role change: %+v", c.CimEvent)
		case c.CimEvent.Name == conversation.CimAgentSubscribed && c.CimEvent.Data.AgentID != "a1":
			t.Fatalf("the customer saw a supervisor join: %+v", c.CimEvent)
		}
	}
	if names := cust.names(); !slices.Contains(names, conversation.CimAgentSubscribed) {
		t.Fatalf("customer stream %v lacks a1's AGENT_SUBSCRIBED", names)
	}
}

// TestSupervisorLogoutLeaves: a supervisor's LOGOUT takes it out of every
// conversation it supervises; its desk gets topicUnsubscription
// AGENT_LOGOUT for each, the agent AGENT_UNSUBSCRIBED.
func TestSupervisorLogoutLeaves(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	c1, r1 := e.connectAll("a1")
	ready(t, c1, r1, "a1")
	e.answer(c1, r1, "a1", "c1", "chat")
	e.answer(c1, r1, "a1", "c2", "chat")
	cs, rs := e.connectAll("s1")
	ready(t, cs, rs, "s1")
	if a := ack(t, cs, agentdesk.EventJoinAsSilentMonitor, map[string]any{"conversationId": "c1"}); !a.OK {
		t.Fatalf("join c1 %+v", a)
	}
	if a := ack(t, cs, agentdesk.EventJoinAsWhisper, map[string]any{"conversationId": "c2"}); !a.OK {
		t.Fatalf("join c2 %+v", a)
	}
	setState(t, cs, "s1", "LOGOUT", nil)
	for _, conv := range []string{"c1", "c2"} {
		u := next(t, rs, agentdesk.EventTopicUnsubscription, func(x agentdesk.TopicUnsubscription) bool { return x.ConversationID == conv })
		if u.Reason != string(routing.ReasonAgentLogout) || u.TaskID != conv+":s1" {
			t.Fatalf("topicUnsubscription %+v", u)
		}
		next(t, r1, agentdesk.EventOnCimEvent, func(x cimOn) bool {
			return x.ConversationID == conv && x.CimEvent.Name == conversation.CimAgentUnsubscribed && x.CimEvent.Data.AgentID == "s1"
		})
	}
	e.view(func(st routing.View) {
		for _, conv := range []string{"c1", "c2"} {
			cv, _ := st.Conversation(conv)
			if cv.State != "OPEN" || len(cv.Participants) != 1 || cv.Participants[0].Agent != "a1" {
				t.Fatalf("%s after s1's logout: %+v", conv, cv)
			}
		}
	})
	// Gone: its whisper is refused.
	refused(t, cs, rs, cimMsg("c1", conversation.CimWhisperMessage, map[string]any{"type": "PLAIN", "markdownText": "x"}), agentdesk.CodeNotParticipant)
}

// TestSupervisorDisconnectLeaves: a supervisor whose desk stays gone past
// the grace period leaves what it supervises.
func TestSupervisorDisconnectLeaves(t *testing.T) {
	e := newEnv(t, agentdesk.Options{DisconnectGrace: 100 * time.Millisecond})
	c1, r1 := e.connectAll("a1")
	ready(t, c1, r1, "a1")
	e.answer(c1, r1, "a1", "c1", "chat")
	cs, rs := e.connectAll("s1")
	ready(t, cs, rs, "s1")
	if a := ack(t, cs, agentdesk.EventJoinAsSilentMonitor, map[string]any{"conversationId": "c1"}); !a.OK {
		t.Fatalf("join %+v", a)
	}
	_ = cs.Close()
	next(t, r1, agentdesk.EventOnCimEvent, func(x cimOn) bool {
		return x.CimEvent.Name == conversation.CimAgentUnsubscribed && x.CimEvent.Data.AgentID == "s1"
	})
	e.view(func(st routing.View) {
		cv, _ := st.Conversation("c1")
		if cv.State != "OPEN" || len(cv.Participants) != 1 {
			t.Fatalf("c1 %+v", cv)
		}
		if ss, _ := st.Agent("s1"); ss.State != routing.AgentNotReady || ss.ReasonCode != routing.DisconnectedReasonCode {
			t.Fatalf("s1 %s %s", ss.State, ss.ReasonCode)
		}
	})
}
