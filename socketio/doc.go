// Package socketio is omniroute's Socket.IO v5 server over Engine.IO v4:
// the agent desk's transport (socket.io-client 4.x), beside bayeux/ for
// CometD. It passes the official protocol test suite
// (socketio/socket.io-protocol test-suite/, 32 of 32; TestConformance runs
// it).
//
// # Protocol
//
//   - Engine.IO v4 on one path (default "/socket.io/"): long-polling (GET
//     held until packets are queued, POST of a payload, packets joined by
//     0x1e, binary as "b"+base64) and websocket (one packet per frame,
//     binary attachments as binary frames), and the upgrade from polling to
//     websocket ("2probe"/"3probe", the held poll released with a noop,
//     then "5"). Errors answer {"code":N,"message":...} with the reference
//     server's codes: 0 unknown transport, 1 unknown session, 2 bad
//     handshake method, 3 bad request, 4 forbidden, 5 unsupported version.
//   - Heartbeat: the server pings every PingInterval and closes a session
//     whose pong is PingTimeout late ("ping timeout"). All sessions' timers
//     live in one heap on one goroutine per Server (heartbeat.go); an idle
//     polling session holds no goroutine, an idle websocket session one (its
//     reader).
//   - Socket.IO v5 packets: CONNECT with the auth payload (middlewares
//     decide; CONNECT_ERROR {"message","data"}), DISCONNECT both ways,
//     EVENT and ACK both ways (Socket.Emit with a func([]json.RawMessage)
//     last argument asks the client for an ack; Event.Ack answers one),
//     BINARY_EVENT/BINARY_ACK with attachments, namespaces made with
//     Server.Of (another gets "Invalid namespace"), rooms per namespace.
//     A malformed packet closes the session ("parse error").
//
// # Costs and limits
//
// A packet is encoded once; Namespace.To queues the same bytes for every
// member. Outgoing packets wait in the session's queue; a websocket writer
// goroutine exists only while the queue is not empty, and writes with
// buffers from a pool shared by all sessions. Events are handled one at a
// time, in order, by a handler goroutine that exists only while messages
// wait (at most 32 are read ahead), so the idle reader keeps a small stack;
// pongs are taken by the reader itself. Limits (Options):
// MaxHTTPBufferSize (one message or polling body), MaxConnections,
// MaxPendingPerAddress (sessions of one address that joined no namespace:
// a handshake flood costs a small struct each, no goroutine, and is cut
// off after ConnectTimeout), MaxBufferedBytes (queued for one session),
// WriteTimeout, UpgradeTimeout, CORS AllowedOrigins.
package socketio
