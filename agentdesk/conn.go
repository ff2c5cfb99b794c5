package agentdesk

import (
	"errors"
	"sync"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/omniroute/omniroute/routing"
)

// client is one connected socket of an agent.
type client struct {
	srv   *Server
	sock  *socket.Socket
	agent string

	mu     sync.Mutex // guards the rate limiter
	tokens float64
	last   time.Time
}

// handlerFunc handles one desk event; args exclude the acknowledgement.
// It emits its own answer events and returns the acknowledgement.
type handlerFunc func(c *client, args []any) Ack

// handlers maps each implemented desk event to its handler. A new event of
// the full protocol adds a line here.
var handlers = map[string]handlerFunc{
	EventChangeAgentState:           (*client).changeAgentState,
	EventTopicSubscription:          (*client).topicSubscription,
	EventTopicUnsubscriptionRequest: (*client).topicUnsubscription,
	// Transfer, conference, supervisors, wrap-up (transfer.go, supervisor.go, wrapup.go).
	EventDirectTransferRequest:   (*client).directTransferRequest,
	EventDirectConferenceRequest: (*client).directConferenceRequest,
	EventJoinAsSilentMonitor:     (*client).joinAsSilentMonitor,
	EventJoinAsBargin:            func(c *client, args []any) Ack { return c.joinAsBargeIn(EventJoinAsBargin, args) },
	EventJoinAsBargeIn:           func(c *client, args []any) Ack { return c.joinAsBargeIn(EventJoinAsBargeIn, args) },
	EventJoinAsWhisper:           func(c *client, args []any) Ack { return c.joinAsWhisper(EventJoinAsWhisper, args) },
	EventJoinAsWhisperCap:        func(c *client, args []any) Ack { return c.joinAsWhisper(EventJoinAsWhisperCap, args) },
	EventCloseWrapup:             (*client).closeWrapup,
	EventPublishCimEvent:         (*client).publishCimEvent,
}

// reservedIncoming are events the library itself emits on the socket;
// they are not desk events.
var reservedIncoming = map[string]bool{"disconnect": true, "disconnecting": true, "error": true}

// onConnection runs on the socket's task queue once the middleware let it
// through.
func (s *Server) onConnection(args ...any) {
	sock, ok := args[0].(*socket.Socket)
	if !ok {
		return
	}
	agent, _ := sock.Data().(string)
	if agent == "" || !s.register(agent, sock) {
		// Lost a race with another socket of the agent past the middleware.
		_ = sock.Emit(EventErrors, ErrorEvent{Code: CodeTooManySockets, Message: "too many connections for this agent", Event: "connect"})
		sock.Disconnect(true)
		return
	}
	// Forget the socket when it disconnects, and also when its Engine.IO
	// connection closes: the library (v3.0.5) misses the disconnect of a
	// socket whose connection closes while Client.doConnect runs, and would
	// keep it connected forever; Disconnect cleans it up. Both are
	// idempotent, and the checks after registering catch a close that came
	// first (the library marks the state closed before it emits).
	_ = sock.On("disconnect", func(...any) { s.unregister(agent, sock) })
	conn := sock.Conn()
	gone := func(...any) {
		s.unregister(agent, sock)
		if sock.Connected() {
			sock.Disconnect(false)
		}
	}
	_ = conn.Once("close", gone)
	if !sock.Connected() || conn.ReadyState() == "closed" {
		gone()
		return
	}
	c := &client{srv: s, sock: sock, agent: agent, tokens: s.burst(), last: time.Now()}
	// One listener for every event (not one per handler: each listener
	// costs the library's emitter some hundreds of bytes per socket). Any
	// listeners run on the reading goroutine; the handler is queued on the
	// socket's task queue, where per-event listeners would run: one at a
	// time, in arrival order.
	sock.OnAny(func(args ...any) {
		ev, _ := firstString(args)
		if reservedIncoming[ev] {
			return
		}
		h, ok := handlers[ev]
		if !ok {
			_, ack := splitAck(args)
			if !c.allow() {
				return
			}
			c.fail(ev, ack, CodeUnsupportedEvent, "this server does not implement "+truncate(ev, 64), "")
			return
		}
		run := c.wrap(ev, h)
		rest := args[1:]
		sock.Enqueue(func() {
			if sock.Connected() {
				run(rest...)
			}
		})
	})
	sock.Join(room(agent))
	c.greet()
}

