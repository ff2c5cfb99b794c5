package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/server"
)

// The roles of the authorization matrix; "channel" is a customer channel's
// token (auth.channels) for the web-chat channel of queue chat-sales.
var matrixRoles = []string{"none", "agent", "other-agent", "team-supervisor", "other-supervisor", "partner", "telephony", "admin", "channel"}

// Outcomes: A allowed (neither 401 nor 403), U 401, F 403, N 404.
type outcome byte

func classify(status int) outcome {
	switch status {
	case http.StatusUnauthorized:
		return 'U'
	case http.StatusForbidden:
		return 'F'
	case http.StatusNotFound:
		return 'N'
	}
	return 'A'
}

// startMatrixServer starts the example configuration plus a second team
// (team-b: agent dave, supervisor tess).
func startMatrixServer(t *testing.T, ctx context.Context) *server.Server {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "examples", "omniroute.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	extra := "agents:\n" +
		"  - {id: dave, name: Dave, role: agent, teams: [team-b], skills: {sales: 50}}\n" +
		"  - {id: tess, name: Tess, role: supervisor, teams: [team-b], skills: {sales: 50}, capacity: {chat: 0, voice: 0}}\n"
	text := strings.Replace(string(raw), "agents:\n", extra, 1)
	dir := t.TempDir()
	path := filepath.Join(dir, "omniroute.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Auth.Channels = append(cfg.Auth.Channels, config.ChannelSpec{ID: "web-chat", Token: matrixChannelToken, Queues: []string{"chat-sales"}})
	srv, err := server.Start(ctx, server.Options{Config: cfg, Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func matrixTokens(srv *server.Server) map[string]string {
	a := srv.Auth()
	return map[string]string{
		"none":             "",
		"agent":            a.Issue("alice", time.Hour),
		"other-agent":      a.Issue("bob", time.Hour),
		"team-supervisor":  a.Issue("sam", time.Hour),
		"other-supervisor": a.Issue("tess", time.Hour),
		"partner":          "dev-partner-token-0123456789",
		"telephony":        "dev-telephony-token-0123456789",
		"admin":            "dev-admin-token",
		"channel":          matrixChannelToken,
	}
}

const matrixChannelToken = "dev-channel-token-0123456789"

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// concrete fills a pattern's wildcards: agent ids name alice (the
// "agent" role's own id), everything else a name that does not exist.
func concrete(pattern string) string {
	return pathParam.ReplaceAllStringFunc(pattern, func(w string) string {
		switch w {
		case "{version}":
			return "60.0"
		case "{$}":
			return ""
		case "{agent}":
			return "alice"
		case "{partner}":
			return "demo-phone"
		}
		if strings.HasSuffix(pattern, "/revoke-tokens") {
			// Not alice: revoking hers would turn the rest of the
			// "agent" column into 401s.
			return "carol"
		}
		if strings.Contains(pattern, "/agents/{id}") {
			return "alice"
		}
		return "nosuch"
	})
}

// probeBodies are request bodies valid enough to reach a route's
// authorization check where it runs after decoding (a supervisor's forced
// state is checked against the agent's teams once the state is valid).
// The CometD handshakes are real handshakes.
var probeBodies = map[string]string{
	"POST /agent-manager/agent/login": `{"username":"alice","password":"alice-pass"}`,
	"PUT /ui/api/agents/{id}/state":   `{"state":"NOT_READY","reasonCode":"break"}`,
	"PUT /v1/agents/{id}/state":       `{"state":"NOT_READY","reasonCode":"break"}`,
	"POST /genesys/cometd":            cometdHandshake,
	"POST /cometd/{version}":          cometdHandshake,
	"POST /v1/tickets":                `{"scope":"crm-connector"}`,
}

const cometdHandshake = `[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]`

func probe(t *testing.T, base, method, pattern, token string) outcome {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	payload := probeBodies[method+" "+pattern]
	if payload == "" && method != "GET" && method != "DELETE" {
		payload = "{}"
	}
	req, err := http.NewRequestWithContext(ctx, method, base+concrete(pattern), strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 'T' // held open without answering (a long poll)
	}
	defer resp.Body.Close()
	if probeBodies[method+" "+pattern] == cometdHandshake {
		// A refused handshake is a 200 with successful false.
		var replies []struct {
			Successful bool `json:"successful"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&replies); err != nil || len(replies) != 1 {
			return classify(resp.StatusCode)
		}
		if !replies[0].Successful {
			return 'U'
		}
	}
	return classify(resp.StatusCode)
}

// matrixRules is the expected outcome of every served route for each role
// of matrixRoles, in that order (none, agent alice, another agent bob,
// sam the supervisor of alice's team, tess the supervisor of team-b, the
// external-routing partner, the telephony presence-sync partner, admin,
// the web-chat channel):
// A allowed (any answer but 401/403/404), U 401, F 403, N 404. Agent-ids
// in paths are alice's; other ids do not exist, so an allowed caller of
// such a route gets N. Why each is what it is: docs/SECURITY.md
// "Authorization matrix".
var matrixRules = map[string]string{
	"DELETE /genesys/1/admin/services/{name}":                           "UUUUUUUNU",
	"DELETE /genesys/1/service/callback/{service}/{id}":                 "NNNNNNNNN",
	"GET /chat/{queue}":                                                 "AAAAAAAAA",
	"GET /desk":                                                         "AAAAAAAAA",
	"GET /genesys/1/admin/callback/queues":                              "UUUUUUUAU",
	"GET /genesys/1/admin/services":                                     "UUUUUUUAU",
	"GET /genesys/1/admin/services/{name}":                              "UUUUUUUNU",
	"GET /genesys/1/service/callback/{service}":                         "NNNNNNNNN",
	"GET /genesys/1/service/callback/{service}/{id}":                    "NNNNNNNNN",
	"GET /healthz":                                                      "AAAAAAAAA",
	"GET /history":                                                      "AAAAAAAAA",
	"GET /metrics":                                                      "AAAAAAAAA",
	"GET /presencesync/crm/config":                                      "NNNNNNNNN",
	"GET /presencesync/crm/events":                                      "UFFFFUUFU",
	"GET /presencesync/crm/{file}":                                      "NNNNNNNNN",
	"GET /presencesync/telephony":                                       "UUUUUUAUU",
	"POST /presencesync/telephony/tickets":                              "UUUUUUAUU",
	"POST /presencesync/crm/session":                                    "UUUUUUUUU",
	"POST /v1/tickets":                                                  "UAAAAUUAF",
	"GET /readyz":                                                       "AAAAAAAAA",
	"GET /services/data/v{version}/sobjects/AgentWork/{id}":             "UUUUUNUUU",
	"GET /services/data/v{version}/sobjects/PendingServiceRouting/{id}": "UUUUUNUUU",
	"GET /socket.io/":                                                   "AAAAAAAAA",
	"GET /ui/":                                                          "AAAAAAAAA",
	"GET /ui/api/board":                                                 "UFFAAUUAU",
	"GET /ui/api/login-options":                                         "AAAAAAAAA",
	"GET /ui/oidc/callback":                                             "AAAAAAAAA",
	"GET /ui/api/chat/{id}/events":                                      "UUUUUUUUU",
	"GET /ui/api/me":                                                    "UAAAAUUAU",
	"GET /v1/agent-work/{id}":                                           "UUUUUNUNU",
	"GET /v1/agents":                                                    "UAAAAUUAU",
	"GET /v1/agents/{id}":                                               "UAAAAUUAU",
	"GET /v1/agents/{id}/presence-sync":                                 "UAFFFUUAU",
	"GET /v1/agents/{id}/state":                                         "UAAAAUUAU",
	"GET /v1/audit":                                                     "UFFFFUUAU",
	"GET /v1/cluster":                                                   "UUUUUUUNU",
	"GET /v1/conversations":                                             "UAAAAUUAU",
	"GET /v1/conversations/{id}":                                        "UNNNNUUNU",
	"GET /v1/conversations/{id}/events":                                 "UFFFFUUNN",
	"GET /v1/me":                                                        "UAAAAUUAU",
	"GET /v1/mrds":                                                      "UAAAAUUAU",
	"GET /v1/mrds/{id}":                                                 "UNNNNUUNU",
	"GET /v1/openapi.json":                                              "AAAAAAAAA",
	"GET /v1/pending-service-routing":                                   "UUUUUAUAU",
	"GET /v1/pending-service-routing/{id}":                              "UUUUUNUNU",
	"GET /v1/presence-sync/partners":                                    "UFFFFUUAU",
	"GET /v1/presence-sync/statuses":                                    "UAAAAUUAU",
	"GET /v1/queues":                                                    "UAAAAUUAU",
	"GET /v1/queues/{id}":                                               "UNNNNUUNU",
	"GET /v1/queues/{id}/stats":                                         "UNNNNUUNU",
	"GET /v1/reason-codes":                                              "UAAAAUUAU",
	"GET /v1/reason-codes/{id}":                                         "UNNNNUUNU",
	"GET /v1/reports/agents":                                            "UFFAAUUAU",
	"GET /v1/reports/queues":                                            "UFFAAUUAU",
	"GET /v1/requests/{id}/position":                                    "UNNNNUUNU",
	"GET /v1/tasks":                                                     "UAAAAUUAU",
	"GET /{$}":                                                          "AAAAAAAAA",
	"PATCH /v1/requests/{id}":                                           "UFFFFUUAU",
	"POST /agent-manager/agent/login":                                   "AAAAAAAAA",
	"POST /agent-manager/agent/refresh":                                 "UUUUUUUUU",
	"POST /cometd/{version}":                                            "UUUUUAUAU",
	"POST /genesys/1/service/callback/{service}":                        "NNNNNNNNN",
	"POST /genesys/1/service/{id}/agent-notification":                   "NNNNNNNNN",
	"POST /genesys/1/service/{id}/check-queue-position":                 "NNNNNNNNN",
	"POST /genesys/1/service/{id}/connect":                              "NNNNNNNNN",
	"POST /genesys/1/service/{id}/internal-notification":                "UNNNNUUNU",
	"POST /genesys/1/service/{id}/ixn/chat":                             "NNNNNNNNN",
	"POST /genesys/1/service/{id}/retrieve-agent-notifications":         "UNNNNUUNU",
	"POST /genesys/1/service/{id}/retrieve-notifications":               "NNNNNNNNN",
	"POST /genesys/cometd":                                              "AAAAAAAAA",
	"POST /presencesync/crm/report":                                     "UFFFFUUFU",
	"POST /presencesync/telephony/{partner}/agents/{agent}/status":      "UUUUUUAUU",
	"POST /services/data/v{version}/sobjects/AgentWork":                 "UUUUUAUUU",
	"POST /socket.io/":                                                  "AAAAAAAAA",
	"POST /ui/api/chat/{id}/leave":                                      "UUUUUUUUU",
	"POST /ui/api/chat/{id}/messages":                                   "UUUUUUUUU",
	"POST /ui/api/chat/{queue}":                                         "AAAAAAAAA",
	"POST /ui/api/oidc/token":                                           "AAAAAAAAA",
	"POST /v1/agent-work":                                               "UUUUUAUAU",
	"POST /v1/agents/{id}/revoke-tokens":                                "UFFFFUUAU",
	"POST /v1/agents/{id}/token":                                        "UFFFFUUAU",
	"POST /v1/conversations":                                            "UFFFFUUAA",
	"POST /v1/conversations/{id}/abandon":                               "UFFFFUUNU",
	"POST /v1/conversations/{id}/close":                                 "UFFFFUUNU",
	"POST /v1/conversations/{id}/customer-left":                         "UFFFFUUNN",
	"POST /v1/conversations/{id}/messages":                              "UFFFFUUAN",
	"POST /v1/tasks/{id}/accept":                                        "UNNNNUUAU",
	"POST /v1/tasks/{id}/close":                                         "UNNNNUUAU",
	"POST /v1/tasks/{id}/decline":                                       "UNNNNUUAU",
	"PUT /genesys/1/admin/services/{name}":                              "UUUUUUUAU",
	"PUT /ui/api/agents/{id}/state":                                     "UFFAFUUAU",
	"PUT /v1/agents/{id}":                                               "UFFFFUUAU",
	"PUT /v1/agents/{id}/mrds/{mrd}/state":                              "UNFFFUUNU",
	"PUT /v1/agents/{id}/state":                                         "UAFFFUUAU",
	"PUT /v1/mrds/{id}":                                                 "UFFFFUUAU",
	"PUT /v1/presence-sync/partners/{id}":                               "UFFFFUUAU",
	"PUT /v1/queues/{id}":                                               "UFFFFUUAU",
	"PUT /v1/reason-codes/{id}":                                         "UFFFFUUAU",
}

// TestAuthorizationMatrix (issue 13 item 9): every route the listener
// serves (Server.ServedRoutes, the real route table) is called by every
// role on a real server, and the answer must match matrixRules. A served
// route without a rule fails, and so does a rule for a route not served.
// The CometD handshakes are real handshakes (refused = U).
func TestAuthorizationMatrix(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	srv := startMatrixServer(t, ctx)
	toks := matrixTokens(srv)
	var all []string
	for _, rs := range srv.ServedRoutes() {
		all = append(all, rs...)
	}
	sort.Strings(all)
	served := map[string]bool{}
	for _, rt := range all {
		served[rt] = true
		want, ok := matrixRules[rt]
		if !ok {
			t.Errorf("%s is served but has no rule in matrixRules", rt)
			continue
		}
		method, pattern, _ := strings.Cut(rt, " ")
		got := ""
		for _, role := range matrixRoles {
			o := probe(t, srv.URL(), method, pattern, toks[role])
			if o == 'T' { // a held long poll or stream: it was let in
				o = 'A'
			}
			got += string(o)
		}
		if got != want {
			var diff []string
			for i, role := range matrixRoles {
				if got[i] != want[i] {
					diff = append(diff, fmt.Sprintf("%s got %c want %c", role, got[i], want[i]))
				}
			}
			t.Errorf("%s: %s (roles %v)", rt, strings.Join(diff, ", "), matrixRoles)
		}
	}
	for rt := range matrixRules {
		if !served[rt] {
			t.Errorf("matrixRules has %s, which is not served", rt)
		}
	}
}
