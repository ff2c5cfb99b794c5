package erasure

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// Seal writes its envelope with appends; the bytes must stay those of
// json.Marshal, which wrote it before, and both readers must agree.
func TestEnvelopeBytes(t *testing.T) {
	for _, c := range []struct {
		ref string
		box []byte
	}{
		{"AAAAAAAAAAAAAAAAAAAAAA", []byte{}}, // Seal never has a nil box (the nonce)
		{"x-_9", []byte{0}},
		{"r", []byte("any bytes \x00\xff<>&\"\\")},
		{"r", bytes.Repeat([]byte{0xfb}, 301)},
	} {
		want, err := json.Marshal(envelope{Sealed: 1, Ref: c.ref, Box: c.box})
		if err != nil {
			t.Fatal(err)
		}
		got := appendEnvelope(nil, c.ref, c.box)
		if !bytes.Equal(got, want) {
			t.Errorf("appendEnvelope(%q, %x) = %s, json.Marshal gives %s", c.ref, c.box, got, want)
		}
		ref, box, ok := parseEnvelope(got)
		if !ok || string(ref) != c.ref || !bytes.Equal(box, c.box) {
			t.Errorf("parseEnvelope(%s) = %q, %x, %v", got, ref, box, ok)
		}
	}
}

// A sealed value spelled otherwise than Seal writes it (spaces, escapes,
// another key order) is still read, through encoding/json; a damaged one is
// not sealed for either reader.
func TestEnvelopeSpellings(t *testing.T) {
	k, err := Open(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ref, err := k.Ref("cust")
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := k.Seal(ref, []byte(`{"name":"Ann"}`))
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(envelope{Sealed: 1, Ref: ref, Box: mustBox(t, sealed)})
	if err != nil || !bytes.Equal(sealed, want) {
		t.Fatalf("Seal = %s, want json.Marshal's %s (%v)", sealed, want, err)
	}
	var e envelope
	if err := json.Unmarshal(sealed, &e); err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(e.Box)
	respelled := []string{
		strings.Replace(string(sealed), `,"ref":`, ` , "ref" : `, 1),
		`{"box":"` + b64 + `","ref":"` + ref + `","omnirouteSealed":1}`,
		envelopeRef + fmt.Sprintf(`\u%04x`, ref[0]) + ref[1:] + envelopeBox + b64 + envelopeEnd,
		envelopeRef + ref + envelopeBox + b64[:4] + `\r\n` + b64[4:] + envelopeEnd,
	}
	for _, v := range respelled {
		if _, _, ok := parseEnvelope([]byte(v)); ok {
			t.Errorf("parseEnvelope read %s, which is not Seal's spelling", v)
		}
		if got := RefOf([]byte(v)); got != ref {
			t.Errorf("RefOf(%s) = %q, want %q", v, got, ref)
		}
		p, err := k.Unseal([]byte(v))
		if err != nil || string(p) != `{"name":"Ann"}` {
			t.Errorf("Unseal(%s) = %s, %v", v, p, err)
		}
	}
	for _, v := range []string{
		strings.Replace(string(sealed), `"omnirouteSealed":1`, `"omnirouteSealed":2`, 1),
		strings.Replace(string(sealed), `","box":"`, `","box":"!`, 1),
		string(sealed[:len(sealed)-1]),
	} {
		if got := RefOf([]byte(v)); got != "" {
			t.Errorf("RefOf(%s) = %q, want none", v, got)
		}
		if p, err := k.Unseal([]byte(v)); err != nil || string(p) != v {
			t.Errorf("Unseal(%s) = %s, %v; want it unchanged", v, p, err)
		}
	}
}

func mustBox(t *testing.T, sealed []byte) []byte {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(sealed, &e); err != nil {
		t.Fatal(err)
	}
	return e.Box
}

// FuzzParseEnvelope: whatever parseEnvelope accepts, encoding/json reads
// as the same envelope (the fast reader never answers differently from
// the one it stands in for), and what Seal writes it always accepts.
func FuzzParseEnvelope(f *testing.F) {
	f.Add([]byte(`{"omnirouteSealed":1,"ref":"AAAAAAAAAAAAAAAAAAAAAA","box":"AAAA"}`))
	f.Add([]byte(`{"omnirouteSealed":1,"ref":"a\u0041","box":"AAAA"}`))
	f.Add([]byte(`{"omnirouteSealed":1,"ref":"x","box":"AA=="}`))
	f.Fuzz(func(t *testing.T, v []byte) {
		ref, box, ok := parseEnvelope(v)
		if ok {
			var e envelope
			if err := json.Unmarshal(v, &e); err != nil || e.Sealed != 1 || e.Ref != string(ref) || !bytes.Equal(e.Box, box) {
				t.Fatalf("parseEnvelope(%q) = %q, %x; encoding/json: %+v, %v", v, ref, box, e, err)
			}
		}
		if r := base64.RawURLEncoding.EncodeToString(v); len(r) <= 64 {
			b := appendEnvelope(nil, r, v)
			if gr, gb, ok := parseEnvelope(b); !ok || string(gr) != r || !bytes.Equal(gb, v) {
				t.Fatalf("parseEnvelope(appendEnvelope(%q, %x)) = %q, %x, %v", r, v, gr, gb, ok)
			}
		}
	})
}
