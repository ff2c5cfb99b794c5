package natscluster

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzReadMsg: the proxy's NATS framing never panics, and every message it
// reads is relayed byte for byte (the raw bytes of the messages read are a
// prefix of the input).
func FuzzReadMsg(f *testing.F) {
	f.Add([]byte("PUB a.b _INBOX.1 5\r\nhello\r\nPING\r\n"), false)
	f.Add([]byte("HPUB omniroute_journal.entries _INBOX.x.y 40 43\r\nNATS/1.0\r\nNats-Expected-Last-Sequence: 7\r\n\r\nabc\r\n"), false)
	f.Add([]byte("MSG _INBOX.x.y 1 5\r\nhello\r\nHMSG s 2 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"), true)
	f.Add([]byte("INFO {\"connect_urls\":[\"1.2.3.4:4222\"]}\r\n+OK\r\n"), true)
	f.Add([]byte("HPUB s 9 3\r\n"), false)
	f.Fuzz(func(t *testing.T, in []byte, fromServer bool) {
		r := bufio.NewReader(bytes.NewReader(in))
		var out []byte
		for {
			m, err := readMsg(r, fromServer)
			if err != nil {
				break
			}
			if len(m.Header)+len(m.Payload) > len(m.raw) {
				t.Fatalf("header and payload longer than the message: %+v", m)
			}
			out = append(out, m.raw...)
		}
		if !bytes.HasPrefix(in, out) {
			t.Fatalf("relayed %q, not a prefix of %q", out, in)
		}
	})
}

// TestReadMsgParses: subject, reply, header and payload of each kind.
func TestReadMsgParses(t *testing.T) {
	in := "HPUB j.entries _INBOX.a.b 12 15\r\nNATS/1.0\r\n\r\nabc\r\nMSG _INBOX.a.b 9 2\r\nok\r\nPUB s 0\r\n\r\n"
	r := bufio.NewReader(bytes.NewReader([]byte(in)))
	m, err := readMsg(r, false)
	if err != nil || m.Op != "HPUB" || m.Subject != "j.entries" || m.Reply != "_INBOX.a.b" || string(m.Header) != "NATS/1.0\r\n\r\n" || string(m.Payload) != "abc" {
		t.Fatalf("HPUB: %+v %v", m, err)
	}
	r2 := bufio.NewReader(bytes.NewReader([]byte(in[len(m.raw):])))
	m, err = readMsg(r2, true)
	if err != nil || m.Op != "MSG" || m.Subject != "_INBOX.a.b" || m.Reply != "" || string(m.Payload) != "ok" {
		t.Fatalf("MSG: %+v %v", m, err)
	}
	if got := string(stripConnectURLs([]byte(`INFO {"connect_urls":["x"],"port":4222}` + "\r\n"))); got != "INFO {\"port\":4222}\r\n" {
		t.Fatalf("INFO: %q", got)
	}
}
