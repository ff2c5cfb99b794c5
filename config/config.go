// Package config reads omniroute's YAML configuration file (`omniroute serve
// --config FILE`, `omniroute check-config FILE`) and defines the spec types
// that the file and the native REST API share (DESIGN.md "Native API (v1)":
// "the same objects load from the config file").
//
// The file is strict: unknown keys, wrong types and a second YAML document
// are errors naming the line; every object is validated, and errors name the
// object, e.g. `line 31: queues[2] (id "sales"): mrd "sms" is not declared`,
// because an admin must be able to fix the file from the message alone
// (DESIGN.md "Principles" 6). Keys are camelCase; durations are seconds:
//
//	server: {listen: "127.0.0.1:8080", dataDir: "./data", natsUrl: "", snapshotEvery: 50000,
//	         tlsCertFile, tlsKeyFile, publicUrl: "https://cc.example.com", trustedProxies: ["10.0.0.0/8"],
//	         corsOrigins: ["https://crm.example.com"]}
//	auth: {adminTokens: ["..."], tokenSecret: "...", tokenTtlSeconds: 900, refreshTtlSeconds: 43200,
//	       oidc: [{issuer, audience, agentClaim, rolesClaim, agentRoles, supervisorRoles, adminRoles}]}
//	mrds: [{id, name, description, interruptible, maxRequests}]
//	reasonCodes: [{id, name, type: NOT_READY|LOGOUT}]
//	queues: [{id, name, mrd, mode, strategy, skills: {name: minLevel}, members: [agentId],
//	          ronaTimeoutSeconds, ttlSeconds, serviceLevelSeconds, wrapUpSeconds, ronaAction}]
//	agents: [{id, name, role, teams, skills: {name: level}, capacity: {mrdId: n},
//	          username, passwordHash | password}]
//	partners: [{id, token, webhookUrl, webhookSecret}]   # external routing partners (seed 000)
//	gmsServices: [{name, options: {_media_type, _wait_for_agent, _wait_for_user_confirm, _target,
//	          _urs_server_url, _urs_virtual_queue, _urs_prioritization_strategy,
//	          _urs_strategy_update_sub_routine}, defaultQueue, priority, confirmationSeconds,
//	          holdAttempts, ttlSeconds, agentReadyEwtSeconds, agentReadyPosition,
//	          username, password}]   # GMS callback services (seed 003; package gms owns the section)
//	gmsPush: {customHttpUrl, customHttpHeaders: {name: value}}   # GMS push (comet always; customhttp), see gmspush.go
//	presenceSync: {statuses: [...], partners: [...]}       # presence sync (seeds 001, 002), see presencesync.go
//	externalRouting: {topic: PendingServiceRoutingTopic, retentionHours: 72, maxReplay: 10000}
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"

	"github.com/omniroute/omniroute/routing"
)

// Defaults applied by Parse where the file leaves a value out.
const (
	DefaultListen            = "127.0.0.1:8080"
	DefaultDataDir           = "./data"
	DefaultSnapshotEvery     = 50_000
	DefaultTokenTTLSeconds   = 15 * 60
	DefaultRefreshTTLSeconds = 12 * 60 * 60
)

// Limits. A file over a limit is refused as a whole.
const (
	// MaxFileBytes bounds the file Load reads (16 MiB).
	MaxFileBytes = 16 << 20
	// MaxMRDs, MaxQueues, MaxAgents and MaxReasonCodes are the engine's own
	// limits, so a file that loads also applies.
	MaxMRDs        = routing.MaxMRDs
	MaxQueues      = routing.MaxQueues
	MaxAgents      = routing.MaxAgents
	MaxReasonCodes = routing.MaxReasonCodes
	// MaxAdminTokens bounds auth.adminTokens; MaxTokenBytes each token.
	MaxAdminTokens = 64
	MaxTokenBytes  = 1024
	// MinAdminTokenBytes: shorter admin tokens load with a warning.
	MinAdminTokenBytes = 16
	// MinTokenSecretBytes: auth.tokenSecret, when set, is an HMAC-SHA256 key
	// and must have at least this many bytes.
	MinTokenSecretBytes = 32
	// MaxPasswordBytes is bcrypt's limit: longer passwords would be silently
	// truncated, so they are refused.
	MaxPasswordBytes = 72
	// MaxBcryptCost bounds passwordHash's cost: every login runs one bcrypt,
	// and cost 15 and above takes seconds per attempt on a small server.
	MaxBcryptCost = 14
	// maxProblems bounds the problems one ValidationError lists.
	maxProblems = 100
)

