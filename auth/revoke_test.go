package auth

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/omniroute/omniroute/clock/clocktest"
)

// TestRefreshAndRevoke: the refresh token is not a bearer token; Refresh
// gives a new pair; Revoke ends every token issued until then, access and
// refresh alike, and a revocation survives a new Authenticator on the same
// file; a login after the revocation works.
func TestRefreshAndRevoke(t *testing.T) {
	clk := clocktest.New(t0)
	file := filepath.Join(t.TempDir(), "revocations.json")
	o := Options{Secret: secret, Now: clk.Now, TokenTTL: time.Minute, RefreshTTL: time.Hour, RevocationFile: file,
		Users: []User{{Username: "alice", AgentID: "alice", PasswordHash: hash(t, "alice-pass")}}}
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	tok, refresh, agent, err := a.LoginRefresh("alice", "alice-pass")
	if err != nil || agent != "alice" {
		t.Fatal(err)
	}
	if _, err := a.Verify(refresh); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("a refresh token accepted as bearer: %v", err)
	}
	if _, _, _, err := a.Refresh(tok); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("an access token accepted as refresh: %v", err)
	}
	clk.Advance(2 * time.Minute) // the access token expired
	if _, err := a.Verify(tok); !errors.Is(err, ErrUnauthorized) {
		t.Fatal("expired access token accepted")
	}
	tok2, refresh2, _, err := a.Refresh(refresh)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if p, err := a.Verify(tok2); err != nil || p.AgentID != "alice" {
		t.Fatalf("refreshed token: %v", err)
	}
	minted := a.Issue("alice", time.Hour)
	clk.Advance(time.Millisecond)
	if err := a.Revoke("alice"); err != nil {
		t.Fatal(err)
	}
	for name, tk := range map[string]string{"access": tok2, "minted": minted} {
		if _, err := a.Verify(tk); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s token valid after Revoke", name)
		}
	}
	if _, _, _, err := a.Refresh(refresh2); !errors.Is(err, ErrUnauthorized) {
		t.Error("refresh token valid after Revoke")
	}
	clk.Advance(time.Millisecond)
	fresh, _, _, err := a.LoginRefresh("alice", "alice-pass")
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(o) // a restart
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(tok2); !errors.Is(err, ErrUnauthorized) {
		t.Error("revocation lost across a restart")
	}
	if _, err := b.Verify(fresh); err != nil {
		t.Errorf("a login after the revocation: %v", err)
	}
}
