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
	room := a.fits(am.mrd.minWeight) // capacity.go
	switch {
	case am.load == 0 && room:
		return MRDReady
	case am.load > 0 && am.load < am.capacity && room:
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
//
// Keys that grow while the agent has work are re-keyed lazily too. An
// offer that leaves the agent available (a chat MRD with room left) only
// raises its keys in every strategy (more load, a later last offer), so an
// entry may sit earlier than its current key says, never later: bestIn
// reads the current key of each entry it meets and moves the ones it finds
// behind. Any other change (capacity freed, back to idle, READY again) is
// re-keyed at once, so that invariant holds and the pools are current
// again when the agent is idle. Without this, every chat offer re-keyed
// all of the agent's pools inside the routing decision.
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
	if was && am == s.adding {
		// Work was just added to am, which stays available (an offer or a
		// hold on an MRD with room left): every key grew or stayed, so
		// every entry may stay (see above).
		return
	}
	for i, p := range am.pools {
		if !p.hot {
			continue // a step pool nobody waits for yet (steps.go)
		}
		sl := &am.slots[i]
		k1, k2, k3 := availKeyFor(p, am)
		if sl.in && sl.k1 == k1 && sl.k2 == k2 && sl.k3 == k3 {
			continue
		}
		if sl.in && am.load > 0 && keyBefore(sl.k1, sl.k2, sl.k3, k1, k2, k3) {
			// Grew with work taken: bestIn moves it when it meets it. Its
			// eligibility did not change, so it need not match again.
			continue
		}
		if sl.in {
			p.avail.Delete(sl.item(am))
		}
		sl.k1, sl.k2, sl.k3, sl.in = k1, k2, k3, true
		p.avail.ReplaceOrInsert(sl.item(am))
		s.markDirty(am.agent)
	}
}

// keyBefore says whether the key (a1, a2, a3) orders before (b1, b2, b3).
func keyBefore(a1, a2, a3, b1, b2, b3 int64) bool {
	if a1 != b1 {
		return a1 < b1
	}
	if a2 != b2 {
		return a2 < b2
	}
	return a3 < b3
}

// rekey moves am's entry in p (at index i of am.pools) to its current key.
func (s *State) rekey(p *pool, am *agentMRD, i int) {
	sl := &am.slots[i]
	if sl.in {
		p.avail.Delete(sl.item(am))
	}
	sl.k1, sl.k2, sl.k3 = availKeyFor(p, am)
	sl.in = true
	p.avail.ReplaceOrInsert(sl.item(am))
}

// dropStale removes the entry it of an agent MRD that is no longer
// available from p's availability index.
func (s *State) dropStale(p *pool, it availItem) {
	p.avail.Delete(it)
	if i, ok := poolIndex(it.am.pools, p); ok {
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

func availKeyFor(p *pool, am *agentMRD) (k1, k2, k3 int64) {
	switch p.q.def.Strategy {
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
		for _, sk := range p.names {
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
	if c.Supervisor != "" {
		if sa, ok := s.agents[c.Supervisor]; !ok || sa.def.Role != RoleSupervisor {
			return errf(CodeNotSupervisor, "agent %q is not a supervisor", c.Supervisor)
		}
		if !s.Supervises(c.Supervisor, c.Agent) {
			return errf(CodeTeamMismatch, "agent %q is in none of the teams of supervisor %q", c.Agent, c.Supervisor)
		}
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
