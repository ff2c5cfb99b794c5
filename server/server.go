// Package server assembles a running omniroute: the journal (embedded NATS
// JetStream by default, or an external NATS), the single-writer node, the
// configuration's definitions, the native REST API, the Agent Desk
// Socket.IO endpoint, the GMS callback API with its comet (CometD at
// /genesys/cometd) and customhttp push, and the metrics, on one HTTP
// listener.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/omniroute/omniroute/agentdesk"
	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/bayeux"
	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/extrouting"
	"github.com/omniroute/omniroute/gms"
	"github.com/omniroute/omniroute/journal"
	"github.com/omniroute/omniroute/journal/natsjournal"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/presencesync"
	"github.com/omniroute/omniroute/restapi"
	"github.com/omniroute/omniroute/routing"
	"github.com/omniroute/omniroute/transcript"
)

// Options configure Start. Config is required; the other fields override
// the config file's server section when set.
type Options struct {
	Config  *config.Config
	Listen  string
	DataDir string
	NATSURL string
	Logger  *slog.Logger
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
	// comet: GMS push to "comet" devices, the CometD endpoint at
	// /genesys/cometd (the dialogs' _comet_url); customHTTP: GMS push to
	// "customhttp" devices when gmsPush.customHttpUrl is set.
	comet      *gms.CometPusher
	customHTTP *gms.HTTPPusher
	http       *http.Server
	listener   net.Listener
	auth       *auth.Authenticator
	served     chan error
}

