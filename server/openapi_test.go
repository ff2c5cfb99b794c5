package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOpenAPIListsServedRoutes: /v1/openapi.json describes every route the
// adapters serve (GMS, presence sync, external routing) with its method,
// security and error responses, and documents none they do not serve
// (issue 9 item 15; restapi's own routes: restapi.TestOpenAPIListsEveryRoute).
func TestOpenAPIListsServedRoutes(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	srv := startExample(t, ctx, t.TempDir())
	t.Cleanup(func() { srv.Close() })
	resp, err := http.Get(srv.URL() + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	served := map[string]string{}
	for pkg, routes := range srv.Routes() {
		for _, rt := range routes {
			method, path, _ := strings.Cut(rt, " ")
			key := strings.ToLower(method) + " " + path
			served[key] = pkg
			raw, ok := doc.Paths[path][strings.ToLower(method)]
			if !ok {
				t.Errorf("openapi.json lacks %s (served by %s)", rt, pkg)
				continue
			}
			var op struct {
				ServedBy  string                     `json:"x-served-by"`
				Responses map[string]json.RawMessage `json:"responses"`
				Summary   string                     `json:"summary"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatal(err)
			}
			if op.ServedBy != pkg || op.Summary == "" || len(op.Responses) == 0 {
				t.Errorf("%s: x-served-by %q (want %s), summary %q, %d responses", rt, op.ServedBy, pkg, op.Summary, len(op.Responses))
			}
		}
	}
	for path, ops := range doc.Paths {
		for m, raw := range ops {
			var op struct {
				ServedBy string `json:"x-served-by"`
			}
			_ = json.Unmarshal(raw, &op)
			if op.ServedBy != "" && served[m+" "+path] == "" {
				t.Errorf("openapi.json documents %s %s (%s), which is not served", m, path, op.ServedBy)
			}
		}
	}
}
