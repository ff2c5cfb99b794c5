package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/server"
)

// TestGMSCallbackSurvivesRestart: a callback created with the seed's
// multipart body is notified (agent READY, device OS without a pusher, so
// the notification waits for retrieve-notifications); after a restart on
// the same data dir, GET shows it ROUTING, connect and ixn/chat work and
// retrieve-notifications returns the pending notification.
func TestGMSCallbackSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	start := func() *server.Server { return startExample(t, ctx, dir) }
	srv := start()
	defer func() { srv.Close() }()
	const user = "b16416334828b1d26ef14f329628b55b5a8c631d8928a371a5584722dd7fb673"
	client := &http.Client{Timeout: 20 * time.Second}
	send := func(method, path, contentType, body string, header ...string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, srv.URL()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	// The seed's curl-shaped multipart body (CRLF lines).
	multipart := func(boundary string, kv ...string) string {
		var b strings.Builder
		for i := 0; i+1 < len(kv); i += 2 {
			b.WriteString("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + kv[i] + "\"\r\n\r\n" + kv[i+1] + "\r\n")
		}
		b.WriteString("--" + boundary + "--\r\n")
		return b.String()
	}
	const bd = "------------------------4ebed3d3c5b0bb4c"
	ct := "multipart/form-data; boundary=" + bd
	status, b := send("POST", "/genesys/1/service/callback/chat-delay", ct, multipart(bd,
		"_customer_number", "4082652649", "usr_customer_name", "Bob Markel",
		"_device_notification_id", "device-1", "_device_os", "ios"), "gms_user", user)
	var created struct {
		ID string `json:"_id"`
	}
	if status != 200 || json.Unmarshal(b, &created) != nil || created.ID == "" {
		t.Fatalf("start callback: %d %s", status, b)
	}
	id := created.ID
	stateOf := func() string {
		t.Helper()
		status, b := send("GET", "/genesys/1/service/callback/chat-delay/"+id, "", "", "gms_user", user)
		var v struct {
			State string `json:"_callback_state"`
		}
		if status != 200 || json.Unmarshal(b, &v) != nil {
			t.Fatalf("get callback: %d %s", status, b)
		}
		return v.State
	}
	if st := stateOf(); st != "QUEUED" {
		t.Fatalf("state %s, want QUEUED", st)
	}
	if status, b := send("PUT", "/v1/agents/bob/state", "application/json", `{"state":"READY"}`,
		"Authorization", "Bearer "+adminToken); status != 200 {
		t.Fatalf("bob READY: %d %s", status, b)
	}
	for st := stateOf(); st != "ROUTING"; st = stateOf() {
		if ctx.Err() != nil {
			t.Fatalf("state %s, want ROUTING", st)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Restart: everything shut down, reopened on the same data dir.
	srv.Close()
	srv = start()

	if st := stateOf(); st != "ROUTING" {
		t.Fatalf("after restart: state %s, want ROUTING", st)
	}
	empty := "--" + bd + "--\r\n"
	status, b = send("POST", "/genesys/1/service/"+id+"/connect", ct, empty, "gms_user", user)
	var dialog map[string]any
	if status != 200 || json.Unmarshal(b, &dialog) != nil || dialog["_id"] != id || dialog["_dialog_id"] != "1" {
		t.Fatalf("connect after restart: %d %s", status, b)
	}
	// Another device does not see it.
	if status, _ := send("POST", "/genesys/1/service/"+id+"/connect", ct, empty, "gms_user", "someone-else"); status != 404 {
		t.Fatalf("connect by another gms_user: %d", status)
	}
	status, b = send("POST", "/genesys/1/service/"+id+"/ixn/chat", ct, multipart(bd, "notify_by", "comet",
		"firstName", "John", "lastName", "Harry", "_verbose", "false"), "gms_user", user)
	if status != 200 || !bytes.Contains(b, []byte(`"comet_channel":"/_genesys"`)) {
		t.Fatalf("ixn/chat after restart: %d %s", status, b)
	}
	status, b = send("POST", "/genesys/1/service/"+id+"/retrieve-notifications", ct, empty, "gms_user", user)
	var notes []map[string]any
	if status != 200 || json.Unmarshal(b, &notes) != nil || len(notes) != 1 ||
		notes[0]["_id"] != id || notes[0]["_action"] != "get-dialog-user-confirmation-provide_code-false" {
		t.Fatalf("retrieve-notifications after restart: %d %s", status, b)
	}
	// The follower keeps the re-adopted callback up to date.
	for st := stateOf(); st != "PROCESSING"; st = stateOf() {
		if ctx.Err() != nil {
			t.Fatalf("state %s, want PROCESSING", st)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Retrieved durably: a second restart has nothing pending.
	srv.Close()
	srv = start()
	status, b = send("POST", "/genesys/1/service/"+id+"/retrieve-notifications", ct, empty, "gms_user", user)
	if status != 200 || string(bytes.TrimSpace(b)) != "[]" {
		t.Fatalf("retrieve-notifications after second restart: %d %s", status, b)
	}
	if st := stateOf(); st != "PROCESSING" {
		t.Fatalf("after second restart: state %s, want PROCESSING", st)
	}
}
