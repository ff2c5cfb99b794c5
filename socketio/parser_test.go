package socketio

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestEncodePacketBytes: the pooled encoder writes exactly what
// json.Marshal of each argument would, so recipients see the same bytes,
// whether the event name and values need escaping or not, and a pooled
// encoder reused after a large or failed packet starts clean.
func TestEncodePacketBytes(t *testing.T) {
	type task struct {
		ID   string            `json:"taskId"`
		Tags map[string]string `json:"tags,omitempty"`
		N    int               `json:"n"`
	}
	big := string(bytes.Repeat([]byte("x"), 2*maxPooledEncoderBytes))
	cases := []struct {
		name string
		args []any
	}{
		{"taskRequest", []any{task{ID: "t1", N: 3}}},
		{"a<b>&\"c\"\\é\n", []any{"<script>&amp;", 1.5, nil, true}},
		{"onTopicData", []any{map[string]any{"z": 1, "a": []int{1, 2}}, json.RawMessage(`{"raw":true}`)}},
		{"big", []any{big}},
		{"after", []any{task{ID: "t2", Tags: map[string]string{"k": "v<"}}}},
	}
	for _, c := range cases {
		want := []byte{packetEvent}
		want = append(want, '[')
		nb, _ := json.Marshal(c.name)
		want = append(want, nb...)
		for _, a := range c.args {
			b, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, ',')
			want = append(want, b...)
		}
		want = append(want, ']')
		name := c.name
		got, att, err := encodePacket(packetEvent, "/", -1, &name, c.args, nil)
		if err != nil || len(att) != 0 {
			t.Fatalf("%q: err %v, %d attachments", c.name, err, len(att))
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%q:\n got %.200s\nwant %.200s", c.name, got, want)
		}
	}
	// A failed encode leaves nothing behind for the next packet.
	name := "bad"
	if _, _, err := encodePacket(packetEvent, "/", -1, &name, []any{"ok", func() {}}, nil); err == nil {
		t.Fatal("a func argument encoded")
	}
	got, att, err := encodePacket(packetEvent, "/x", 7, &name, []any{Binary("b1")}, [][]byte{[]byte("b0")})
	if err != nil {
		t.Fatal(err)
	}
	if want := `52-/x,7["bad",{"_placeholder":true,"num":1}]`; string(got) != want || len(att) != 2 || string(att[0]) != "b0" || string(att[1]) != "b1" {
		t.Fatalf("got %s %q, want %s [b0 b1]", got, att, want)
	}
}

// BenchmarkEncodePacket: one taskRequest-sized event.
func BenchmarkEncodePacket(b *testing.B) {
	type task struct {
		ConversationID string         `json:"conversationId"`
		TaskID         string         `json:"taskId"`
		Queue          string         `json:"queue"`
		Data           map[string]any `json:"data"`
	}
	name := "taskRequest"
	arg := task{"c-0123456789", "t-0123456789", "loadtest-chat", map[string]any{"customer": map[string]any{"name": "Load 1"}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := encodePacket(packetEvent, "/", -1, &name, []any{arg}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
