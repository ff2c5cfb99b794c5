package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func call(t *testing.T, method, url, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestAuditStream (issue 13 item 8): each kind of change appears in
// GET /v1/audit with its actor, action, target and time, in order, across
// pages; changes that failed and an agent's own state change do not; and
// only admins may read it (401 without a token, 403 for agents and
// supervisors; alice is LOGOUT by then, so her token is revoked and bob
// stands for the agents).
func TestAuditStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	srv := startMatrixServer(t, ctx)
	tok := matrixTokens(srv)
	base := srv.URL()
	admin := tok["admin"]
	must := func(method, path, token, body string) []byte {
		t.Helper()
		st, b := call(t, method, base+path, token, body)
		if st/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, st, b)
		}
		return b
	}
	start := time.Now().Add(-time.Second)

	mrd := must("GET", "/v1/mrds/chat", admin, "")
	must("PUT", "/v1/mrds/chat", admin, string(mrd))
	must("POST", "/v1/agents/bob/token", admin, "{}")
	must("POST", "/v1/agents/carol/revoke-tokens", admin, "{}")
	must("PUT", "/v1/agents/alice/state", tok["agent"], `{"state":"READY"}`) // her own: not audited
	must("PUT", "/ui/api/agents/alice/state", tok["team-supervisor"], `{"state":"NOT_READY","reasonCode":"break"}`)
	must("PUT", "/v1/agents/alice/state", admin, `{"state":"LOGOUT"}`)
	var partners []map[string]any
	if err := json.Unmarshal(must("GET", "/v1/presence-sync/partners", admin, ""), &partners); err != nil || len(partners) == 0 {
		var wrapped struct {
			Partners []map[string]any `json:"partners"`
		}
		if err2 := json.Unmarshal(must("GET", "/v1/presence-sync/partners", admin, ""), &wrapped); err2 != nil {
			t.Fatal(err, err2)
		}
		partners = wrapped.Partners
	}
	var phone map[string]any
	for _, p := range partners {
		if p["id"] == "demo-phone" {
			phone = p
		}
	}
	pb, _ := json.Marshal(phone)
	must("PUT", "/v1/presence-sync/partners/demo-phone", admin, string(pb))
	// Refused changes leave no entry.
	if st, _ := call(t, "PUT", base+"/ui/api/agents/alice/state", tok["other-supervisor"], `{"state":"LOGOUT"}`); st != http.StatusForbidden {
		t.Fatalf("another team's supervisor forced alice: %d", st)
	}
	if st, _ := call(t, "PUT", base+"/v1/queues/nosuch", admin, `{`); st/100 == 2 {
		t.Fatalf("bad queue body accepted: %d", st)
	}

	type entry struct {
		Seq    uint64          `json:"seq"`
		Time   time.Time       `json:"time"`
		Actor  string          `json:"actor"`
		Action string          `json:"action"`
		Target string          `json:"target"`
		Status int             `json:"status"`
		Detail json.RawMessage `json:"detail"`
	}
	var got []entry
	after := uint64(0)
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		var page struct {
			Entries []entry `json:"entries"`
			Next    uint64  `json:"next"`
		}
		if err := json.Unmarshal(must("GET", fmt.Sprintf("/v1/audit?limit=2&after=%d", after), admin, ""), &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) > 2 {
			t.Fatalf("page of %d entries, limit 2", len(page.Entries))
		}
		got = append(got, page.Entries...)
		if page.Next == 0 {
			break
		}
		after = page.Next
	}
	want := []struct{ actor, action, target, detail string }{
		{"admin", "PUT /v1/mrds/{id}", "/v1/mrds/chat", `"id"`},
		{"admin", "POST /v1/agents/{id}/token", "/v1/agents/bob/token", ""},
		{"admin", "POST /v1/agents/{id}/revoke-tokens", "/v1/agents/carol/revoke-tokens", ""},
		{"sam", "PUT /ui/api/agents/{id}/state", "/ui/api/agents/alice/state", `"NOT_READY"`},
		{"admin", "PUT /v1/agents/{id}/state", "/v1/agents/alice/state", `"LOGOUT"`},
		{"admin", "PUT /v1/presence-sync/partners/{id}", "/v1/presence-sync/partners/demo-phone", `"demo-phone"`},
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Actor != w.actor || g.Action != w.action || g.Target != w.target || g.Status/100 != 2 ||
			g.Time.Before(start) || g.Time.After(time.Now()) || !strings.Contains(string(g.Detail), w.detail) ||
			(i > 0 && g.Seq <= got[i-1].Seq) {
			t.Errorf("entry %d = %+v (detail %s), want %+v", i, g, g.Detail, w)
		}
		if strings.Contains(string(g.Detail), "token") && w.detail == "" && len(g.Detail) > 2 {
			t.Errorf("entry %d holds %s", i, g.Detail)
		}
	}
	for role, want := range map[string]int{"none": 401, "other-agent": 403, "team-supervisor": 403, "partner": 401} {
		if st, _ := call(t, "GET", base+"/v1/audit", tok[role], ""); st != want {
			t.Errorf("GET /v1/audit as %s: %d, want %d", role, st, want)
		}
	}
}
