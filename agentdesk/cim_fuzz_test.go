package agentdesk

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDecodePublishCimEvent: the publishCimEvent decoder never panics and
// either accepts (then the required fields are there) or refuses with a
// DecodeError of a known code.
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
			checkDecodeError(t, err)
			return
		}
		if r.ConversationID == "" || r.Name == "" || !cimTypes[r.Type] || serverOnlyNames[r.Name] {
			t.Fatalf("accepted %+v from %s", r, js)
		}
		if r.Type == "MESSAGE" && r.Data == nil {
			t.Fatalf("MESSAGE without data from %s", js)
		}
	})
}

// FuzzDecodeCustomerMessage: the customer message decoder never panics,
// bounds the size, and accepts only objects with a known body type.
func FuzzDecodeCustomerMessage(f *testing.F) {
	for _, s := range []string{
		`{"body":{"type":"PLAIN","markdownText":"hi"}}`,
		`{"id":"x","header":{"channelData":{}},"body":{"type":"URL","mediaUrl":"u"}}`,
		`{"body":{"type":"IMAGE","attachment":{"mediaUrl":"u","size":3}}}`,
		`{"body":{"type":"LOCATION","location":{"latitude":"n","longitude":2}}}`,
		`{`, `[]`, `{"body":null}`, `{"body":{"type":7}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeCustomerMessage(b, 4096)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		if len(b) > 4096 || r.Name != CimCustomerMessage || r.Data == nil {
			t.Fatalf("accepted %+v from %q", r, b)
		}
		body, _ := r.Data["body"].(map[string]any)
		if typ, _ := body["type"].(string); !bodyTypes[typ] {
			t.Fatalf("accepted body type %v", body["type"])
		}
	})
}

func checkDecodeError(t *testing.T, err *DecodeError) {
	t.Helper()
	var de *DecodeError
	if !errors.As(error(err), &de) {
		t.Fatal("not a DecodeError")
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