// PasswordCost is the bcrypt cost Parse uses to hash plain passwords.
const PasswordCost = bcrypt.DefaultCost

// Config is a parsed, validated configuration file.
type Config struct {
	Server      Server           `yaml:"server"`
	Auth        Auth             `yaml:"auth"`
	MRDs        []MRDSpec        `yaml:"mrds"`
	ReasonCodes []ReasonCodeSpec `yaml:"reasonCodes"`
	Queues      []QueueSpec      `yaml:"queues"`
	Agents      []AgentSpec      `yaml:"agents"`
	// Partners are the external routers (seed 000, package extrouting)
	// allowed on the Salesforce-style REST and CometD endpoints.
	Partners []PartnerSpec `yaml:"partners"`
	// GMSServices are the Genesys Mobile Services callback services
	// (seed 003 "Chat Delayed"), served under /genesys/. Package gms owns
	// the section: its type ([]gms.ServiceSpec, gms.Services reads it) and
	// its validation, registered with RegisterSection (config/section.go).
	GMSServices Section `yaml:"gmsServices"`
	// GMSPush says how GMS notifications reach devices (comet always,
	// customhttp when a URL is set; config/gmspush.go).
	GMSPush GMSPush `yaml:"gmsPush"`
	// PresenceSync is the presence synchronization with telephony and CRM
	// partners (seeds 001, 002; package presencesync; config/presencesync.go).
	PresenceSync PresenceSync `yaml:"presenceSync"`
	// ExternalRouting tunes the partners' PSR event stream (package
	// extrouting Options.Topic, Retention, MaxReplay).
	ExternalRouting ExternalRouting `yaml:"externalRouting"`
	// Wallboard tunes the web UI's wallboard (config/wallboard.go).
	Wallboard Wallboard `yaml:"wallboard"`
	// DataAtRest: encryption of the store, retention and per-customer
	// keys (config/dataatrest.go).
	DataAtRest DataAtRest `yaml:"dataAtRest"`
	// AgentDesk tunes the Agent Desk Socket.IO endpoint (config/agentdesk.go).
	AgentDesk AgentDesk `yaml:"agentDesk"`

	// Warnings are problems that do not stop the server (plain passwords,
	// short admin tokens); `omniroute check-config` prints them.
	Warnings []string `yaml:"-"`

	// lines maps "section" to the line of each list item, for messages.
	lines map[string][]int
}

