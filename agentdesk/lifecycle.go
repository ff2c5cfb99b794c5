package agentdesk

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/omniroute/omniroute/clock"
	"github.com/omniroute/omniroute/routing"
)

// Connection life (seed 004 is silent; omniroute's rule):
//
//   - Every socket of an agent receives its events (the agent's room).
//   - When an agent's last socket goes, a grace timer of
//     Options.DisconnectGrace starts (default DefaultDisconnectGrace). A
//     socket of the agent connecting before it fires cancels it: the
//     agent's state, offers (re-sent as taskRequest on connect) and
//     conversations are untouched, so a reload or a network blip costs
//     nothing.
//   - When it fires and the agent still has no socket, the node gets
//     routing.AgentDisconnected: a READY agent goes NOT_READY with reason
//     DISCONNECTED and every RESERVED offer is revoked (AGENT_DISCONNECTED)
//     and re-queued at its original position, so no work waits on a desk
//     that is gone. ACTIVE work stays with the agent.
//   - Exception: an agent whose last socket registered an FCM token
//     (auth.fcm) while FCM is configured is reachable by push (fcm.go); it
//     keeps its state, and its offers go out as FCM messages.
//
// The timers live in this process only: after a restart, agents that do
// not reconnect keep their state until RONA revokes their offers. How many
// run is the gauge omniroute_agentdesk_disconnect_graces.

// DefaultDisconnectGrace is Options.DisconnectGrace when zero.
const DefaultDisconnectGrace = 30 * time.Second

// lifecycle holds the grace timers and the agents' FCM tokens.
type lifecycle struct {
	srv *Server

	mu     sync.Mutex
	timers map[string]*graceTimer
	fcm    map[string]string // agent -> FCM registration token, from auth.fcm
	closed bool
}

func newLifecycle(s *Server) *lifecycle {
	return &lifecycle{srv: s, timers: map[string]*graceTimer{}, fcm: map[string]string{}}
}

// graceTimer is one agent's grace timer. The timer's function identifies
// its own entry by this pointer, which exists before Clock.AfterFunc is
// called; the clock.Timer is written afterwards under lifecycle.mu and read
// only under it (Stop), never by the timer's function.
type graceTimer struct {
	t clock.Timer
}

// connected runs when sock of agent registers: it cancels the agent's grace
// timer and records a non-empty auth.fcm as the agent's FCM token (an empty
// one keeps the token a previous socket gave).
func (l *lifecycle) connected(agent, token string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if g := l.timers[agent]; g != nil {
		g.t.Stop()
		delete(l.timers, agent)
	}
	if token != "" {
		l.fcm[agent] = token
	}
}

// gone runs when agent's last socket unregistered: it starts the grace
// timer (none when DisconnectGrace is negative).
func (l *lifecycle) gone(agent string) {
	grace := l.srv.opts.DisconnectGrace
	if grace < 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.timers[agent] != nil {
		return
	}
	g := &graceTimer{}
	g.t = l.srv.opts.Clock.AfterFunc(grace, func() { l.expire(agent, g) })
	l.timers[agent] = g
}

// fcmToken returns the agent's FCM token ("" when none): the one its
// desk gave this node, else, in cluster mode, the one it gave another.
func (l *lifecycle) fcmToken(agent string) string {
	l.mu.Lock()
	t := l.fcm[agent]
	l.mu.Unlock()
	if d := l.srv.opts.Desks; t == "" && d != nil {
		t = d.Token(agent)
	}
	return t
}

// forgetFCM drops a token FCM refused as unregistered.
func (l *lifecycle) forgetFCM(agent, token string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fcm[agent] == token {
		delete(l.fcm, agent)
	}
	if d := l.srv.opts.Desks; d != nil {
		l.srv.deskWrite(func(ctx context.Context) error { return d.Forget(ctx, agent, token) })
	}
}

// expire is the grace timer of agent.
func (l *lifecycle) expire(agent string, g *graceTimer) {
	l.mu.Lock()
	if l.timers[agent] != g || l.closed {
		l.mu.Unlock()
		return
	}
	delete(l.timers, agent)
	l.mu.Unlock()
	pushable := l.srv.fcm != nil && l.fcmToken(agent) != ""
	// In cluster mode the desk may have moved to another node: it is
	// connected, not gone.
	elsewhere := l.srv.opts.Desks != nil && l.srv.opts.Desks.Elsewhere(agent)
	if pushable || elsewhere || l.srv.connected(agent) {
		return
	}
	ctx, cancel := l.srv.commandCtx()
	defer cancel()
	if _, err := l.srv.n.Submit(ctx, routing.AgentDisconnected{Agent: agent}); err != nil {
		var re *routing.Error
		if !errors.As(err, &re) || re.Code != routing.CodeAgentNotFound {
			l.srv.log.Warn("agentdesk: AgentDisconnected failed", "agent", agent, "err", err)
		}
	}
}

// close stops every timer.
func (l *lifecycle) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for a, g := range l.timers {
		g.t.Stop()
		delete(l.timers, a)
	}
}

// Graces returns the agents whose grace timer runs (for tests and metrics).
func (s *Server) Graces() int {
	s.life.mu.Lock()
	defer s.life.mu.Unlock()
	return len(s.life.timers)
}
