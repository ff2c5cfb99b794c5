package conversation

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/omniroute/omniroute/routing"
)

// TestFollowerRecordBytes: the follower's typed system events encode to
// the very bytes systemRecord gives for the same data as a map (the
// encoding before the types), event by event, including empty values
// (a supervisor's taskId "") and characters JSON escapes.
func TestFollowerRecordBytes(t *testing.T) {
	at := time.Date(2026, 12, 2, 4, 0, 0, 123456789, time.UTC)
	c := &Conversations{opts: Options{Now: func() time.Time { return at }}}
	conv := `c<1>&"x"`
	for _, ev := range []routing.Event{
		routing.ParticipantJoined{Conversation: conv, Agent: "a1", Task: "t1", Role: routing.RolePrimary},
		routing.ParticipantJoined{Conversation: conv, Agent: "sup", Role: routing.RoleSilentMonitor},
		routing.ParticipantLeft{Conversation: conv, Agent: "a1", Task: "t1"},
		routing.TaskActivated{Conversation: conv, Agent: "a1", Task: "t1"},
		routing.TaskWrapUp{Conversation: conv, Agent: "a1", Task: "t1"},
		routing.TaskClosed{Conversation: conv, Agent: "a1", Task: "t1", Reason: routing.ReasonDone},
		routing.ParticipantRoleChanged{Conversation: conv, Agent: "sup", Role: routing.RoleBargeIn, Previous: routing.RoleSilentMonitor},
		routing.ConversationCreated{Conversation: conv, Queue: "q<é>", MRD: "chat"},
		routing.ConversationClosed{Conversation: conv, Reason: routing.ReasonNoAgentAvailable},
		routing.ConversationClosed{Conversation: conv, Reason: routing.ReasonDone},
	} {
		gotConv, name, data := systemEventOf(ev)
		if gotConv != conv || name == "" {
			t.Fatalf("%T: conversation %q name %q", ev, gotConv, name)
		}
		// The map the data stood for: the typed value's own fields.
		raw, err := json.Marshal(data)
		if err != nil {
			t.Fatal(err)
		}
		var asMap map[string]any
		if err := json.Unmarshal(raw, &asMap); err != nil {
			t.Fatal(err)
		}
		typed, err := c.followerRecord(conv, name, data, false)
		if err != nil {
			t.Fatal(err)
		}
		viaMap, err := c.systemRecord(conv, name, asMap, false)
		if err != nil {
			t.Fatal(err)
		}
		// Ids are fresh each time: give the map's record the typed one's.
		want := bytes.Replace(viaMap.Data, []byte(viaMap.ID), []byte(typed.ID), 1)
		if !bytes.Equal(typed.Data, want) {
			t.Errorf("%T:\n typed %s\n map   %s", ev, typed.Data, want)
		}
	}
	if _, name, _ := systemEventOf(routing.TaskClosed{Conversation: conv, Reason: routing.ReasonRONA}); name != "" {
		t.Fatalf("a RONA close is not part of the conversation, got %s", name)
	}
}
