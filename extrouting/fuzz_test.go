package extrouting

import (
	"encoding/json"
	"testing"
)

func FuzzDecodeAgentWorkCreate(f *testing.F) {
	f.Add([]byte(`{"ServiceChannelId":"chat","WorkItemId":"c1","UserId":"alice","PendingServiceRoutingId":"0JR"}`))
	f.Add([]byte(`{"attributes":{"type":"AgentWork"},"UserId":1}`))
	f.Add([]byte(`{} {}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		in, errs := DecodeAgentWorkCreate(body)
		if errs == nil {
			if in.UserID == "" || in.WorkItemID == "" || in.ServiceChannelID == "" || in.PendingServiceRoutingID == "" {
				t.Fatalf("accepted with an empty field: %+v", in)
			}
			return
		}
		for _, e := range errs {
			if e.ErrorCode == "" || e.Fields == nil {
				t.Fatalf("bad error %+v", e)
			}
		}
		if _, err := json.Marshal(errs); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzDecodeReplayExt(f *testing.F) {
	f.Add([]byte(`{"/topic/T":-2}`))
	f.Add([]byte(`{"/topic/T":1.5}`))
	f.Add([]byte(`{"":1}`))
	f.Add([]byte(`true`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := DecodeReplayExt(raw)
		if err != nil {
			return
		}
		for ch, id := range m {
			if ch == "" || id < -2 {
				t.Fatalf("accepted %q: %d", ch, id)
			}
		}
	})
}
