package erasure_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/omniroute/omniroute/erasure"
	"github.com/omniroute/omniroute/transcript"
	"github.com/omniroute/omniroute/transcript/transcripttest"
)

// TestEraseCustomer: a customer object is sealed (no field of it in the
// sealed value), shown again in full, survives a reopen of the keyring,
// and after Erase reads as {"erased":true} while another customer's still
// reads; the erased key is in no byte of the keyring file, and a new
// conversation of the erased customer gets a new key.
func TestEraseCustomer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "customer-keys")
	k, err := erasure.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	alice := json.RawMessage(`{"id":"cust-41","firstName":"Alice","iban":"DE89370400440532013000"}`)
	bob := json.RawMessage(`{"phoneNumber":"4082652649","firstName":"Bob"}`)
	sa, err := k.SealCustomer(alice, "conversation:c1")
	if err != nil {
		t.Fatal(err)
	}
	sb, err := k.SealCustomer(bob, "conversation:c2")
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"cust-41", "Alice", "DE89370400440532013000"} {
		if bytes.Contains(sa, []byte(field)) {
			t.Fatalf("sealed value %s holds %q", sa, field)
		}
	}
	if got := k.Show(sa); !bytes.Equal(got, alice) {
		t.Fatalf("Show = %s, want %s", got, alice)
	}
	k.Close()
	if k, err = erasure.Open(path); err != nil {
		t.Fatal(err)
	}
	if got := k.Show(sa); !bytes.Equal(got, alice) {
		t.Fatalf("after reopen Show = %s", got)
	}
	before, _ := os.ReadFile(path)
	ref, _ := k.Ref("cust-41")
	if !bytes.Contains(before, []byte(ref)) {
		t.Fatal("the keyring file does not name the customer's ref, so the check after Erase proves nothing")
	}
	if ok, err := k.Erase("cust-41"); !ok || err != nil {
		t.Fatalf("Erase = %v, %v", ok, err)
	}
	if ok, _ := k.Erase("cust-41"); ok {
		t.Fatal("a second Erase found a key")
	}
	if got := k.Show(sa); !bytes.Equal(got, erasure.Erased) {
		t.Fatalf("after Erase Show = %s", got)
	}
	if _, err := k.Unseal(sa); !errors.Is(err, erasure.ErrErased) {
		t.Fatalf("Unseal after Erase: %v", err)
	}
	if got := k.Show(sb); !bytes.Equal(got, bob) {
		t.Fatalf("another customer after Erase: %s", got)
	}
	after, _ := os.ReadFile(path)
	if bytes.Contains(after, []byte(ref)) {
		t.Fatal("the erased customer's ref is still in the keyring file")
	}
	k.Close()
	if k, err = erasure.Open(path); err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if got := k.Show(sa); !bytes.Equal(got, erasure.Erased) {
		t.Fatalf("after Erase and reopen Show = %s", got)
	}
	again, _ := k.SealCustomer(alice, "")
	if got := k.Show(again); !bytes.Equal(got, alice) {
		t.Fatalf("a returning customer: %s", got)
	}
	if got := k.Show(sa); !bytes.Equal(got, erasure.Erased) {
		t.Fatal("the returning customer's new key opens what was erased")
	}
	// Not sealed: shown as stored; no id: sealed under the fallback.
	plain := json.RawMessage(`{"firstName":"Carol"}`)
	if got := k.Show(plain); !bytes.Equal(got, plain) {
		t.Fatalf("unsealed value shown as %s", got)
	}
	sc, _ := k.SealCustomer(plain, "conversation:c3")
	if k.Erase("conversation:c3"); !bytes.Equal(k.Show(sc), erasure.Erased) {
		t.Fatal("a customer without id is not erased through its fallback id")
	}
}

