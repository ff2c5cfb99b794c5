package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestLogoutRevokesTokens: an agent that goes LOGOUT has its access and
// refresh tokens revoked; a new login works.
func TestLogoutRevokesTokens(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	srv := startExample(t, ctx, t.TempDir())
	t.Cleanup(func() { srv.Close() })
	login := func() (string, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL()+"/agent-manager/agent/login", strings.NewReader(`{"username":"alice","password":"alice-pass"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var lr struct {
			Data struct {
				Token   string `json:"token"`
				Refresh string `json:"refresh_token"`
			} `json:"data"`
		}
		if err := jsonDecode(resp, &lr); err != nil || lr.Data.Token == "" {
			t.Fatalf("login: %v", err)
		}
		return lr.Data.Token, lr.Data.Refresh
	}
	me := func(tok string) int {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL()+"/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	setState := func(tok, state string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "PUT", srv.URL()+"/v1/agents/alice/state", strings.NewReader(`{"state":"`+state+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", state, err, resp)
		}
		resp.Body.Close()
	}
	tok, _ := login()
	setState(tok, "READY")
	setState(tok, "LOGOUT")
	deadline := time.Now().Add(5 * time.Second)
	for me(tok) != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("the token still works after LOGOUT")
		}
		time.Sleep(10 * time.Millisecond)
	}
	pastMilli(time.Now()) // the revocation is in force: the next login is issued after its millisecond
	tok2, _ := login()
	if s := me(tok2); s != 200 {
		t.Fatalf("a login after LOGOUT: %d", s)
	}
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
