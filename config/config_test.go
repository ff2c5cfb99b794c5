package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"

	"github.com/omniroute/omniroute/routing"
)

// base is a valid configuration the table tests break one way at a time.
const base = `
server: {listen: "127.0.0.1:9090"}
auth: {adminTokens: ["a-long-enough-admin-token"]}
mrds:
  - {id: chat, maxRequests: 3, interruptible: true}
  - {id: voice, maxRequests: 1}
reasonCodes:
  - {id: lunch, type: NOT_READY}
queues:
  - {id: sales, mrd: chat, skills: {sales: 10}, members: [alice], ronaTimeoutSeconds: 20}
agents:
  - {id: alice, skills: {sales: 50}, capacity: {chat: 2}, username: alice,
     passwordHash: "$2a$10$sK6J6/yDk9LbPeV3yJlaRuDaOGY753/M2KzuBuNfBh0GmreGbcVLS"}
`

// applyAll applies c's commands to a fresh engine state: every config that
// loads must also apply.
func applyAll(t testing.TB, c *Config) *routing.State {
	t.Helper()
	st := routing.New()
	now := time.Unix(1_700_000_000, 0)
	for _, cmd := range c.Commands() {
		if _, err := st.Apply(now, cmd); err != nil {
			t.Fatalf("accepted config does not apply: %s: %v", cmd.CommandName(), err)
		}
	}
	return st
}

