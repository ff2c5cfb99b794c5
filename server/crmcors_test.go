package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestCRMOriginsMayLogIn: a page of a configured CRM origin (the example
// config's demo-crm partner) may log its agent in from the browser (CORS
// preflight and answer); another origin gets no CORS headers (issue 9
// item 14).
func TestCRMOriginsMayLogIn(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	srv := startExample(t, ctx, t.TempDir())
	t.Cleanup(func() { srv.Close() })
	do := func(method, origin, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, srv.URL()+"/agent-manager/agent/login", strings.NewReader(body))
		req.Header.Set("Origin", origin)
		if method == http.MethodOptions {
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "content-type")
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	const crm = "http://localhost:8080"
	pre := do(http.MethodOptions, crm, "")
	if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != crm ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "Content-Type") {
		t.Fatalf("preflight %d %v", pre.StatusCode, pre.Header)
	}
	login := do(http.MethodPost, crm, `{"username":"alice","password":"alice-pass"}`)
	if login.StatusCode != 200 || login.Header.Get("Access-Control-Allow-Origin") != crm {
		t.Fatalf("login %d %v", login.StatusCode, login.Header)
	}
	other := do(http.MethodPost, "https://evil.example", `{"username":"alice","password":"alice-pass"}`)
	if other.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("another origin got CORS: %v", other.Header)
	}
}
