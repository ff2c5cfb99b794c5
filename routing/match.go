package routing

// Matching: which waiting request goes to which available agent, and the
// offer that reserves the agent (DESIGN.md "Routing").

import (
	"time"

	"github.com/google/btree"
)

// match offers work until no waiting request has an available eligible
// agent (DESIGN.md "Routing"): the best waiting request that some available
// agent can take goes first (priority, then longest wait), and the queue's
// strategy picks its agent.
//
// The candidates are the requests the command (re)queued and, for every
// agent that gained availability, the best request on each of its MRDs that
// it may take. They sit in a heap ordered like the queues; a popped
// candidate whose request was offered meanwhile is recomputed for its agent
// (lazily: a waiting set that only shrinks can only make an agent's best
// candidate worse), so one freed agent costs one scan of its queues' heads,
// and several agents or requests freed by one command (a Tick, a
// definition change) are served in the global order instead of the order
// in which they were freed.
func (s *State) match() {
	for {
		for _, r := range s.dirtyReqs {
			s.cands.push(cand{r: r})
		}
		clear(s.dirtyReqs)
		s.dirtyReqs = s.dirtyReqs[:0]
		for _, a := range s.dirtyAgents {
			a.dirty = false
			for _, am := range a.mrdList {
				s.pushBest(am)
			}
		}
		clear(s.dirtyAgents)
		s.dirtyAgents = s.dirtyAgents[:0]
		if len(s.cands) == 0 {
			return
		}
		c := s.cands.pop()
		waiting := c.r.state == RequestQueuedState && s.requests[c.r.id] == c.r
		if c.am == nil {
			if waiting {
				s.offerRequest(c.r)
			}
			continue
		}
		if !c.am.available() {
			continue
		}
		if !waiting {
			s.pushBest(c.am) // its best went to someone else: next best
			continue
		}
		s.offerRequest(c.r)
		if c.r.state == RequestQueuedState {
			if !c.r.canTake(c.am.agent) {
				// Work the agent took since the candidate was pushed left
				// no room for this request's weight (capacity.go): its
				// next best, if any.
				s.pushBest(c.am)
			}
			continue // otherwise cannot happen (c.am is available and eligible); never loop
		}
		if !c.am.agent.dirty {
			// The request went to a better agent: c.am may still take another.
			s.pushBest(c.am)
		}
	}
}

// pushBest adds am's best waiting request (over its queues, skipping those
// that exclude its agent) to the candidates, if am is available.
func (s *State) pushBest(am *agentMRD) {
	if !am.available() {
		return
	}
	var best *request
	scan := func(w *btree.BTreeG[*request]) {
		w.Ascend(func(r *request) bool {
			if !r.canTake(am.agent) {
				return true
			}
			if best == nil || requestLess(r, best) {
				best = r
			}
			return false
		})
	}
	for _, p := range am.pools {
		for _, t := range p.tiers {
			if s.queueOpen(t.q) {
				scan(t.waiting)
			}
		}
		if p.tier == 0 {
			// Overflow: the tiers of other queues whose step adds p's queue
			// (steps.go).
			for _, t := range *p.q.overflowIn {
				if t.q.mrd == p.q.mrd && s.queueOpen(t.q) {
					scan(t.waiting)
				}
			}
		}
	}
	if best != nil {
		s.cands.push(cand{r: best, am: am})
	}
}

// cand is a matching candidate: a request to offer, either made waiting by
// the command (am nil) or the best request an available agent MRD may take.
type cand struct {
	r  *request
	am *agentMRD
}

func candLess(a, b cand) bool {
	if a.r != b.r {
		return requestLess(a.r, b.r)
	}
	if (a.am == nil) != (b.am == nil) {
		return a.am == nil
	}
	if a.am == nil || a.am == b.am {
		return false
	}
	if a.am.agent.def.ID != b.am.agent.def.ID {
		return a.am.agent.def.ID < b.am.agent.def.ID
	}
	return a.am.mrd.def.ID < b.am.mrd.def.ID
}

// candHeap is a binary min-heap of candidates by candLess.
type candHeap []cand

func (h *candHeap) push(c cand) {
	*h = append(*h, c)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !candLess(a[i], a[p]) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *candHeap) pop() cand {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a[n] = cand{}
	a = a[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && candLess(a[r], a[l]) {
			m = r
		}
		if !candLess(a[m], a[i]) {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}

func (r *request) excludes(agent string) bool {
	return len(r.excluded) > 0 && containsSorted(r.excluded, agent)
}

// offerRequest offers r to the best available agent of its queue under its
// escalation step: the step's eligible agents (the queue's strategy), then
// those of each queue the step adds, in order (steps.go).
func (s *State) offerRequest(r *request) {
	q := r.queue
	if q.def.Mode == External || !s.queueOpen(q) {
		return
	}
	t := q.tiers[r.step]
	if r.preferring() {
		s.offerPreferred(r, t) // preferred.go
		return
	}
	best := s.bestIn(t.pool, r)
	for _, id := range t.add {
		if best != nil {
			break
		}
		if p := s.overflowPool(r, id); p != nil {
			best = s.bestIn(p, r)
		}
	}
	if best != nil {
		s.offer(r, best)
		if q.def.OfferToAgents > 1 && r.state == RequestOfferedState {
			s.offerMore(r, t) // multioffer.go
		}
	}
}

// offer reserves am's capacity for r: task RESERVED with the queue's RONA
// deadline, or, for an unconfirmed callback, a hold (hold.go).
func (s *State) offer(r *request, am *agentMRD) {
	if r.holds() {
		s.holdAgent(r, am)
		return
	}
	s.offerTask(r, am, s.newTaskID(), ronaTimeout(r.queue))
}

// ronaTimeout is how long an offer from q waits for accept.
func ronaTimeout(q *queueRT) time.Duration {
	if q.def.RONATimeout > 0 {
		return q.def.RONATimeout
	}
	return DefaultRONATimeout
}
