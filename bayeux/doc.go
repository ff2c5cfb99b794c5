// Package bayeux is omniroute's CometD/Bayeux 1.0 server: the push
// transport behind Genesys GMS's "_comet_url" (seed 003: channel
// "/_genesys", gms_user header on HTTP and CometD) and Salesforce-style
// streaming (PushTopic channels with the replay extension, seed 000).
//
// It is a protocol transport (DESIGN.md principle 5): it knows sessions,
// channels and queues, not routing. Adapters plug in through Options: an
// Authorizer decides handshakes (seeing the HTTP request's headers and the
// handshake ext), subscriptions and client publishes; a Replayer supplies a
// channel's backlog when a client subscribes with a replay id; Server.Publish
// sends to every subscriber from any goroutine, or, WithFilter, only to the
// subscribers a function selects (e.g. by Client.Identity: the GMS sessions
// of one gms_user on the shared "/_genesys"); OnSubscribe sees every
// subscription once it is registered.
//
// # Protocol
//
// The wire follows the Bayeux 1.0 specification (docs.cometd.org, "The
// Bayeux Protocol Specification") as the CometD JavaScript client (npm
// "cometd") and Faye speak it:
//
//   - Transports: "long-polling" (HTTP POST of a JSON message array, reply
//     a JSON array) and "websocket" (the same arrays, one per text frame) on
//     the same path. callback-polling (JSONP) is not served.
//   - /meta/handshake replies with clientId, version "1.0",
//     supportedConnectionTypes ["websocket","long-polling"] and advice
//     {reconnect:"retry", interval, timeout, maxInterval} in milliseconds.
//   - /meta/connect is held until messages are queued for the session or
//     advice.timeout passes (the client's own smaller advice.timeout wins).
//     One connect is held per session: a newer one releases the older,
//     which is answered at once and empty. A connect held when the
//     client's /meta/disconnect ends the session is answered successful
//     with advice reconnect "none", as CometD's server does (a failed one,
//     arriving before the disconnect reply, makes the CometD client abort
//     its disconnect). Messages for a session are
//     delivered only in /meta/connect replies, before the connect reply in
//     the same array: that gives total order, as the CometD ack extension
//     requires, and a single code path for both transports.
//   - /meta/subscribe and /meta/unsubscribe take one channel or an array;
//     "/foo/*" matches one more segment, "/foo/**" any number (section
//     2.2.1). Meta channels and the root wildcards cannot be subscribed.
//   - A publish from a client is delivered only when the Authorizer allows
//     it; on /service/ channels it reaches the Authorizer only.
//   - An unknown or expired clientId gets "402::Unknown client" with advice
//     reconnect "handshake"; other refusals are "403::..." (hooks, limits)
//     or "400::..." (bad input) with successful false. Malformed requests
//     (not JSON, not an array of objects) get HTTP 400 with a one-element
//     array holding the 400 reply.
//   - A session with no connect in progress for MaxInterval is removed, and
//     so is one whose identity is Expiring once its credentials expired.
//
// # Acknowledgement extension
//
// A handshake with ext {"ack": true} (CometD's AckExtension) turns on
// acknowledged delivery for that session; the reply carries ext {"ack":
// true}. Every connect reply then carries ext {"ack": n}, a new batch
// number, and the messages sent in it stay queued until a later connect
// carries ext {"ack": m} with m >= n. Messages of batches above m were sent
// but not received (the reply was lost with its connection) and are sent
// again, in order, before newer ones. Delivery is at least once.
//
// # Replay extension (Salesforce)
//
// When a Replayer is configured, a handshake with any ext.replay gets ext
// {"replay": true} in its reply (the Salesforce cometdReplayExtension
// enables itself on that). A subscribe's ext.replay {channel: id} (or the
// handshake's, as jsforce sends it) makes the server call the Replayer with
// id -1 (new only), -2 (all retained) or n (after n) and deliver its backlog
// before live messages. See Replayer for ordering and de-duplication.
//
// # Limits
//
// Every resource is bounded by a field of Options: request bytes, messages
// per request, sessions, subscriptions per session, queued messages per
// session (overflow removes the session and logs it), connect timeout and
// max interval.
package bayeux
