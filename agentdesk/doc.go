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
// # Events
//
// Desk to server (each may carry a Socket.IO acknowledgement callback,
// answered with an Ack; a refusal is also an errors event to the sending
// socket):
//
//   - changeAgentState: actions agentState (READY, NOT_READY, LOGOUT) and
//     agentMRDState (presence.go).
//   - topicSubscription: accept an offer (tasks.go).
//   - topicUnsubscription_: leave a conversation (an agent's ACTIVE task,
//     or a supervisor without a task; tasks.go, supervisor.go).
//   - publishCimEvent: a CIM message or event into the conversation
//     (cim.go).
//   - directTransferRequest, directConferenceRequest: modes queue and agent
//     (transfer.go).
//   - JoinAsSilentMonitor, JoinAsBargin / JoinAsBargeIn (both spellings),
//     joinAsWhisper / JoinAsWhisper (both spellings): supervisors
//     (supervisor.go).
//   - closeWrapup: end a wrap-up early (wrapup.go).
//
// Any other event is answered with errors code CodeUnsupportedEvent.
//
// Server to desk:
//
//   - agentPresence: on connect and after every state change of the agent,
//     whatever caused it.
//   - taskRequest: an offer (taskDirection DIRECT_TRANSFER /
//     DIRECT_CONFERENCE with note and requestedBy for transfers); re-sent on
//     connect for every offer still RESERVED.
//   - revokeTask: an offer withdrawn (RONA, cancelled, logout,
//     AGENT_DISCONNECTED).
//   - onTopicData: after topicSubscription, and to a supervisor after it
//     joined (topicParticipant.role SILENT_MONITOR, WHISPER or BARGE_IN);
//     topicData.topicEvents is the whole transcript.
//   - topicUnsubscription: after topicUnsubscription_; reason TRANSFERRED to
//     a transfer's requester when another agent accepted; to a supervisor
//     whenever it leaves a conversation (reason AGENT_LOGOUT after its
//     LOGOUT, DONE otherwise).
//   - onCimEvent: every CIM message and system event of a conversation, to
//     every participant (agents with an ACTIVE task and supervisors);
//     NO_AGENT_AVAILABLE to a requester whose transfer expired.
//   - wrapupTimerStarted: a task entered WRAP_UP.
//   - errors: a refused or malformed request.
//   - connect_error: a refused handshake.
//
// Offers also go out as FCM messages to an agent with no socket but an FCM
// token (fcm.go). The customer side (CustomerMessage, CustomerLeft,
// CustomerEvents) is served over HTTP by restapi, from the same transcript
// without the agents-only entries (whispers and supervisor events).
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
// Rules chosen for transfer, conference, supervisors, wrap-up and the
// connection's life are in docs/ARCHITECTURE.md ("Agent desk") and in each
// file's comment.
//
// # Code layout
//
// One file per concern: server.go (construction, limits, shutdown), auth.go
// (handshake middleware), gate.go (a work-around for a connect race in the
// library), conn.go (socket lifecycle and the handler wrapper), decode.go
// (one decoder per incoming event), presence.go (changeAgentState and the
// agentPresence builder), tasks.go (topicSubscription, topicUnsubscription_,
// taskRequest, onTopicData), dispatch.go (node events to desk events),
// wire.go (outgoing payloads), transfer.go, supervisor.go, wrapup.go,
// cim.go (CIM messages, transcripts, the customer side), lifecycle.go
// (disconnect grace) and fcm.go (push). A new desk event adds a decoder, a handler
// (one line in the handlers table of conn.go) and its payload types.
package agentdesk
