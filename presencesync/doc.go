// Package presencesync keeps agents' omniroute presence and their presence
// in partner systems in line (seed 001 "Two-Way Agent Status Syncing",
// seed 002 "Omnichannel"; PROTOCOLS.md; docs/ARCHITECTURE.md "Presence
// sync").
//
// core.go holds the decision logic, pure and deterministic: per partner and
// agent it knows the partner's last status and omniroute's presence, and
// on a change from either side returns what the other side must do
// (Action), or nothing when it already agrees (no echo). Service (service.go)
// drives it from the node's events (node.Subscribe, read views through
// node.View, changes through node.Submit: SetAgentState, SetMRDState) and
// from the partners' transports (http.go): a websocket and REST for
// telephony partners, SSE and REST for the browser connector
// (connector/connector.js) of CRM partners. The mapping table is in a
// Store (KVStore: JetStream KV bucket KVBucket).
//
// Answers and order (core.go agentSync.pending): a partner answers
// omniroute's own request with the same message it uses for its own
// changes (seed 002 omnichannelResponse). The core remembers, per agent,
// the statuses it asked for and not yet confirmed: a report of one of them
// is the answer, never a new change (omniroute's work asks the CRM for the
// work status; that answer does not make the agent Not Ready). The answer
// to an older request while a newer one is pending is stale: ignored, and
// the newer one is asked again, so a late answer never undoes a newer
// change. In Synchronized mode Not Ready statuses follow the mapping among
// themselves: a status agrees with omniroute only with the state and
// reason it maps to (a status mapped without a reason, or a reason no
// status maps, agrees with its best match).
package presencesync