// Server is the process section.
type Server struct {
	// Listen is the HTTP address, host:port (default 127.0.0.1:8080).
	Listen string `yaml:"listen"`
	// DataDir holds the embedded NATS storage and the token secret (default ./data).
	DataDir string `yaml:"dataDir"`
	// NATSURL, when set, uses an external NATS cluster instead of the
	// embedded server (DESIGN.md "Principles" 4); comma-separated URLs.
	NATSURL string `yaml:"natsUrl"`
	// Cluster, NodeID and Replicas: cluster mode (several nodes on one
	// NATS JetStream cluster; DESIGN.md "Cluster mode"). Cluster names the
	// cluster (empty: single node); NodeID this node (default host-port);
	// Replicas the copies of every stream and bucket created (0: 3 when
	// the NATS cluster has three or more servers, else 1).
	Cluster  string `yaml:"cluster"`
	NodeID   string `yaml:"nodeId"`
	Replicas int    `yaml:"replicas"`
	// SnapshotEvery takes a snapshot after this many journaled commands
	// (0 or absent: 50000; negative: never).
	SnapshotEvery int `yaml:"snapshotEvery"`
	// TLSCertFile and TLSKeyFile, both set, serve HTTPS (TLS 1.2 or newer)
	// on Listen with this PEM certificate chain and private key (flags
	// --tls-cert, --tls-key). Both empty: plain HTTP, for loopback or behind
	// a TLS-terminating proxy.
	TLSCertFile string `yaml:"tlsCertFile"`
	TLSKeyFile  string `yaml:"tlsKeyFile"`
	// PublicURL is the base URL clients reach the server at
	// ("https://cc.example.com", no path), used for every URL the server
	// hands out (GMS dialogs' _start_chat_url and _comet_url). Empty: the
	// listener's own scheme and address. Never taken from a request's Host.
	PublicURL string `yaml:"publicUrl"`
	// TrustedProxies are the addresses or CIDR blocks ("10.0.0.0/8",
	// "127.0.0.1") of reverse proxies whose X-Forwarded-For and
	// X-Forwarded-Proto are believed; from anyone else they are ignored.
	TrustedProxies []string `yaml:"trustedProxies"`
	// CORSOrigins are the browser origins ("https://crm.example.com") that
	// may call the server cross-origin: REST, SSE and the agent desk's
	// Socket.IO. The server's own origins (listener and publicUrl) are
	// always allowed; nobody else is.
	CORSOrigins []string `yaml:"corsOrigins"`
	// MemoryLimitBytes is the Go runtime's soft memory limit in bytes
	// (runtime/debug.SetMemoryLimit, the same as GOMEMLIMIT): the garbage
	// collector works harder as the heap nears it instead of letting it
	// double, which keeps RSS near the limit with many connections. 0 or
	// absent: the GOMEMLIMIT environment variable applies (no limit when
	// unset). Set it to about 90% of the memory the process may use.
	MemoryLimitBytes int64 `yaml:"memoryLimitBytes"`
}

// Auth is the authentication section (package auth).
type Auth struct {
	// AdminTokens are bearer tokens with every right.
	AdminTokens []string `yaml:"adminTokens"`
	// TokenSecret is the HMAC key of agent tokens, at least 32 bytes; empty:
	// the server generates one and keeps it under dataDir.
	TokenSecret string `yaml:"tokenSecret"`
	// TokenTTLSeconds is an agent access token's lifetime (default 900,
	// 15 min; the desk refreshes it).
	TokenTTLSeconds float64 `yaml:"tokenTtlSeconds"`
	// RefreshTTLSeconds is a refresh token's lifetime (default 43200, 12 h:
	// a shift).
	RefreshTTLSeconds float64 `yaml:"refreshTtlSeconds"`
	// OIDC are the company's OpenID Connect providers (config/oidc.go).
	OIDC []OIDCIssuer `yaml:"oidc"`
	// Channels are the customer channels' back ends (web chat, messaging
	// connectors) and their tokens, which create conversations and act as
	// their customer only (POST /v1/conversations and the customer side:
	// messages, customer-left, events).
	Channels []ChannelSpec `yaml:"channels"`
}

// ChannelSpec is one auth.channels entry.
type ChannelSpec struct {
	// ID names the channel (the conversation attribute omniroute.channel).
	ID string `yaml:"id"`
	// Token is its bearer token, at least MinAdminTokenBytes characters
	// outside demos.
	Token string `yaml:"token"`
	// Queues it may create conversations in (empty: any).
	Queues []string `yaml:"queues"`
}

// ValidationError lists every problem found in a file, each naming its line
// (when known) and object.
type ValidationError struct {
	Problems []string
}

