package auth

import (
	"errors"
	"testing"
	"time"

	"github.com/omniroute/omniroute/clock/clocktest"
	"github.com/omniroute/omniroute/journal/natsjournal"
)

// TestRevocationMerge: a revocation only rises; a LOGOUT already recorded
// keeps the first recorder's time; a later LOGOUT or an admin's revocation
// raises it.
func TestRevocationMerge(t *testing.T) {
	stored := Revocation{Before: 100, Logout: 7}
	for _, c := range []struct {
		r, want Revocation
	}{
		{Revocation{Before: 150, Logout: 7}, stored},             // the same LOGOUT, applied later elsewhere
		{Revocation{Before: 150, Logout: 6}, stored},             // an older LOGOUT replayed
		{Revocation{Before: 150, Logout: 8}, Revocation{150, 8}}, // the next LOGOUT
		{Revocation{Before: 150}, Revocation{150, 7}},            // an admin's
		{Revocation{Before: 50}, stored},                         // an admin's, with a clock behind
		{Revocation{Before: 50, Logout: 9}, Revocation{Before: 100, Logout: 9}},
	} {
		if got := stored.Merge(c.r); got != c.want {
			t.Errorf("%+v.Merge(%+v) = %+v, want %+v", stored, c.r, got, c.want)
		}
	}
}

// TestSharedRevocations: two Authenticators (two nodes, one secret) share
// a KVRevocations bucket. A token revoked on A is refused on B once B's
// watch has the revocation; a LOGOUT recorded by both keeps A's time, so
// a login on A after the LOGOUT stays valid on B even though B applied the
// LOGOUT later; a third Authenticator opened afterwards (a restarted node)
// refuses the revoked token from the start; a login after the revocation
// works everywhere.
func TestSharedRevocations(t *testing.T) {
	srv, err := natsjournal.StartEmbedded(natsjournal.EmbeddedOptions{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	ctx := t.Context()
	clkA, clkB := clocktest.New(t0), clocktest.New(t0)
	node := func(clk *clocktest.Clock) *Authenticator {
		t.Helper()
		nc, err := srv.Conn()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		store, err := OpenKVRevocations(ctx, nc, 1)
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(Options{Secret: secret, Now: clk.Now, TokenTTL: time.Hour, RefreshTTL: time.Hour,
			Users: []User{{Username: "alice", AgentID: "alice", PasswordHash: hash(t, "alice-pass")}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.ShareRevocations(ctx, store); err != nil {
			t.Fatal(err)
		}
		return a
	}
	a, b := node(clkA), node(clkB)
	waitRefused := func(on *Authenticator, tok, what string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, err := on.Verify(tok); errors.Is(err, ErrUnauthorized) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the token is still accepted after 20 s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	tok, refresh, _, err := a.LoginRefresh("alice", "alice-pass")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(tok); err != nil {
		t.Fatalf("node B refuses node A's token: %v", err)
	}
	clkA.Advance(time.Millisecond)
	clkB.Advance(time.Millisecond)
	if err := a.Revoke("alice"); err != nil {
		t.Fatal(err)
	}
	waitRefused(b, tok, "admin revocation on A, token on B")
	if _, _, _, err := b.Refresh(refresh); !errors.Is(err, ErrUnauthorized) {
		t.Error("the refresh token still works on B")
	}

	// A LOGOUT in journal entry 42: A records it first, at its time; A
	// issues a new token after it; B records the same entry later.
	clkA.Advance(time.Millisecond)
	old := a.Issue("alice", time.Hour)
	clkA.Advance(time.Millisecond)
	if err := a.RevokeLogout("alice", 42); err != nil {
		t.Fatal(err)
	}
	at := a.RevokedBefore("alice")
	clkA.Advance(time.Millisecond)
	fresh := a.Issue("alice", time.Hour)
	clkB.Advance(time.Second) // B applies the entry a second later
	if err := b.RevokeLogout("alice", 42); err != nil {
		t.Fatal(err)
	}
	if got := b.RevokedBefore("alice"); !got.Equal(at) {
		t.Errorf("B's revocation at %v, want A's %v", got, at)
	}
	waitRefused(b, old, "LOGOUT, earlier token on B")
	if _, err := b.Verify(fresh); err != nil {
		t.Errorf("a token issued after the LOGOUT refused on B: %v", err)
	}

	c := node(clkA) // a node started afterwards
	if _, err := c.Verify(old); !errors.Is(err, ErrUnauthorized) {
		t.Error("a node opened after the revocation accepts the revoked token")
	}
	if _, err := c.Verify(fresh); err != nil {
		t.Errorf("a node opened after the revocation refuses a later token: %v", err)
	}
}

// FuzzDecodeRevocation: any bytes decode or fail cleanly; what decodes
// has an agent and a time not below zero.
func FuzzDecodeRevocation(f *testing.F) {
	f.Add([]byte(`{"agent":"alice","before":1764662400123,"logout":812}`))
	f.Add([]byte(`{"agent":"","before":1}`))
	f.Add([]byte(`{"agent":"a","before":-1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodeRevocation(b)
		if err == nil && (v.Agent == "" || v.Before < 0) {
			t.Fatalf("decoded %+v", v)
		}
	})
}
