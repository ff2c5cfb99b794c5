package socketio

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecodePacket: any input decodes or fails with ErrParse, never
// panics; what decodes re-encodes to a packet that decodes the same.
func FuzzDecodePacket(f *testing.F) {
	for _, s := range []string{"0", "0{}", `0/custom,{"token":"1"}`, "1", "1/custom,", `2["a",1]`, `2/x,5["a"]`,
		`3456[1,"2"]`, `51-["m",{"_placeholder":true,"num":0}]`, `62-789[{}]`, "4abc", "42{}", `2abc["a"]`, "5-", "59999-[]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePacket(b)
		if err != nil {
			if err != ErrParse {
				t.Fatalf("error %v, want ErrParse", err)
			}
			return
		}
		if p.typ != packetEvent && p.typ != packetAck {
			return
		}
		var name *string
		var raw []json.RawMessage
		if p.typ == packetEvent {
			n, args, err := eventArgs(p.data)
			if err != nil {
				t.Fatalf("decoded event %q has no name: %v", b, err)
			}
			name, raw = &n, args
		} else {
			args, err := ackArgs(p.data)
			if err != nil {
				t.Fatalf("decoded ack %q: %v", b, err)
			}
			raw = args
		}
		args := make([]any, len(raw))
		for i, r := range raw {
			args[i] = r
		}
		out, _, err := encodePacket(p.typ, p.nsp, p.id, name, args, nil)
		if err != nil {
			t.Fatal(err)
		}
		q, err := decodePacket(out)
		if err != nil {
			t.Fatalf("re-encoded %q -> %q does not decode: %v", b, out, err)
		}
		if q.typ != p.typ || q.nsp != p.nsp || q.id != p.id {
			t.Fatalf("round trip %q -> %q: %+v != %+v", b, out, q, p)
		}
	})
}

// FuzzPayload: a long-polling body never panics the session; bad ones are
// ErrParse.
func FuzzPayload(f *testing.F) {
	for _, s := range []string{"3", "40\x1e3", "4" + `2["a"]`, "bAQID", "b!!", "\x1e", "451-[\"m\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID", "1", "9"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewServer(Options{})
		defer s.Close()
		ss := &session{srv: s, id: "x", handshake: &Handshake{}, pollWake: make(chan struct{}, 1)}
		if err := ss.handlePayload(bytes.Clone(b)); err != nil && err != ErrParse {
			t.Fatalf("error %v, want ErrParse", err)
		}
	})
}
