package agentdesk

import (
	"errors"
	"sync"
	"time"

	"github.com/omniroute/omniroute/errcode"
	"github.com/omniroute/omniroute/routing"
	"github.com/omniroute/omniroute/socketio"
)

// client is one connected socket of an agent.
type client struct {
	srv   *Server
	sock  *socketio.Socket
	agent string

	mu     sync.Mutex // guards the rate limiter
	tokens float64
	last   time.Time

	expiry expiry // guarded by srv.exps.mu (expiry.go)
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
	EventRefreshToken:            (*client).refreshToken,
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// splitAck removes the trailing acknowledgement callback, if any.
func splitAck(args []any) ([]any, sockAck) {
	if n := len(args); n > 0 {
		if ack, ok := args[n-1].(sockAck); ok {
			return args[:n-1], ack
		}
	}
	return args, nil
}

// wrap turns a handlerFunc into a listener: rate limit, then the handler,
// then the acknowledgement. They run one at a time per socket, in arrival
// order, on the connection's reading path (transport.go).
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
func (c *client) fail(ev string, ack sockAck, code, message, field string) Ack {
	return c.refuse(ev, ack, ErrorEvent{Code: code, Message: message, Field: field})
}

// refuse sends e (for event ev) as an errors event to this socket, answers
// ack (if any) with the same code, message, field and limit, and returns
// that Ack.
func (c *client) refuse(ev string, ack sockAck, e ErrorEvent) Ack {
	e.Event = ev
	c.emit(EventErrors, e)
	res := Ack{Code: e.Code, Message: e.Message, Field: e.Field, Limit: e.Limit}
	if ack != nil {
		ack([]any{res}, nil)
	}
	return res
}

// failErr reports err (a *errcode.FieldError, *routing.Error or other) as an
// errors event.
func (c *client) failErr(ev string, err error) Ack {
	var fe *errcode.FieldError
	var re *routing.Error
	switch {
	case errors.As(err, &fe):
		return c.refuse(ev, nil, ErrorEvent{Code: fe.Code, Message: fe.Message, Field: fe.Field, Limit: fe.Limit})
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
	err := c.srv.n.View(ctx, func(st routing.View) {
		pres, ok = presenceOf(st, c.agent)
		requests = taskRequestsOf(st, c.srv.opts.CustomerKeys, c.agent)
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
