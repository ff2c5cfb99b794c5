package agentdesk

import (
	"encoding/json"
	"errors"
	"github.com/omniroute/omniroute/errcode"
	"testing"
)

// FuzzDecodePublishCimEvent: the publishCimEvent decoder never panics and
// either accepts (then the required fields are there) or refuses with a
// *errcode.FieldError of a known code.
func FuzzDecodePublishCimEvent(f *testing.F) {
	for _, s := range []string{
		`{"conversationId":"c","cimEvent":{"name":"AGENT_MESSAGE","data":{"body":{"type":"PLAIN","markdownText":"x"}}}}`,
		`{"conversationId":"c","cimEvent":{"name":"AGENT_MESSAGE","type":"MESSAGE","data":{"id":"m","header":{"originalMessageId":"o"},"body":{"type":"LOCATION","location":{"latitude":1,"longitude":2}}}}}`,
		`{"conversationId":"c","cimEvent":{"name":"AGENT_MESSAGE","data":{"body":{"type":"BUTTON","buttons":[{"title":"t"}]}}}}`,
		`{"conversationId":"c","cimEvent":{"name":"AGENT_MESSAGE","data":{"body":{"type":"FILE","attachment":{"mediaUrl":"u"}}}}}`,
		`{"cimEvent":{"name":"TYPING_INDICATOR","conversationId":"c"}}`,
		`"{\"cimEvent\":{}}"`, `[]`, `null`, `{}`, `{"cimEvent":{"name":"customer_message"}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, js string) {
		var v any
		if json.Unmarshal([]byte(js), &v) != nil {
			return
		}
		r, err := decodePublishCimEvent([]any{v})
		if err != nil {
			checkFieldError(t, err)
			return
		}
		// The CIM event's own rules (types, server-only names) are
		// conversation.FuzzDecodeEvent's.
		if r.Conversation == "" || r.Name == "" || r.Type == "" {
			t.Fatalf("accepted %+v from %s", r, js)
		}
		if r.Type == "MESSAGE" && r.Data == nil {
			t.Fatalf("MESSAGE without data from %s", js)
		}
	})
}

func checkFieldError(t *testing.T, err *errcode.FieldError) {
	t.Helper()
	var de *errcode.FieldError
	if !errors.As(error(err), &de) {
		t.Fatal("not a FieldError")
	}
	switch de.Code {
	case CodeInvalidPayload, CodeMissingField, CodeInvalidField, CodeFieldTooLong, CodePayloadTooLarge:
	default:
		t.Fatalf("unexpected code %s", de.Code)
	}
	if de.Message == "" {
		t.Fatal("empty message")
	}
}
