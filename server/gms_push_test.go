package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"testing"
	"time"
)

// TestGMSCometPush plays seed 003 ("Chat Delayed") against server.Start
// with the example configuration: a device starts a callback with
// _device_os comet, handshakes on /genesys/cometd with its gms_user header
// and subscribes to /_genesys (CometD long-polling, written out here with
// net/http); when an agent becomes READY the held long-poll connect returns
// the agent-available notification, and the connect dialog's _comet_url is
// the endpoint that served it.
func TestGMSCometPush(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	srv := startExample(t, ctx, t.TempDir())
	t.Cleanup(func() { srv.Close() })
	base := srv.URL()
	const user = "b16416334828b1d26ef14f329628b55b5a8c631d8928a371a5584722dd7fb673"
	client := &http.Client{Timeout: 40 * time.Second}

	send := func(method, path, contentType string, body []byte, header ...string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
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
	form := func(fields ...string) (string, []byte) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		for i := 0; i+1 < len(fields); i += 2 {
			_ = w.WriteField(fields[i], fields[i+1])
		}
		_ = w.Close()
		return w.FormDataContentType(), b.Bytes()
	}

	// Start callback (seed 003 step 1): no agent is ready, it waits.
	ct, body := form("_customer_number", "4082652649", "usr_customer_name", "Bob Markel",
		"_device_notification_id", user, "_device_os", "comet")
	status, b := send("POST", "/genesys/1/service/callback/chat-delay", ct, body, "gms_user", user)
	var created struct {
		ID string `json:"_id"`
	}
	if status != 200 || json.Unmarshal(b, &created) != nil || created.ID == "" {
		t.Fatalf("start callback: %d %s", status, b)
	}

	// The device's CometD session: handshake and subscribe with gms_user.
	var clientID string
	bayeux := func(msgs ...map[string]any) []map[string]any {
		t.Helper()
		for _, m := range msgs {
			if clientID != "" {
				m["clientId"] = clientID
			}
		}
		raw, _ := json.Marshal(msgs)
		status, b := send("POST", "/genesys/cometd", "application/json", raw, "gms_user", user)
		var out []map[string]any
		if status != 200 || json.Unmarshal(b, &out) != nil {
			t.Fatalf("bayeux %s: %d %s", raw, status, b)
		}
		return out
	}
	hs := bayeux(map[string]any{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}})
	if hs[0]["successful"] != true {
		t.Fatalf("handshake: %v", hs)
	}
	clientID = hs[0]["clientId"].(string)
	if r := bayeux(map[string]any{"channel": "/meta/subscribe", "subscription": "/_genesys"}); r[0]["successful"] != true {
		t.Fatalf("subscribe: %v", r)
	}
	bayeux(map[string]any{"channel": "/meta/connect", "connectionType": "long-polling", "advice": map[string]any{"timeout": 0}})

	// The long-poll the notification will end.
	type result struct{ out []map[string]any }
	done := make(chan result, 1)
	go func() {
		raw, _ := json.Marshal([]map[string]any{{"channel": "/meta/connect", "connectionType": "long-polling", "clientId": clientID}})
		req, _ := http.NewRequestWithContext(ctx, "POST", base+"/genesys/cometd/connect", bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("gms_user", user)
		var out []map[string]any
		if resp, err := client.Do(req); err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
		}
		done <- result{out}
	}()

	// An agent becomes READY: the engine holds it for the callback.
	if status, b := send("PUT", "/v1/agents/bob/state", "application/json", []byte(`{"state":"READY"}`),
		"Authorization", "Bearer "+adminToken); status != 200 {
		t.Fatalf("bob READY: %d %s", status, b)
	}

	var note map[string]any
	for note == nil {
		var r result
		select {
		case r = <-done:
		case <-ctx.Done():
			t.Fatal("no agent-available notification on /_genesys")
		}
		for _, m := range r.out {
			if m["channel"] == "/_genesys" {
				note, _ = m["data"].(map[string]any)
			}
		}
		if note == nil {
			t.Fatalf("connect returned without a notification: %v", r.out)
		}
	}
	msg, _ := note["message"].(map[string]any)
	if note["tag"] != "service.agentavailable."+created.ID || msg["_id"] != created.ID ||
		msg["_action"] != "get-dialog-user-confirmation-provide_code-false" {
		t.Fatalf("notification %v", note)
	}
	// Pushed, so nothing waits in retrieve-notifications.
	if status, b := send("POST", "/genesys/1/service/"+created.ID+"/retrieve-notifications", "", nil, "gms_user", user); status != 200 || string(bytes.TrimSpace(b)) != "[]" {
		t.Fatalf("retrieve-notifications: %d %s", status, b)
	}

	// Connect (user confirmation): the dialog's _comet_url is this endpoint.
	ct, body = form()
	status, b = send("POST", "/genesys/1/service/"+created.ID+"/connect", ct, body, "gms_user", user)
	var dialog map[string]any
	if status != 200 || json.Unmarshal(b, &dialog) != nil || dialog["_comet_url"] != base+"/genesys/cometd" {
		t.Fatalf("connect dialog: %d %s", status, b)
	}
}
