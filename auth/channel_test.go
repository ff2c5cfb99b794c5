package auth

import (
	"errors"
	"testing"
)

// TestChannelTokens: a channel token is found by VerifyChannel with its
// queues and is never a Principal of Verify; Verify's tokens are not
// channels; a duplicate or empty channel is refused by New.
func TestChannelTokens(t *testing.T) {
	secret := make([]byte, SecretBytes)
	a, err := New(Options{Secret: secret, AdminTokens: []string{"admin-token"},
		Channels: []Channel{{ID: "web", Token: "web-token", Queues: []string{"q1"}}, {ID: "sms", Token: "sms-token"}}})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := a.VerifyChannel("web-token")
	if err != nil || ch.ID != "web" || !ch.MayUseQueue("q1") || ch.MayUseQueue("q2") || ch.Token != "" {
		t.Fatalf("VerifyChannel(web-token) = %+v, %v", ch, err)
	}
	if ch, err := a.VerifyChannel("sms-token"); err != nil || !ch.MayUseQueue("anything") {
		t.Fatalf("VerifyChannel(sms-token) = %+v, %v", ch, err)
	}
	if _, err := a.Verify("web-token"); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Verify(channel token) = %v", err)
	}
	for _, tok := range []string{"admin-token", a.Issue("alice", 0), "", "web-token2"} {
		if _, err := a.VerifyChannel(tok); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("VerifyChannel(%q) = %v", tok, err)
		}
	}
	for _, chs := range [][]Channel{{{ID: "a", Token: "x"}, {ID: "a", Token: "y"}}, {{ID: "", Token: "x"}}, {{ID: "a"}}} {
		if _, err := New(Options{Secret: secret, Channels: chs}); err == nil {
			t.Fatalf("New accepted channels %+v", chs)
		}
	}
}