// Error lists the problems, one per line after the first.
func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "config: " + e.Problems[0]
	}
	return fmt.Sprintf("config: %d problems:\n\t%s", len(e.Problems), strings.Join(e.Problems, "\n\t"))
}

// Load reads and parses the file at path. Errors: the file cannot be read,
// is over MaxFileBytes, or Parse fails.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("config: %s is over %d bytes", path, MaxFileBytes)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes, defaults and validates a YAML configuration, then hashes
// plain passwords (bcrypt, PasswordCost), moving them to PasswordHash with a
// warning. An empty document is a valid, empty configuration. Errors: a YAML
// error naming the line (syntax, unknown key, wrong type, more than one
// document), data over MaxFileBytes, or a *ValidationError.
func Parse(data []byte) (*Config, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("config: over %d bytes", MaxFileBytes)
	}
	c := &Config{}
	if err := decodeStrict(data, c); err != nil {
		return nil, err
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	for i, t := range c.Auth.AdminTokens {
		if len(t) < MinAdminTokenBytes {
			c.Warnings = append(c.Warnings, fmt.Sprintf("auth.adminTokens[%d]: shorter than %d characters; use a long random token outside demos", i, MinAdminTokenBytes))
		}
	}
	for i := range c.Agents {
		a := &c.Agents[i]
		if a.Password == "" {
			continue
		}
		h, err := bcrypt.GenerateFromPassword([]byte(a.Password), PasswordCost)
		if err != nil { // Validate bounded the length; this is entropy failing.
			return nil, fmt.Errorf("config: %s: hash password: %w", c.where("agents", i, a.ID), err)
		}
		a.PasswordHash, a.Password = string(h), ""
		c.Warnings = append(c.Warnings, c.where("agents", i, a.ID)+
			": plain password; put a bcrypt passwordHash in the file instead")
	}
	return c, nil
}

// decodeStrict decodes the single YAML document in data into c with unknown
// keys refused, and records the line of every list item for messages.
func decodeStrict(data []byte, c *Config) (err error) {
	// yaml.v3 is third-party code fed untrusted bytes: a panic in it must
	// become an error, never take the process down (Principles 6).
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("config: yaml decoder failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty file
		}
		return fmt.Errorf("config: %w", err)
	}
	if err := c.decodeSections(data); err != nil {
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("config: more than one YAML document; omniroute reads one")
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) == nil {
		c.lines = itemLines(&root)
	}
	return nil
}

// itemLines returns, for each top-level sequence, the line of each item.
func itemLines(root *yaml.Node) map[string][]int {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	m := root.Content[0]
	out := map[string][]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		seq := m.Content[i+1]
		if seq.Kind != yaml.SequenceNode {
			continue
		}
		lines := make([]int, len(seq.Content))
		for j, n := range seq.Content {
			lines[j] = n.Line
		}
		out[m.Content[i].Value] = lines
	}
	return out
}

func (c *Config) applyDefaults() {
	if c.Server.Listen == "" {
		c.Server.Listen = DefaultListen
	}
	if c.Server.DataDir == "" {
		c.Server.DataDir = DefaultDataDir
	}
	if c.Server.SnapshotEvery == 0 {
		c.Server.SnapshotEvery = DefaultSnapshotEvery
	}
	if c.Auth.TokenTTLSeconds == 0 {
		c.Auth.TokenTTLSeconds = DefaultTokenTTLSeconds
	}
	if c.Auth.RefreshTTLSeconds == 0 {
		c.Auth.RefreshTTLSeconds = DefaultRefreshTTLSeconds
	}
}

// where names list item i of section: `line 12: queues[2] (id "sales")`.
func (c *Config) where(section string, i int, id string) string {
	s := fmt.Sprintf("%s[%d] (id %q)", section, i, id)
	if ls := c.lines[section]; i < len(ls) {
		s = fmt.Sprintf("line %d: %s", ls[i], s)
	}
	return s
}

