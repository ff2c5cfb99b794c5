package server_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/omniroute/omniroute/agentdesk"
	"github.com/omniroute/omniroute/agentdesk/deskclient"
	"github.com/omniroute/omniroute/config"
)

// TestDeskTokenExpiry (issue 13 item 1) on the real server with 6 s
// agent tokens: a desk is told at once (less than the minute of warning
// is left), another agent's token does not refresh it, a token from
// POST /agent-manager/agent/refresh does, and the socket is closed with
// tokenExpired no earlier than the new token's expiry. The fake-clock
// version with every step is agentdesk.TestTokenExpiry; here nothing is
// asserted about how fast anything happens, only its order.
func TestDeskTokenExpiry(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	srv, err := startWith(ctx, t.TempDir(), func(c *config.Config) { c.Auth.TokenTTLSeconds = 6 })
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	u := srv.URL()
	type pair struct{ token, refresh string }
	loginPair := func(user, pass string) pair {
		st, b := call(t, "POST", u+"/agent-manager/agent/login", "", `{"username":"`+user+`","password":"`+pass+`"}`)
		var lr struct {
			Data struct {
				Token        string `json:"token"`
				RefreshToken string `json:"refresh_token"`
			}
		}
		if st != 200 || json.Unmarshal(b, &lr) != nil {
			t.Fatalf("login %s: %d %s", user, st, b)
		}
		return pair{lr.Data.Token, lr.Data.RefreshToken}
	}
	expiry := func(tok string) time.Time {
		st, b := call(t, "GET", u+"/v1/me", tok, "")
		var me struct {
			ExpiresAt time.Time `json:"expiresAt"`
		}
		if st != 200 || json.Unmarshal(b, &me) != nil {
			t.Fatalf("me: %d %s", st, b)
		}
		return me.ExpiresAt
	}
	a := loginPair("alice", "alice-pass")
	expA := expiry(a.token)

	events := make(chan string, 16)
	on := func(name string) deskclient.Option {
		return deskclient.WithHandler(name, func(json.RawMessage) { events <- name })
	}
	c, err := deskclient.Dial(ctx, u, "", map[string]any{"agent": "alice", "token": a.token},
		on(agentdesk.EventTokenExpiring), on(agentdesk.EventTokenExpired))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wait := func(name string) {
		t.Helper()
		select {
		case got := <-events:
			if got != name {
				t.Fatalf("got %s, want %s", got, name)
			}
		case <-ctx.Done():
			t.Fatalf("no %s", name)
		}
	}
	wait(agentdesk.EventTokenExpiring)

	refresh := func(tok string) agentdesk.Ack {
		args, err := c.EmitWithAck(ctx, agentdesk.EventRefreshToken, map[string]any{"token": tok})
		var ack agentdesk.Ack
		if err != nil || len(args) != 1 || json.Unmarshal(args[0], &ack) != nil {
			t.Fatalf("refreshToken: %v %s", err, args)
		}
		return ack
	}
	if ack := refresh(loginPair("bob", "bob-pass").token); ack.OK || ack.Code != agentdesk.CodeAgentMismatch {
		t.Fatalf("bob's token on alice's socket: %+v", ack)
	}
	// A new token that expires later (expiries are whole seconds).
	var b pair
	var expB time.Time
	for r := a.refresh; !expB.After(expA); {
		st, body := call(t, "POST", u+"/agent-manager/agent/refresh", "", `{"refresh_token":"`+r+`"}`)
		var rr struct {
			Data struct {
				Token        string `json:"token"`
				RefreshToken string `json:"refresh_token"`
			}
		}
		if st != 200 || json.Unmarshal(body, &rr) != nil {
			t.Fatalf("refresh: %d %s", st, body)
		}
		b, r = pair{rr.Data.Token, rr.Data.RefreshToken}, rr.Data.RefreshToken
		expB = expiry(b.token)
	}
	select {
	case <-c.Done():
		t.Skipf("the socket closed before the refresh could be sent (the machine is slow: %v)", c.Err())
	default:
	}
	if ack := refresh(b.token); !ack.OK {
		if time.Now().After(expA) {
			t.Skipf("token A expired before the refresh arrived: %+v", ack)
		}
		t.Fatalf("refresh: %+v", ack)
	}
	wait(agentdesk.EventTokenExpiring) // the new token's warning
	wait(agentdesk.EventTokenExpired)
	if now := time.Now(); now.Before(expB) {
		t.Fatalf("closed at %v, before the refreshed token's expiry %v (the old one was %v)", now, expB, expA)
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("the socket stayed open after tokenExpired")
	}
	t.Logf("token A expired %v, B %v; socket closed after B", expA, expB)
}
