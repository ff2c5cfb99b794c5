package extrouting

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/routing"
)

const adminToken = "admin-token-0123456789"

func v1do(t *testing.T, hs *httptest.Server, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return res.StatusCode, m
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestNativeV1(t *testing.T) {
	e := newEnv(t)
	hs := httptest.NewServer(e.ad.NativeHandler(func(tok string) bool { return tok == adminToken }))
	defer hs.Close()
	e.ready("alice")
	e.ready("bob")
	e.submit(routing.CreateConversation{ID: "c1", RequestID: "r-c1", Queue: "ext"})
	psr := PSRID("r-c1")

	if st, m := v1do(t, hs, "GET", "/v1/pending-service-routing", "", ""); st != 401 || errCode(m) != "UNAUTHORIZED" {
		t.Fatalf("no token: %d %v", st, m)
	}
	if st, m := v1do(t, hs, "GET", "/v1/pending-service-routing", "wrong-token-0123456789", ""); st != 401 {
		t.Fatalf("bad token: %d %v", st, m)
	}
	// The adapter learns of the PSR from the node's events, on its own
	// goroutine: wait until the list holds it.
	st, m := v1do(t, hs, "GET", "/v1/pending-service-routing", partnerToken, "")
	items, _ := m["items"].([]any)
	for deadline := time.Now().Add(10 * time.Second); st == 200 && len(items) == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		st, m = v1do(t, hs, "GET", "/v1/pending-service-routing", partnerToken, "")
		items, _ = m["items"].([]any)
	}
	if st != 200 || len(items) != 1 || items[0].(map[string]any)["Id"] != psr || items[0].(map[string]any)["WorkItemId"] != "c1" {
		t.Fatalf("list: %d %v", st, m)
	}
	for _, c := range []struct {
		body, code string
		status     int
	}{
		{`{"userId":"alice"}`, routing.CodeInvalidArgument, 400},
		{`{"pendingServiceRoutingId":"` + psr + `","userId":"alice","x":1}`, "INVALID_JSON", 400},
		{`{"pendingServiceRoutingId":"0JRnope","userId":"alice"}`, routing.CodeRequestNotFound, 404},
		{`{"pendingServiceRoutingId":"` + psr + `","userId":"alice","workItemId":"c9"}`, routing.CodeInvalidArgument, 400},
		{`{"pendingServiceRoutingId":"` + psr + `","userId":"alice","serviceChannelId":"voice"}`, routing.CodeInvalidArgument, 400},
		{`{"pendingServiceRoutingId":"` + psr + `","userId":"nobody"}`, routing.CodeAgentNotFound, 404},
	} {
		if st, m := v1do(t, hs, "POST", "/v1/agent-work", adminToken, c.body); st != c.status || errCode(m) != c.code {
			t.Errorf("%s: %d %v, want %d %s", c.body, st, m, c.status, c.code)
		}
	}
	st, m = v1do(t, hs, "POST", "/v1/agent-work", adminToken, `{"pendingServiceRoutingId":"`+psr+`","userId":"alice","workItemId":"c1","serviceChannelId":"chat"}`)
	if st != 201 || m["Status"] != StatusAssigned || m["UserId"] != "alice" || m["PendingServiceRoutingId"] != psr {
		t.Fatalf("create: %d %v", st, m)
	}
	work := m["Id"].(string)
	if st, m := v1do(t, hs, "POST", "/v1/agent-work", partnerToken, `{"pendingServiceRoutingId":"`+psr+`","userId":"bob"}`); st != 409 || errCode(m) != routing.CodeInvalidTransition {
		t.Fatalf("pushed twice: %d %v", st, m)
	}
	e.submit(routing.DeclineTask{Task: work, Agent: "alice"})
	e.waitWork(work, StatusDeclined)
	if st, m := v1do(t, hs, "GET", "/v1/agent-work/"+work, partnerToken, ""); st != 200 || m["Status"] != StatusDeclined {
		t.Fatalf("get work: %d %v", st, m)
	}
	st, m = v1do(t, hs, "GET", "/v1/pending-service-routing/"+psr, partnerToken, "")
	if ex, _ := m["ExcludedUserIds"].([]any); st != 200 || m["IsPushed"] != false || len(ex) != 1 || ex[0] != "alice" || m["LastDeclinedAgentSession"] == nil {
		t.Fatalf("psr after decline: %d %v", st, m)
	}
	if st, m := v1do(t, hs, "POST", "/v1/agent-work", partnerToken, `{"pendingServiceRoutingId":"`+psr+`","userId":"alice"}`); st != 409 || errCode(m) != routing.CodeNotEligible {
		t.Fatalf("excluded agent: %d %v", st, m)
	}
	if st, _ := v1do(t, hs, "POST", "/v1/agent-work", partnerToken, `{"pendingServiceRoutingId":"`+psr+`","userId":"bob"}`); st != 201 {
		t.Fatalf("reassign: %d", st)
	}
	if st, m := v1do(t, hs, "GET", "/v1/agent-work/0Bznope", partnerToken, ""); st != 404 || errCode(m) != "NOT_FOUND" {
		t.Fatalf("unknown work: %d %v", st, m)
	}
	if st, m := v1do(t, hs, "DELETE", "/v1/agent-work/"+work, partnerToken, ""); st != 405 || errCode(m) != "METHOD_NOT_ALLOWED" {
		t.Fatalf("delete: %d %v", st, m)
	}
	if st, m := v1do(t, hs, "GET", "/v1/pending-service-routing/x/y", partnerToken, ""); st != 404 || errCode(m) != "NOT_FOUND" {
		t.Fatalf("bad path: %d %v", st, m)
	}
}
