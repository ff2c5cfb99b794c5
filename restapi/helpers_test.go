package restapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/clock/clocktest"
	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/journal/memjournal"
	"github.com/omniroute/omniroute/node"
)

const adminToken = "test-admin-token-0123456789"

// fixture is the test contact center: chat (2 at a time) and voice (not
// interruptible, wrap-up 30 s on its queue).
const fixture = `
mrds:
  - {id: chat, name: Chat, interruptible: true, maxRequests: 2}
  - {id: voice, name: Voice, maxRequests: 1}
reasonCodes:
  - {id: lunch, name: Lunch, type: NOT_READY}
  - {id: eos, name: End of shift, type: LOGOUT}
queues:
  - {id: sales, name: Sales, mrd: chat, skills: {sales: 10}, ronaTimeoutSeconds: 20}
  - {id: support, name: Support, mrd: voice, wrapUpSeconds: 30, ronaTimeoutSeconds: 20}
agents:
  - {id: alice, name: Alice, teams: [team-a], skills: {sales: 50}}
  - {id: bob, name: Bob, teams: [team-a], skills: {sales: 20}}
  - {id: sam, name: Sam, role: supervisor, teams: [team-a], capacity: {chat: 0, voice: 0}}
`

type env struct {
	t       testing.TB
	j       *memjournal.Journal
	node    *node.Node
	auth    *auth.Authenticator
	h       http.Handler
	clock   *clocktest.Clock
	ids     atomic.Int64
	fixedID string // when set, NewID returns it (to provoke ALREADY_EXISTS)
	tokens  map[string]string
}

var (
	hashOnce sync.Once
	hashes   map[string][]byte
)

// passwordHashes are MinCost bcrypt hashes of "<id>-pass", made once.
func passwordHashes() map[string][]byte {
	hashOnce.Do(func() {
		hashes = map[string][]byte{}
		for _, id := range []string{"alice", "bob", "sam"} {
			h, err := bcrypt.GenerateFromPassword([]byte(id+"-pass"), bcrypt.MinCost)
			if err != nil {
				panic(err)
			}
			hashes[id] = h
		}
	})
	return hashes
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := openEnv(t)
	t.Cleanup(func() { e.node.Close() })
	return e
}

// openEnv is newEnv without the cleanup, for fuzz targets that replace
// their environment between inputs and close it themselves.
func openEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, j: memjournal.New(), clock: clocktest.New(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)), tokens: map[string]string{}}
	n, err := node.Open(context.Background(), node.Config{Journal: e.j, Now: e.clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e.node = n
	cfg, err := config.Parse([]byte(fixture))
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range cfg.Commands() {
		if _, err := n.Submit(context.Background(), cmd); err != nil {
			t.Fatal(err)
		}
	}
	var users []auth.User
	for id, h := range passwordHashes() {
		users = append(users, auth.User{Username: id, AgentID: id, PasswordHash: h})
	}
	e.auth, err = auth.New(auth.Options{AdminTokens: []string{adminToken}, Users: users,
		Secret: bytes.Repeat([]byte("s"), 32), TokenTTL: time.Hour, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.h = New(n, e.auth, Options{Now: e.clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		NewID: func() string {
			if e.fixedID != "" {
				return e.fixedID
			}
			return fmt.Sprintf("id-%d", e.ids.Add(1))
		}})
	for _, id := range []string{"alice", "bob", "sam"} {
		tok, _, err := e.auth.Login(id, id+"-pass")
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[id] = tok
	}
	return e
}

// response is a recorded answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) errorCode() string {
	var b ErrorBody
	_ = json.Unmarshal(r.body, &b)
	return b.Error.Code
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request; a non-empty body goes with Content-Type
// application/json unless headers say otherwise ("Content-Type", "").
func (e *env) do(method, path, token, body string, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return response{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

func (e *env) digest() string {
	e.t.Helper()
	d, err := e.node.Digest(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// ok asserts a 2xx status and returns the response.
func (e *env) ok(want int, method, path, token, body string) response {
	e.t.Helper()
	r := e.do(method, path, token, body)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		e.t.Fatalf("%s %s: content type %q", method, path, ct)
	}
	return r
}

// refused asserts status and code, and that the state digest did not change.
func (e *env) refused(wantStatus int, wantCode, method, path, token, body string, headers ...string) response {
	e.t.Helper()
	before := e.digest()
	r := e.do(method, path, token, body, headers...)
	if r.status != wantStatus || r.errorCode() != wantCode {
		e.t.Fatalf("%s %s: got %d %s, want %d %s: %s", method, path, r.status, r.errorCode(), wantStatus, wantCode, r.body)
	}
	if after := e.digest(); after != before {
		e.t.Fatalf("%s %s: refused with %d but the state changed", method, path, r.status)
	}
	var eb ErrorBody
	if err := json.Unmarshal(r.body, &eb); err != nil || eb.Error.Message == "" {
		e.t.Fatalf("%s %s: error body %s", method, path, r.body)
	}
	return r
}
