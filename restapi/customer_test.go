package restapi

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/conversation"
)

// customerEnv is the restapi env with the customer routes served by a real
// conversation layer (in-memory transcript) and an HTTP server for streams.
func customerEnv(t *testing.T) (*env, *httptest.Server, string) {
	e := newEnv(t)
	conv, err := conversation.New(e.node, conversation.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conv.Close)
	e.h = New(e.node, e.auth, Options{Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler), Customers: conv})
	ts := httptest.NewServer(e.h)
	t.Cleanup(ts.Close)
	var c ConversationCreated
	e.ok(201, "POST", "/v1/conversations", adminToken, `{"queue":"sales","customer":{"firstName":"Ada"}}`).decode(t, &c)
	return e, ts, c.ID
}

type sseEvent struct {
	id, event, data string
}

// openStream opens GET /v1/conversations/{id}/events and returns its events.
func openStream(t *testing.T, ts *httptest.Server, conv, query string) <-chan sseEvent {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/v1/conversations/"+conv+"/events"+query, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ch := make(chan sseEvent, 64)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var cur sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.data != "" {
					ch <- cur
				}
				cur = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				cur.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				cur.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				cur.data = line[6:]
			}
		}
	}()
	return ch
}

func waitSSE(t *testing.T, ch <-chan sseEvent, name string) sseEvent {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-ch:
			var c struct{ Name string }
			_ = json.Unmarshal([]byte(ev.data), &c)
			if ev.event != "cimEvent" || ev.id == "" {
				t.Fatalf("bad SSE event %+v", ev)
			}
			if c.Name == name {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s on the stream", name)
		}
	}
}

func TestCustomerRoutes(t *testing.T) {
	e, ts, conv := customerEnv(t)
	stream := openStream(t, ts, conv, "")
	waitSSE(t, stream, "CHANNEL_SESSION_STARTED")

	var got conversation.CustomerEventBody
	e.ok(201, "POST", "/v1/conversations/"+conv+"/messages", adminToken,
		`{"body":{"type":"PLAIN","markdownText":"hello"}}`).decode(t, &got)
	if got.Seq == 0 || !strings.Contains(string(got.CimEvent), `"CUSTOMER_MESSAGE"`) {
		t.Fatalf("answer %+v", got)
	}
	ev := waitSSE(t, stream, "CUSTOMER_MESSAGE")
	if !strings.Contains(ev.data, "hello") {
		t.Fatal(ev)
	}
	// Resume after the message: nothing old comes back.
	resumed := openStream(t, ts, conv, "?after="+ev.id)
	e.ok(201, "POST", "/v1/conversations/"+conv+"/messages", adminToken,
		`{"body":{"type":"LOCATION","location":{"latitude":1,"longitude":2}}}`)
	if r := waitSSE(t, resumed, "CUSTOMER_MESSAGE"); !strings.Contains(r.data, "LOCATION") {
		t.Fatalf("resumed stream replayed %s", r.data)
	}

	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		code                            string
	}{
		{"unknown conversation", "POST", "/v1/conversations/nope/messages", adminToken, `{"body":{"type":"PLAIN","markdownText":"x"}}`, 404, "CONVERSATION_NOT_FOUND"},
		{"malformed", "POST", "/v1/conversations/" + conv + "/messages", adminToken, `{"body":{"type":"PLAIN"}}`, 400, "MISSING_FIELD"},
		{"not JSON", "POST", "/v1/conversations/" + conv + "/messages", adminToken, `{`, 400, "INVALID_PAYLOAD"},
		{"unknown body type", "POST", "/v1/conversations/" + conv + "/messages", adminToken, `{"body":{"type":"NOPE"}}`, 400, "INVALID_FIELD"},
		{"oversize event", "POST", "/v1/conversations/" + conv + "/messages", adminToken, `{"body":{"type":"PLAIN","markdownText":"` + strings.Repeat("x", 20000) + `"}}`, 413, "PAYLOAD_TOO_LARGE"},
		{"oversize body", "POST", "/v1/conversations/" + conv + "/messages", adminToken, `{"body":{"type":"PLAIN","markdownText":"` + strings.Repeat("x", MaxCustomerMessageBytes) + `"}}`, 413, CodeBodyTooLarge},
		{"reply to nothing", "POST", "/v1/conversations/" + conv + "/messages", adminToken, `{"header":{"originalMessageId":"ghost"},"body":{"type":"PLAIN","markdownText":"x"}}`, 422, "REPLY_NOT_FOUND"},
		{"agent token", "POST", "/v1/conversations/" + conv + "/messages", e.tokens["alice"], `{"body":{"type":"PLAIN","markdownText":"x"}}`, 403, CodeForbidden},
		{"no token", "GET", "/v1/conversations/" + conv + "/events", "", ``, 401, CodeUnauthorized},
		{"bad cursor", "GET", "/v1/conversations/" + conv + "/events?after=x", adminToken, ``, 400, "INVALID_ARGUMENT"},
		{"events of unknown", "GET", "/v1/conversations/nope/events", adminToken, ``, 404, "CONVERSATION_NOT_FOUND"},
		{"left unknown", "POST", "/v1/conversations/nope/customer-left", adminToken, ``, 404, "CONVERSATION_NOT_FOUND"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.refused(tc.status, tc.code, tc.method, tc.path, tc.token, tc.body)
		})
	}
	e.t = t
	e.refused(415, CodeUnsupportedMediaType, "POST", "/v1/conversations/"+conv+"/messages", adminToken, `x`, "Content-Type", "text/plain")

	// The customer leaves: CUSTOMER_LEFT on the stream, then 409s.
	e.ok(200, "POST", "/v1/conversations/"+conv+"/customer-left", adminToken, ``)
	waitSSE(t, stream, "CUSTOMER_LEFT")
	e.refused(409, "INVALID_TRANSITION", "POST", "/v1/conversations/"+conv+"/customer-left", adminToken, ``)
	e.refused(409, "CONVERSATION_CLOSED", "POST", "/v1/conversations/"+conv+"/messages", adminToken, `{"body":{"type":"PLAIN","markdownText":"x"}}`)
}

func TestCustomerRoutesUnavailableWithoutDesk(t *testing.T) {
	e := newEnv(t)
	e.refused(503, CodeUnavailable, "POST", "/v1/conversations/x/messages", adminToken, `{}`)
}
