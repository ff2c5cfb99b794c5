package server_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/omniroute/omniroute/config"
)

// TestChannelTokens (issue 13 item 5): a channel token creates
// conversations in its queues only and acts as the customer of the
// conversations it created only (messages, customer-left, events), not of
// an admin's or another channel's; it is not an admin or an agent
// anywhere else (minting tokens, reading agents, the agent desk).
func TestChannelTokens(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	const web, sms = "web-chat-token-0123456789abcdef", "sms-token-0123456789abcdef0123"
	srv, err := startWith(ctx, t.TempDir(), func(c *config.Config) {
		c.Auth.Channels = []config.ChannelSpec{
			{ID: "web-chat", Token: web, Queues: []string{"chat-sales"}},
			{ID: "sms", Token: sms},
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	u := srv.URL()
	create := func(token, queue string, want int) string {
		t.Helper()
		st, b := call(t, "POST", u+"/v1/conversations", token, `{"queue":"`+queue+`","attributes":{"omniroute.channel":"sms"}}`)
		if st != want {
			t.Fatalf("create in %s: %d %s, want %d", queue, st, b, want)
		}
		var cr struct{ ID string }
		json.Unmarshal(b, &cr)
		return cr.ID
	}
	mine := create(web, "chat-sales", 201)
	create(web, "voice-support", 403)
	admins := create("dev-admin-token", "chat-sales", 201)
	theirs := create(sms, "chat-sales", 201)

	msg := `{"body":{"type":"PLAIN","markdownText":"hello"}}`
	for _, c := range []struct {
		method, path, token, body string
		want                      int
	}{
		{"POST", "/v1/conversations/" + mine + "/messages", web, msg, 201},
		{"POST", "/v1/conversations/" + admins + "/messages", web, msg, 404},
		{"POST", "/v1/conversations/" + theirs + "/messages", web, msg, 404},
		{"POST", "/v1/conversations/" + mine + "/messages", sms, msg, 404},
		{"POST", "/v1/conversations/" + theirs + "/messages", sms, msg, 201},
		{"POST", "/v1/conversations/" + admins + "/customer-left", web, "", 404},
		{"GET", "/v1/conversations/" + mine, web, "", 401},
		{"GET", "/v1/agents", web, "", 401},
		{"POST", "/v1/agents/alice/token", web, `{}`, 401},
		{"POST", "/v1/conversations/" + mine + "/close", web, "", 401},
		{"GET", "/v1/audit", web, "", 401},
		{"POST", "/v1/conversations/" + mine + "/customer-left", web, "", 200},
	} {
		if st, b := call(t, c.method, u+c.path, c.token, c.body); st != c.want {
			t.Errorf("%s %s with the %s token: %d %s, want %d", c.method, c.path, map[string]string{web: "web-chat", sms: "sms"}[c.token], st, b, c.want)
		}
	}
	// The events stream of its own conversation opens; another's does not.
	if tr := transcriptOfWith(t, u, mine, web, 1); len(tr) != 1 {
		t.Fatal("no event on the channel's own stream")
	}
	if st, _ := call(t, "GET", u+"/v1/conversations/"+theirs+"/events", web, ""); st != 404 {
		t.Fatalf("another channel's events: %d", st)
	}
}
