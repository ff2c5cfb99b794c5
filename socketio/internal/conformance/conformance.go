// Package conformance is the server the official Socket.IO protocol test
// suite (socketio/socket.io-protocol, test-suite/) expects, on package
// socketio: path /socket.io/, pingInterval 300 ms, pingTimeout 200 ms,
// maxPayload 1,000,000, connectTimeout 1,000 ms, CORS "*"; on a connection
// to "/" or "/custom" it emits "auth" with the handshake's auth payload; on
// "/", "message" is echoed as "message-back" and "message-with-ack" is
// acknowledged with its own arguments (attachments included).
package conformance

import (
	"encoding/json"
	"time"

	"github.com/omniroute/omniroute/socketio"
)

// New returns the reference server of the suite's README.
func New() *socketio.Server {
	s := socketio.NewServer(socketio.Options{
		PingInterval:      300 * time.Millisecond,
		PingTimeout:       200 * time.Millisecond,
		MaxHTTPBufferSize: 1_000_000,
		ConnectTimeout:    1000 * time.Millisecond,
		AllowedOrigins:    []string{"*"},
		GreetingDelay:     5 * time.Millisecond,
	})
	greet := func(sk *socketio.Socket) {
		_ = sk.Emit("auth", sk.Handshake().Auth)
	}
	s.Of("/").OnConnection(func(sk *socketio.Socket) {
		greet(sk)
		sk.OnEvent(func(ev *socketio.Event) {
			args := echo(ev)
			switch ev.Name {
			case "message":
				_ = sk.EmitAttached("message-back", ev.Attachments, args...)
			case "message-with-ack":
				if ev.HasAck() {
					_ = ev.AckAttached(ev.Attachments, args...)
				}
			}
		})
	})
	s.Of("/custom").OnConnection(greet)
	return s
}

// echo returns an event's arguments as they came (placeholders included).
func echo(ev *socketio.Event) []any {
	out := make([]any, len(ev.Args))
	for i, a := range ev.Args {
		out[i] = json.RawMessage(a)
	}
	return out
}
