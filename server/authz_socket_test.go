package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/agentdesk"
	"github.com/omniroute/omniroute/agentdesk/deskclient"
	"github.com/omniroute/omniroute/routing"
)

// TestAuthorizationMatrixSocketIO (issue 13 item 9, the agent-desk half):
// the Socket.IO connect for every role, and the events that name another
// agent or a conversation the socket's agent is not in, on a real server.
func TestAuthorizationMatrixSocketIO(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	srv := startMatrixServer(t, ctx)
	tok := matrixTokens(srv)
	agentOf := map[string]string{"agent": "alice", "other-agent": "bob", "team-supervisor": "sam", "other-supervisor": "tess",
		"none": "alice", "partner": "alice", "telephony": "alice", "admin": "alice"}
	socks := map[string]*deskclient.Conn{}
	for _, role := range matrixRoles {
		c, err := deskclient.Dial(ctx, srv.URL(), "", map[string]any{"agent": agentOf[role], "token": tok[role]})
		ok := strings.HasSuffix(role, "agent") || strings.HasSuffix(role, "supervisor")
		if ok != (err == nil) {
			t.Errorf("connect as %s: err %v, want connected %v", role, err, ok)
		}
		if err == nil {
			socks[role] = c
			t.Cleanup(func() { c.Close() })
		}
	}
	if len(socks) != 4 {
		t.Fatalf("%d sockets connected", len(socks))
	}
	// A conversation for alice: it waits (nobody is READY) until she is.
	postJSON(t, ctx, srv.URL()+"/v1/conversations", tok["admin"], `{"queue":"chat-support","customer":{"id":"c-1"}}`)
	offers := make(chan json.RawMessage, 4)
	socks["agent"].On(agentdesk.EventTaskRequest, func(p json.RawMessage) { offers <- p })
	if st, b := call(t, "PUT", srv.URL()+"/v1/agents/alice/state", tok["agent"], `{"state":"READY"}`); st != 200 {
		t.Fatalf("alice READY: %d %s", st, b)
	}
	var offer struct {
		ConversationID string `json:"conversationId"`
	}
	select {
	case p := <-offers:
		if err := json.Unmarshal(p, &offer); err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("no offer to alice")
	}
	ack := func(role, event string, payload any) agentdesk.Ack {
		t.Helper()
		raw, err := socks[role].EmitWithAck(ctx, event, payload)
		if err != nil || len(raw) == 0 {
			t.Fatalf("%s %s: %v", role, event, err)
		}
		var a agentdesk.Ack
		if err := json.Unmarshal(raw[0], &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	if a := ack("agent", agentdesk.EventTopicSubscription, map[string]any{"conversationId": offer.ConversationID}); !a.OK {
		t.Fatalf("alice accepts her offer: %+v", a)
	}
	conv := offer.ConversationID
	cases := []struct {
		role, event string
		payload     any
		code        string
	}{
		{"agent", agentdesk.EventChangeAgentState, map[string]any{"agentId": "bob", "action": "agentState", "state": map[string]any{"name": "NOT_READY"}}, agentdesk.CodeForbidden},
		{"team-supervisor", agentdesk.EventChangeAgentState, map[string]any{"agentId": "alice", "action": "agentState", "state": map[string]any{"name": "LOGOUT"}}, agentdesk.CodeForbidden},
		{"other-agent", agentdesk.EventTopicSubscription, map[string]any{"conversationId": conv}, routing.CodeTaskNotFound},
		{"agent", agentdesk.EventTopicSubscription, map[string]any{"conversationId": conv, "agentId": "bob"}, agentdesk.CodeForbidden},
		{"agent", agentdesk.EventJoinAsSilentMonitor, map[string]any{"conversationId": conv}, routing.CodeNotSupervisor},
		{"other-supervisor", agentdesk.EventJoinAsSilentMonitor, map[string]any{"conversationId": conv}, routing.CodeTeamMismatch},
		{"other-supervisor", agentdesk.EventJoinAsBargeIn, map[string]any{"conversationId": conv}, routing.CodeTeamMismatch},
		{"team-supervisor", agentdesk.EventJoinAsSilentMonitor, map[string]any{"conversationId": conv, "agentId": "tess"}, agentdesk.CodeForbidden},
	}
	// The supervisor of alice's team may monitor her conversation.
	if a := ack("team-supervisor", agentdesk.EventJoinAsSilentMonitor, map[string]any{"conversationId": conv}); !a.OK {
		t.Errorf("sam monitors alice's conversation: %+v", a)
	}
	for _, c := range cases {
		a := ack(c.role, c.event, c.payload)
		if a.OK || a.Code != c.code {
			t.Errorf("%s %s %v: ack %+v, want code %s", c.role, c.event, c.payload, a, c.code)
		}
	}
}
