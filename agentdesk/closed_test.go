package agentdesk_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/omniroute/omniroute/agentdesk"
	"github.com/omniroute/omniroute/agentdesk/deskclient"
	"github.com/omniroute/omniroute/agentdesk/internal/fixture"
	"github.com/omniroute/omniroute/conversation"
	"github.com/omniroute/omniroute/routing"
)

// Tests of closed.go (issue 9 item 2): a conversation closed by someone
// else than the agent reaches every participant's desk as topicClosed
// (PROTOCOLS.md: the shape of topicUnsubscription with task "topicClosed"),
// with its reason, and the agents' tasks end (WRAP_UP where the queue has a
// wrap-up time). The admin's POST /v1/conversations/{id}/close is in
// e2e/deskgaps.test.mjs; here: the customer gone for good, a TTL, the last
// agent leaving a supervised chat, and what a supervisor may not do.

// connectClosing is connectAll with topicClosed recorded too.
func (e *env) connectClosing(agent string) (*deskclient.Conn, *recorder) {
	e.t.Helper()
	r := newRecorder()
	opts := r.options()
	for _, ev := range []string{agentdesk.EventWrapupTimerStarted, agentdesk.EventTopicClosed} {
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

// checkTopicClosed fails unless tc is PROTOCOLS.md's topicClosed of
// conversation for task with reason.
func checkTopicClosed(t *testing.T, who string, tc map[string]any, conversation, task string, reason routing.CloseReason) {
	t.Helper()
	room, _ := tc["roomInfo"].(map[string]any)
	if tc["task"] != agentdesk.EventTopicClosed || tc["conversationId"] != conversation || tc["statusCode"] != float64(200) ||
		room["id"] != conversation || tc["reason"] != string(reason) || tc["taskId"] != task {
		t.Fatalf("%s: topicClosed %v, want conversation %s task %s reason %s", who, tc, conversation, task, reason)
	}
}

// join makes supervisor s1 a silent monitor of conversation id.
func join(t *testing.T, cs *deskclient.Conn, rs *recorder, id string) {
	t.Helper()
	if a := ack(t, cs, agentdesk.EventJoinAsSilentMonitor, map[string]any{
		"agentId": "s1", "topicParticipant": map[string]any{"topicId": id}, "channelSession": map[string]any{}}); !a.OK {
		t.Fatalf("join %s: %+v", id, a)
	}
	next(t, rs, agentdesk.EventOnTopicData, func(x agentdesk.OnTopicData) bool { return x.ConversationID == id })
}

func taskState(e *env, id string) (routing.TaskState, bool) {
	var st routing.TaskState
	var ok bool
	e.view(func(v routing.View) {
		var tk routing.Task
		tk, ok = v.Task(id)
		st = tk.State
	})
	return st, ok
}

func convState(e *env, id string) routing.Conversation {
	var cv routing.Conversation
	e.view(func(v routing.View) { cv, _ = v.Conversation(id) })
	return cv
}

// TestTopicClosedCustomerGone: the customer leaves for good while a1 is
// ACTIVE on a queue whose lastAgentLeaves is requeue, with a wrap-up time.
// The chat is not dead on the desk: a1 and the supervisor get CUSTOMER_LEFT
// at once, and the conversation stays open for a1 to finish. When a1 leaves,
// the conversation closes (DONE: with the customer gone there is no one to
// requeue for): the supervisor gets topicClosed, a1's task wraps up.
func TestTopicClosedCustomerGone(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	e.submit(routing.UpsertQueue{Queue: routing.Queue{ID: "chat-requeue", Name: "Chat Requeue", MRD: "chat",
		RONATimeout: 30 * time.Second, WrapUp: fixture.WrapUpTime, LastAgentLeaves: routing.LastAgentRequeue}})
	c1, r1 := e.connectClosing("a1")
	cs, rs := e.connectClosing("s1")
	ready(t, c1, r1, "a1")
	task := e.answer(c1, r1, "a1", "c1", "chat-requeue")
	join(t, cs, rs, "c1")

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, _, err := e.conv.CustomerLeft(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*recorder{r1, rs} {
		next(t, r, agentdesk.EventOnCimEvent, func(x map[string]any) bool {
			ce, _ := x["cimEvent"].(map[string]any)
			return ce["name"] == conversation.CimCustomerLeft && ce["conversationId"] == "c1"
		})
	}
	if st, _ := taskState(e, task); st != routing.TaskActiveState {
		t.Fatalf("a1's task after the customer left: %s", st)
	}
	if cv := convState(e, "c1"); cv.State != "OPEN" {
		t.Fatalf("conversation after the customer left: %+v", cv)
	}

	if a := ack(t, c1, agentdesk.EventTopicUnsubscriptionRequest, map[string]any{"conversationId": "c1"}); !a.OK {
		t.Fatalf("leave %+v", a)
	}
	checkTopicClosed(t, "s1", nextRaw(t, rs, agentdesk.EventTopicClosed, nil), "c1", "c1:s1", routing.ReasonDone)
	next(t, r1, agentdesk.EventWrapupTimerStarted, func(w agentdesk.WrapupTimerStarted) bool { return w.TaskID == task })
	checkTopicClosed(t, "a1", nextRaw(t, r1, agentdesk.EventTopicClosed, nil), "c1", task, routing.ReasonDone)
	if st, ok := taskState(e, task); !ok || st != routing.TaskWrapUpState {
		t.Fatalf("a1's task after the close: %s (open %v)", st, ok)
	}
	if cv := convState(e, "c1"); cv.State != "CLOSED" {
		t.Fatalf("conversation: %+v", cv)
	}
}

// TestTopicClosedTTL: a TTL only ever bounds a request. While a1 is ACTIVE
// a conference request's TTL passing closes nothing (a1 keeps a live chat,
// not a dead one: its task stays ACTIVE). Once a1 has left and the
// conversation waits on that request alone, the TTL closes it
// (NO_AGENT_AVAILABLE): the supervisor still in it gets topicClosed.
func TestTopicClosedTTL(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	c1, r1 := e.connectClosing("a1")
	cs, rs := e.connectClosing("s1")
	ready(t, c1, r1, "a1")

	// The TTL passes with a1 ACTIVE.
	task := e.answer(c1, r1, "a1", "c1", "chat")
	join(t, cs, rs, "c1")
	if a := ack(t, c1, agentdesk.EventDirectConferenceRequest, map[string]any{"conversationId": "c1", "mode": "queue", "queueId": "support"}); !a.OK {
		t.Fatalf("conference: %+v", a)
	}
	next(t, r1, agentdesk.EventOnCimEvent, func(x map[string]any) bool {
		ce, _ := x["cimEvent"].(map[string]any)
		return ce["name"] == conversation.CimNoAgentAvailable && ce["conversationId"] == "c1"
	})
	if st, _ := taskState(e, task); st != routing.TaskActiveState {
		t.Fatalf("a1's task after the TTL: %s", st)
	}
	if cv := convState(e, "c1"); cv.State != "OPEN" {
		t.Fatalf("conversation after the TTL: %+v", cv)
	}

	// a1 leaves while a second conference request waits: the TTL closes.
	if a := ack(t, c1, agentdesk.EventDirectConferenceRequest, map[string]any{"conversationId": "c1", "mode": "queue", "queueId": "support"}); !a.OK {
		t.Fatalf("conference: %+v", a)
	}
	if a := ack(t, c1, agentdesk.EventTopicUnsubscriptionRequest, map[string]any{"conversationId": "c1"}); !a.OK {
		t.Fatalf("leave %+v", a)
	}
	if cv := convState(e, "c1"); cv.State != "OPEN" || cv.Request == nil || len(cv.Participants) != 1 || cv.Participants[0].Agent != "s1" {
		t.Fatalf("conversation after a1 left: %+v", cv)
	}
	checkTopicClosed(t, "s1", nextRaw(t, rs, agentdesk.EventTopicClosed, nil), "c1", "c1:s1", routing.ReasonNoAgentAvailable)
	if cv := convState(e, "c1"); cv.State != "CLOSED" {
		t.Fatalf("conversation: %+v", cv)
	}
}

// TestTopicClosedSupervisorAndLastAgent: seed 004 gives a supervisor no
// event that closes a conversation (and POST /v1/conversations/{id}/close
// is the admin's only: server.TestAuthorizationMatrix), so a supervisor
// leaving, even one who barged in, closes nothing: the agent gets no
// topicClosed and keeps its ACTIVE task. The last agent leaving a
// supervised chat closes it (DONE): the supervisor's desk gets topicClosed,
// and so does the agent's; on a queue without wrap-up its task is closed.
func TestTopicClosedSupervisorAndLastAgent(t *testing.T) {
	e := newEnv(t, agentdesk.Options{})
	c1, r1 := e.connectClosing("a1")
	cs, rs := e.connectClosing("s1")
	ready(t, c1, r1, "a1")
	task := e.answer(c1, r1, "a1", "c1", "chat")
	if a := ack(t, cs, agentdesk.EventJoinAsBargeIn, map[string]any{"conversationId": "c1", "agentId": "s1"}); !a.OK {
		t.Fatalf("barge in: %+v", a)
	}
	next(t, rs, agentdesk.EventOnTopicData, func(x agentdesk.OnTopicData) bool { return x.ConversationID == "c1" })
	if a := ack(t, cs, agentdesk.EventTopicUnsubscriptionRequest, map[string]any{"conversationId": "c1"}); !a.OK {
		t.Fatalf("supervisor leaves: %+v", a)
	}
	next(t, rs, agentdesk.EventTopicUnsubscription, func(x agentdesk.TopicUnsubscription) bool { return x.ConversationID == "c1" })
	if st, _ := taskState(e, task); st != routing.TaskActiveState {
		t.Fatalf("a1's task after the supervisor left: %s", st)
	}
	if cv := convState(e, "c1"); cv.State != "OPEN" || len(cv.Participants) != 1 {
		t.Fatalf("conversation after the supervisor left: %+v", cv)
	}

	join(t, cs, rs, "c1")
	if a := ack(t, c1, agentdesk.EventTopicUnsubscriptionRequest, map[string]any{"conversationId": "c1"}); !a.OK {
		t.Fatalf("a1 leaves: %+v", a)
	}
	checkTopicClosed(t, "s1", nextRaw(t, rs, agentdesk.EventTopicClosed, nil), "c1", "c1:s1", routing.ReasonDone)
	checkTopicClosed(t, "a1", nextRaw(t, r1, agentdesk.EventTopicClosed, nil), "c1", task, routing.ReasonDone)
	// The supervisor's earlier leave sent no topicClosed to anyone: exactly
	// one each.
	for who, r := range map[string]*recorder{"a1": r1, "s1": rs} {
		r.mu.Lock()
		n := 0
		for _, g := range r.got {
			if g.event == agentdesk.EventTopicClosed {
				n++
			}
		}
		r.mu.Unlock()
		if n != 1 {
			t.Fatalf("%s got %d topicClosed: %s", who, n, r.dump())
		}
	}
	if _, open := taskState(e, task); open {
		t.Fatal("a1's task is still open (queue chat has no wrap-up)")
	}
}
