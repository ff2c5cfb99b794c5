package agentdesk

import (
	"encoding/json"
	"time"

	"github.com/omniroute/omniroute/socketio"
)

// This file binds the desk protocol to the Socket.IO transport (package
// socketio): who a socket is, how its events reach the handlers of
// conn.go, and how the server emits to an agent's sockets. Handler logic
// stays in conn.go and the event files.

// sockAck answers a desk event's acknowledgement: args are the Ack's
// arguments (one Ack value), err is unused (nil).
type sockAck = func(args []any, err error)

// identity is what authenticate learned, kept as the socket's data.
type identity struct {
	agent string
	// fcm is auth.fcm, the desk's FCM registration token ("" none).
	fcm string
	// exp is when the token expires (zero: never; expiry.go).
	exp time.Time
}

func identityOf(sock *socketio.Socket) identity {
	id, _ := sock.Data().(identity)
	return id
}

// room is the Socket.IO room of an agent's sockets. The prefix keeps agent
// ids apart from other rooms.
func room(agent string) string { return "agent:" + agent }

// onConnection runs on the connection's incoming path once the middleware
// let the socket in, right after its CONNECT answer.
func (s *Server) onConnection(sock *socketio.Socket) {
	id := identityOf(sock)
	agent := id.agent
	if agent == "" || !s.register(agent, sock, id.fcm) {
		// Lost a race with another socket of the agent past the middleware.
		_ = sock.Emit(EventErrors, ErrorEvent{Code: CodeTooManySockets, Message: "too many connections for this agent", Event: "connect"})
		sock.Disconnect(true)
		return
	}
	c := &client{srv: s, sock: sock, agent: agent, tokens: s.burst(), last: time.Now(), expiry: expiry{idx: -1}}
	// Runs at once if the socket is gone already.
	sock.OnDisconnect(func(string) {
		c.closeExpiry()
		s.unregister(agent, sock)
	})
	c.armExpiry(id.exp)
	sock.OnEvent(func(ev *socketio.Event) {
		args, err := eventValues(ev.Args)
		var ack sockAck
		if ev.HasAck() {
			ack = func(res []any, _ error) { _ = ev.Ack(res...) }
		}
		h, ok := handlers[ev.Name]
		if !ok || err != nil {
			if !c.allow() {
				return
			}
			if err != nil {
				c.fail(ev.Name, ack, CodeInvalidPayload, "the event's arguments are not JSON", "")
				return
			}
			c.fail(ev.Name, ack, CodeUnsupportedEvent, "this server does not implement "+truncate(ev.Name, 64), "")
			return
		}
		if ack != nil {
			args = append(args, ack)
		}
		if sock.Connected() {
			c.wrap(ev.Name, h)(args...)
		}
	})
	sock.Join(room(agent))
	c.greet()
}

// eventValues decodes an event's arguments into the values the decoders
// take (objects as map[string]any, numbers as float64).
func eventValues(raw []json.RawMessage) ([]any, error) {
	out := make([]any, len(raw), len(raw)+1)
	for i, r := range raw {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// toAgent emits ev to every socket of agent, encoding it once. Safe from
// any goroutine.
func (s *Server) toAgent(agent, ev string, payload any) {
	if _, err := s.nsp.To(room(agent), ev, payload); err != nil {
		s.log.Warn("agentdesk: emit failed", "agent", agent, "event", ev, "err", err)
	}
}

// toAgents emits ev to every socket of each of agents, encoding it once
// for all of them (the participants of a conversation, for a CIM event).
func (s *Server) toAgents(agents []string, ev string, payload any) {
	switch len(agents) {
	case 0:
		return
	case 1:
		s.toAgent(agents[0], ev, payload)
		return
	}
	rooms := make([]string, len(agents))
	for i, a := range agents {
		rooms[i] = room(a)
	}
	if _, err := s.nsp.ToRooms(rooms, ev, payload); err != nil {
		s.log.Warn("agentdesk: emit failed", "agents", agents, "event", ev, "err", err)
	}
}
