// Package agentdesk is omniroute's Agent Manager API for agent desks: the
// Socket.IO v4 protocol of ExpertFlow CX's Agent Manager, described in the
// Agent Desk Developer Guide (seed 004) with the payload shapes recovered in
// PROTOCOLS.md ("ExpertFlow CX Agent Manager").
//
// It is an adapter (DESIGN.md, principle 5): it turns desk events into
// routing commands submitted to the node, and node events into desk events.
// It reads state only through node.View.
//
// # Connecting
//
// A desk connects with socket.io-client 4.4.0:
//
//	io(origin, {path: "/socket.io", auth: {agent: <id or keycloak user>, fcm: "", token: "..."}})
//
// The bearer token is taken from the first of auth.token, auth.agent.token,
// auth.agent.access_token, the "Authorization: Bearer" header and the query
// parameter "token". The TokenVerifier turns it into an agent id; auth.agent
// (a string id, or an object whose "id" or "username" is the agent id) must
// name that agent, and the agent must exist in the engine. A refused
// connection gets connect_error with message and data.code set to one of
// CodeUnauthorized, CodeAgentMismatch, CodeUnknownAgent or CodeTooManySockets.
// When auth.agent is absent the token's agent is used.
//
// Every socket of an agent joins the agent's room, so several tabs of one
// agent all receive its events.
//
// # Events (this package implements the Issue-2 subset)
//
// Server to desk: agentPresence (on connect and after every state change of
// the agent, whatever caused it), taskRequest (an offer; re-sent on connect
// for every offer still RESERVED), revokeTask (offer withdrawn: RONA,
// cancelled, logout), onTopicData (after topicSubscription),
// topicUnsubscription (after topicUnsubscription_), errors (a refused or
// malformed request).
//
// Desk to server: changeAgentState (actions agentState and agentMRDState),
// topicSubscription (accept an offer), topicUnsubscription_ (leave the
// conversation). Any other event is answered with errors code
// CodeUnsupportedEvent. Every desk event may carry a Socket.IO
// acknowledgement callback; it is answered with an Ack.
//
// # Choices where seed 004 and PROTOCOLS.md are silent
//
//   - Connecting or disconnecting never changes the agent's state: the desk
//     logs in with changeAgentState READY / NOT_READY and out with LOGOUT;
//     the socket stays open after LOGOUT.
//   - Times are RFC 3339 strings (UTC, nanoseconds); agentRequestTtl is a
//     number of seconds and may be fractional.
//   - keycloakUser.id and .username are the agent id, firstName its name;
//     skills are the associatedRoutingAttributes.
//   - channelSession.id is the conversation id; correlationId is the routing
//     request id; revokeTask also carries taskId and reason.
//   - agentPresence carries the state when it is sent (see AgentPresence).
//   - topicSubscription on a task already ACTIVE resends onTopicData (a
//     reloaded desk); topicUnsubscription_ leaves only an ACTIVE task.
//   - onTopicData and topicUnsubscription go to every socket of the agent;
//     errors and AGENT_STATE_UNCHANGED only to the requesting socket.
//
// # Transfer, conference, supervisors, wrap-up (Issue 3)
//
// Desk to server: directTransferRequest and directConferenceRequest (mode
// queue or agent; transfer.go), JoinAsSilentMonitor, JoinAsBargin and
// JoinAsBargeIn (supervisor.go), closeWrapup (wrapup.go); topicUnsubscription_
// from a supervisor leaves the conversation. Server to desk: taskRequest
// with taskDirection DIRECT_TRANSFER / DIRECT_CONFERENCE, note and
// requestedBy; topicUnsubscription reason TRANSFERRED to a transfer's
// requester; onCimEvent NO_AGENT_AVAILABLE to a requester whose request
// expired; wrapupTimerStarted when a task enters WRAP_UP. Each file's
// comment gives the shapes and refusals.
//
// # Code layout
//
// One file per concern: server.go (construction, limits, shutdown), auth.go
// (handshake middleware), gate.go (a work-around for a connect race in the
// library), conn.go (socket lifecycle and the handler wrapper), decode.go
// (one decoder per incoming event), presence.go (changeAgentState and the
// agentPresence builder), tasks.go (topicSubscription, topicUnsubscription_,
// taskRequest, onTopicData), dispatch.go (node events to desk events) and
// wire.go (outgoing payloads). A new desk event adds a decoder, a handler
// (one line in the handlers table of conn.go) and its payload types.
package agentdesk
