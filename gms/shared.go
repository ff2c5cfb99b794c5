package gms

import (
	"maps"
	"slices"

	"github.com/omniroute/omniroute/routing"
)

// Cluster mode: the callbacks' records are in a bucket every node reads
// and writes (Options.NodeID with a Store that is a Watcher). Every node
// knows every callback: it adopts the records other nodes write and
// applies the engine's events to them like its own, so a callback outlives
// the node that created it. Two kinds of fields are kept apart:
//
//   - what the engine's events decide (state, agent, reason, completion,
//     the agent-available flag) every node computes itself from the same
//     journal; records written because of an event (Source SourceEvent)
//     teach a node nothing about a callback it knows already;
//   - what a request or a failed push changed (device, chat form, dialogs,
//     the notifications waiting for the device or the agent) only the node
//     that served it saw; those records are merged into the other nodes.
//
// Pushes are claimed once per journal entry and callback (ClaimPush), so
// whichever nodes are alive, the device is notified once.

// watchStore starts following the shared Store, then adopts the records
// written between New's load and the watch's start.
func (s *Server) watchStore() error {
	w, ok := s.o.Store.(Watcher)
	if !ok || s.o.NodeID == "" {
		return nil
	}
	if err := w.Watch(s.ctx, s.fromStore); err != nil {
		return err
	}
	recs, err := s.o.Store.Load(s.ctx)
	if err != nil {
		s.log.Warn("gms: shared callbacks not caught up; the watch adopts later writes", "err", err)
		return nil
	}
	for _, r := range recs {
		s.fromStore(r)
	}
	return nil
}

// fromStore takes in a record another node wrote.
func (s *Server) fromStore(r Record) {
	if r.Node == s.o.NodeID {
		return // our own write
	}
	s.mu.Lock()
	cb := s.callbacks[r.ID]
	switch {
	case cb == nil:
		n, err := fromRecord(r)
		if err != nil {
			s.mu.Unlock()
			s.log.Warn("gms: shared callback skipped", "err", err)
			return
		}
		s.adoptLocked(n)
		s.mu.Unlock()
		if n.state != StateCompleted {
			s.catchUp(n)
		}
		return
	case r.Source != SourceEvent:
		cb.deviceOS, cb.deviceID = r.DeviceOS, r.DeviceID
		cb.chat, cb.chatStarted, cb.dialogs = maps.Clone(r.Chat), r.ChatStarted, r.Dialogs
		cb.toDevice = nil
		for _, m := range r.ToDevice {
			cb.toDevice = append(cb.toDevice, maps.Clone(m))
		}
		cb.toAgent = nil
		for _, n := range r.ToAgent {
			cb.toAgent = append(cb.toAgent, agentNote(n))
		}
	}
	s.mu.Unlock()
}

// adoptLocked adds a callback another node created (s.mu held).
func (s *Server) adoptLocked(cb *callback) {
	s.callbacks[cb.id] = cb
	if cb.state != StateCompleted {
		s.live++
		s.liveByService[cb.service]++
		return
	}
	s.completed = append(s.completed, cb.id)
	if len(s.completed) > RetainedCompleted {
		// The oldest is forgotten here; its writer's retention deletes
		// its record.
		delete(s.callbacks, s.completed[0])
		s.completed = slices.Delete(s.completed, 0, 1)
	}
}

// catchUp brings an adopted callback up to the engine's state: events
// about it may have been applied here before its record arrived. A close
// completes it; a hold sets it ROUTING without a notification (the nodes
// that knew it at the hold pushed, claimed once).
func (s *Server) catchUp(cb *callback) {
	var closed bool
	var reason routing.CloseReason
	var held string
	err := s.n.View(s.ctx, func(st routing.View) {
		c, ok := st.Conversation(cb.id)
		if !ok {
			return
		}
		closed, reason = c.State == "CLOSED", c.CloseReason
		if c.Request != nil {
			held = c.Request.HeldAgent
		}
	})
	if err != nil {
		return
	}
	switch {
	case closed:
		s.apply(routing.ConversationClosed{Conversation: cb.id, Reason: reason})
	case held != "":
		s.mu.Lock()
		if cb.state == StateQueued {
			cb.state, cb.agent = StateRouting, held
		}
		s.mu.Unlock()
	}
}
