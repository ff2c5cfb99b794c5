package routing

// Weighted capacity (Salesforce Omni-Channel "capacity" and "units of
// capacity"; DESIGN.md "Routing policies").
//
// Besides the count per MRD (Agent.Capacity, MRD.MaxRequests), an agent
// with CapacityUnits > 0 has a budget of units over all its MRDs. Each
// conversation weighs its CreateConversation.CapacityWeight, else its
// queue's CapacityWeight, else 1, fixed when it is created (a transfer
// keeps it: the work is the same). Every task and hold of the agent takes
// its conversation's weight from the moment it is reserved or held until
// it closes or is released, like the count.
//
// The rules:
//   - An offer (internal routing, AssignWork, a direct transfer, a hold)
//     needs room by count on the request's MRD and room by weight: the
//     agent's used units plus the conversation's weight at most
//     CapacityUnits.
//   - MRD states follow: an MRD whose free units are below the smallest
//     weight that can wait on it (the smallest CapacityWeight of the MRD's
//     internal queues, MinWeight) is BUSY, with or without work on it;
//     READY and ACTIVE mean room by count and by that weight. A heavier
//     conversation that does not fit an ACTIVE agent waits for another.
//   - The strategies order agents by count (MostAvailable: free count),
//     as without weights.

// weightOf is the weight a conversation created in q with the given
// override takes.
func weightOf(q *queueRT, override int) int {
	switch {
	case override > 0:
		return override
	case q.def.CapacityWeight > 0:
		return q.def.CapacityWeight
	}
	return 1
}

// shownWeight is cv's weight as events and views carry it: 0 for 1.
func (cv *conv) shownWeight() int {
	if cv.weight == 1 {
		return 0
	}
	return cv.weight
}

// fits says whether w more units fit a's budget.
func (a *agentRT) fits(w int) bool {
	return a.def.CapacityUnits == 0 || a.used+w <= a.def.CapacityUnits
}

// take counts one more task or hold of weight w on am.
func (am *agentMRD) take(w int) {
	am.load++
	am.agent.used += w
}

// release frees one task or hold of weight w on am. With a budget of
// units the agent may now fit heavier work on any MRD, though its
// availability did not change: it is matched again.
func (s *State) release(am *agentMRD, w int) {
	am.load--
	am.agent.used -= w
	if am.agent.def.CapacityUnits > 0 {
		s.markDirty(am.agent)
	}
}

// setMinWeight recomputes the smallest weight of mrd's internal queues
// and says whether it changed.
func (s *State) setMinWeight(m *mrdRT) bool {
	if m == nil {
		return false
	}
	w := 0
	for _, id := range s.queueIDs {
		q := s.queues[id]
		if q.mrd == m && q.def.Mode != External && (w == 0 || weightOf(q, 0) < w) {
			w = weightOf(q, 0)
		}
	}
	if w == 0 {
		w = 1
	}
	changed := w != m.minWeight
	m.minWeight = w
	return changed
}

// checkWeight validates a capacity weight or unit count (0..MaxCapacityUnits).
func checkWeight(what string, w int) *Error {
	if w < 0 || w > MaxCapacityUnits {
		return errf(CodeInvalidArgument, "%s %d is outside 0..%d", what, w, MaxCapacityUnits)
	}
	return nil
}
