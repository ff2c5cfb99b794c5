package server_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/guard"
	"github.com/omniroute/omniroute/server"
)

// TestBrowserHeaders: CORS only for server.corsOrigins (REST and the
// desk's Socket.IO alike), a preflight from any other origin refused, and
// the security headers on every answer.
func TestBrowserHeaders(t *testing.T) {
	cfg := exampleConfig(t)
	cfg.Server.CORSOrigins = []string{"https://crm.example.com"}
	srv, err := server.Start(t.Context(), server.Options{Config: cfg, Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	client := &http.Client{Timeout: 10 * time.Second}
	do := func(method, path, origin string, hdr ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL()+path, nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, path := range []string{"/healthz", "/v1/agents", "/socket.io/?EIO=4&transport=polling"} {
		good := do("GET", path, "https://crm.example.com")
		if got := good.Header.Get("Access-Control-Allow-Origin"); got != "https://crm.example.com" {
			t.Errorf("%s from an allowed origin: Access-Control-Allow-Origin %q", path, got)
		}
		bad := do("GET", path, "https://evil.example")
		if got := bad.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("%s from another origin: Access-Control-Allow-Origin %q", path, got)
		}
		if bad.Header.Get("Content-Security-Policy") != guard.DefaultCSP || bad.Header.Get("Referrer-Policy") != "no-referrer" ||
			bad.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: security headers %v", path, bad.Header)
		}
	}
	pre := do("OPTIONS", "/v1/agents", "https://evil.example", "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization")
	if pre.StatusCode != http.StatusForbidden {
		t.Errorf("preflight from another origin: %d", pre.StatusCode)
	}
	pre = do("OPTIONS", "/v1/agents", "https://crm.example.com", "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization")
	if pre.StatusCode != http.StatusNoContent || !strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight from the allowed origin: %d %v", pre.StatusCode, pre.Header)
	}
	// The server's own origin (its pages, the desk's websocket) is allowed.
	if got := do("GET", "/healthz", srv.URL()).Header.Get("Access-Control-Allow-Origin"); got != srv.URL() {
		t.Errorf("own origin: %q", got)
	}
}