// problems collects validation messages, bounded by maxProblems.
type problems struct {
	list    []string
	dropped int
}

func (p *problems) add(prefix string, err error) {
	if err == nil {
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			p.add(prefix, e)
		}
		return
	}
	if len(p.list) >= maxProblems {
		p.dropped++
		return
	}
	p.list = append(p.list, prefix+": "+err.Error())
}

func (p *problems) addf(prefix, format string, args ...any) {
	p.add(prefix, fmt.Errorf(format, args...))
}

// Validate checks the whole configuration: each object alone (the specs'
// Validate), duplicate ids, references (a queue's mrd, an agent's capacity
// MRDs, queue members are declared), unique usernames, credentials, limits,
// and the server and auth sections. It returns a *ValidationError or nil.
// Parse calls it; call it again after changing a Config by hand.
func (c *Config) Validate() error {
	var p problems
	c.validateServer(&p)
	c.validateAuth(&p)
	c.Wallboard.validate(&p)
	for _, lim := range []struct {
		section string
		n, max  int
	}{{"mrds", len(c.MRDs), MaxMRDs}, {"reasonCodes", len(c.ReasonCodes), MaxReasonCodes},
		{"queues", len(c.Queues), MaxQueues}, {"agents", len(c.Agents), MaxAgents}} {
		if lim.n > lim.max {
			p.addf(lim.section, "%d entries, more than the limit of %d", lim.n, lim.max)
		}
	}
	mrds := map[string]bool{}
	for i, m := range c.MRDs {
		w := c.where("mrds", i, m.ID)
		p.add(w, m.Validate())
		dup(&p, w, mrds, m.ID)
	}
	reasons := map[string]bool{}
	for i, r := range c.ReasonCodes {
		w := c.where("reasonCodes", i, r.ID)
		p.add(w, r.Validate())
		dup(&p, w, reasons, r.ID)
	}
	agents := map[string]bool{}
	for _, a := range c.Agents {
		agents[a.ID] = true
	}
	queues := map[string]bool{}
	for i, q := range c.Queues {
		w := c.where("queues", i, q.ID)
		p.add(w, q.Validate())
		dup(&p, w, queues, q.ID)
		if q.MRD != "" && !mrds[q.MRD] {
			p.addf(w, "mrd %q is not declared", q.MRD)
		}
		for j, m := range q.Members {
			if m != "" && !agents[m] {
				p.addf(w, "members[%d]: agent %q is not declared", j, m)
			}
		}
	}
	// Escalation steps may add a queue declared later in the file; it
	// must be an internal queue on the same MRD.
	byID := map[string]QueueSpec{}
	for _, q := range c.Queues {
		byID[q.ID] = q
	}
	for i, q := range c.Queues {
		w := c.where("queues", i, q.ID)
		for j, st := range q.Steps {
			for k, id := range st.AddQueues {
				o, ok := byID[id]
				switch {
				case id == "" || id == q.ID:
				case !ok:
					p.addf(w, "steps[%d].addQueues[%d]: queue %q is not declared", j, k, id)
				case o.MRD != q.MRD || o.Mode == routing.External:
					p.addf(w, "steps[%d].addQueues[%d]: queue %q is not an internal queue on mrd %q", j, k, id, q.MRD)
				}
			}
		}
	}
	seenAgents := map[string]bool{}
	usernames := map[string]string{}
	for i, a := range c.Agents {
		w := c.where("agents", i, a.ID)
		p.add(w, a.Validate())
		dup(&p, w, seenAgents, a.ID)
		for _, m := range slices.Sorted(maps.Keys(a.Capacity)) {
			if !mrds[m] {
				p.addf(w, "capacity names mrd %q, which is not declared", m)
			}
		}
		c.validateCredentials(&p, w, a, usernames)
	}
	c.validatePartners(&p)
	c.validateChannels(&p, queues)
	c.validateSections(&p)
	c.GMSPush.validate(&p)
	c.validatePresenceSync(&p, reasons)
	c.ExternalRouting.validate(&p)
	c.AgentDesk.validate(&p)
	c.DataAtRest.validate(&p, c.Server.NATSURL)
	if p.dropped > 0 {
		p.list = append(p.list, fmt.Sprintf("... and %d more problems", p.dropped))
	}
	if len(p.list) > 0 {
		return &ValidationError{Problems: p.list}
	}
	return nil
}