func TestParseBaseAndDefaults(t *testing.T) {
	c, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Listen != "127.0.0.1:9090" || c.Server.DataDir != DefaultDataDir ||
		c.Server.SnapshotEvery != DefaultSnapshotEvery || c.Auth.TokenTTLSeconds != DefaultTokenTTLSeconds {
		t.Fatalf("defaults: %+v %+v", c.Server, c.Auth)
	}
	if len(c.Warnings) != 0 {
		t.Fatalf("warnings: %v", c.Warnings)
	}
	st := applyAll(t, c)
	q, _ := st.Queue("sales")
	if q.RONATimeout != 20*time.Second || q.MRD != "chat" {
		t.Fatalf("queue: %+v", q)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, in := range []string{"", "\n", "# only a comment\n", "---\n"} {
		c, err := Parse([]byte(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if c.Server.Listen != DefaultListen || c.Server.DataDir != DefaultDataDir || len(c.Commands()) != 0 {
			t.Fatalf("%q: %+v", in, c)
		}
	}
}

func TestExampleFile(t *testing.T) {
	c, err := Load(filepath.Join("..", "examples", "omniroute.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "adminTokens[0]") {
		t.Fatalf("want only the short demo admin token warning, got %q", c.Warnings)
	}
	if len(c.MRDs) != 2 || len(c.Queues) != 4 || len(c.ReasonCodes) != 5 || len(c.Agents) != 4 || len(c.PresenceSync.Partners) != 2 {
		t.Fatalf("counts: %d mrds %d queues %d reasons %d agents", len(c.MRDs), len(c.Queues), len(c.ReasonCodes), len(c.Agents))
	}
	for _, a := range c.Agents {
		if a.Username != a.ID {
			t.Errorf("%s: username %q", a.ID, a.Username)
		}
		if err := bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte(a.ID+"-pass")); err != nil {
			t.Errorf("%s: hash does not match %s-pass: %v", a.ID, a.ID, err)
		}
	}
	if len(c.Partners) != 1 {
		t.Fatalf("partners: %d, want the demo partner", len(c.Partners))
	}
	st := applyAll(t, c)
	if q, _ := st.Queue("chat-partner"); q.Mode != routing.External {
		t.Fatalf("chat-partner mode %q, want external", q.Mode)
	}
	if m, _ := st.MRD("voice"); m.Interruptible || m.MaxRequests != 1 {
		t.Errorf("voice: %+v", m)
	}
	if q, _ := st.Queue("voice-support"); q.WrapUp != 30*time.Second || q.RONATimeout != 20*time.Second {
		t.Errorf("voice-support: %+v", q)
	}
	if a, _ := st.Agent("sam"); a.Agent.Role != routing.RoleSupervisor {
		t.Errorf("sam: %+v", a.Agent)
	}
}

func TestPlainPasswordIsHashedWithWarning(t *testing.T) {
	in := strings.Replace(base, `passwordHash: "$2a$10$sK6J6/yDk9LbPeV3yJlaRuDaOGY753/M2KzuBuNfBh0GmreGbcVLS"`, `password: "s3cret"`, 1)
	c, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Agents[0]
	if a.Password != "" || bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte("s3cret")) != nil {
		t.Fatalf("not hashed: %+v", a)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], `agents[0] (id "alice"): plain password`) {
		t.Fatalf("warnings: %q", c.Warnings)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("re-validate: %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"unknown top-level key", "servers: {}\n", "line 1: field servers not found"},
		{"unknown nested key", "server:\n  listen: x:1\n  port: 80\n", "line 3: field port not found"},
		{"unknown queue key", "queues:\n  - id: q\n    mrd: chat\n    rona: 20\n", "line 4: field rona not found"},
		{"wrong type", "mrds:\n  - id: chat\n    maxRequests: many\n", "line 3: cannot unmarshal"},
		{"wrong shape", "mrds: {id: chat}\n", "line 1: cannot unmarshal"},
		{"syntax", "mrds: [\n", "yaml:"},
		{"two documents", "server: {}\n---\nserver: {}\n", "more than one YAML document"},
		{"duplicate key", "server: {}\nserver: {}\n", "already defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestValidationErrors breaks base one way per case; each error must name the
// object (and its line).
func TestValidationErrors(t *testing.T) {
	for _, tc := range []struct{ name, old, new, want string }{
		{"listen", `listen: "127.0.0.1:9090"`, `listen: "nonsense"`, `server.listen: "nonsense" is not host:port`},
		{"memory limit", `listen: "127.0.0.1:9090"`, `listen: "127.0.0.1:9090", memoryLimitBytes: -1`, `server.memoryLimitBytes: -1 is negative`},
		{"nats url", `listen: "127.0.0.1:9090"`, `listen: "127.0.0.1:9090", natsUrl: "http://x"`, `server.natsUrl: "http://x" is not a nats://`},
		{"empty admin token", `adminTokens: ["a-long-enough-admin-token"]`, `adminTokens: [""]`, `auth.adminTokens[0]: empty token`},
		{"admin token space", `adminTokens: ["a-long-enough-admin-token"]`, `adminTokens: ["a long token with spaces"]`, `auth.adminTokens[0]: has a space`},
		{"duplicate admin token", `adminTokens: ["a-long-enough-admin-token"]`, `adminTokens: ["a-long-enough-admin-token", "a-long-enough-admin-token"]`, `auth.adminTokens[1]: duplicate token`},
		{"short secret", `adminTokens: ["a-long-enough-admin-token"]`, `adminTokens: ["a-long-enough-admin-token"], tokenSecret: "short"`, `auth.tokenSecret: 5 bytes; an HMAC-SHA256 key needs at least 32`},
		{"token ttl", `adminTokens: ["a-long-enough-admin-token"]`, `adminTokens: ["a-long-enough-admin-token"], tokenTtlSeconds: -5`, `auth.tokenTtlSeconds: -5 is outside 1..`},
		{"mrd empty id", `{id: voice, maxRequests: 1}`, `{id: "", maxRequests: 1}`, `line 6: mrds[1] (id ""): id is empty`},
		{"mrd long id", `{id: voice, maxRequests: 1}`, `{id: ` + strings.Repeat("v", 129) + `}`, `mrds[1] (id "vvv`},
		{"mrd control char", `{id: voice, maxRequests: 1}`, `{id: "vo\tice"}`, `mrds[1] (id "vo\tice"): id "vo\tice" has a control character`},
		{"mrd max requests", `{id: voice, maxRequests: 1}`, `{id: voice, maxRequests: 101}`, `mrds[1] (id "voice"): maxRequests 101 is outside 0..100`},
		{"mrd long name", `{id: voice, maxRequests: 1}`, `{id: voice, name: ` + strings.Repeat("n", 257) + `}`, `mrds[1] (id "voice"): name is longer than 256 bytes`},
		{"mrd duplicate", `{id: voice, maxRequests: 1}`, `{id: chat}`, `line 6: mrds[1] (id "chat"): duplicate id "chat"`},
		{"reason type", `{id: lunch, type: NOT_READY}`, `{id: lunch, type: AWAY}`, `line 8: reasonCodes[0] (id "lunch"): type must be NOT_READY or LOGOUT, not "AWAY"`},
		{"reason duplicate", `{id: lunch, type: NOT_READY}`, "{id: lunch, type: NOT_READY}\n  - {id: lunch, type: LOGOUT}", `reasonCodes[1] (id "lunch"): duplicate id`},
		{"queue mrd undeclared", `mrd: chat, skills`, `mrd: sms, skills`, `line 10: queues[0] (id "sales"): mrd "sms" is not declared`},
		{"queue mrd missing", `mrd: chat, skills`, `skills`, `queues[0] (id "sales"): mrd is required`},
		{"queue mode", `mrd: chat, skills`, `mrd: chat, mode: partner, skills`, `queues[0] (id "sales"): mode must be internal or external`},
		{"queue strategy", `mrd: chat, skills`, `mrd: chat, strategy: random, skills`, `queues[0] (id "sales"): unknown strategy "random"`},
		{"queue skill level low", `skills: {sales: 10}`, `skills: {sales: 0}`, `queues[0] (id "sales"): skill "sales" level 0 is outside 1..100`},
		{"queue skill level high", `skills: {sales: 10}`, `skills: {sales: 101}`, `queues[0] (id "sales"): skill "sales" level 101 is outside 1..100`},
		{"queue member undeclared", `members: [alice]`, `members: [alice, zed]`, `queues[0] (id "sales"): members[1]: agent "zed" is not declared`},
		{"queue member empty", `members: [alice]`, `members: [""]`, `queues[0] (id "sales"): members[0] is empty`},
		{"queue negative duration", `ronaTimeoutSeconds: 20`, `ronaTimeoutSeconds: -1`, `queues[0] (id "sales"): ronaTimeoutSeconds -1 is outside 0..31536000 seconds`},
		{"queue duration over a year", `ronaTimeoutSeconds: 20`, `ttlSeconds: 31536001`, `queues[0] (id "sales"): ttlSeconds 31536001 is outside 0..31536000 seconds`},
		{"queue NaN duration", `ronaTimeoutSeconds: 20`, `wrapUpSeconds: .nan`, `queues[0] (id "sales"): wrapUpSeconds NaN is outside`},
		{"queue infinite duration", `ronaTimeoutSeconds: 20`, `serviceLevelSeconds: .inf`, `queues[0] (id "sales"): serviceLevelSeconds +Inf is outside`},
		{"queue rona action", `ronaTimeoutSeconds: 20`, `ronaAction: LOGOUT`, `queues[0] (id "sales"): ronaAction must be NOT_READY or NONE`},
		{"queue duplicate", `ronaTimeoutSeconds: 20}`, "ronaTimeoutSeconds: 20}\n  - {id: sales, mrd: voice}", `line 11: queues[1] (id "sales"): duplicate id "sales"`},
		{"agent role", `{id: alice,`, `{id: alice, role: boss,`, `line 12: agents[0] (id "alice"): role must be agent or supervisor, not "boss"`},
		{"agent skill level", `skills: {sales: 50}`, `skills: {sales: 500}`, `agents[0] (id "alice"): skill "sales" level 500 is outside 1..100`},
		{"agent team", `{id: alice,`, `{id: alice, teams: [""],`, `agents[0] (id "alice"): teams[0] is empty`},
		{"agent capacity mrd", `capacity: {chat: 2}`, `capacity: {sms: 2}`, `agents[0] (id "alice"): capacity names mrd "sms", which is not declared`},
		{"agent capacity range", `capacity: {chat: 2}`, `capacity: {chat: -1}`, `agents[0] (id "alice"): capacity["chat"] -1 is outside 0..100`},
		{"agent duplicate", "passwordHash: \"$2a$10$sK6J6/yDk9LbPeV3yJlaRuDaOGY753/M2KzuBuNfBh0GmreGbcVLS\"}", "passwordHash: \"$2a$10$sK6J6/yDk9LbPeV3yJlaRuDaOGY753/M2KzuBuNfBh0GmreGbcVLS\"}\n  - {id: alice}", `agents[1] (id "alice"): duplicate id "alice"`},
		{"username duplicate", "passwordHash: \"$2a$10$sK6J6/yDk9LbPeV3yJlaRuDaOGY753/M2KzuBuNfBh0GmreGbcVLS\"}", "passwordHash: \"$2a$10$sK6J6/yDk9LbPeV3yJlaRuDaOGY753/M2KzuBuNfBh0GmreGbcVLS\"}\n  - {id: bob, username: alice, password: x}", `agents[1] (id "bob"): username "alice" is already used by agent "alice"`},
		{"password without username", `username: alice,`, ``, `agents[0] (id "alice"): a password without a username`},
		{"username without password", `passwordHash: "$2a$10$sK6J6/yDk9LbPeV3yJlaRuDaOGY753/M2KzuBuNfBh0GmreGbcVLS"`, ``, `agents[0] (id "alice"): username "alice" without password or passwordHash`},
		{"both passwords", `username: alice,`, `username: alice, password: x,`, `agents[0] (id "alice"): both password and passwordHash`},
		{"bad hash", `passwordHash: "$2a$10$sK6J6/yDk9LbPeV3yJlaRuDaOGY753/M2KzuBuNfBh0GmreGbcVLS"`, `passwordHash: "plain"`, `agents[0] (id "alice"): passwordHash is not a bcrypt hash`},
		{"hash cost", `passwordHash: "$2a$10$sK6J6/yDk9LbPeV3yJlaRuDaOGY753/M2KzuBuNfBh0GmreGbcVLS"`, `passwordHash: "$2a$20$sK6J6/yDk9LbPeV3yJlaRuDaOGY753/M2KzuBuNfBh0GmreGbcVLS"`, `agents[0] (id "alice"): passwordHash cost 20 is over 14`},
		{"long password", `passwordHash: "$2a$10$sK6J6/yDk9LbPeV3yJlaRuDaOGY753/M2KzuBuNfBh0GmreGbcVLS"`, `password: "` + strings.Repeat("p", 73) + `"`, `agents[0] (id "alice"): password longer than 72 bytes`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := strings.Replace(base, tc.old, tc.new, 1)
			if in == base {
				t.Fatalf("case does not change base: %q", tc.old)
			}
			_, err := Parse([]byte(in))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("got %v, want a ValidationError containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got\n%v\nwant it to contain\n%s", err, tc.want)
			}
		})
	}
}

func TestManyProblemsListedAndBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("queues:\n")
	for i := 0; i < 150; i++ {
		b.WriteString("  - {id: q, mrd: none}\n")
	}
	_, err := Parse([]byte(b.String()))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != maxProblems+1 || !strings.Contains(ve.Problems[maxProblems], "more problems") {
		t.Fatalf("got %v", err)
	}
}

func TestObjectLimits(t *testing.T) {
	c := &Config{}
	c.applyDefaults()
	for i := 0; i <= MaxMRDs; i++ {
		c.MRDs = append(c.MRDs, MRDSpec{ID: "m" + string(rune('A'+i%26)) + strings.Repeat("x", i/26)})
	}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "mrds: 65 entries, more than the limit of 64") {
		t.Fatalf("got %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("missing file loaded")
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxFileBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "over") {
		t.Fatalf("big file: %v", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("mrds:\n  - {id: chat, maxRequests: 0.5x}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "bad.yaml") || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad file: %v", err)
	}
}

func TestCommandsOrder(t *testing.T) {
	c, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, cmd := range c.Commands() {
		names = append(names, cmd.CommandName())
	}
	want := []string{"UpsertMRD", "UpsertMRD", "UpsertReasonCode", "UpsertAgent", "UpsertQueue"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("got %v want %v", names, want)
	}
}

func TestSpecRoundTrip(t *testing.T) {
	q := QueueSpec{ID: "q", Name: "Q", MRD: "chat", Mode: routing.External, Strategy: routing.BestSkill,
		Skills: map[string]int{"a": 5}, Members: []string{"x"}, RONATimeoutSeconds: 20.5, TTLSeconds: 600,
		ServiceLevelSeconds: 0.25, WrapUpSeconds: 30, RONAAction: "NONE"}
	rq := q.Routing()
	if rq.RONATimeout != 20500*time.Millisecond || rq.ServiceLevelThreshold != 250*time.Millisecond || rq.TTL != 10*time.Minute {
		t.Fatalf("durations: %+v", rq)
	}
	if back := QueueSpecFrom(rq); !reflect.DeepEqual(back, q) {
		t.Fatalf("queue round trip: %+v != %+v", back, q)
	}
	a := AgentSpec{ID: "a", Name: "A", Role: routing.RoleSupervisor, Teams: []string{"t"}, Skills: map[string]int{"s": 1}, Capacity: map[string]int{"chat": 0}}
	if back := AgentSpecFrom(a.Routing()); !reflect.DeepEqual(back, a) {
		t.Fatalf("agent round trip: %+v", back)
	}
	m := MRDSpec{ID: "m", Name: "M", Description: "d", Interruptible: true, MaxRequests: 4}
	if back := MRDSpecFrom(m.Routing()); back != m {
		t.Fatalf("mrd round trip: %+v", back)
	}
	r := ReasonCodeSpec{ID: "r", Name: "R", Type: routing.ReasonTypeLogout}
	if back := ReasonCodeSpecFrom(r.Routing()); back != r {
		t.Fatalf("reason round trip: %+v", back)
	}
}

// TestAgentSpecJSONHidesCredentials: credentials never leave through JSON and
// are unknown fields coming in.
func TestAgentSpecJSONHidesCredentials(t *testing.T) {
	b, err := json.Marshal(AgentSpec{ID: "a", Username: "u", PasswordHash: "h", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); strings.Contains(s, "u\"") && strings.Contains(s, "username") || strings.Contains(s, "password") {
		t.Fatalf("credentials in JSON: %s", s)
	}
	// And the YAML tags read them.
	var a AgentSpec
	if err := yaml.Unmarshal([]byte("{id: a, username: u, passwordHash: h}"), &a); err != nil || a.Username != "u" || a.PasswordHash != "h" {
		t.Fatalf("yaml: %+v %v", a, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	if ex, err := os.ReadFile(filepath.Join("..", "examples", "omniroute.yaml")); err == nil {
		f.Add(ex)
	}
	f.Add([]byte("mrds: [{id: a}]\nqueues: [{id: q, mrd: a, ttlSeconds: 1e300}]\n"))
	f.Add([]byte("agents: [{id: a, capacity: {x: 1}}]\n"))
	f.Add([]byte("mrds: [{id: c}]\nqueues: [{id: q, mrd: c, capacityWeight: 5}]\nagents: [{id: a, capacityUnits: 10}]\n"))
	f.Add([]byte("mrds: [{id: c}]\nqueues: [{id: q, mrd: c, lastAgentSeconds: 3600, lastAgentTimeoutSeconds: 20, lastAgentCustomers: 2}]\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("queues: [{id: q, mrd: a, wrapUpSeconds: .nan}]\nmrds: [{id: a}]"))
	f.Add([]byte("mrds: [{id: a}]\nqueues: [{id: q, mrd: a, steps: [{afterSeconds: 30, skills: {}, addQueues: [p], priority: 2}]}, {id: p, mrd: a}]\n"))
	f.Add([]byte("mrds: [{id: a}]\nqueues: [{id: q, mrd: a, steps: [{afterSeconds: 30}, {afterSeconds: 10, addQueues: [q]}]}]\n"))
	f.Add([]byte("mrds: [{id: a}]\nqueues: [{id: p, mrd: a}, {id: q, mrd: a, hours: {timeZone: Europe/Berlin, weekly: [{day: sunday, open: \"02:30\", close: \"03:30\"}], closures: [2025-12-25], closedAction: overflow, closedOverflowQueue: p}}]\n"))
	f.Add([]byte("mrds: [{id: a}]\nqueues: [{id: q, mrd: a, hours: {timeZone: Local, weekly: [{day: Monday, open: \"24:00\", close: \"24:00\"}]}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config does not re-validate: %v", err)
		}
		applyAll(t, c)
	})
}

func TestAgentDeskSection(t *testing.T) {
	c, err := Parse([]byte("agentDesk: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.AgentDesk.MessageBytes(); got != 1<<20 {
		t.Fatalf("default maxMessageBytes %d", got)
	}
	c, err = Parse([]byte("agentDesk: {maxMessageBytes: 65536}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.AgentDesk.MessageBytes(); got != 65536 {
		t.Fatalf("maxMessageBytes %d", got)
	}
	c, err = Parse([]byte("agentDesk: {disconnectGraceSeconds: 1.5}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.AgentDesk.DisconnectGrace(); got != 1500*time.Millisecond {
		t.Fatalf("disconnectGraceSeconds: %v", got)
	}
	for _, bad := range []string{"agentDesk: {maxMessageBytes: 100}\n", "agentDesk: {maxMessageBytes: -1}\n",
		"agentDesk: {maxMessageBytes: 1073741824}\n", "agentDesk: {maxFrame: 1}\n",
		"agentDesk: {maxConnections: -1}\n", "agentDesk: {maxPendingPerAddress: -5}\n", "agentDesk: {maxSocketsPerAgent: 5000}\n",
		"agentDesk: {maxEventsPerSecond: -1}\n", "agentDesk: {disconnectGraceSeconds: -1}\n", "agentDesk: {disconnectGraceSeconds: 7200}\n"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		} else if key := strings.TrimPrefix(strings.SplitN(bad, ":", 3)[1], " {"); !strings.Contains(err.Error(), key) {
			t.Errorf("%q: %v, want it to name %s", bad, err, key)
		}
	}
}
