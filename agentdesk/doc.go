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
// A desk connects with socket.io-client 4.4.0 exactly as seed 004 shows,
// with the keycloak_User of the login's answer (POST
// /agent-manager/agent/login, restapi), which carries the token:
//
//	io(origin, {path: "/socket.io", auth: {agent: data.keycloak_User, fcm: ""}})
//	io(origin, {path: "/socket.io", auth: {agent: "alice", fcm: "", token: data.token}})
//
// The bearer token is taken from the first of auth.token, auth.agent.token,
// auth.agent.access_token and the "Authorization: Bearer" header (never the
// query string, which proxies log). The TokenVerifier turns it into an agent id; auth.agent
// (a string id, or an object whose "id", "username" or "agentId" is the
// agent id) must name that agent, and the agent must exist in the engine. A refused
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
//   - refreshToken {"token"}: a new token of the socket's agent, before the
//     old one expires (expiry.go).
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
//   - revokeTask: an offer withdrawn (RONA, cancelled, logout, DECLINED
//     through POST /v1/tasks/{id}/decline,
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
//   - topicClosed: the conversation was closed (by an administrator, a
//     TTL, the customer gone, its last agent leaving) to every participant
//     still in it; the shape of topicUnsubscription with task "topicClosed"
//     and the close reason (closed.go). Their tasks were closed or put in
//     WRAP_UP by the same command. A TTL bounds a request only, so it never
//     closes a conversation with an ACTIVE agent; a customer who left while
//     an agent is ACTIVE reaches the desks as the CUSTOMER_LEFT onCimEvent
//     and the conversation closes when its last agent leaves. A supervisor
//     cannot close one (seed 004 has no such event; the REST close is the
//     admin's): its leave closes nothing.
//   - errors: a refused or malformed request.
//   - connect_error: a refused handshake.
//   - tokenExpiring {"expiresAt","expiresInSeconds"}: the socket's token
//     expires soon (Options.TokenExpiryWarning before); tokenExpired
//     {"code":"TOKEN_EXPIRED"}: it did, and the socket is disconnected
//     (expiry.go).
//
// Offers also go out as FCM messages to an agent with no socket but an FCM
// token (fcm.go). The customer side is package conversation's, served
// over HTTP by restapi and webui, from the same transcript without the
// agents-only entries (whispers and supervisor events).
//
// # Limits
//
// Every limit, and what a desk gets over it (config: agentDesk section):
//
//   - One Socket.IO message (a WebSocket frame, a long-polling body):
//     Options.MaxPayloadBytes, config agentDesk.maxMessageBytes, default
//     1 MiB (socket.io's maxHttpBufferSize). Over it the connection is
//     closed (WebSocket close 1009; long-polling HTTP 413), as socket.io's
//     own server does; the client reconnects. Everything below is far under
//     it, so a desk always gets an answer for an oversized field.
//   - A field over its limit: an errors event {code, message, event, field,
//     limit} to the sending socket and, when the desk asked for an
//     acknowledgement, the Ack {ok: false, code, message, field, limit};
//     field is the JSON path ("cimEvent.data.body.markdownText"), limit the
//     number (bytes, or items for lists). Codes: FIELD_TOO_LONG for strings,
//     INVALID_FIELD for lists, PAYLOAD_TOO_LARGE for a whole CIM event.
//   - Ids (agentId, conversationId, taskId, queueId, mrdId, reasonCode.id,
//     message ids): 128 bytes of UTF-8 (routing.MaxIDLength).
//   - Enum-like strings (action, state names, roles, CIM names and types):
//     64 bytes.
//   - Message text (markdownText, caption, mediaUrl, titles, attachment
//     fields mimeType, mediaName, mediaLabel, thumbnail): 8 KiB each.
//   - Buttons of a BUTTON message: 32.
//   - One CIM event as stored (its JSON, attachments included; attachments
//     travel as URLs, never as bytes): conversation.Options.MaxEventBytes, default
//     16 KiB (PAYLOAD_TOO_LARGE, field "cimEvent").
//   - A transcript: 10,000 events (TRANSCRIPT_FULL).
//   - Bearer token: MaxTokenBytes (connect_error UNAUTHORIZED).
//   - Sockets per agent: Options.MaxSocketsPerAgent, default 8
//     (TOO_MANY_SOCKETS); connections: Options.MaxConnections, default
//     20,000; events: Options.MaxEventsPerSecond per socket, default 50,
//     burst 100 (RATE_LIMITED).
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
//   - An agent invited to a conference (taskRequest.taskDirection
//     DIRECT_CONFERENCE) accepts it like any offer: the desk sends
//     topicSubscription with topicParticipant.role PRIMARY (or no role),
//     the role a desk asks for when it takes a task. The conversation then
//     lists the invitee as a CONFERENCE participant (onTopicData's
//     topicParticipant.role CONFERENCE) beside the PRIMARY agent who
//     invited it.
//   - agentParticipant in directTransferRequest / directConferenceRequest
//     may be the agent ({"id": agent}, a CCUser) or the requester's
//     topicParticipant from onTopicData ({"id": task, "participant":
//     CCUser}); a bare {"id"} other than the agent's id is a task id.
//   - READY takes reasonCode null (seed 004); a reasonCode object with READY
//     is refused with INVALID_FIELD, field state.reasonCode.
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
// (handshake middleware), transport.go (the binding to package socketio:
// identity, events to handlers, emits to an agent's room), conn.go (the
// handler wrapper, rate limit, greeting), decode.go
// (one decoder per incoming event), presence.go (changeAgentState and the
// agentPresence builder), tasks.go (topicSubscription, topicUnsubscription_,
// taskRequest, onTopicData), dispatch.go (node events to desk events),
// wire.go (outgoing payloads), transfer.go, supervisor.go, wrapup.go,
// cim.go (publishCimEvent and onCimEvent over package conversation), closed.go
// (topicClosed), lifecycle.go
// (disconnect grace) and fcm.go (push). A new desk event adds a decoder, a handler
// (one line in the handlers table of conn.go) and its payload types.
package agentdesk
