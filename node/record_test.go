package node

import (
	"testing"
	"time"

	"github.com/omniroute/omniroute/routing"
)

func TestEntryRoundTrip(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	cmds := []routing.Command{
		routing.UpsertMRD{MRD: routing.MRD{ID: "chat", MaxRequests: 2}},
		routing.CreateConversation{ID: "c1", RequestID: "r1", Queue: "q", Priority: 2, TTL: time.Minute},
		routing.Tick{},
	}
	var recs [][]byte
	for _, c := range cmds {
		b, err := encodeRecord(c, at, "")
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, b)
	}
	got, err := DecodeEntry(appendEntry(nil, recs))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(cmds) {
		t.Fatalf("%d records, want %d", len(got), len(cmds))
	}
	for i, r := range got {
		if !r.At.Equal(at) || r.Cmd.CommandName() != cmds[i].CommandName() {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
	if c := got[1].Cmd.(routing.CreateConversation); c.TTL != time.Minute || c.Priority != 2 {
		t.Fatalf("decoded %+v", c)
	}
	for _, bad := range []string{``, `{}`, `[{"n":"Nope","t":1,"c":{}}]`, `[{"n":"Tick","t":1,"c":{},"x":1}]`, `[] []`, `[{"n":"UpsertMRD","t":1,"c":{"mrd":{"id":5}}}]`} {
		if _, err := DecodeEntry([]byte(bad)); err == nil {
			t.Errorf("DecodeEntry(%q) accepted", bad)
		}
	}
}

// FuzzDecodeEntry: journal entries come from disk; a damaged one must give
// an error, never a panic, and what decodes must apply or be refused
// cleanly.
func FuzzDecodeEntry(f *testing.F) {
	f.Add([]byte(`[{"n":"Tick","t":1,"c":{}}]`))
	f.Add([]byte(`[{"n":"CreateConversation","t":5,"c":{"id":"c","requestId":"r","queue":"q"}}]`))
	f.Add([]byte(`[{"n":"SetAgentState","t":5,"c":{"agent":"a","state":"READY"}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := DecodeEntry(data)
		if err != nil {
			return
		}
		s := routing.New()
		for _, r := range recs {
			before := s.Digest()
			if _, err := s.Apply(r.At, r.Cmd); err != nil && s.Digest() != before {
				t.Fatalf("refused %s changed the state", r.Cmd.CommandName())
			}
		}
	})
}
