package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/guard"
	"github.com/omniroute/omniroute/internal/testca"
	"github.com/omniroute/omniroute/server"
)

func exampleConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "examples", "omniroute.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestDemoCredentialsRefused: the example's published admin token,
// partner token and passwords are refused on a non-loopback listener
// unless Demo is set; on loopback they serve.
func TestDemoCredentialsRefused(t *testing.T) {
	ctx := t.Context()
	quiet := slog.New(slog.DiscardHandler)
	_, err := server.Start(ctx, server.Options{Config: exampleConfig(t), Listen: "0.0.0.0:0", DataDir: t.TempDir(), Logger: quiet})
	if !errors.Is(err, server.ErrDemoCredentials) {
		t.Fatalf("non-loopback with demo secrets: %v, want ErrDemoCredentials", err)
	}
	for _, want := range []string{"dev-admin-token", "partner token of demo-partner", "alice-pass", "--demo"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q: %v", want, err)
		}
	}
	srv, err := server.Start(ctx, server.Options{Config: exampleConfig(t), Listen: "0.0.0.0:0", DataDir: t.TempDir(), Logger: quiet, Demo: true})
	if err != nil {
		t.Fatalf("with Demo: %v", err)
	}
	srv.Close()
	// Own secrets: serves anywhere.
	cfg := exampleConfig(t)
	cfg.Auth.AdminTokens = []string{"a-private-admin-token-0123456789"}
	cfg.Partners[0].Token = "a-private-partner-token-0123456789"
	for i := range cfg.Agents {
		cfg.Agents[i].Username, cfg.Agents[i].PasswordHash = "", ""
	}
	srv, err = server.Start(ctx, server.Options{Config: cfg, Listen: "0.0.0.0:0", DataDir: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatalf("own secrets: %v", err)
	}
	srv.Close()
}

// TestTLSAndPublicURL: with a certificate the listener speaks HTTPS only,
// TLS 1.2 or newer; GMS dialog URLs come from the configured public URL,
// whatever Host the request names.
func TestTLSAndPublicURL(t *testing.T) {
	dir := t.TempDir()
	ca, err := testca.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := testca.Pool(ca)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(t.Context(), server.Options{Config: exampleConfig(t), Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"),
		Logger: slog.New(slog.DiscardHandler), TLSCertFile: ca.Cert, TLSKeyFile: ca.Key, PublicURL: "https://cc.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if !strings.HasPrefix(srv.URL(), "https://") {
		t.Fatalf("URL %s", srv.URL())
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(srv.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	old := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if resp, err := old.Get(srv.URL() + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a TLS 1.1 client was served")
	}
	plain := &http.Client{Timeout: 10 * time.Second}
	if resp, err := plain.Get("http://" + srv.Addr() + "/healthz"); err == nil && resp.StatusCode == 200 {
		t.Fatal("plain HTTP served on the TLS listener")
	}

	// A callback and its dialog, asked for with a hostile Host.
	ct, body := multipartForm("_customer_number", "4082652649", "_device_os", "comet", "_device_notification_id", "dev-1")
	req, _ := http.NewRequest("POST", srv.URL()+"/genesys/1/service/callback/chat-delay", strings.NewReader(body))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("gms_user", "dev-1")
	req.Host = "evil.example"
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		ID string `json:"_id"`
	}
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if created.ID == "" {
		t.Fatalf("start callback: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("POST", srv.URL()+"/genesys/1/service/"+created.ID+"/connect", nil)
	req.Header.Set("gms_user", "dev-1")
	req.Host = "evil.example"
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var dialog map[string]any
	json.NewDecoder(resp.Body).Decode(&dialog)
	resp.Body.Close()
	if dialog["_comet_url"] != "https://cc.example.com/genesys/cometd" ||
		dialog["_start_chat_url"] != "https://cc.example.com/genesys/1/service/"+created.ID+"/ixn/chat" {
		t.Fatalf("dialog URLs not from the public URL: %v", dialog)
	}
}

// TestHTTPTimeouts: a body trickling in is cut at the read timeout, an idle
// keep-alive connection at the idle timeout, while a long-lived route (the
// customer's SSE stream) outlives the write timeout.
func TestHTTPTimeouts(t *testing.T) {
	const short = 300 * time.Millisecond
	srv, err := server.Start(t.Context(), server.Options{Config: exampleConfig(t), Listen: "127.0.0.1:0", DataDir: t.TempDir(),
		Logger: slog.New(slog.DiscardHandler), Timeouts: guard.Timeouts{Read: short, Write: short, Idle: short}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })

	// Slow body: headers promise 100 bytes, one arrives.
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	io.WriteString(conn, "POST /agent-manager/agent/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(conn); err != nil {
		t.Fatalf("slow body: the connection was not closed by the server: %v", err)
	}
	if held := time.Since(start); held > 5*time.Second {
		t.Fatalf("slow body held %v", held)
	}

	// Idle keep-alive: one request, then silence; the server closes.
	conn2, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	io.WriteString(conn2, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn2)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	conn2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("idle keep-alive connection: %v, want EOF from the server", err)
	}

	// Long-lived: the SSE stream of a conversation gets an event after
	// several write timeouts have passed.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	admin := "dev-admin-token"
	id := postJSON(t, ctx, srv.URL()+"/v1/conversations", admin, `{"queue":"chat-support","customer":{"id":"c-1"}}`)["id"].(string)
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL()+"/v1/conversations/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	sse, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer sse.Body.Close()
	lines := bufio.NewScanner(sse.Body)
	time.Sleep(3 * short) // past the write timeout on purpose: the exemption is what is tested
	postJSON(t, ctx, srv.URL()+"/v1/conversations/"+id+"/messages", admin, `{"body":{"type":"PLAIN","markdownText":"still there?"}}`)
	for lines.Scan() {
		if strings.Contains(lines.Text(), "still there?") {
			return
		}
	}
	t.Fatalf("SSE stream ended before the message: %v", lines.Err())
}

func multipartForm(fields ...string) (string, string) {
	var b strings.Builder
	w := multipart.NewWriter(&b)
	for i := 0; i+1 < len(fields); i += 2 {
		_ = w.WriteField(fields[i], fields[i+1])
	}
	_ = w.Close()
	return w.FormDataContentType(), b.String()
}

// postJSON POSTs body with an admin or agent token and decodes the 2xx
// answer.
func postJSON(t *testing.T, ctx context.Context, url, token, body string) map[string]any {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 || json.Unmarshal(b, &out) != nil {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
	return out
}
