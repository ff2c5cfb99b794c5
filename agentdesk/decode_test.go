package agentdesk

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/omniroute/omniroute/errcode"
	"github.com/omniroute/omniroute/routing"
)

// args turns JSON into the arguments the library hands a listener: the
// payload decoded into any.
func args(t testing.TB, js string) []any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatalf("bad test JSON %s: %v", js, err)
	}
	return []any{v}
}

func TestDecodeChangeAgentState(t *testing.T) {
	long := strings.Repeat("x", routing.MaxIDLength+1)
	ok := []struct {
		js   string
		want changeAgentStateRequest
	}{
		{`{"agentId":"a1","action":"agentState","state":{"name":"READY","reasonCode":null}}`,
			changeAgentStateRequest{AgentID: "a1", Action: actionAgentState, State: routing.AgentReady}},
		{`{"agentId":"a1","action":"agentState","state":{"name":"NOT_READY","reasonCode":{"id":"lunch","name":"Lunch Break","type":"NOT_READY"}}}`,
			changeAgentStateRequest{AgentID: "a1", Action: actionAgentState, State: routing.AgentNotReady, ReasonCode: "lunch"}},
		{`{"action":"agentState","state":{"name":"LOGOUT"}}`,
			changeAgentStateRequest{Action: actionAgentState, State: routing.AgentLogout}},
		{`{"agentId":"a1","action":"agentMRDState","state":"READY","mrdId":"chat"}`,
			changeAgentStateRequest{AgentID: "a1", Action: actionAgentMRDState, MRD: "chat", MRDState: routing.MRDReady}},
		{`{"action":"agentMRDState","state":{"name":"NOT_READY"},"mrdId":"chat"}`,
			changeAgentStateRequest{Action: actionAgentMRDState, MRD: "chat", MRDState: routing.MRDNotReady}},
		{`"{\"action\":\"agentState\",\"state\":{\"name\":\"READY\"}}"`,
			changeAgentStateRequest{Action: actionAgentState, State: routing.AgentReady}},
	}
	for _, tc := range ok {
		got, err := decodeChangeAgentState(args(t, tc.js))
		if err != nil || got != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v", tc.js, got, err, tc.want)
		}
	}
	bad := []struct {
		js, code, field string
	}{
		{`null`, CodeInvalidPayload, ""},
		{`[1]`, CodeInvalidPayload, ""},
		{`"not json"`, CodeInvalidPayload, ""},
		{`{}`, CodeMissingField, "action"},
		{`{"action":7}`, CodeInvalidField, "action"},
		{`{"action":"agentState"}`, CodeMissingField, "state"},
		{`{"action":"agentState","state":"READY"}`, CodeInvalidField, "state"},
		{`{"action":"agentState","state":{}}`, CodeMissingField, "state.name"},
		{`{"action":"agentState","state":{"name":"LOGIN"}}`, CodeInvalidField, "state.name"},
		{`{"action":"agentState","state":{"name":"NOT_READY","reasonCode":"lunch"}}`, CodeInvalidField, "state.reasonCode"},
		{`{"action":"agentState","state":{"name":"NOT_READY","reasonCode":{"name":"Lunch"}}}`, CodeMissingField, "state.reasonCode.id"},
		{`{"action":"agentState","state":{"name":"NOT_READY","reasonCode":{"id":"` + long + `"}}}`, CodeFieldTooLong, "state.reasonCode.id"},
		{`{"agentId":"` + long + `","action":"agentState","state":{"name":"READY"}}`, CodeFieldTooLong, "agentId"},
		{`{"agentId":1,"action":"agentState","state":{"name":"READY"}}`, CodeInvalidField, "agentId"},
		{`{"action":"agentMRDState","state":"READY"}`, CodeMissingField, "mrdId"},
		{`{"action":"agentMRDState","state":"BUSY","mrdId":"chat"}`, CodeInvalidField, "state"},
		{`{"action":"agentMRDState","state":"","mrdId":"chat"}`, CodeMissingField, "state"},
		{`{"action":"agentMRDState","state":true,"mrdId":"chat"}`, CodeInvalidField, "state"},
		{`{"action":"dance","state":{"name":"READY"}}`, CodeInvalidField, "action"},
		// Seed 004: with READY the reasonCode must be null.
		{`{"action":"agentState","state":{"name":"READY","reasonCode":{"id":"lunch"}}}`, CodeInvalidField, "state.reasonCode"},
		{`{"action":"agentState","state":{"name":"READY","reasonCode":{}}}`, CodeInvalidField, "state.reasonCode"},
		{`{"action":"agentState","state":{"name":"READY","reasonCode":"lunch"}}`, CodeInvalidField, "state.reasonCode"},
	}
	for _, tc := range bad {
		_, err := decodeChangeAgentState(args(t, tc.js))
		if err == nil || err.Code != tc.code || err.Field != tc.field || err.Event != EventChangeAgentState || err.Message == "" {
			t.Errorf("%s: err = %+v, want code %s field %q", tc.js, err, tc.code, tc.field)
		}
	}
	if _, err := decodeChangeAgentState(nil); err == nil || err.Code != CodeInvalidPayload {
		t.Errorf("no arguments: %v", err)
	}
}

