package agentdesk

import (
	"testing"

	"github.com/omniroute/omniroute/routing"
)

// Fuzz tests of the decoders of transfer.go, supervisor.go and wrapup.go:
// they never panic, and what they accept respects every field's limit.

func FuzzDecodeDirectRequest(f *testing.F) {
	fuzzSeeds(f)
	for _, s := range []string{
		`{"channelSession":{"conversationId":"c1"},"agentParticipant":{"id":"task-1"},"mode":"queue","queueId":"chat","note":"n"}`,
		`{"conversationId":"c1","mode":"AGENT","requestedAgentId":"a2","queue":{"id":"chat","name":"Chat"}}`,
		`{"channelSession":{"id":"c1"},"mode":"queue","queueName":"Chat Sales","offerToAgent":true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, a := range fuzzArgs(data) {
			for _, ev := range []string{EventDirectTransferRequest, EventDirectConferenceRequest} {
				r, err := decodeDirectRequest(ev, a)
				if err != nil {
					checkDecodeErr(t, ev, err)
					continue
				}
				checkID(t, "conversationId", r.ConversationID, true)
				checkID(t, "agentId", r.AgentID, false)
				checkID(t, "taskId", r.TaskID, false)
				checkID(t, "queueId", r.QueueID, false)
				checkID(t, "requestedAgentId", r.RequestedAgentID, false)
				if len(r.Note) > routing.MaxNoteBytes || len(r.QueueName) > routing.MaxNameLength {
					t.Fatalf("note %d bytes, queueName %d bytes", len(r.Note), len(r.QueueName))
				}
				switch r.Mode {
				case transferModeQueue:
					if r.QueueID == "" && r.QueueName == "" {
						t.Fatal("mode queue without a queue")
					}
				case transferModeAgent:
					if r.RequestedAgentID == "" {
						t.Fatal("mode agent without an agent")
					}
				default:
					t.Fatalf("mode %q", r.Mode)
				}
			}
		}
	})
}

func FuzzDecodeSupervisorRequest(f *testing.F) {
	fuzzSeeds(f)
	for _, s := range []string{
		`{"topicParticipant":{"topicId":"c1"},"agentId":"s1","channelSession":{"conversationId":"c1"}}`,
		`{"participantId":"c1:s1","conversationId":"c1","roomInfo":{"id":"c1","mode":"CONTACT_CENTER"}}`,
		`{"roomInfo":{"id":"c1"}}`,
		`{"participantId":"c1:s1","conversationId":"","roomInfo":{"id":"c2"}}`,
		`{"participantId":7,"roomInfo":{"id":"c1"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, a := range fuzzArgs(data) {
			for _, ev := range []string{EventJoinAsSilentMonitor, EventJoinAsBargin, EventJoinAsBargeIn, EventJoinAsWhisper} {
				r, err := decodeSupervisorRequest(ev, a)
				if err != nil {
					checkDecodeErr(t, ev, err)
					continue
				}
				checkID(t, "conversationId", r.ConversationID, true)
				checkID(t, "agentId", r.AgentID, false)
			}
		}
	})
}

func FuzzDecodeCloseWrapup(f *testing.F) {
	fuzzSeeds(f)
	f.Add([]byte(`{"conversationId":"c1","taskId":"task-1","agentId":"a1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, a := range fuzzArgs(data) {
			r, err := decodeCloseWrapup(a)
			if err != nil {
				checkDecodeErr(t, EventCloseWrapup, err)
				continue
			}
			checkID(t, "conversationId", r.ConversationID, true)
			checkID(t, "agentId", r.AgentID, false)
			checkID(t, "taskId", r.TaskID, false)
		}
	})
}
