package restapi

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/omniroute/omniroute/routing"
)

// TestConversationAccess: GET /v1/conversations (filters, paging) for
// admins and supervisors (their teams' conversations only); agents read
// only conversations they take part in; a supervisor reads the tasks of
// its teams' agents (issue 9 item 4).
func TestConversationAccess(t *testing.T) {
	e := newEnv(t)
	a := adminToken
	e.ok(200, "PUT", "/v1/agents/zed", a, `{"name":"Zed","teams":["team-b"],"skills":{"sales":90}}`)
	e.ok(200, "PUT", "/v1/agents/tess", a, `{"name":"Tess","role":"supervisor","teams":["team-b"],"capacity":{"chat":0,"voice":0}}`)
	token := func(id string) string {
		var tr TokenResponse
		e.ok(200, "POST", "/v1/agents/"+id+"/token", a, "").decode(t, &tr)
		return tr.Token
	}
	zed, tess := token("zed"), token("tess")
	create := func() string {
		var c ConversationCreated
		e.ok(201, "POST", "/v1/conversations", a, `{"queue":"sales","customer":{"name":"Carla","phone":"555"}}`).decode(t, &c)
		return c.ID
	}
	// alice READY takes c1; zed READY takes c2 (zed's skill is higher, so
	// alice first goes NOT_READY for it); c3 waits.
	e.ok(200, "PUT", "/v1/agents/alice/state", a, `{"state":"READY"}`)
	c1 := create()
	e.ok(200, "PUT", "/v1/agents/alice/state", a, `{"state":"NOT_READY"}`)
	e.ok(200, "PUT", "/v1/agents/zed/state", a, `{"state":"READY"}`)
	c2 := create()
	e.ok(200, "PUT", "/v1/agents/zed/state", a, `{"state":"NOT_READY"}`)
	c3 := create()
	var on1, on2 []string
	_ = e.node.View(t.Context(), func(st routing.View) { on1, on2 = st.ConversationAgents(c1), st.ConversationAgents(c2) })
	if !slices.Equal(on1, []string{"alice"}) || !slices.Equal(on2, []string{"zed"}) {
		t.Fatalf("fixture: c1 %v, c2 %v", on1, on2)
	}

	ids := func(token, query string) ([]string, string) {
		t.Helper()
		var p Page[routing.Conversation]
		e.ok(200, "GET", "/v1/conversations"+query, token, "").decode(t, &p)
		var out []string
		for _, c := range p.Items {
			out = append(out, c.ID)
		}
		slices.Sort(out)
		return out, p.Next
	}
	sorted := func(s ...string) []string { slices.Sort(s); return s }
	for _, tc := range []struct {
		who, token, query string
		want              []string
	}{
		{"admin", a, "", sorted(c1, c2, c3)},
		{"admin, queue", a, "?queue=sales&state=OPEN", sorted(c1, c2, c3)},
		{"admin, closed", a, "?state=CLOSED", nil},
		{"admin, team", a, "?team=team-b", []string{c2}},
		{"admin, agent", a, "?agent=alice", []string{c1}},
		{"supervisor of team-a", e.tokens["sam"], "", []string{c1}},
		{"supervisor of team-b", tess, "", []string{c2}},
		{"supervisor, other team's filter", tess, "?team=team-a", nil},
		{"agent", e.tokens["alice"], "", []string{c1}},
		{"agent without work", e.tokens["bob"], "", nil},
	} {
		if got, _ := ids(tc.token, tc.query); !slices.Equal(got, tc.want) {
			t.Errorf("%s %q: %v, want %v", tc.who, tc.query, got, tc.want)
		}
	}
	// Paging: one at a time, by id, to the end.
	var seen []string
	after := ""
	for range 5 {
		page, next := ids(a, "?limit=1"+map[bool]string{true: "", false: "&after=" + after}[after == ""])
		seen = append(seen, page...)
		if next == "" {
			break
		}
		after = next
	}
	if !slices.Equal(seen, sorted(c1, c2, c3)) {
		t.Errorf("paged %v", seen)
	}
	e.refused(400, routing.CodeInvalidArgument, "GET", "/v1/conversations?state=DONE", a, "")
	e.refused(400, routing.CodeInvalidArgument, "GET", "/v1/conversations?limit=0", a, "")

	// One conversation: its agent and their supervisor, not others.
	for _, tc := range []struct {
		who, token, id string
		want           int
	}{
		{"its agent", e.tokens["alice"], c1, 200},
		{"its agent's supervisor", e.tokens["sam"], c1, 200},
		{"another agent", e.tokens["bob"], c1, 404},
		{"another team's agent", zed, c1, 404},
		{"another team's supervisor", tess, c1, 404},
		{"an agent, waiting work", e.tokens["alice"], c3, 404},
		{"admin", a, c3, 200},
	} {
		r := e.do("GET", "/v1/conversations/"+tc.id, tc.token, "")
		if r.status != tc.want {
			t.Errorf("%s reads %s: %d, want %d", tc.who, tc.id, r.status, tc.want)
		}
		if r.status == 404 && json.Valid(r.body) && r.errorCode() != routing.CodeConversationNotFound {
			t.Errorf("%s: code %s", tc.who, r.errorCode())
		}
	}
	// Tasks: a supervisor reads its team's agents, not others'.
	for _, tc := range []struct {
		who, token, agent string
		want              int
	}{
		{"supervisor, team agent", e.tokens["sam"], "alice", 200},
		{"supervisor, other team", e.tokens["sam"], "zed", 403},
		{"agent, other agent", e.tokens["bob"], "alice", 403},
		{"agent, itself", e.tokens["alice"], "alice", 200},
	} {
		if r := e.do("GET", fmt.Sprintf("/v1/tasks?agent=%s", tc.agent), tc.token, ""); r.status != tc.want {
			t.Errorf("%s: %d, want %d: %s", tc.who, r.status, tc.want, r.body)
		}
	}
}
