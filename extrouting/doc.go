// Package extrouting is omniroute's Salesforce-style external routing
// adapter (seed 000 "Expected Behavior for External Routing for
// Omni-Channel"; PROTOCOLS.md "Salesforce external routing"): a partner
// router sees PendingServiceRouting (PSR) records for the requests waiting
// in queues of mode "external", and answers each with an AgentWork that
// names the agent; omniroute then offers the work to that agent
// (routing.AssignWork) and reports the outcome through the PSR stream.
//
// # Records
//
// Both record types use Salesforce's field names and are kept in memory,
// maintained from node events for external queues only:
//
//   - PendingServiceRouting: created on RequestQueued (IsPushed false,
//     IsTransfer from the event), updated on TaskReserved of an AgentWork
//     (IsPushed and IsPushAttempted true: not in seed 000's list, but what
//     Salesforce's IsPushed field means; partners re-route only on
//     IsPushed=false), updated on RequestUpdated after a decline or push
//     time-out (IsPushed false, LastDeclinedAgentSession), deleted on
//     RequestRemoved (accepted, cancelled, abandoned, expired, transferred).
//   - AgentWork: Assigned on TaskReserved, Opened on TaskActivated, Closed
//     on TaskWrapUp or TaskClosed DONE, Declined (TaskClosed DECLINED),
//     DeclinedOnPushTimeout (RONA), Canceled (CANCELLED, ABANDONED),
//     Transferred (TRANSFERRED), Unavailable (AGENT_LOGOUT, agent dropped).
//     An AgentWork's Id is also the engine's task id.
//
// Ids are Salesforce-like 18-character ids (15 case-sensitive characters
// and the 3-character case checksum): AgentWork "0Bz" + random, PSR "0JR" +
// a hash of the request id (stable over restarts), agent desk session
// "0Lx" + a hash of (agent, login time). The agent desk server has no
// session accessor, so LastDeclinedAgentSession is that derived per-login
// id: stable for one login, new at the next, never the login token.
//
// # Streaming (CometD)
//
// Handler serves a bayeux.Server at /cometd/{apiVersion} (e.g.
// /cometd/41.0 .. /cometd/60.0). Partners subscribe to "/topic/{name}",
// where name is Options.Topic (config externalRouting.topic, default
// PendingServiceRoutingTopic); any other topic, wildcards included, is
// refused with "403::Unknown channel /topic/X: the PushTopic of this server
// is /topic/T", so a misspelt topic fails at once; and they receive, as Salesforce sends them (Streaming API
// Developer Guide, "PushTopic Events"):
//
//	{"event":{"type":"created|updated|deleted","createdDate":"2024-05-01T10:00:00.000Z","replayId":7},
//	 "sobject":{"Id","Serial","QueueId","WorkItemId","IsPushed","ServiceChannelId",
//	            "LastDeclinedAgentSession","CreatedDate","IsTransfer"}}
//
// The sobject holds the fields of the PushTopic query of PROTOCOLS.md plus
// IsTransfer (seed 000's transfer scenario expects partners to see it); a
// "deleted" event's sobject carries only Id, as Salesforce sends it.
//
// Every event is first appended to a durable JetStream stream (Options.Stream,
// retention Options.Retention, default 72 h like Salesforce's) and its
// stream sequence is the replayId. The replay extension (ext.replay
// {channel: id}) is served from that stream: -1 new events only, -2 every
// retained event, n every event after n. An id below -2, above the last
// event, or older than the retention window is refused with "400::The
// replayId {n} you provided was invalid..." as Salesforce does. The stream
// survives restarts, so a client resuming from its last replayId neither
// loses nor repeats an event.
//
// # REST
//
//	POST /services/data/v{version}/sobjects/AgentWork
//	     {"ServiceChannelId","WorkItemId","UserId","PendingServiceRoutingId"}
//	  -> 201 {"id":"0Bz...","success":true,"errors":[]}
//	GET  /services/data/v{version}/sobjects/AgentWork/{id}             -> 200 record
//	GET  /services/data/v{version}/sobjects/PendingServiceRouting/{id} -> 200 record
//
// Errors use Salesforce's list shape [{"message","errorCode","fields":[]}]:
// 401 INVALID_SESSION_ID (no or unknown bearer token), 404 NOT_FOUND, 405
// METHOD_NOT_ALLOWED, 400 for every refused create (see sfCode for the
// routing code mapping; the message keeps the routing code), 503
// SERVER_UNAVAILABLE when the node is closed or its journal failed.
//
// # Native REST (/v1)
//
// NativeHandler serves the same operations in the native API's style
// (mounted by the server beside restapi; restapi's openapi.json does not
// list them):
//
//	POST /v1/agent-work  {"pendingServiceRoutingId","userId"[,"workItemId","serviceChannelId"]}
//	  -> 201 AgentWork record (Location /v1/agent-work/{id})
//	GET  /v1/agent-work/{id}                -> 200 AgentWork record
//	GET  /v1/pending-service-routing/{id}   -> 200 PSR record + "ExcludedUserIds"
//	GET  /v1/pending-service-routing        -> 200 {"items":[...]} open PSRs, oldest first
//
// Bearer partner token or admin token. Errors {"error":{"code","message"}}:
// 401 UNAUTHORIZED, 404 NOT_FOUND / REQUEST_NOT_FOUND / AGENT_NOT_FOUND, 405
// METHOD_NOT_ALLOWED, 400 INVALID_JSON / INVALID_ARGUMENT, 413
// BODY_TOO_LARGE, 409 NOT_ELIGIBLE / INVALID_TRANSITION / ALREADY_EXISTS,
// 422 LIMIT_EXCEEDED, 503 UNAVAILABLE. ExcludedUserIds are the agents that
// declined the PSR or let its push time out (the agents behind
// LastDeclinedAgentSession).
//
// # Webhooks
//
// For partners without CometD (config partners[].webhookUrl and
// webhookSecret), StartWebhooks POSTs every PSR event, body exactly the
// streaming message's data, with "X-Omniroute-Signature: sha256=<hex
// HMAC-SHA256(secret, body)>", "X-Omniroute-Replay-Id: <replayId>" and
// "X-Omniroute-Partner". 2xx acknowledges; other answers are retried with
// exponential backoff (500 ms doubling to 30 s) without skipping. Delivery
// is at least once and in order: the cursor is a durable JetStream consumer
// per partner on the event stream, so a restart resumes after the last
// acknowledged event (an event in flight at a crash comes again after
// DefaultWebhookAckWait). examples/partnerrouter is a reference router.
//
// # Authentication
//
// Every REST request and CometD handshake carries "Authorization: Bearer
// <token>" with a partner token from the config file (config.PartnerSpec);
// otherwise REST answers 401 and the handshake fails with "401::Authentication
// invalid" and advice reconnect "none". The CometD handshake also takes an
// admin token when Options.Admin accepts it (the server: a configured admin
// token or an OpenID token with an admin role); that session ends when the
// token expires (AdminIdentity, bayeux.Expiring).
package extrouting
