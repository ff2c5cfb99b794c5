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
package presencesync