func dup(p *problems, where string, seen map[string]bool, id string) {
	if id == "" {
		return
	}
	if seen[id] {
		p.addf(where, "duplicate id %q", id)
	}
	seen[id] = true
}

func (c *Config) validateServer(p *problems) {
	if _, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
		p.addf("server.listen", "%q is not host:port: %v", c.Server.Listen, err)
	}
	if c.Server.MemoryLimitBytes < 0 {
		p.addf("server.memoryLimitBytes", "%d is negative; 0 or absent leaves GOMEMLIMIT in charge", c.Server.MemoryLimitBytes)
	}
	if (c.Server.TLSCertFile == "") != (c.Server.TLSKeyFile == "") {
		p.addf("server", "tlsCertFile and tlsKeyFile go together; set both or neither")
	}
	if u := c.Server.PublicURL; u != "" {
		if err := CheckPublicURL(u); err != nil {
			p.add("server.publicUrl", err)
		}
	}
	if len(c.Server.TrustedProxies) > MaxTrustedProxies {
		p.addf("server.trustedProxies", "%d entries, more than the limit of %d", len(c.Server.TrustedProxies), MaxTrustedProxies)
	}
	for i, o := range c.Server.CORSOrigins {
		if err := CheckPublicURL(o); err != nil {
			p.addf(fmt.Sprintf("server.corsOrigins[%d]", i), "an origin is scheme://host[:port]: %v", err)
		}
	}
	for i, tp := range c.Server.TrustedProxies {
		if _, err := ParsePrefix(tp); err != nil {
			p.addf(fmt.Sprintf("server.trustedProxies[%d]", i), "%v", err)
		}
	}
	if u := c.Server.NATSURL; u != "" {
		for part := range strings.SplitSeq(u, ",") {
			scheme, rest, ok := strings.Cut(strings.TrimSpace(part), "://")
			if !ok || rest == "" || !oneOf(scheme, "nats", "tls", "ws", "wss") {
				p.addf("server.natsUrl", "%q is not a nats://, tls://, ws:// or wss:// URL", part)
			}
		}
	}
}