// TestTornKeyring: a key line cut by a crash (no newline) is dropped, and
// cut from the file, so that the next key line is not appended to it and
// the file opens again; a damaged file is refused rather than taken for
// an empty keyring.
func TestTornKeyring(t *testing.T) {
	path := filepath.Join(t.TempDir(), "customer-keys")
	k, err := erasure.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := k.SealCustomer(json.RawMessage(`{"id":"a"}`), "")
	k.Close()
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("k torn AAAA")
	f.Close()
	if k, err = erasure.Open(path); err != nil {
		t.Fatalf("torn last line: %v", err)
	}
	if k.Len() != 1 || bytes.Equal(k.Show(s), erasure.Erased) {
		t.Fatalf("after a torn line: %d keys", k.Len())
	}
	next, err := k.SealCustomer(json.RawMessage(`{"id":"b"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	k.Close()
	if k, err = erasure.Open(path); err != nil {
		t.Fatalf("a key appended after a torn line: %v", err)
	}
	if k.Len() != 2 || !bytes.Equal(k.Show(next), []byte(`{"id":"b"}`)) {
		t.Fatalf("after a torn line and a new key: %d keys, %s", k.Len(), k.Show(next))
	}
	k.Close()
	os.WriteFile(path, []byte("garbage\n"), 0o600)
	if _, err := erasure.Open(path); !errors.Is(err, erasure.ErrCorrupt) {
		t.Fatalf("damaged file: %v", err)
	}
}

// TestTranscripts runs the store acceptance suite through the sealing
// wrapper, and checks that the stored bytes hold no plaintext and read as
// erased once the customer is.
func TestTranscripts(t *testing.T) {
	k, err := erasure.Open(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	refOf := func(_ context.Context, conv string) (string, error) { return k.Ref("customer-of-" + conv) }
	transcripttest.Run(t, transcripttest.Opener{Open: func(t *testing.T, l transcript.Limits) transcript.Store {
		return erasure.NewTranscripts(transcript.NewMemory(erasure.InnerLimits(l)), k, l, refOf)
	}})

	inner := transcript.NewMemory(erasure.InnerLimits(transcript.Limits{}))
	s := erasure.NewTranscripts(inner, k, transcript.Limits{}, refOf)
	ctx := t.Context()
	if _, err := s.Append(ctx, transcript.Record{Conversation: "c9", ID: "m1", Data: []byte(`{"body":"my IBAN is DE89370400440532013000"}`)}); err != nil {
		t.Fatal(err)
	}
	raw, _ := inner.Read(ctx, "c9", 0, 0)
	if len(raw) != 1 || strings.Contains(string(raw[0].Data), "DE89") {
		t.Fatalf("stored: %s", raw[0].Data)
	}
	got, _ := s.Read(ctx, "c9", 0, 0)
	if !strings.Contains(string(got[0].Data), "DE89") {
		t.Fatalf("read back: %s", got[0].Data)
	}
	k.Erase("customer-of-c9")
	got, _ = s.Read(ctx, "c9", 0, 0)
	if !bytes.Equal(got[0].Data, erasure.Erased) {
		t.Fatalf("after erase: %s", got[0].Data)
	}
}

// FuzzUnseal: no input makes Unseal or Show panic, and Show never returns
// a sealed envelope.
func FuzzUnseal(f *testing.F) {
	k, err := erasure.Open(filepath.Join(f.TempDir(), "keys"))
	if err != nil {
		f.Fatal(err)
	}
	s, _ := k.SealCustomer(json.RawMessage(`{"id":"x","n":1}`), "")
	f.Add([]byte(s))
	f.Add([]byte(`{"omnirouteSealed":1,"ref":"","box":""}`))
	f.Add([]byte(`{"omnirouteSealed":1,"ref":"abc","box":"AAAA"}`))
	f.Fuzz(func(t *testing.T, v []byte) {
		k.Unseal(v)
		got := k.Show(v)
		if erasure.RefOf(got) != "" && !bytes.Equal(got, v) {
			t.Fatalf("Show returned a sealed value %s", got)
		}
	})
}

// FuzzOpen: no keyring file content makes Open panic.
func FuzzOpen(f *testing.F) {
	f.Add([]byte("omniroute-customer-keys v1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nk r AAAA\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "keys")
		os.WriteFile(p, b, 0o600)
		if k, err := erasure.Open(p); err == nil {
			k.Close()
		}
	})
}

// TestInUse: a second Open of a keyring held by another is refused.
func TestInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	k, err := erasure.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := erasure.Open(path); !errors.Is(err, erasure.ErrInUse) {
		t.Fatalf("second Open: %v", err)
	}
	k.Close()
	k2, err := erasure.Open(path)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	k2.Close()
}
