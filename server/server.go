// Package server assembles a running omniroute: the journal (embedded NATS
// JetStream by default, or an external NATS), the single-writer node, the
// configuration's definitions, the native REST API, the Agent Desk
// Socket.IO endpoint, the GMS callback API with its comet (CometD at
// /genesys/cometd) and customhttp push, and the metrics, on one HTTP
// listener.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/omniroute/omniroute/erasure"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/omniroute/omniroute/agentdesk"
	"github.com/omniroute/omniroute/audit"
	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/bayeux"
	"github.com/omniroute/omniroute/cluster"
	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/conversation"
	"github.com/omniroute/omniroute/extrouting"
	"github.com/omniroute/omniroute/gms"
	"github.com/omniroute/omniroute/guard"
	"github.com/omniroute/omniroute/journal"
	"github.com/omniroute/omniroute/journal/natsjournal"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/presencesync"
	"github.com/omniroute/omniroute/restapi"
	"github.com/omniroute/omniroute/routing"
	"github.com/omniroute/omniroute/transcript"
	"github.com/omniroute/omniroute/webui"
)

// Options configure Start. Config is required; the other fields override
// the config file's server section when set.
type Options struct {
	Config  *config.Config
	Listen  string
	DataDir string
	NATSURL string
	Logger  *slog.Logger
	// TLSCertFile and TLSKeyFile override server.tlsCertFile and
	// server.tlsKeyFile (flags --tls-cert, --tls-key).
	TLSCertFile, TLSKeyFile string
	// PublicURL overrides server.publicUrl (flag --public-url).
	PublicURL string
	// Timeouts of the HTTP listener; zero fields take guard's defaults.
	Timeouts guard.Timeouts
	// Demo allows the published demo credentials of examples/omniroute.yaml
	// on a listener that is not loopback (omniroute demo, serve --demo).
	Demo bool
	// Cluster, when set, joins the cluster of that name on NATSURL
	// (cluster mode, package cluster; flag --cluster); overrides
	// server.cluster. NodeID names this node (default host-port; flag
	// --node-id). Replicas of new streams and buckets (0: 3 when the NATS
	// cluster has three or more servers, else 1; flag --replicas).
	// LeaseTTL overrides cluster.DefaultLeaseTTL.
	Cluster, NodeID string
	Replicas        int
	LeaseTTL        time.Duration
	// Clock, when set, is the node's scaled clock (omniroute demo: a day
	// replayed live at N times real time); the node, the API's statistics
	// and the web UI's history read it. Nil: real time (omniroute serve).
	Clock *node.Clock
}

// Server is a running omniroute.
type Server struct {
	log     *slog.Logger
	nats    *natsjournal.EmbeddedServer
	nc      *nats.Conn
	journal journal.Journal
	node    *node.Node
	desk    *agentdesk.Server
	// transcripts: conversations' CIM messages and events, in their own
	// JetStream stream on the journal's connection (DESIGN.md: not in the
	// routing journal).
	transcripts *transcript.Log
	// conv: the conversation layer on transcripts, shared by desk, REST,
	// web UI and GMS.
	conv *conversation.Conversations
	// ext: external routing partners (seed 000): PSR/AgentWork REST and
	// CometD, its event stream on the journal's NATS connection.
	ext *extrouting.Adapter
	// hooks: signed webhooks of the partners with a webhookUrl.
	hooks *extrouting.Webhooks
	// presence: status sync with telephony and CRM partners (seeds 001,
	// 002); its mapping table in a JetStream KV bucket.
	presence *presencesync.Service
	// gms: the Genesys Mobile Services callback API (seed 003), under /genesys/.
	gms *gms.Server
	// desks is the shared desk directory (cluster mode), else nil.
	desks *cluster.Desks
	// comet: GMS push to "comet" devices, the CometD endpoint at
	// /genesys/cometd (the dialogs' _comet_url); customHTTP: GMS push to
	// "customhttp" devices when gmsPush.customHttpUrl is set.
	comet      *gms.CometPusher
	customHTTP *gms.HTTPPusher
	// ui: the wallboard, desk, chat and history pages (webui).
	ui *webui.UI
	// audit: who changed what (GET /v1/audit, auditHandler).
	audit *audit.Log
	// api is restapi's handler (its Patterns feed ServedRoutes).
	api      http.Handler
	http     *http.Server
	listener net.Listener
	// tls is the listener's TLS configuration, nil for plain HTTP.
	tls *tls.Config
	// publicURL is the base of the URLs the server hands out.
	publicURL string
	proxies   guard.Proxies
	// stopRevoke ends revokeAtLogout's subscription; stopShared the watch
	// of the cluster's revocations (shareRevocations).
	stopRevoke, stopShared func()
	// browser: the CORS allowlist and the security headers of every answer.
	browser guard.Browser
	auth    *auth.Authenticator
	served  chan error
	// cluster is this node's membership in cluster mode, nil otherwise;
	// sharedSecret the cluster's token secret.
	cluster      *cluster.Cluster
	sharedSecret []byte
	// customerKeys seals customer fields (dataAtRest.customerKeys,
	// package erasure); nil when off or in cluster mode.
	customerKeys *erasure.Keyring
}

