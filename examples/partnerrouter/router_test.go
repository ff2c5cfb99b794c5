package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/server"
)

const (
	adminToken   = "admin-token-0123456789"
	partnerToken = "partner-token-0123456789"
)

// testConfig: one external queue on MRD chat and n agents (capacity cap each).
func testConfig(n, capacity int) string {
	s := fmt.Sprintf(`
auth: {adminTokens: [%s]}
mrds:
  - {id: chat, name: Chat, interruptible: true, maxRequests: %d}
queues:
  - {id: ext, name: External, mrd: chat, mode: external, ronaTimeoutSeconds: 30}
partners:
  - {id: p1, token: %s}
agents:
`, adminToken, capacity, partnerToken)
	for i := 1; i <= n; i++ {
		s += fmt.Sprintf("  - {id: a%d, name: Agent %d, capacity: {chat: %d}}\n", i, i, capacity)
	}
	return s
}

func startServer(t testing.TB, yaml string) *server.Server {
	t.Helper()
	c, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := server.Start(context.Background(), server.Options{Config: c, Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// call does one admin API call and decodes the answer into out (when not nil).
func call(t testing.TB, base, method, path string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, body)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil {
		_ = json.Unmarshal(raw, out)
	}
	return res.StatusCode
}

func ready(t testing.TB, base string, agents ...string) {
	t.Helper()
	for _, a := range agents {
		if st := call(t, base, "PUT", "/v1/agents/"+a+"/state", map[string]string{"state": "READY"}, nil); st != 200 {
			t.Fatalf("READY %s: %d", a, st)
		}
	}
}

type task struct {
	ID           string `json:"id"`
	Conversation string `json:"conversation"`
	State        string `json:"state"`
}

// Every conversation gets answered; agent a1 declines everything, so each
// conversation it was pushed is re-assigned to another agent.
func TestRouterAnswersAndReroutesDeclines(t *testing.T) {
	s := startServer(t, testConfig(3, 1))
	base := s.URL()
	ready(t, base, "a1", "a2", "a3")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	subscribed := make(chan struct{})
	go func() {
		done <- run(ctx, Config{Server: base, Token: partnerToken, AdminToken: adminToken, Sweep: 50 * time.Millisecond,
			Logf: t.Logf, Ready: func() { close(subscribed) }})
	}()
	defer func() {
		cancel()
		<-done
	}()
	select { // subscribed before the first conversation
	case <-subscribed:
	case err := <-done:
		t.Fatalf("router ended before subscribing: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("router not subscribed within 30 s")
	}

	const n = 12
	convs := map[string]bool{}
	for i := range n {
		var created struct{ ID string }
		if st := call(t, base, "POST", "/v1/conversations", map[string]any{"queue": "ext"}, &created); st != 201 {
			t.Fatalf("conversation %d: %d", i, st)
		}
		convs[created.ID] = true
	}
	// The agents' desks: a1 declines every offer; a2 and a3 accept, then
	// close the task so they are free for the next one.
	var mu sync.Mutex
	answeredBy := map[string]string{}
	declined := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for len(answeredBy) < n && time.Now().Before(deadline) {
		for _, a := range []string{"a1", "a2", "a3"} {
			var tasks struct{ Items []task }
			call(t, base, "GET", "/v1/tasks?agent="+a, nil, &tasks)
			for _, tk := range tasks.Items {
				switch {
				case tk.State != "RESERVED":
				case a == "a1":
					if st := call(t, base, "POST", "/v1/tasks/"+tk.ID+"/decline?agent="+a, nil, nil); st != 200 {
						t.Fatalf("decline: %d", st)
					}
					declined[tk.Conversation] = true
				default:
					if st := call(t, base, "POST", "/v1/tasks/"+tk.ID+"/accept?agent="+a, nil, nil); st != 200 {
						t.Fatalf("accept: %d", st)
					}
					call(t, base, "POST", "/v1/tasks/"+tk.ID+"/close?agent="+a, nil, nil)
					mu.Lock()
					answeredBy[tk.Conversation] = a
					mu.Unlock()
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(answeredBy) != n {
		t.Fatalf("answered %d of %d conversations: %v", len(answeredBy), n, answeredBy)
	}
	for c := range convs {
		if answeredBy[c] == "" || answeredBy[c] == "a1" {
			t.Errorf("conversation %s answered by %q", c, answeredBy[c])
		}
	}
	if len(declined) == 0 {
		t.Fatal("a1 was never offered anything: declines not exercised")
	}
	for c := range declined {
		if answeredBy[c] == "" {
			t.Errorf("declined conversation %s was not re-assigned", c)
		}
	}
	// Nothing left open for the partner.
	var open struct{ Items []any }
	req, _ := http.NewRequest("GET", base+"/v1/pending-service-routing", nil)
	req.Header.Set("Authorization", "Bearer "+partnerToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(res.Body).Decode(&open)
	res.Body.Close()
	if len(open.Items) != 0 {
		t.Fatalf("open PSRs left: %v", open.Items)
	}
	t.Logf("%d conversations answered, %d declined by a1 and re-assigned", n, len(declined))
}