func TestDecodeTopicSubscription(t *testing.T) {
	got, err := decodeTopicSubscription(args(t, `{"topicParticipant":{"id":"p","type":"AGENT","role":"PRIMARY","participant":{"id":"a1"}},
		"conversationId":"c1","agentId":"a1","taskId":"task-1","roomInfo":{"id":"c1","mode":"CONTACT_CENTER"}}`))
	if err != nil || got != (topicSubscriptionRequest{ConversationID: "c1", AgentID: "a1", TaskID: "task-1"}) {
		t.Errorf("got %+v, %v", got, err)
	}
	got, err = decodeTopicSubscription(args(t, `{"conversationId":"c1"}`))
	if err != nil || got != (topicSubscriptionRequest{ConversationID: "c1"}) {
		t.Errorf("minimal: got %+v, %v", got, err)
	}
	for _, tc := range []struct{ js, code, field string }{
		{`{}`, CodeMissingField, "conversationId"},
		{`{"conversationId":""}`, CodeMissingField, "conversationId"},
		{`{"conversationId":["c1"]}`, CodeInvalidField, "conversationId"},
		{`{"conversationId":"c1","taskId":{}}`, CodeInvalidField, "taskId"},
		{`{"conversationId":"c1","topicParticipant":[]}`, CodeInvalidField, "topicParticipant"},
		{`{"conversationId":"c1","topicParticipant":{"role":"WHISPER"}}`, CodeInvalidField, "topicParticipant.role"},
		{`{"conversationId":"c1","topicParticipant":{"role":5}}`, CodeInvalidField, "topicParticipant.role"},
		{`{"conversationId":"` + strings.Repeat("é", 100) + `"}`, CodeFieldTooLong, "conversationId"},
	} {
		_, err := decodeTopicSubscription(args(t, tc.js))
		if err == nil || err.Code != tc.code || err.Field != tc.field || err.Event != EventTopicSubscription {
			t.Errorf("%s: err = %+v, want code %s field %q", tc.js, err, tc.code, tc.field)
		}
	}
}

func TestDecodeTopicUnsubscription(t *testing.T) {
	got, err := decodeTopicUnsubscription(args(t, `{"conversationId":"c1","agentId":"a1","taskId":"task-1"}`))
	if err != nil || got != (topicUnsubscriptionRequest{ConversationID: "c1", AgentID: "a1", TaskID: "task-1"}) {
		t.Errorf("got %+v, %v", got, err)
	}
	for _, tc := range []struct{ js, code, field string }{
		{`12`, CodeInvalidPayload, ""},
		{`{"agentId":"a1"}`, CodeMissingField, "conversationId"},
		{`{"conversationId":"c1","agentId":false}`, CodeInvalidField, "agentId"},
	} {
		_, err := decodeTopicUnsubscription(args(t, tc.js))
		if err == nil || err.Code != tc.code || err.Field != tc.field || err.Event != EventTopicUnsubscriptionRequest {
			t.Errorf("%s: err = %+v, want code %s field %q", tc.js, err, tc.code, tc.field)
		}
	}
}

// Fuzzing: random JSON, decoded as the library decodes it (json.Unmarshal
// into any), handed to a decoder as its first argument and, when it is an
// array, as the whole argument list. The decoder must not panic; an error
// must be a *errcode.FieldError with a known code; a success must respect the
// limits.

var decodeCodes = map[string]bool{CodeInvalidPayload: true, CodeMissingField: true, CodeInvalidField: true, CodeFieldTooLong: true}

func fuzzSeeds(f *testing.F) {
	for _, s := range []string{
		`{"agentId":"a1","action":"agentState","state":{"name":"READY","reasonCode":null}}`,
		`{"agentId":"a1","action":"agentState","state":{"name":"NOT_READY","reasonCode":{"id":"lunch","name":"Lunch","type":"NOT_READY"}}}`,
		`{"agentId":"a1","action":"agentMRDState","state":"READY","mrdId":"chat"}`,
		`{"topicParticipant":{"role":"PRIMARY"},"conversationId":"c1","agentId":"a1","taskId":"t1"}`,
		`{"conversationId":"c1","agentId":"a1","taskId":"t1"}`,
		`"{\"conversationId\":\"c1\"}"`, `null`, `[]`, `[{"conversationId":1}]`, `1e400`, `{"state":{"name":{}}}`,
	} {
		f.Add([]byte(s))
	}
}

