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
	for _, id := range s.mrdIDs {
		am := a.mrds[id]
		if !am.mrd.def.Interruptible && am.load > 0 {
			busyNonInterruptible++
			holder = am
		}
	}
	for _, id := range s.mrdIDs {
		am := a.mrds[id]
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
			s.emit(MRDStateChanged{Agent: a.def.ID, MRD: id, State: st, Previous: prev, At: s.now})
		}
		s.reindex(am)
	}
}

// reindex puts am in or out of its queues' availability indexes under its
// current strategy keys.
func (s *State) reindex(am *agentMRD) {
	avail := am.available()
	id := am.agent.def.ID
	for _, q := range am.queues {
		old, had := q.availKey[id]
		if !avail {
			if had {
				q.avail.Delete(old)
				delete(q.availKey, id)
			}
			continue
		}
		it := availKeyFor(q, am)
		if had && old.k1 == it.k1 && old.k2 == it.k2 && old.k3 == it.k3 {
			continue
		}
		if had {
			q.avail.Delete(old)
		}
		q.avail.ReplaceOrInsert(it)
		q.availKey[id] = it
		s.markDirty(am.agent)
	}
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

func availKeyFor(q *queueRT, am *agentMRD) availItem {
	it := availItem{id: am.agent.def.ID, am: am}
	switch q.def.Strategy {
	case MostAvailable:
		it.k1 = -int64(am.capacity - am.load)
		it.k2, it.k3 = idleKey(am)
	case LeastActive:
		it.k1 = int64(am.load)
		it.k2, it.k3 = idleKey(am)
	case RoundRobin:
		it.k1 = am.lastOffer.UnixNano()
		if am.lastOffer.IsZero() {
			it.k1 = math.MinInt64
		}
	case BestSkill:
		score := 0
		for name := range q.def.Skills {
			score += am.agent.def.Skills[name]
		}
		it.k1 = -int64(score)
		it.k2, it.k3 = idleKey(am)
	default: // LongestIdle
		it.k1, it.k2 = idleKey(am)
	}
	return it
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
	if c.State == AgentLogout {
		s.logoutWork(a)
	}
	s.changeAgentState(a, c.State, c.ReasonCode)
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
	for _, id := range s.mrdIDs {
		a.mrds[id].want = st == AgentReady
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
