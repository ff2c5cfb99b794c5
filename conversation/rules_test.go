package conversation

import (
	"errors"
	"testing"

	"github.com/omniroute/omniroute/routing"
	"github.com/omniroute/omniroute/transcript"
)

func code(err error) string {
	var re *routing.Error
	if errors.As(err, &re) {
		return re.Code
	}
	return ""
}

// TestMayPublish: the supervisor publish rule, role by role.
func TestMayPublish(t *testing.T) {
	for _, tc := range []struct {
		role routing.ParticipantRole
		name string
		ok   bool
	}{
		{routing.RolePrimary, CimAgentMessage, true},
		{routing.RoleConference, CimAgentMessage, true},
		{routing.RoleBargeIn, CimAgentMessage, true},
		{routing.RoleBargeIn, CimWhisperMessage, true},
		{routing.RoleSilentMonitor, CimWhisperMessage, true},
		{routing.RoleWhisper, CimWhisperMessage, true},
		{routing.RoleSilentMonitor, CimAgentMessage, false},
		{routing.RoleWhisper, CimAgentMessage, false},
		{routing.RoleWhisper, "TYPING_INDICATOR", false},
	} {
		err := MayPublish(tc.role, tc.name)
		if (err == nil) != tc.ok || (!tc.ok && code(err) != CodeRoleNotAllowed) {
			t.Errorf("MayPublish(%s, %s) = %v", tc.role, tc.name, err)
		}
	}
}

// TestCheckAgentPublish: only participants of an open conversation
// publish; the role rule applies to them.
func TestCheckAgentPublish(t *testing.T) {
	open := routing.Conversation{ID: "c", State: "OPEN", Participants: []routing.Participant{
		{Agent: "a1", Task: "t1", Role: routing.RolePrimary}, {Agent: "s1", Role: routing.RoleSilentMonitor}}}
	closed := open
	closed.State = "CLOSED"
	for _, tc := range []struct {
		cv          routing.Conversation
		ok          bool
		agent, name string
		want        string
	}{
		{open, true, "a1", CimAgentMessage, ""},
		{open, true, "s1", CimWhisperMessage, ""},
		{open, true, "s1", CimAgentMessage, CodeRoleNotAllowed},
		{open, true, "x", CimAgentMessage, CodeNotParticipant},
		{closed, true, "a1", CimAgentMessage, CodeConversationClosed},
		{routing.Conversation{}, false, "a1", CimAgentMessage, routing.CodeConversationNotFound},
	} {
		if got := code(checkAgentPublish(tc.cv, tc.ok, "c", tc.agent, tc.name)); got != tc.want {
			t.Errorf("%s %s on %s: %q, want %q", tc.agent, tc.name, tc.cv.State, got, tc.want)
		}
	}
	if got := Recipients(open); len(got) != 2 || got[0] != "a1" || got[1] != "s1" {
		t.Errorf("Recipients %v", got)
	}
}

// TestCustomerSees: whispers and supervisor events stay with the agents.
func TestCustomerSees(t *testing.T) {
	if CustomerSees(transcript.Entry{Record: transcript.Record{AgentsOnly: true}}) ||
		!CustomerSees(transcript.Entry{}) {
		t.Fatal("CustomerSees")
	}
	if !agentsOnly(CimWhisperMessage, false) || !agentsOnly(CimAgentSubscribed, true) || agentsOnly(CimAgentMessage, false) {
		t.Fatal("agentsOnly")
	}
	if got := string(SSEFrame(7, []byte(`{"a":1}`))); got != "id: 7\nevent: cimEvent\ndata: {\"a\":1}\n\n" {
		t.Fatalf("SSEFrame %q", got)
	}
}
