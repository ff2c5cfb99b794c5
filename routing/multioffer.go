package routing

// Multi-reservation (Twilio TaskRouter multi-reservation; DESIGN.md
// "Routing policies").
//
// A queue's OfferToAgents K > 1 offers each request to up to K available
// eligible agents at once: the best agent by the queue's strategy gets the
// first reservation, the next best the second, and so on over the same
// agents a single offer would consider (the step's pool, then the added
// queues' pools in order). Each reservation is a RESERVED task with its own
// RONA deadline. Then:
//   - The first AcceptTask wins: every other reservation of the request is
//     revoked (TaskRevoked and TaskClosed with reason ACCEPTED_ELSEWHERE)
//     with no RONA action and no exclusion, and those agents are free
//     again. Two accepts in one batch are applied in batch order, so the
//     first wins and the second finds its task closed (TASK_NOT_FOUND).
//   - A decline, a RONA or a logout of one agent closes that reservation
//     (the decline and the RONA exclude the agent, the RONA applies the
//     queue's RONA action) while the request stays OFFERED to the others;
//     only when the last reservation ends is it queued again at its
//     position (RequestUpdated).
//   - A cancel, abandon or customer leaving revokes every reservation.
//
// Callbacks (holds) and direct transfers hold or reserve one agent only.

// ReasonAcceptedElsewhere closes the other reservations of a request
// another agent accepted (multi-reservation).
const ReasonAcceptedElsewhere CloseReason = "ACCEPTED_ELSEWHERE"

// MaxOfferToAgents bounds Queue.OfferToAgents.
const MaxOfferToAgents = 10

// dropOffer takes the reserved task t out of r's reservations; the
// earliest remaining one becomes r.task.
func (r *request) dropOffer(t *task) {
	if r.task == t {
		r.task = nil
		if len(r.also) > 0 {
			r.task = r.also[0]
			r.also = append(r.also[:0:0], r.also[1:]...)
		}
		return
	}
	for i, x := range r.also {
		if x == t {
			r.also = append(r.also[:i:i], r.also[i+1:]...)
			return
		}
	}
}

// revokeOffers revokes every reservation of r.
func (s *State) revokeOffers(r *request, reason CloseReason) {
	for r.task != nil {
		s.revoke(r.task, reason)
	}
}

// offerMore gives r, just reserved for one agent, the further
// reservations its queue's OfferToAgents asks for.
func (s *State) offerMore(r *request, t *tier) {
	for n := 1 + len(r.also); n < r.queue.def.OfferToAgents; n++ {
		best := s.bestIn(t.pool, r)
		for _, id := range t.add {
			if best != nil {
				break
			}
			if p := s.overflowPool(r, id); p != nil {
				best = s.bestIn(p, r)
			}
		}
		if best == nil {
			return
		}
		s.reserve(r, best, s.newTaskID(), ronaTimeout(r.queue))
	}
}
