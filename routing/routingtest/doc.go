// Package routingtest holds the golden scenarios of the routing engine and the
// invariant checker that the engine's tests, the node's tests and the
// simulations share.
//
// # Golden scenarios
//
// A scenario is a txtar archive (golang.org/x/tools/txtar), stored as
// testdata/NAME.txtar. Its comment (the text before the first file) says in
// prose what the scenario proves. It has two files:
//
//	-- commands --
//	0s UpsertMRD {"mrd":{"id":"voice","maxRequests":1}}
//	0s UpsertQueue {"queue":{"id":"q1","mrd":"voice","ronaTimeout":"30s"}}
//	# a comment
//	1m5s Tick {}
//	-- events --
//	> UpsertMRD
//	DefinitionChanged {"kind":"mrd","id":"voice"}
//	> UpsertQueue
//	DefinitionChanged {"kind":"queue","id":"q1"}
//	> Tick
//
// The commands section has one command per line: "<offset> <CommandName>
// <json>". The offset is a Go duration (time.ParseDuration: 0s, 31s, 1m5s)
// from Epoch and may not go backwards. The JSON is the command body exactly
// as routing.DecodeCommand takes it, with one convenience applied first:
// any object member named ronaTimeout, ttl, serviceLevelThreshold, wrapUp,
// pushTimeout, hold, after (an escalation step) or priorityAging whose value is a JSON string is parsed as a Go
// duration and replaced by its nanoseconds (the engine's JSON for time.Duration), so "30s" and
// 30000000000 mean the same. Blank lines and lines starting with # are
// ignored.
//
// The events section lists, for every command in order, the line
// "> <CommandName>" followed by one line per event the command returned:
// "<EventName> <json>", where json is the event's encoding/json form with
// its "at" member left out when it equals the command's time (it is kept
// when it differs, which would itself be a defect). A refused command is
// followed by the single line "error <CODE>" with the *routing.Error code.
//
// RunScenario applies the commands to routing.New() and, after every
// command, checks the invariants (Checker), that a refused command returned
// no events and left State.Digest unchanged, and that a snapshot round trip
// (UnmarshalSnapshot(MarshalSnapshot())) keeps the digest. The golden test
// (go test ./routing/routingtest) compares the produced events section with
// the file; go test ./routing/routingtest -update rewrites the events
// sections. A rewritten file must be reviewed by hand against DESIGN.md,
// seed 004 and the engine's doc comments before it is committed: a golden
// file that records a wrong behaviour is a defect.
//
// # Invariants
//
// Checker (see its doc) rebuilds agents, MRD states, tasks, requests and
// conversations from the event stream alone and, after every command,
// compares that model with the state's read views (every change must be
// announced by an event) and checks the routing rules: at most one offer per
// request, load within capacity, offers only to READY agents on READY or
// ACTIVE MRDs, MRD states consistent with the agent state, no open
// conversation without a request or an active participant, a maximal
// matching (no waiting request while an eligible, available, non-excluded
// agent exists), higher-priority/older requests served before the one
// offered, and the queue strategy's choice of agent.
//
// The package does no I/O: tests read and write the testdata files.
package routingtest
