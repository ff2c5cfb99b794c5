// Command partnerrouter is a reference external router for omniroute's
// Salesforce-style external routing (package extrouting; seed 000
// "Expected Behavior for External Routing for Omni-Channel"). It is
// documentation first: small, one file per concern, standard library only.
//
//	partnerrouter --server http://127.0.0.1:8080 --token <partner token> \
//	              --admin-token <admin token> [--api-version 60.0] [--topic PendingServiceRoutingTopic]
//
// What it does:
//
//  1. Subscribes to /topic/<topic> on /cometd/<api-version> with a minimal
//     Bayeux long-polling client (bayeux.go): handshake with
//     "Authorization: Bearer <partner token>", subscribe with ext.replay -1
//     (new events only), then a connect loop. It also reads the open PSRs
//     once (GET /v1/pending-service-routing), so nothing queued before it
//     started is forgotten.
//  2. Keeps the PendingServiceRouting (PSR) records it was told about
//     ("created"/"updated" store, "deleted" forgets).
//  3. For each PSR with IsPushed=false picks the longest-idle eligible agent
//     among GET /v1/agents + GET /v1/agents/{id}/state (admin token): agent
//     READY; its MRD state on the PSR's ServiceChannelId READY or ACTIVE with
//     load < capacity; not excluded. Exclusions are the PSR's
//     ExcludedUserIds (GET /v1/pending-service-routing/{id}, the agents
//     behind LastDeclinedAgentSession) plus the agents this router pushed the
//     PSR to before (a later IsPushed=false means they declined or timed out).
//     Longest idle: least load, then the oldest MRD lastReadyStateChangeTime.
//  4. POSTs /v1/agent-work {pendingServiceRoutingId, userId, workItemId,
//     serviceChannelId} with the partner token; on 409 (someone else took
//     the agent meanwhile) it tries the next candidate.
//  5. Re-routes on every IsPushed=false update (decline, push time-out) and
//     sweeps the unpushed PSRs every --sweep interval, for PSRs that found no
//     agent before (agents become free later).
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"time"
)

// Config is what run needs.
type Config struct {
	// Server is the base URL, e.g. http://127.0.0.1:8080.
	Server string
	// Token is the partner token (config partners[].token).
	Token string
	// AdminToken reads agents (GET /v1/agents needs an admin token).
	AdminToken string
	// APIVersion picks /cometd/<APIVersion> (default 60.0).
	APIVersion string
	// Topic is the PushTopic name (default PendingServiceRoutingTopic).
	Topic string
	// Sweep is the interval of the retry sweep (default 1 s).
	Sweep time.Duration
	// Client defaults to an http.Client with a cookie jar (Bayeux's
	// BAYEUX_BROWSER cookie) and a 70 s timeout (> the long-poll hold).
	Client *http.Client
	// Logf logs (default log.Printf; nil-safe).
	Logf func(format string, args ...any)
	// Ready, when set, is called once, after the first subscription is
	// live and the open PSRs are loaded (tests wait for it).
	Ready func()
}

func main() {
	var c Config
	flag.StringVar(&c.Server, "server", "http://127.0.0.1:8080", "omniroute base URL")
	flag.StringVar(&c.Token, "token", "", "partner bearer token")
	flag.StringVar(&c.AdminToken, "admin-token", "", "admin bearer token (to list agents)")
	flag.StringVar(&c.APIVersion, "api-version", "60.0", "Salesforce API version of the CometD path")
	flag.StringVar(&c.Topic, "topic", "PendingServiceRoutingTopic", "PushTopic name")
	flag.DurationVar(&c.Sweep, "sweep", time.Second, "retry interval for PSRs no agent could take")
	flag.Parse()
	if c.Token == "" || c.AdminToken == "" {
		log.Fatal("partnerrouter: --token and --admin-token are required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, c); err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
}
