package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/config"
)

// TestEventTickets (issue 13 item 5): a browser's EventSource cannot send
// the Authorization header, so the customer event stream takes a
// single-use ticket minted with the header (POST /v1/tickets). The stream
// opens once with it; a second use is 401 TICKET_USED, a ticket of another
// conversation or a made-up one 401 TICKET_INVALID; a channel mints
// tickets only for its own conversations, an agent none for the customer
// side; a ticket never stands in for a header already sent.
func TestEventTickets(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	const web = "web-chat-token-0123456789abcdef"
	srv, err := startWith(ctx, t.TempDir(), func(c *config.Config) {
		c.Auth.Channels = []config.ChannelSpec{{ID: "web-chat", Token: web, Queues: []string{"chat-sales"}}}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	u := srv.URL()
	newConv := func(token string) string {
		t.Helper()
		st, b := call(t, "POST", u+"/v1/conversations", token, `{"queue":"chat-sales"}`)
		var cr struct{ ID string }
		if st != 201 || json.Unmarshal(b, &cr) != nil {
			t.Fatalf("create: %d %s", st, b)
		}
		return cr.ID
	}
	mine, admins := newConv(web), newConv("dev-admin-token")
	if st, b := call(t, "POST", u+"/v1/conversations/"+mine+"/messages", web, `{"body":{"type":"PLAIN","markdownText":"hello"}}`); st != 201 {
		t.Fatalf("message: %d %s", st, b)
	}
	mint := func(token, body string, want int) string {
		t.Helper()
		st, b := call(t, "POST", u+"/v1/tickets", token, body)
		if st != want {
			t.Fatalf("mint %s: %d %s, want %d", body, st, b, want)
		}
		var tr struct {
			Ticket    string
			ExpiresIn int
		}
		json.Unmarshal(b, &tr)
		if want == 201 && (tr.Ticket == "" || tr.ExpiresIn != 30) {
			t.Fatalf("mint: %s", b)
		}
		return tr.Ticket
	}
	events := func(conv, query string) (int, string, string) {
		t.Helper()
		rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
		defer rcancel()
		req, _ := http.NewRequestWithContext(rctx, "GET", u+"/v1/conversations/"+conv+"/events"+query, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			var e struct{ Error struct{ Code string } }
			json.NewDecoder(resp.Body).Decode(&e)
			return resp.StatusCode, e.Error.Code, ""
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				return 200, "", d
			}
		}
		t.Fatalf("stream ended without an event: %v", sc.Err())
		return 0, "", ""
	}

	// Only the header mints; the minter must be allowed on the stream.
	mint("", `{"scope":"conversation-events","conversation":"`+mine+`"}`, 401)
	mint(web, `{"scope":"conversation-events","conversation":"`+admins+`"}`, 404)
	mint(web, `{"scope":"conversation-events"}`, 400)
	mint(web, `{"scope":"anything"}`, 400)
	alice := login(t, u, "alice", "alice-pass")
	mint(alice, `{"scope":"conversation-events","conversation":"`+mine+`"}`, 403)
	mint(web, `{"scope":"crm-connector"}`, 403)
	mint(alice, `{"scope":"crm-connector"}`, 201)

	tk := mint(web, `{"scope":"conversation-events","conversation":"`+mine+`"}`, 201)
	if st, code, _ := events(admins, "?ticket="+tk); st != 401 || code != "TICKET_INVALID" {
		t.Fatalf("ticket on another conversation: %d %s", st, code)
	}
	if st, _, data := events(mine, "?ticket="+tk); st != 200 || !strings.Contains(data, "CHANNEL_SESSION_STARTED") {
		t.Fatalf("stream with the ticket: %d %s", st, data)
	}
	if st, code, _ := events(mine, "?ticket="+tk); st != 401 || code != "TICKET_USED" {
		t.Fatalf("ticket reused: %d %s", st, code)
	}
	if st, code, _ := events(mine, "?ticket=made-up"); st != 401 || code != "TICKET_INVALID" {
		t.Fatalf("made-up ticket: %d %s", st, code)
	}
	if st, _, _ := events(mine, "?token="+web); st != 401 {
		t.Fatalf("?token=: %d", st)
	}
	// An admin's ticket opens any conversation's stream.
	tk = mint("dev-admin-token", `{"scope":"conversation-events","conversation":"`+mine+`"}`, 201)
	if st, _, _ := events(mine, "?ticket="+tk); st != 200 {
		t.Fatalf("admin's ticket: %d", st)
	}
}
