// Package reporules holds the repository's own rules as tests, so that a
// change that breaks one fails `go test ./...` instead of waiting for a
// reviewer (after Tailscale's pkgdoc_test, gomod_test and deptest):
//
//   - every package has a doc comment;
//   - go.mod is tidy (`go mod tidy -diff` is empty: no direct dependency
//     marked `// indirect`, nothing missing, nothing unused);
//   - an adapter (agentdesk, gms, extrouting, presencesync, restapi, webui)
//     imports no other adapter: what two adapters share lives below them
//     (routing, node, conversation, a transport);
//   - config imports no adapter: an adapter owns its section's type and
//     validation and registers them (config.RegisterSection);
//   - only the storage packages (StoragePackages) import NATS;
//   - an adapter's package, and a transport's (Transports), waits on its
//     injected clock.Clock, never on package time's timers (TimerFuncs),
//     so its tests need no sleep.
//   - docs/ARCHITECTURE.md's package table names every package, and
//     nothing that is no package (TablePackages, UnlistedPackages).
//   - what .ci/run keeps out of its -race run (the norace array, each
//     name with its reason) is packages (RaceExclusions,
//     StaleRaceExclusions): every other package runs under -race.
//
// The engine's own rule (routing imports no adapter, clock, randomness or
// I/O) is routing's TestDependencies. staticcheck runs from .ci/run with
// the checked-in staticcheck.conf.
//
// Each rule is a pure function over what `go list` reports, with a test
// that feeds it a broken tree, so a rule that can no longer fail is seen.
package reporules

// Module is this module's path.
const Module = "github.com/omniroute/omniroute"

// Adapters are the protocol adapters, by path below Module: each turns one
// protocol into routing commands and events into that protocol
// (DESIGN.md "Layout"). A package under one of them belongs to it.
var Adapters = []string{"agentdesk", "gms", "extrouting", "presencesync", "restapi", "webui"}

// Transports are the wire protocols the adapters serve, by path below
// Module; their timers (held connects, heartbeats, session expiry) are on
// the clock.Clock of their Options too.
var Transports = []string{"bayeux", "socketio"}

// StoragePackages may import NATS (github.com/nats-io/...), by path below
// Module; a package below one of them may too. The journal, the transcript
// store, the audit log and the cluster lease keep durable state in
// JetStream; natsstore opens every JetStream context and KV bucket and
// holds the byte Bucket the adapters' stores are built on; server opens
// the one connection every store shares; cli's nats-server subcommand
// runs the storage server itself (cluster mode); internal/natscluster
// starts real nats-server processes for tests.
var StoragePackages = []string{
	"natsstore", "journal/natsjournal", "transcript", "audit", "cluster", "server", "cli", "internal/natscluster",
}