// fuzzArgs yields the argument lists built from data.
func fuzzArgs(data []byte) [][]any {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return nil
	}
	out := [][]any{{v}}
	if a, ok := v.([]any); ok {
		out = append(out, a)
	}
	return out
}

func checkDecodeErr(t *testing.T, event string, err *errcode.FieldError) {
	t.Helper()
	var de *errcode.FieldError
	if !errors.As(error(err), &de) || !decodeCodes[err.Code] || err.Event != event || err.Message == "" || err.Error() == "" {
		t.Fatalf("bad error %#v", err)
	}
}

func checkID(t *testing.T, what, s string, required bool) {
	t.Helper()
	if len(s) > routing.MaxIDLength || !utf8.ValidString(s) || (required && s == "") {
		t.Fatalf("%s %q passed the decoder", what, s)
	}
}

func FuzzDecodeChangeAgentState(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, a := range fuzzArgs(data) {
			r, err := decodeChangeAgentState(a)
			if err != nil {
				checkDecodeErr(t, EventChangeAgentState, err)
				continue
			}
			checkID(t, "agentId", r.AgentID, false)
			switch r.Action {
			case actionAgentState:
				if r.State != routing.AgentReady && r.State != routing.AgentNotReady && r.State != routing.AgentLogout {
					t.Fatalf("state %q", r.State)
				}
				if r.State == routing.AgentReady && r.ReasonCode != "" {
					t.Fatal("READY with a reason code")
				}
				checkID(t, "reasonCode", r.ReasonCode, false)
			case actionAgentMRDState:
				if r.MRDState != routing.MRDReady && r.MRDState != routing.MRDNotReady {
					t.Fatalf("mrd state %q", r.MRDState)
				}
				checkID(t, "mrdId", r.MRD, true)
			default:
				t.Fatalf("action %q", r.Action)
			}
		}
	})
}

func FuzzDecodeTopicSubscription(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, a := range fuzzArgs(data) {
			r, err := decodeTopicSubscription(a)
			if err != nil {
				checkDecodeErr(t, EventTopicSubscription, err)
				continue
			}
			checkID(t, "conversationId", r.ConversationID, true)
			checkID(t, "agentId", r.AgentID, false)
			checkID(t, "taskId", r.TaskID, false)
		}
	})
}

func FuzzDecodeTopicUnsubscription(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, a := range fuzzArgs(data) {
			r, err := decodeTopicUnsubscription(a)
			if err != nil {
				checkDecodeErr(t, EventTopicUnsubscriptionRequest, err)
				continue
			}
			checkID(t, "conversationId", r.ConversationID, true)
			checkID(t, "agentId", r.AgentID, false)
			checkID(t, "taskId", r.TaskID, false)
		}
	})
}

// TestDecodeJoinAsWhisper: the PROTOCOLS.md shape {participantId,
// conversationId, roomInfo} and its fall-backs.
func TestDecodeJoinAsWhisper(t *testing.T) {
	for _, tc := range []struct {
		js, conv, agent, code string
	}{
		{`{"participantId":"c1:s1","conversationId":"c1","roomInfo":{"id":"c1","mode":"CONTACT_CENTER"}}`, "c1", "", ""},
		{`{"participantId":"c1:s1","roomInfo":{"id":"c2"}}`, "c2", "", ""},
		{`{"conversationId":"","roomInfo":{"id":"c3"},"agentId":"s1"}`, "c3", "s1", ""},
		{`{"topicParticipant":{"topicId":"c4"}}`, "c4", "", ""},
		{`{"participantId":"c1:s1"}`, "", "", CodeMissingField},
		{`{"roomInfo":"c1"}`, "", "", CodeInvalidField},
		{`{"participantId":5,"conversationId":"c1"}`, "", "", CodeInvalidField},
		{`null`, "", "", CodeInvalidPayload},
	} {
		r, err := decodeSupervisorRequest(EventJoinAsWhisper, args(t, tc.js))
		if tc.code != "" {
			if err == nil || err.Code != tc.code || err.Event != EventJoinAsWhisper {
				t.Errorf("%s: err %v, want %s", tc.js, err, tc.code)
			}
			continue
		}
		if err != nil || r.ConversationID != tc.conv || r.AgentID != tc.agent {
			t.Errorf("%s: %+v %v, want conversation %q agent %q", tc.js, r, err, tc.conv, tc.agent)
		}
	}
}
