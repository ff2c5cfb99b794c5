package agentdesk

import (
	"slices"
	"time"

	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// maxDispatchBatch bounds the events handled in one round.
const maxDispatchBatch = 4096

// receive waits for the next value of ch. stop is true when quit closed
// first; otherwise v and ok are those of the receive.
func receive[T any](ch <-chan T, quit <-chan struct{}) (v T, ok, stop bool) {
	select {
	case v, ok = <-ch:
	case <-quit:
		stop = true
	}
	return v, ok, stop
}

// drainInto appends to batch the values waiting in ch, without blocking,
// until batch holds maxDispatchBatch. closed is true when ch turned out to
// be closed.
func drainInto[T any](batch []T, ch <-chan T) (_ []T, closed bool) {
	for len(batch) < maxDispatchBatch {
		select {
		case v, ok := <-ch:
			if !ok {
				return batch, true
			}
			batch = append(batch, v)
		default:
			return batch, false
		}
	}
	return batch, false
}

// subscriptionOver runs when the node closed a subscription of s. It
// reports whether that is because s or the node is shutting down (after the
// node stopped, it waits for s to quit); false: the subscriber was cut off
// and should subscribe again.
func (s *Server) subscriptionOver() bool {
	select {
	case <-s.n.Done():
		// The node stopped; nothing more will come.
		<-s.quit
		return true
	case <-s.quit:
		return true
	default:
		return false
	}
}

// dispatch follows the node's events and turns them into desk events for
// the agents that have a socket here. It takes every event waiting and
// emits their desk events in event order. It reads no state: the events
// carry what the payloads need (routing's Offered and Presence).
//
// Events with equal (Seq, Cmd) came from one command; each such group gives
// at most one agentPresence per agent, after the group's task events, with
// AgentStateChanged and MrdStateChanges summing up the group.
//
// If the node cuts this subscriber off (too slow), it resubscribes and
// sends every connected agent its presence and open offers again.
func (s *Server) dispatch(events <-chan node.Published, cancel func()) {
	defer close(s.dispatchDone)
	batch := make([]node.Published, 0, 64)
	for {
		p, ok, stop := receive(events, s.quit)
		if stop {
			cancel()
			return
		}
		closed := !ok
		if ok {
			batch, closed = drainInto(append(batch[:0], p), events)
			s.deliver(batch)
			clear(batch) // drop references to delivered events
		}
		if closed {
			if s.subscriptionOver() {
				return
			}
			s.log.Warn("agentdesk: cut off the node's event stream (too slow); resubscribing and resending every agent's state")
			events, cancel = s.n.Subscribe()
			s.resync()
		}
	}
}

// outgoing is one desk event to emit to an agent's sockets.
type outgoing struct {
	agent string
	event string
	// Sources, by event.
	reserved routing.TaskReserved
	revoked  routing.TaskRevoked
	presence *presenceChange
	// fcmToken: the event goes out as an FCM push to this token instead
	// (fcm.go: the agent has no socket here), claimed once in a cluster
	// under fcmClaim.
	fcmToken, fcmClaim string
	payload            any
	// arrived: when the command that caused a taskRequest reached the
	// node (node.Published.Arrived), for the offer-latency histogram.
	arrived time.Time
}

// deliverScratch is deliver's working memory, kept from one batch to the
// next: deliver runs on the dispatch goroutine only, and a batch of one
// conversation's command would otherwise allocate its slices and maps
// anew (outgoing is some 400 bytes, and a slice of them grows by copies).
// done empties it after each batch, so that no event or payload stays
// referenced, and lets go of a slice grown past maxDeliverScratch.
type deliverScratch struct {
	out       []outgoing
	connected map[string]bool // agent -> has a socket here, as read in this batch
	changes   map[string]*presenceChange
	order     []string
	loggedOut map[string]bool
	closed    closings
}

// maxDeliverScratch bounds the desk events (outgoing) a batch's slice
// keeps for the next batch; a larger batch (a resync's, a mass logout's)
// gives its slice back to the collector.
const maxDeliverScratch = 256

// done empties sc after a batch (deliver's deferred calls have stored
// its slices back).
func (sc *deliverScratch) done() {
	clear(sc.out[:cap(sc.out)])
	if cap(sc.out) > maxDeliverScratch {
		sc.out = nil
	}
	clear(sc.connected)
	clear(sc.changes)
	clear(sc.order[:cap(sc.order)])
	if cap(sc.order) > maxDeliverScratch {
		sc.order = nil
	}
	clear(sc.loggedOut)
	sc.closed.reset()
}

// presenceChange sums up one command's changes to one agent: presence is
// the agent's presence after the command (the command's last presence
// event of the agent carries it).
type presenceChange struct {
	stateChanged bool
	mrds         []string
	presence     *routing.Presence
}

// deliver turns one batch of published events into desk events.
func (s *Server) deliver(batch []node.Published) {
	sc := &s.deliverScratch
	if sc.connected == nil {
		sc.connected = map[string]bool{}
	}
	connected := sc.connected
	defer sc.done()
	isConnected := func(agent string) bool {
		c, ok := connected[agent]
		if !ok {
			c = s.connected(agent)
			connected[agent] = c
		}
		return c
	}
	var (
		out     = sc.out[:0]
		changes = sc.changes
		order   = sc.order[:0]
	)
	defer func() { sc.out, sc.order = out, order }()
	loggedOut := sc.loggedOut // agents this command logged out
	closed := &sc.closed      // closed.go: who left a conversation this command closes
	flush := func() {
		clear(loggedOut)
		closed.reset()
		for _, a := range order {
			out = append(out, outgoing{agent: a, event: EventAgentPresence, presence: changes[a]})
		}
		clear(changes)
		order = order[:0]
	}
	change := func(agent string) *presenceChange {
		if changes == nil {
			changes = map[string]*presenceChange{}
			sc.changes = changes
		}
		c := changes[agent]
		if c == nil {
			c = &presenceChange{mrds: []string{}}
			changes[agent] = c
			order = append(order, agent)
		}
		return c
	}
	for i, p := range batch {
		if i > 0 && (p.Seq != batch[i-1].Seq || p.Cmd != batch[i-1].Cmd) {
			flush()
		}
		out = participantDeskEvents(out, p.Event, isConnected) // wrapup.go
		out = closed.saw(out, p.Event, isConnected)
		if s.fcm != nil {
			if agent, token := s.fcm.fcmTarget(p.Event); token != "" {
				o := outgoing{agent: agent, fcmToken: token, fcmClaim: claimKey(p)}
				switch e := p.Event.(type) {
				case routing.TaskReserved:
					o.event, o.reserved = EventTaskRequest, e
				case routing.TaskRevoked:
					o.event, o.revoked = EventRevokeTask, e
				}
				out = append(out, o)
			}
		}
		switch e := p.Event.(type) {
		case routing.TaskReserved:
			if isConnected(e.Agent) {
				out = append(out, outgoing{agent: e.Agent, event: EventTaskRequest, reserved: e, arrived: p.Arrived})
			}
		case routing.TaskRevoked:
			if isConnected(e.Agent) {
				out = append(out, outgoing{agent: e.Agent, event: EventRevokeTask, revoked: e})
			}
		case routing.AgentStateChanged:
			if e.State == routing.AgentLogout {
				if loggedOut == nil {
					loggedOut = map[string]bool{}
					sc.loggedOut = loggedOut
				}
				loggedOut[e.Agent] = true
			}
			if isConnected(e.Agent) {
				c := change(e.Agent)
				c.stateChanged = true
				if e.Presence != nil {
					c.presence = e.Presence
				}
			}
		case routing.ParticipantLeft:
			if e.Task == "" && isConnected(e.Agent) { // a supervisor (supervisor.go)
				reason := routing.ReasonDone
				if loggedOut[e.Agent] {
					reason = routing.ReasonAgentLogout
				}
				out = append(out, outgoing{agent: e.Agent, event: EventTopicUnsubscription,
					payload: supervisorLeft(e.Conversation, e.Agent, reason)})
			}
		case routing.MRDStateChanged:
			if isConnected(e.Agent) {
				c := change(e.Agent)
				if !slices.Contains(c.mrds, e.MRD) {
					c.mrds = append(c.mrds, e.MRD)
				}
				if e.Presence != nil {
					c.presence = e.Presence
				}
			}
		}
	}
	flush()
	for i := range out {
		o := &out[i]
		switch o.event {
		case EventTaskRequest:
			o.payload = taskRequestOf(s.opts.CustomerKeys, o.reserved)
		case EventRevokeTask:
			o.payload = RevokeTask{ConversationID: o.revoked.Conversation, TaskID: o.revoked.Task, Reason: string(o.revoked.Reason)}
		case EventAgentPresence:
			if o.presence.presence == nil {
				continue // the agent was deleted by the command
			}
			pres := presenceFrom(o.presence.presence)
			pres.Action = ActionStateChanged
			pres.AgentStateChanged = o.presence.stateChanged
			pres.MrdStateChanges = o.presence.mrds
			o.payload = pres
		}
	}
	for _, o := range out {
		switch {
		case o.payload == nil:
		case o.fcmToken != "":
			ev := routing.Event(o.reserved)
			if o.event == EventRevokeTask {
				ev = o.revoked
			}
			s.fcm.push(o.agent, o.fcmToken, o.fcmClaim, ev, o.payload)
		case o.event == EventTaskRequest:
			if _, err := s.nsp.ToWritten(room(o.agent), s.metrics.offerWritten(o.arrived), o.event, o.payload); err != nil {
				s.log.Warn("agentdesk: emit failed", "agent", o.agent, "event", o.event, "err", err)
			}
		default:
			s.toAgent(o.agent, o.event, o.payload)
		}
	}
}

// resync sends every connected agent its presence and its RESERVED offers
// again, after events may have been lost.
func (s *Server) resync() {
	agents := s.connectedAgents()
	if len(agents) == 0 {
		return
	}
	type snapshot struct {
		agent    string
		pres     AgentPresence
		requests []TaskRequest
	}
	var snaps []snapshot
	ctx, cancel := s.commandCtx()
	defer cancel()
	err := s.n.View(ctx, func(st routing.View) {
		for _, a := range agents {
			pres, ok := presenceOf(st, a)
			if !ok {
				continue
			}
			pres.Action = ActionStateChanged
			snaps = append(snaps, snapshot{agent: a, pres: pres, requests: taskRequestsOf(st, s.opts.CustomerKeys, a)})
		}
	})
	if err != nil {
		s.log.Warn("agentdesk: resync failed", "err", err)
		return
	}
	for _, sn := range snaps {
		s.toAgent(sn.agent, EventAgentPresence, sn.pres)
		for _, r := range sn.requests {
			s.toAgent(sn.agent, EventTaskRequest, r)
		}
	}
}
