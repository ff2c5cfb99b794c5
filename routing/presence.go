package routing

import "math"

// deriveMRDState computes an agent's state on one MRD from the agent state,
// the agent's wish for the MRD, the load and the other MRDs' work
// (DESIGN.md "Domain terms": MRD state rules).
func deriveMRDState(a *agentRT, am *agentMRD, interrupted bool) MRDState {
	if a.state != AgentReady || !am.want {
		if am.load > 0 {
			return MRDPendingNotReady
		}
		return MRDNotReady
	}
	if interrupted {
		return MRDInterrupted
	}
	switch {
	case am.load == 0:
		return MRDReady
	case am.load < am.capacity:
		return MRDActive
	}
	return MRDBusy
}

func (am *agentMRD) available() bool {
	return am.agent.state == AgentReady && (am.state == MRDReady || am.state == MRDActive) && am.load < am.capacity
}

// refreshAgent recomputes a's MRD states, emits MRDStateChanged for each
// change and updates the queues' availability indexes. An agent who gained
// availability is marked for matching.
func (s *State) refreshAgent(a *agentRT) {
	// Which non-interruptible MRDs have work: they interrupt every other MRD.
	busyNonInterruptible := 0
	var holder *agentMRD
	for _, am := range a.mrdList {
		if !am.mrd.def.Interruptible && am.load > 0 {
			busyNonInterruptible++
			holder = am
		}
	}
	for _, am := range a.mrdList {
		interrupted := busyNonInterruptible > 1 || (busyNonInterruptible == 1 && holder != am)
		st := deriveMRDState(a, am, interrupted)
		if st != am.state {
			prev := am.state
			am.state = st
			am.since = s.now
			if st == MRDReady {
				am.lastReady = s.now
				am.idleSince = s.now
			}
			s.emit(MRDStateChanged{Agent: a.def.ID, MRD: am.mrd.def.ID, State: st, Previous: prev, At: s.now})
		}
		s.reindex(am)
	}
}

// reindex keeps am's entries in its queues' availability indexes in step
// with its current strategy keys while am is available.
//
// An agent MRD that stops being available keeps its entries (they go
// stale): offerRequest skips and drops the stale entries it meets, and the
// entries are re-keyed when am is available again. So an offer, which makes
// the agent busy in every queue it belongs to, touches none of those
// indexes: the hot path stays independent of how many queues an agent
// serves.
func (s *State) reindex(am *agentMRD) {
	avail := am.available()
	was := am.avail
	am.avail = avail
	if !avail {
		return
	}
	if !was {
		// Available again: it may take waiting work even where its keys
		// did not change.
		s.markDirty(am.agent)
	}
	for i, q := range am.queues {
		sl := &am.slots[i]
		k1, k2, k3 := availKeyFor(q, am)
		if sl.in && sl.k1 == k1 && sl.k2 == k2 && sl.k3 == k3 {
			continue
		}
		if sl.in {
			q.avail.Delete(sl.item(am))
		}
		sl.k1, sl.k2, sl.k3, sl.in = k1, k2, k3, true
		q.avail.ReplaceOrInsert(sl.item(am))
		s.markDirty(am.agent)
	}
}

// dropStale removes the entry it of an agent MRD that is no longer
// available from q's availability index.
func (s *State) dropStale(q *queueRT, it availItem) {
	q.avail.Delete(it)
	if i, ok := queueIndex(it.am.queues, q.def.ID); ok {
		it.am.slots[i].in = false
	}
}

// availSlot is the key an agent MRD has in one queue's availability index.
type availSlot struct {
	k1, k2, k3 int64
	in         bool
}

func (sl *availSlot) item(am *agentMRD) availItem {
	return availItem{k1: sl.k1, k2: sl.k2, k3: sl.k3, id: am.agent.def.ID, am: am}
}

func (s *State) markDirty(a *agentRT) {
	if !a.dirty {
		a.dirty = true
		s.dirtyAgents = append(s.dirtyAgents, a)
	}
}