func oneOf(s string, set ...string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

func (c *Config) validateAuth(p *problems) {
	a := c.Auth
	if len(a.AdminTokens) > MaxAdminTokens {
		p.addf("auth.adminTokens", "%d tokens, more than the limit of %d", len(a.AdminTokens), MaxAdminTokens)
	}
	seen := map[string]bool{}
	for i, t := range a.AdminTokens {
		w := fmt.Sprintf("auth.adminTokens[%d]", i)
		switch {
		case t == "":
			p.addf(w, "empty token")
		case len(t) > MaxTokenBytes:
			p.addf(w, "longer than %d bytes", MaxTokenBytes)
		case strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			p.addf(w, "has a space or control character; it could not travel in an Authorization header")
		case seen[t]:
			p.addf(w, "duplicate token")
		}
		seen[t] = true
	}
	if s := a.TokenSecret; s != "" && len(s) < MinTokenSecretBytes {
		p.addf("auth.tokenSecret", "%d bytes; an HMAC-SHA256 key needs at least %d", len(s), MinTokenSecretBytes)
	}
	if len(a.TokenSecret) > MaxTokenBytes {
		p.addf("auth.tokenSecret", "longer than %d bytes", MaxTokenBytes)
	}
	c.validateOIDC(p)
	if a.TokenTTLSeconds < 1 || a.TokenTTLSeconds > routing.MaxDuration.Seconds() || math.IsNaN(a.TokenTTLSeconds) {
		p.addf("auth.tokenTtlSeconds", "%s is outside 1..%s", fmtSeconds(a.TokenTTLSeconds), fmtSeconds(routing.MaxDuration.Seconds()))
	}
	if a.RefreshTTLSeconds < 1 || a.RefreshTTLSeconds > routing.MaxDuration.Seconds() || math.IsNaN(a.RefreshTTLSeconds) {
		p.addf("auth.refreshTtlSeconds", "%s is outside 1..%s", fmtSeconds(a.RefreshTTLSeconds), fmtSeconds(routing.MaxDuration.Seconds()))
	}
}

func (c *Config) validateCredentials(p *problems, where string, a AgentSpec, usernames map[string]string) {
	if a.Username == "" {
		if a.Password != "" || a.PasswordHash != "" {
			p.addf(where, "a password without a username")
		}
		return
	}
	if err := checkID("username", a.Username); err != nil {
		p.add(where, err)
	} else if other, ok := usernames[a.Username]; ok {
		p.addf(where, "username %q is already used by agent %q", a.Username, other)
	} else {
		usernames[a.Username] = a.ID
	}
	switch {
	case a.Password != "" && a.PasswordHash != "":
		p.addf(where, "both password and passwordHash; keep one")
	case a.Password == "" && a.PasswordHash == "":
		p.addf(where, "username %q without password or passwordHash", a.Username)
	case len(a.Password) > MaxPasswordBytes:
		p.addf(where, "password longer than %d bytes (bcrypt's limit)", MaxPasswordBytes)
	case a.PasswordHash != "":
		cost, err := bcrypt.Cost([]byte(a.PasswordHash))
		if err != nil {
			p.addf(where, "passwordHash is not a bcrypt hash: %v", err)
		} else if cost > MaxBcryptCost {
			p.addf(where, "passwordHash cost %d is over %d; every login would take seconds", cost, MaxBcryptCost)
		}
	}
}

// Commands returns the upserts that load the configuration into the engine,
// in dependency order: MRDs, reason codes, agents, queues (agents before
// queues so that a queue's members exist when its eligibility is computed).
func (c *Config) Commands() []routing.Command {
	out := make([]routing.Command, 0, len(c.MRDs)+len(c.ReasonCodes)+len(c.Agents)+len(c.Queues))
	for _, m := range c.MRDs {
		out = append(out, routing.UpsertMRD{MRD: m.Routing()})
	}
	for _, r := range c.ReasonCodes {
		out = append(out, routing.UpsertReasonCode{ReasonCode: r.Routing()})
	}
	for _, a := range c.Agents {
		out = append(out, routing.UpsertAgent{Agent: a.Routing()})
	}
	for _, q := range c.Queues {
		out = append(out, routing.UpsertQueue{Queue: q.Routing()})
	}
	return out
}

// Limits of the partners section.
const (
	// MaxPartners bounds partners.
	MaxPartners = 64
	// MinPartnerTokenBytes is the shortest partner bearer token accepted.
	MinPartnerTokenBytes = 16
	// MinWebhookSecretBytes is the shortest webhook HMAC key accepted.
	MinWebhookSecretBytes = 16
)

// PartnerSpec is one external routing partner (seed 000 "external
// routing"): it authenticates with "Authorization: Bearer <Token>" on the
// Salesforce-style REST API and CometD handshake. WebhookURL, when set,
// receives PendingServiceRouting events as signed POSTs (HMAC-SHA256 of the
// body with WebhookSecret, header X-Omniroute-Signature: sha256=<hex>).
type PartnerSpec struct {
	ID            string `json:"id" yaml:"id"`
	Token         string `json:"token" yaml:"token"`
	WebhookURL    string `json:"webhookUrl,omitempty" yaml:"webhookUrl"`
	WebhookSecret string `json:"webhookSecret,omitempty" yaml:"webhookSecret"`
}

func (c *Config) validatePartners(p *problems) {
	if len(c.Partners) > MaxPartners {
		p.addf("partners", "%d entries, more than the limit of %d", len(c.Partners), MaxPartners)
	}
	ids := map[string]bool{}
	tokens := map[string]bool{}
	for i, pt := range c.Partners {
		w := c.where("partners", i, pt.ID)
		if pt.ID == "" || len(pt.ID) > routing.MaxIDLength {
			p.addf(w, "id must have 1..%d bytes", routing.MaxIDLength)
		}
		dup(p, w, ids, pt.ID)
		switch {
		case len(pt.Token) < MinPartnerTokenBytes:
			p.addf(w, "token must have at least %d characters", MinPartnerTokenBytes)
		case len(pt.Token) > MaxTokenBytes:
			p.addf(w, "token over %d bytes", MaxTokenBytes)
		case tokens[pt.Token]:
			p.addf(w, "token already used by another partner")
		}
		tokens[pt.Token] = true
		if pt.WebhookURL != "" {
			if !strings.HasPrefix(pt.WebhookURL, "http://") && !strings.HasPrefix(pt.WebhookURL, "https://") {
				p.addf(w, "webhookUrl %q is not an http:// or https:// URL", pt.WebhookURL)
			}
			if len(pt.WebhookSecret) < MinWebhookSecretBytes {
				p.addf(w, "webhookSecret must have at least %d characters when webhookUrl is set", MinWebhookSecretBytes)
			}
		}
	}
}

// Limits of the externalRouting section.
const (
	// MaxRetentionHours bounds externalRouting.retentionHours (one year).
	MaxRetentionHours = 24 * 366
	// MaxReplayLimit bounds externalRouting.maxReplay (events).
	MaxReplayLimit = 1_000_000
)

// ExternalRouting is the externalRouting section: the PendingServiceRouting
// event stream partners read over CometD (/topic/{topic}) and webhooks.
// Zero values take extrouting's defaults.
type ExternalRouting struct {
	// Topic is the PushTopic name partners subscribe to by default
	// (channel "/topic/<topic>"; default PendingServiceRoutingTopic): a
	// letter then up to 79 letters, digits or underscores.
	Topic string `json:"topic,omitempty" yaml:"topic"`
	// RetentionHours is how long PSR events stay replayable (hours,
	// 0..MaxRetentionHours; 0: 72, as Salesforce keeps them).
	RetentionHours float64 `json:"retentionHours,omitempty" yaml:"retentionHours"`
	// MaxReplay bounds the events one CometD replay request may return
	// (0..MaxReplayLimit; 0: 10000).
	MaxReplay int `json:"maxReplay,omitempty" yaml:"maxReplay"`
}

// topicPattern is extrouting's PushTopic name rule (kept in step with
// extrouting.validTopic; config does not import extrouting).
var topicPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,79}$`)

func (e ExternalRouting) validate(p *problems) {
	const w = "externalRouting"
	if e.Topic != "" && !topicPattern.MatchString(e.Topic) {
		p.addf(w, "topic %q must be a letter followed by up to 79 letters, digits or underscores", e.Topic)
	}
	if math.IsNaN(e.RetentionHours) || e.RetentionHours < 0 || e.RetentionHours > MaxRetentionHours {
		p.addf(w, "retentionHours must be 0..%d", MaxRetentionHours)
	}
	if e.MaxReplay < 0 || e.MaxReplay > MaxReplayLimit {
		p.addf(w, "maxReplay must be 0..%d", MaxReplayLimit)
	}
}

// Retention is RetentionHours as a duration (0 when unset).
func (e ExternalRouting) Retention() time.Duration {
	return time.Duration(e.RetentionHours * float64(time.Hour))
}
