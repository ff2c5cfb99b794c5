package conversation

import (
	"encoding/json"
	"github.com/omniroute/omniroute/errcode"
	"testing"
)

// FuzzDecodeEvent: the CIM event decoder never panics and either accepts
// (a name, a known type, no server-only name, data for a MESSAGE) or
// refuses with a FieldError of a known code.
func FuzzDecodeEvent(f *testing.F) {
	for _, s := range []string{
		`{"name":"AGENT_MESSAGE","data":{"body":{"type":"PLAIN","markdownText":"x"}}}`,
		`{"name":"AGENT_MESSAGE","type":"MESSAGE","data":{"id":"m","header":{"originalMessageId":"o"},"body":{"type":"LOCATION","location":{"latitude":1,"longitude":2}}}}`,
		`{"name":"AGENT_MESSAGE","data":{"body":{"type":"BUTTON","buttons":[{"title":"t"}]}}}`,
		`{"name":"AGENT_MESSAGE","data":{"body":{"type":"FILE","attachment":{"mediaUrl":"u"}}}}`,
		`{"name":"TYPING_INDICATOR","conversationId":"c"}`,
		`{}`, `{"name":"customer_message"}`, `{"name":"CUSTOMER_MESSAGE"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, js string) {
		var m map[string]any
		if json.Unmarshal([]byte(js), &m) != nil || m == nil {
			return
		}
		r, err := DecodeEvent(m, "cimEvent")
		if err != nil {
			checkFieldError(t, err)
			return
		}
		if r.Name == "" || !cimTypes[r.Type] || serverOnlyNames[r.Name] {
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
		r, err := DecodeCustomerMessage(b, 4096)
		if err != nil {
			checkFieldError(t, err)
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

func checkFieldError(t *testing.T, err *errcode.FieldError) {
	t.Helper()
	switch err.Code {
	case errcode.InvalidPayload, errcode.MissingField, errcode.InvalidField, errcode.FieldTooLong, CodePayloadTooLarge:
	default:
		t.Fatalf("unexpected code %s", err.Code)
	}
	if err.Message == "" {
		t.Fatal("empty message")
	}
}