// idleKey orders idle agents by how long they have been idle and busy ones
// (after all idle ones) by how long since their last offer.
func idleKey(am *agentMRD) (int64, int64) {
	if am.load == 0 {
		return 0, am.idleSince.UnixNano()
	}
	return 1, am.lastOffer.UnixNano()
}

func availKeyFor(q *queueRT, am *agentMRD) (k1, k2, k3 int64) {
	switch q.def.Strategy {
	case MostAvailable:
		k1 = -int64(am.capacity - am.load)
		k2, k3 = idleKey(am)
	case LeastActive:
		k1 = int64(am.load)
		k2, k3 = idleKey(am)
	case RoundRobin:
		k1 = am.lastOffer.UnixNano()
		if am.lastOffer.IsZero() {
			k1 = math.MinInt64
		}
	case BestSkill:
		score := 0
		for _, sk := range q.skills {
			score += am.agent.def.Skills[sk]
		}
		k1 = -int64(score)
		k2, k3 = idleKey(am)
	default: // LongestIdle
		k1, k2 = idleKey(am)
	}
	return k1, k2, k3
}

func (s *State) checkReason(code string, want ReasonType) *Error {
	if code == "" {
		return nil
	}
	rc, ok := s.reasons[code]
	if !ok {
		return errf(CodeReasonCodeNotFound, "reason code %q does not exist", code)
	}
	if rc.Type != want {
		return errf(CodeInvalidArgument, "reason code %q is of type %s, not %s", code, rc.Type, want)
	}
	return nil
}

func (s *State) setAgentState(c SetAgentState) *Error {
	a, ok := s.agents[c.Agent]
	if !ok {
		return errf(CodeAgentNotFound, "agent %q does not exist", c.Agent)
	}
	switch c.State {
	case AgentReady:
		if c.ReasonCode != "" {
			return errf(CodeInvalidArgument, "READY takes no reason code")
		}
	case AgentNotReady:
		if err := s.checkReason(c.ReasonCode, ReasonTypeNotReady); err != nil {
			return err
		}
	case AgentLogout:
		if err := s.checkReason(c.ReasonCode, ReasonTypeLogout); err != nil {
			return err
		}
	default:
		return errf(CodeInvalidArgument, "agent state must be READY, NOT_READY or LOGOUT, not %q", c.State)
	}
	if a.state == c.State && a.reason == c.ReasonCode {
		return nil
	}
	// The state changes first so that capacity freed by LOGOUT never shows
	// an MRD READY for an instant (like the RONA action in tick).
	s.changeAgentState(a, c.State, c.ReasonCode)
	if c.State == AgentLogout {
		s.logoutWork(a)
		s.leaveSupervised(a) // participants.go
	}
	return nil
}

// changeAgentState sets the agent state; READY makes every MRD wanted,
// NOT_READY and LOGOUT none.
func (s *State) changeAgentState(a *agentRT, st AgentState, reason string) {
	prev := a.state
	if prev == AgentLogout && st != AgentLogout {
		a.loginAt = s.now
	}
	a.state = st
	a.reason = reason
	a.since = s.now
	for _, am := range a.mrdList {
		am.want = st == AgentReady
	}
	s.emit(AgentStateChanged{Agent: a.def.ID, State: st, ReasonCode: reason, Previous: prev, At: s.now})
	s.refreshAgent(a)
}

func (s *State) setMRDState(c SetMRDState) *Error {
	a, ok := s.agents[c.Agent]
	if !ok {
		return errf(CodeAgentNotFound, "agent %q does not exist", c.Agent)
	}
	am, ok := a.mrds[c.MRD]
	if !ok {
		return errf(CodeMRDNotFound, "mrd %q does not exist", c.MRD)
	}
	switch c.State {
	case MRDReady:
		if a.state != AgentReady {
			return errf(CodeAgentNotReady, "mrd %q can be READY only while the agent is READY (agent is %s)", c.MRD, a.state)
		}
		am.want = true
	case MRDNotReady:
		am.want = false
	default:
		return errf(CodeInvalidArgument, "mrd state must be READY or NOT_READY, not %q", c.State)
	}
	s.refreshAgent(a)
	return nil
}