func firstString(args []any) (string, bool) {
	if len(args) == 0 {
		return "", false
	}
	s, ok := args[0].(string)
	return s, ok
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// splitAck removes the trailing acknowledgement callback, if any.
func splitAck(args []any) ([]any, socket.Ack) {
	if n := len(args); n > 0 {
		if ack, ok := args[n-1].(socket.Ack); ok {
			return args[:n-1], ack
		}
	}
	return args, nil
}

// wrap turns a handlerFunc into a listener: rate limit, then the handler,
// then the acknowledgement. They run one at a time per socket, in arrival
// order, on the socket's task queue.
func (c *client) wrap(ev string, h handlerFunc) func(...any) {
	return func(args ...any) {
		args, ack := splitAck(args)
		if !c.allow() {
			c.fail(ev, ack, CodeRateLimited, "too many events; slow down", "")
			return
		}
		res := h(c, args)
		if ack != nil {
			ack([]any{res}, nil)
		}
	}
}

func (s *Server) burst() float64 {
	if s.opts.MaxEventsPerSecond <= 0 {
		return 0
	}
	return 2 * s.opts.MaxEventsPerSecond
}

// allow is a token bucket: MaxEventsPerSecond, burst twice that.
func (c *client) allow() bool {
	rate := c.srv.opts.MaxEventsPerSecond
	if rate <= 0 {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	c.tokens = min(c.srv.burst(), c.tokens+now.Sub(c.last).Seconds()*rate)
	c.last = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// emit sends ev to this socket only.
func (c *client) emit(ev string, payload any) {
	if err := c.sock.Emit(ev, payload); err != nil {
		c.srv.log.Warn("agentdesk: emit failed", "agent", c.agent, "event", ev, "err", err)
	}
}

// fail sends an errors event to this socket, answers ack (if any) and
// returns the Ack for handlers.
func (c *client) fail(ev string, ack socket.Ack, code, message, field string) Ack {
	c.emit(EventErrors, ErrorEvent{Code: code, Message: message, Event: ev, Field: field})
	res := Ack{Code: code, Message: message}
	if ack != nil {
		ack([]any{res}, nil)
	}
	return res
}

// failErr reports err (a *DecodeError, *routing.Error or other) as an
// errors event.
func (c *client) failErr(ev string, err error) Ack {
	var de *DecodeError
	var re *routing.Error
	switch {
	case errors.As(err, &de):
		return c.fail(ev, nil, de.Code, de.Message, de.Field)
	case errors.As(err, &re):
		return c.fail(ev, nil, re.Code, re.Message, "")
	}
	c.srv.log.Warn("agentdesk: engine call failed", "agent", c.agent, "event", ev, "err", err)
	return c.fail(ev, nil, CodeUnavailable, "the routing engine did not answer", "")
}

// checkAgent refuses a payload agentId naming another agent.
func (c *client) checkAgent(ev, agentID string) (Ack, bool) {
	if agentID != "" && agentID != c.agent {
		return c.fail(ev, nil, CodeForbidden, "agentId is not the agent of this connection", "agentId"), false
	}
	return Ack{}, true
}

// greet sends the connect-time events: agentPresence, then taskRequest for
// every task still RESERVED for the agent (an offer made while the desk was
// away, or before a reload). The socket is already in the agent's room, so
// an offer made meanwhile may arrive twice; desks key offers by taskId.
func (c *client) greet() {
	ctx, cancel := c.srv.commandCtx()
	defer cancel()
	var (
		pres     AgentPresence
		ok       bool
		requests []TaskRequest
	)
	err := c.srv.n.View(ctx, func(st *routing.State) {
		pres, ok = presenceOf(st, c.agent)
		tasks, _ := st.Tasks(c.agent)
		for _, t := range tasks {
			if t.State == routing.TaskReservedState {
				requests = append(requests, taskRequestOf(st, t.ID, t.Conversation, t.Request, t.Agent, t.Queue, t.MRD, t.Deadline.Sub(t.ReservedAt)))
			}
		}
	})
	if err != nil || !ok {
		c.srv.log.Warn("agentdesk: cannot greet", "agent", c.agent, "err", err)
		c.emit(EventErrors, ErrorEvent{Code: CodeUnavailable, Message: "the routing engine did not answer", Event: "connect"})
		return
	}
	pres.Action = ActionStateChanged
	c.emit(EventAgentPresence, pres)
	for _, r := range requests {
		c.emit(EventTaskRequest, r)
	}
}