// Start opens everything and begins serving. On error everything opened
// so far is closed again.
func Start(ctx context.Context, o Options) (_ *Server, err error) {
	if o.Config == nil {
		return nil, errors.New("server: no config")
	}
	c := o.Config
	if c.Server.MemoryLimitBytes > 0 {
		// Process-wide, like GOMEMLIMIT, which it overrides.
		debug.SetMemoryLimit(c.Server.MemoryLimitBytes)
	}
	if o.Listen == "" {
		o.Listen = c.Server.Listen
	}
	if o.DataDir == "" {
		o.DataDir = c.Server.DataDir
	}
	if o.NATSURL == "" {
		o.NATSURL = c.Server.NATSURL
	}
	if o.Cluster == "" {
		o.Cluster = c.Server.Cluster
	}
	if o.NodeID == "" {
		o.NodeID = c.Server.NodeID
	}
	if o.Replicas == 0 {
		o.Replicas = c.Server.Replicas
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Server{log: o.Logger, served: make(chan error, 1)}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	if err := s.listen(o); err != nil {
		return nil, err
	}
	if o.NATSURL == "" {
		var key, previous string
		key, previous, err = c.DataAtRest.Keys()
		if err != nil {
			return nil, err
		}
		s.nats, err = natsjournal.StartEmbedded(natsjournal.EmbeddedOptions{DataDir: filepath.Join(o.DataDir, "jetstream"),
			EncryptionKey: key, PreviousEncryptionKey: previous})
		if err != nil {
			return nil, fmt.Errorf("server: embedded NATS: %w", err)
		}
		s.nc, err = s.nats.Conn()
	} else {
		s.nc, err = natsjournal.Connect(o.NATSURL, clusterConnOptions(o.Cluster)...)
	}
	if err != nil {
		return nil, fmt.Errorf("server: NATS connection: %w", err)
	}
	replicas := 1
	if o.Cluster != "" {
		replicas = clusterReplicas(s.nc, o.Replicas)
	}
	compact := c.DataAtRest.CompactJournal && o.Cluster == ""
	s.journal, err = natsjournal.Open(ctx, s.nc, natsjournal.Options{Replicas: replicas, AllowCompact: compact})
	if err != nil {
		return nil, fmt.Errorf("server: journal: %w", err)
	}
	ncfg := node.Config{Journal: s.journal, SnapshotEvery: c.Server.SnapshotEvery, Logger: o.Logger, Clock: o.Clock,
		CompactJournal: compact}
	if o.Cluster != "" {
		if ncfg.Replica, err = s.openCluster(ctx, o, replicas); err != nil {
			return nil, err
		}
	}
	s.node, err = node.Open(ctx, ncfg)
	if err != nil {
		return nil, err
	}
	if s.cluster != nil {
		s.cluster.Run(s.node)
	}
	// The adapter follows the node before the configuration and the
	// listener run, so it sees every external request's events.
	partners := make([]extrouting.Partner, 0, len(c.Partners))
	for _, p := range c.Partners {
		partners = append(partners, extrouting.Partner{ID: p.ID, Token: p.Token})
	}
	er := c.ExternalRouting
	s.ext, err = extrouting.New(ctx, s.node, s.nc, extrouting.Options{Partners: partners, Logger: o.Logger, Admin: s.adminTokenExpiry,
		Topic: er.Topic, Retention: er.Retention(), MaxReplay: er.MaxReplay, Replicas: replicas})
	if err != nil {
		return nil, fmt.Errorf("server: external routing: %w", err)
	}
	var hooks []extrouting.Webhook
	for _, p := range c.Partners {
		if p.WebhookURL != "" {
			hooks = append(hooks, extrouting.Webhook{Partner: p.ID, URL: p.WebhookURL, Secret: p.WebhookSecret})
		}
	}
	if s.hooks, err = s.ext.StartWebhooks(ctx, hooks, extrouting.WebhookOptions{}); err != nil {
		return nil, fmt.Errorf("server: partner webhooks: %w", err)
	}
	if err := applyConfig(ctx, s.node, c); err != nil {
		return nil, err
	}
	secret := s.sharedSecret
	if secret == nil {
		secret, err = auth.LoadOrCreateSecret(filepath.Join(o.DataDir, "token.secret"))
		if err != nil {
			return nil, fmt.Errorf("server: token secret: %w", err)
		}
	}
	ao, err := auth.OptionsFromConfig(c, secret, nil)
	if err != nil {
		return nil, err
	}
	// Single-node mode keeps revocations in a file; cluster mode in a
	// bucket every node watches (shareRevocations).
	if s.cluster == nil {
		ao.RevocationFile = filepath.Join(o.DataDir, "revocations.json")
	}
	ao.Logger = o.Logger
	if s.auth, err = auth.New(ao); err != nil {
		return nil, err
	}
	if s.cluster != nil {
		if err := s.shareRevocations(ctx, replicas); err != nil {
			return nil, err
		}
	}
	s.revokeAtLogout()
	// The keyring is per node (a file under the data dir); a cluster's
	// nodes would each need every key, so cluster mode stores customer
	// fields as given (docs/SECURITY.md "Data at rest").
	if c.DataAtRest.SealCustomers() && o.Cluster == "" {
		if s.customerKeys, err = erasure.Open(filepath.Join(o.DataDir, CustomerKeysFile)); err != nil {
			return nil, fmt.Errorf("server: customer keys: %w", err)
		}
	}
	jso := transcript.JSOptions{Replicas: replicas, MaxAge: time.Duration(c.DataAtRest.TranscriptRetentionDays) * 24 * time.Hour}
	if s.customerKeys != nil {
		jso.Limits = erasure.InnerLimits(transcript.Limits{})
	}
	store, err := transcript.OpenJetStream(ctx, s.nc, jso)
	if err != nil {
		return nil, fmt.Errorf("server: transcripts: %w", err)
	}
	if s.customerKeys != nil {
		s.transcripts = transcript.NewLog(erasure.NewTranscripts(store, s.customerKeys, transcript.Limits{}, s.customerRef))
	} else {
		s.transcripts = transcript.NewLog(store)
	}
	if s.conv, err = conversation.New(s.node, conversation.Options{Logger: o.Logger, Transcripts: s.transcripts,
		CustomerKeys: s.customerKeys}); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	s.registerClusterMetrics(reg)
	stored, err := newStoredCollector(s.nc)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	reg.MustRegister(stored)
	registerKeyringMetrics(reg, s.customerKeys)
	// Cluster mode: pushes are claimed once across the nodes, and the
	// desks' whereabouts and FCM tokens are shared (agentdesk.Desks).
	var claims *cluster.Claims
	// desks is the interface, so that single-node mode passes a nil one
	// and not a nil *cluster.Desks inside a non-nil interface.
	var desks agentdesk.DeskDirectory
	var deskClaim func(context.Context, string) (bool, error)
	if s.cluster != nil {
		if claims, err = cluster.OpenClaims(ctx, s.nc, o.Cluster, replicas); err != nil {
			return nil, fmt.Errorf("server: claims: %w", err)
		}
		if s.desks, err = cluster.OpenDesks(ctx, s.nc, replicas, s.cluster.NodeID(), s.memberAlive()); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		desks, deskClaim = s.desks, claims.Claim
	}
	s.desk, err = agentdesk.New(s.node, s.verifyAgentToken, agentdesk.Options{Logger: o.Logger, Conversations: s.conv,
		VerifyExpiring: s.verifyAgentTokenExpiry,
		Desks:          desks, ClaimPush: deskClaim, Registry: reg,
		CustomerKeys:    s.customerKeys,
		MaxPayloadBytes: c.AgentDesk.MessageBytes(), MaxConnections: c.AgentDesk.MaxConnections,
		MaxPendingPerAddress: c.AgentDesk.MaxPendingPerAddress, MaxSocketsPerAgent: c.AgentDesk.MaxSocketsPerAgent,
		MaxEventsPerSecond: c.AgentDesk.MaxEventsPerSecond, AllowedOrigins: s.browser.AllowedOrigins,
		DisconnectGrace: c.AgentDesk.DisconnectGrace()})
	if err != nil {
		return nil, err
	}
	api := restapi.New(s.node, s.auth, restapi.Options{Logger: o.Logger, Registry: reg, Customers: s.conv, ReadyInfo: s.readyInfo(),
		CustomerKeys: s.customerKeys,
		Now:          o.Clock.Now, Wall: time.Now})
	s.comet = gms.NewCometPusher(gms.CometOptions{Bayeux: bayeux.Options{Logger: o.Logger}, Logger: o.Logger})
	pushers := map[string]gms.Pusher{gms.DeviceOSComet: s.comet}
	if c.GMSPush.CustomHTTPURL != "" {
		s.customHTTP = gms.NewHTTPPusher(gms.HTTPOptions{URL: c.GMSPush.CustomHTTPURL,
			Headers: c.GMSPush.Header(), Logger: o.Logger})
		pushers[gms.DeviceOSCustomHTTP] = s.customHTTP
	}
	gmsStore, err := gms.OpenKV(ctx, s.nc, replicas)
	if err != nil {
		return nil, fmt.Errorf("server: gms: %w", err)
	}
	var claimPush func(context.Context, string) (bool, error)
	var gmsNode string // cluster mode: every node knows every callback (gms.Options.NodeID)
	if s.cluster != nil {
		claimPush, gmsNode = claims.Claim, s.cluster.NodeID()
	}
	s.gms, err = gms.New(s.node, gms.Options{Services: gms.Services(c), Logger: o.Logger, Pushers: pushers, Store: gmsStore,
		CustomerKeys: s.customerKeys,
		ClaimPush:    claimPush, NodeID: gmsNode,
		BaseURL:   s.publicURL,
		AdminAuth: s.bearerIs(auth.Admin), AgentAuth: s.gmsCaller,
		AgentNotifier: func(ctx context.Context, conversation string, data map[string]string) error {
			return s.conv.PublishAgentEvent(ctx, conversation, gmsAgentNotification, data)
		}})
	if err != nil {
		return nil, fmt.Errorf("server: gms: %w", err)
	}
	kv, err := presencesync.OpenKV(ctx, s.nc, replicas)
	if err != nil {
		return nil, err
	}
	s.presence, err = presencesync.New(ctx, s.node, s.auth, c.PresenceSync, c.ReasonCodes,
		presencesync.Options{Store: kv, Registry: reg, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	if s.audit, err = audit.Open(ctx, s.nc, replicas); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /v1/audit", s.auditPage())
	mux.Handle("/v1/presence-sync/", s.presence.Handler())
	mux.Handle("/v1/agents/{id}/presence-sync", s.presence.Handler())
	mux.Handle("/presencesync/", s.presence.Handler())
	mux.Handle("/genesys/", s.gms.Handler())
	mux.Handle("/services/data/", s.ext.Handler())
	// Native external routing routes (extrouting.NativeHandler): more
	// specific than restapi's "/", partner or admin bearer tokens.
	native := s.ext.NativeHandler(s.isAdminToken)
	for _, p := range []string{"/v1/agent-work", "/v1/agent-work/", "/v1/pending-service-routing", "/v1/pending-service-routing/"} {
		mux.Handle(p, native)
	}
	if s.ui, err = startUI(ctx, s, c, reg, o.Clock); err != nil {
		return nil, err
	}
	for _, p := range webui.Patterns {
		mux.Handle(p, s.ui.Handler())
	}
	mux.Handle("GET /v1/cluster", s.clusterHandler())
	mux.Handle("/", api)
	s.api = api
	// The routes that hold their connection on purpose are exempt from the
	// listener's read and write timeouts (guard.LongLived).
	for p, h := range map[string]http.Handler{
		"/genesys/cometd":                   s.comet.Handler(),
		"/genesys/cometd/":                  s.comet.Handler(),
		"/socket.io/":                       s.desk.Handler(),
		"/cometd/":                          s.ext.Handler(),
		"GET /v1/conversations/{id}/events": api,
		"GET /presencesync/crm/events":      s.presence.Handler(),
		"GET /presencesync/telephony":       s.presence.Handler(),
		"GET /ui/api/board":                 s.ui.Handler(),
		"GET /ui/api/chat/{id}/events":      s.ui.Handler(),
	} {
		mux.Handle(p, guard.LongLived(h))
	}
	s.http = &http.Server{Handler: s.proxies.Handler(s.browser.Headers(s.auditHandler(mux))), TLSConfig: s.tls,
		ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug)}
	o.Timeouts.Apply(s.http)
	go func() {
		if s.tls != nil {
			s.served <- s.http.ServeTLS(s.listener, "", "")
			return
		}
		s.served <- s.http.Serve(s.listener)
	}()
	o.Logger.Info("omniroute serving", "url", s.URL(), "publicUrl", s.publicURL, "dataDir", o.DataDir, "embeddedNATS", s.nats != nil)
	return s, nil
}

// bearerIs returns a check that a request carries "Authorization: Bearer
// <token>" of the given kind (any valid token when kind is "").
func (s *Server) bearerIs(kind auth.Kind) func(*http.Request) bool {
	return func(r *http.Request) bool {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			return false
		}
		p, err := s.auth.Verify(tok)
		return err == nil && (kind == "" || p.Kind == kind)
	}
}

// gmsCaller identifies the bearer of a GMS agent-side request: an admin,
// or an agent by id (gms.Options.AgentAuth).
func (s *Server) gmsCaller(r *http.Request) (agent string, admin, ok bool) {
	tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found {
		return "", false, false
	}
	p, err := s.auth.Verify(tok)
	if err != nil {
		return "", false, false
	}
	if p.Kind == auth.Admin {
		return p.AgentID, true, true
	}
	return p.AgentID, false, p.AgentID != ""
}

// isAdminToken reports whether token is an admin bearer token (the native
// external routing routes accept admins besides partners).
func (s *Server) isAdminToken(token string) bool {
	p, err := s.auth.Verify(token)
	return err == nil && p.Kind == auth.Admin
}

// shareRevocations makes the node's revocations the cluster's (cluster
// mode): kept in auth.RevocationsBucket with the cluster's replicas, and
// every revocation any node records refuses the agent's tokens here too as
// soon as the bucket's watch delivers it.
func (s *Server) shareRevocations(ctx context.Context, replicas int) error {
	store, err := auth.OpenKVRevocations(ctx, s.nc, replicas)
	if err != nil {
		return fmt.Errorf("server: revocations: %w", err)
	}
	watch, stop := context.WithCancel(context.Background())
	s.stopShared = stop
	if err := s.auth.ShareRevocations(watch, store); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// adminTokenExpiry reports whether token is an admin bearer token (a
// configured one, or an OpenID token with an admin role) and when it
// expires: the partner CometD handshake lets admins watch the PSR stream
// until then. The listener serves only once s.auth is set.
func (s *Server) adminTokenExpiry(token string) (time.Time, bool) {
	p, err := s.auth.Verify(token)
	return p.Expiry, err == nil && p.Kind == auth.Admin
}

// revokeAtLogout revokes an agent's tokens when it goes LOGOUT, however it
// got there (its desk, REST, a supervisor, a LOGOUT reason code): a
// logged-out agent logs in again. Every node of a cluster applies the
// LOGOUT and records it under its journal entry (auth.RevokeLogout).
func (s *Server) revokeAtLogout() {
	events, stop := s.node.Subscribe()
	done := make(chan struct{})
	// Stopping waits for the revocation being written (revocations.json
	// under the data dir), so nothing writes there after Close.
	s.stopRevoke = func() { stop(); <-done }
	go func() {
		defer close(done)
		for p := range events {
			if e, ok := p.Event.(routing.AgentStateChanged); ok && e.State == routing.AgentLogout && e.Previous != routing.AgentLogout {
				if err := s.auth.RevokeLogout(e.Agent, p.Seq); err != nil {
					s.log.Error("server: revoke at logout", "agent", e.Agent, "err", err)
				}
			}
		}
	}()
}

// gmsAgentNotification names the onCimEvent that brings a mobile user's
// GMS agent-notification to the agent desk of the callback's conversation.
const gmsAgentNotification = "GMS_AGENT_NOTIFICATION"

// verifyAgentToken accepts agent tokens for their own agent; admin tokens
// are not agent identities on the desk protocol.
func (s *Server) verifyAgentToken(token string) (string, error) {
	agent, _, err := s.verifyAgentTokenExpiry(token)
	return agent, err
}

// verifyAgentTokenExpiry is verifyAgentToken with the token's expiry, so
// that the desk closes a socket whose token expires (agentdesk/expiry.go).
func (s *Server) verifyAgentTokenExpiry(token string) (string, time.Time, error) {
	p, err := s.auth.Verify(token)
	if err != nil {
		return "", time.Time{}, err
	}
	if p.AgentID == "" {
		return "", time.Time{}, auth.ErrUnauthorized
	}
	return p.AgentID, p.Expiry, nil
}

// applyConfig upserts the configuration's definitions, tier by tier (MRDs
// and reason codes, then agents, then queues). Upserts are idempotent, so a
// restart with the same file changes nothing but the journal's length.
func applyConfig(ctx context.Context, n *node.Node, c *config.Config) error {
	for _, cmd := range c.Commands() {
		if _, err := n.Submit(ctx, cmd); err != nil {
			return fmt.Errorf("server: config %s: %w", describe(cmd), err)
		}
	}
	return nil
}

func describe(cmd routing.Command) string {
	switch c := cmd.(type) {
	case routing.UpsertMRD:
		return "mrd " + c.MRD.ID
	case routing.UpsertQueue:
		return "queue " + c.Queue.ID
	case routing.UpsertAgent:
		return "agent " + c.Agent.ID
	case routing.UpsertReasonCode:
		return "reason code " + c.ReasonCode.ID
	}
	return cmd.CommandName()
}

// Addr is the listening address (host:port).
func (s *Server) Addr() string { return s.listener.Addr().String() }

// URL is the listener's base URL, http://host:port or https://host:port
// with TLS.
// Routes lists the "METHOD /path" patterns the adapters serve besides the
// /v1 API (GMS, presence sync, external routing, the GMS CometD push, the
// audit page);
// the OpenAPI document must describe each (TestOpenAPIListsServedRoutes).
func (s *Server) Routes() map[string][]string {
	return map[string][]string{
		"gms":          append(s.gms.Routes(), "POST /genesys/cometd"),
		"presencesync": s.presence.Routes(),
		"extrouting":   s.ext.Routes(),
		"audit":        {"GET /v1/audit"},
	}
}

// ServedRoutes lists every "METHOD /path" pattern the listener serves,
// by the package that serves it: restapi's routes, the adapters' (Routes),
// the web UI's, the cluster status and the Socket.IO endpoint. The
// authorization matrix test (TestAuthorizationMatrix) needs a rule for
// each.
func (s *Server) ServedRoutes() map[string][]string {
	out := s.Routes()
	if p, ok := s.api.(interface{ Patterns() []string }); ok {
		out["restapi"] = p.Patterns()
	}
	out["webui"] = s.ui.Routes()
	out["cluster"] = []string{"GET /v1/cluster"}
	out["agentdesk"] = []string{"GET /socket.io/", "POST /socket.io/"}
	return out
}

func (s *Server) URL() string {
	if s.tls != nil {
		return "https://" + s.Addr()
	}
	return "http://" + s.Addr()
}

// PublicURL is the base URL the server hands out (server.publicUrl, or URL).
func (s *Server) PublicURL() string { return s.publicURL }

// Node returns the single writer (for in-process tools and tests).
func (s *Server) Node() *node.Node { return s.node }

// Auth returns the authenticator.
func (s *Server) Auth() *auth.Authenticator { return s.auth }

// Wait blocks until the HTTP server stops or the node fails.
func (s *Server) Wait(ctx context.Context) error {
	select {
	case err := <-s.served:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-s.node.Done():
		return s.node.Err()
	case <-ctx.Done():
		return nil
	}
}

// Close stops serving and closes everything, in reverse order of Start.
func (s *Server) Close() error {
	// First: a leader hands its lease over so a follower takes over
	// without waiting for the TTL.
	if s.cluster != nil {
		s.cluster.Close()
	}
	if s.desk != nil {
		s.desk.Close()
		if s.desks != nil {
			s.desks.Close()
		}
	}
	if s.hooks != nil {
		s.hooks.Close()
	}
	// Ends held CometD connects, so the HTTP shutdown does not wait for them.
	if s.ext != nil {
		s.ext.Close()
	}
	if s.presence != nil {
		s.presence.Close()
	}
	// Ends held GMS comet connects too; a push after this fails and the
	// notification stays for retrieve-notifications.
	if s.comet != nil {
		s.comet.Close()
	}
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.http.Shutdown(ctx)
		cancel()
	} else if s.listener != nil {
		s.listener.Close()
	}
	if s.gms != nil {
		s.gms.Close()
	}
	if s.ui != nil { // after the HTTP shutdown: its last history write
		s.ui.Close()
	}
	if s.customHTTP != nil { // after gms: no push starts any more
		s.customHTTP.Close()
	}
	if s.stopRevoke != nil {
		s.stopRevoke()
	}
	if s.stopShared != nil {
		s.stopShared()
	}
	if s.node != nil {
		s.node.Close()
	}
	if s.conv != nil {
		s.conv.Close()
	}
	if s.transcripts != nil {
		s.transcripts.Close()
	}
	if s.journal != nil {
		s.journal.Close()
	}
	if s.nc != nil {
		s.nc.Close()
	}
	if s.nats != nil {
		s.nats.Shutdown()
	}
	if s.customerKeys != nil {
		s.customerKeys.Close()
	}
	return nil
}

// CustomerKeysFile is the keyring of per-customer keys under the data dir
// (package erasure; `omniroute erase --customer ID` edits it).
const CustomerKeysFile = "customer-keys"

// customerRef is the ref of a conversation's sealed customer, "" when it
// has none: the key its transcript is sealed with.
func (s *Server) customerRef(ctx context.Context, conversation string) (string, error) {
	var ref string
	err := s.node.View(ctx, func(st routing.View) {
		if cv, ok := st.Conversation(conversation); ok {
			ref = erasure.RefOf(cv.Customer)
		}
	})
	return ref, err
}