// Start opens everything and begins serving. On error everything opened
// so far is closed again.
func Start(ctx context.Context, o Options) (_ *Server, err error) {
	if o.Config == nil {
		return nil, errors.New("server: no config")
	}
	c := o.Config
	if o.Listen == "" {
		o.Listen = c.Server.Listen
	}
	if o.DataDir == "" {
		o.DataDir = c.Server.DataDir
	}
	if o.NATSURL == "" {
		o.NATSURL = c.Server.NATSURL
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
	if o.NATSURL == "" {
		s.nats, err = natsjournal.StartEmbedded(natsjournal.EmbeddedOptions{DataDir: filepath.Join(o.DataDir, "jetstream")})
		if err != nil {
			return nil, fmt.Errorf("server: embedded NATS: %w", err)
		}
		s.nc, err = s.nats.Conn()
	} else {
		s.nc, err = natsjournal.Connect(o.NATSURL)
	}
	if err != nil {
		return nil, fmt.Errorf("server: NATS connection: %w", err)
	}
	s.journal, err = natsjournal.Open(ctx, s.nc, natsjournal.Options{})
	if err != nil {
		return nil, fmt.Errorf("server: journal: %w", err)
	}
	s.node, err = node.Open(ctx, node.Config{Journal: s.journal, SnapshotEvery: c.Server.SnapshotEvery, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	// The adapter follows the node before the configuration and the
	// listener run, so it sees every external request's events.
	partners := make([]extrouting.Partner, 0, len(c.Partners))
	for _, p := range c.Partners {
		partners = append(partners, extrouting.Partner{ID: p.ID, Token: p.Token})
	}
	er := c.ExternalRouting
	s.ext, err = extrouting.New(ctx, s.node, s.nc, extrouting.Options{Partners: partners, Logger: o.Logger,
		Topic: er.Topic, Retention: er.Retention(), MaxReplay: er.MaxReplay})
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
	secret, err := auth.LoadOrCreateSecret(filepath.Join(o.DataDir, "token.secret"))
	if err != nil {
		return nil, fmt.Errorf("server: token secret: %w", err)
	}
	s.auth, err = auth.FromConfig(c, secret, nil)
	if err != nil {
		return nil, err
	}
	store, err := transcript.OpenJetStream(ctx, s.nc, transcript.JSOptions{})
	if err != nil {
		return nil, fmt.Errorf("server: transcripts: %w", err)
	}
	s.transcripts = transcript.NewLog(store)
	reg := prometheus.NewRegistry()
	s.desk, err = agentdesk.New(s.node, s.verifyAgentToken, agentdesk.Options{Logger: o.Logger, Transcripts: s.transcripts})
	if err != nil {
		return nil, err
	}
	api := restapi.New(s.node, s.auth, restapi.Options{Logger: o.Logger, Registry: reg, Customers: s.desk})
	s.comet = gms.NewCometPusher(gms.CometOptions{Bayeux: bayeux.Options{Logger: o.Logger}, Logger: o.Logger})
	pushers := map[string]gms.Pusher{gms.DeviceOSComet: s.comet}
	if c.GMSPush.CustomHTTPURL != "" {
		s.customHTTP = gms.NewHTTPPusher(gms.HTTPOptions{URL: c.GMSPush.CustomHTTPURL,
			Headers: c.GMSPush.Header(), Logger: o.Logger})
		pushers[gms.DeviceOSCustomHTTP] = s.customHTTP
	}
	gmsStore, err := gms.OpenKV(ctx, s.nc)
	if err != nil {
		return nil, fmt.Errorf("server: gms: %w", err)
	}
	s.gms, err = gms.New(s.node, gms.Options{Services: c.GMSServices, Logger: o.Logger, Pushers: pushers, Store: gmsStore,
		AdminAuth: s.bearerIs(auth.Admin), AgentAuth: s.bearerIs(""),
		AgentNotifier: func(ctx context.Context, conversation string, data map[string]string) error {
			return s.desk.PublishAgentEvent(ctx, conversation, gmsAgentNotification, data)
		}})
	if err != nil {
		return nil, fmt.Errorf("server: gms: %w", err)
	}
	kv, err := presencesync.OpenKV(ctx, s.nc)
	if err != nil {
		return nil, err
	}
	s.presence, err = presencesync.New(ctx, s.node, s.auth, c.PresenceSync, c.ReasonCodes,
		presencesync.Options{Store: kv, Registry: reg, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/presence-sync/", s.presence.Handler())
	mux.Handle("/v1/agents/{id}/presence-sync", s.presence.Handler())
	mux.Handle("/presencesync/", s.presence.Handler())
	mux.Handle("/genesys/", s.gms.Handler())
	mux.Handle("/genesys/cometd", s.comet.Handler())
	mux.Handle("/genesys/cometd/", s.comet.Handler())
	mux.Handle("/socket.io/", s.desk.Handler())
	mux.Handle("/cometd/", s.ext.Handler())
	mux.Handle("/services/data/", s.ext.Handler())
	// Native external routing routes (extrouting.NativeHandler): more
	// specific than restapi's "/", partner or admin bearer tokens.
	native := s.ext.NativeHandler(s.isAdminToken)
	for _, p := range []string{"/v1/agent-work", "/v1/agent-work/", "/v1/pending-service-routing", "/v1/pending-service-routing/"} {
		mux.Handle(p, native)
	}
	mux.Handle("/", api)
	s.listener, err = net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("server: listen: %w", err)
	}
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { s.served <- s.http.Serve(s.listener) }()
	o.Logger.Info("omniroute serving", "addr", s.Addr(), "dataDir", o.DataDir, "embeddedNATS", s.nats != nil)
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

// isAdminToken reports whether token is an admin bearer token (the native
// external routing routes accept admins besides partners).
func (s *Server) isAdminToken(token string) bool {
	p, err := s.auth.Verify(token)
	return err == nil && p.Kind == auth.Admin
}

// gmsAgentNotification names the onCimEvent that brings a mobile user's
// GMS agent-notification to the agent desk of the callback's conversation.
const gmsAgentNotification = "GMS_AGENT_NOTIFICATION"

// verifyAgentToken accepts agent tokens for their own agent; admin tokens
// are not agent identities on the desk protocol.
func (s *Server) verifyAgentToken(token string) (string, error) {
	p, err := s.auth.Verify(token)
	if err != nil {
		return "", err
	}
	if p.AgentID == "" {
		return "", auth.ErrUnauthorized
	}
	return p.AgentID, nil
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

// URL is the base URL, http://host:port.
func (s *Server) URL() string { return "http://" + s.Addr() }

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
	if s.desk != nil {
		s.desk.Close()
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
	}
	if s.gms != nil {
		s.gms.Close()
	}
	if s.customHTTP != nil { // after gms: no push starts any more
		s.customHTTP.Close()
	}
	if s.node != nil {
		s.node.Close()
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
	return nil
}
