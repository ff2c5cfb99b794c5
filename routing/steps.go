package routing

import (
	"maps"
	"slices"
	"time"

	"github.com/google/btree"
)

// Escalation steps (DESIGN.md "Routing policies"; Genesys bullseye rings,
// Amazon Connect routing steps, Salesforce Omni-Channel "drop skills
// after").
//
// A queue has tiers: tier 0 is its own definition, tier i its Steps[i-1]. A
// request is at the tier of the latest step whose After has passed since it
// first queued; the step change is a deadline (deadlineStep) that a Tick
// applies, like RONA and TTL. A RONA, decline or logout keeps the step and
// the position: the step depends only on the first enqueue time.
//
// Indexes. Each tier keeps the QUEUED requests at its step in service order
// (the queue's own waiting tree when it has no steps) and has a pool: the
// index of the available agents eligible under the tier's skills, in the
// queue's strategy order (tiers with equal skills share one pool). An agent
// MRD lists the pools it is eligible for. A freed agent looks at the heads
// of its pools' tiers and, for a queue's base pool (tier 0), at the heads of
// the tiers of other queues whose step adds that queue; a waiting request
// looks at its tier's pool, then at the base pools of its step's AddQueues
// in their order. So a decision stays O(log n) per pool looked at.
//
// Who wins when a request overflows into a queue whose own requests are
// older: an agent of the added queue serves the engine's one order over
// everything it may take, priority first, then the earliest first-enqueue
// time, then arrival. The overflowing request keeps the place it took when
// it first queued: at equal priority the added queue's older requests go
// first and its younger ones after the overflowing request. A step's
// Priority is how an operator lets overflow go ahead (or, left at 0, keeps
// it strictly first come, first served). On the request's side, the own
// queue's eligible agents come first (its strategy), then each added queue's
// (theirs), in AddQueues order.

// tier is one escalation step of a queue.
type tier struct {
	q        *queueRT
	step     int
	waiting  *btree.BTreeG[*request]
	pool     *pool
	add      []string // the step's AddQueues
	priority int      // the Priority of steps 1..step, summed
}

// pool is the availability index of the agents eligible under one skill
// set of a queue.
type pool struct {
	q      *queueRT
	tier   int // the first tier using the pool (with q.def.ID, its order key)
	skills map[string]int
	names  []string // skills' names, sorted (best-skill scores)
	avail  *btree.BTreeG[availItem]
	tiers  []*tier // q's tiers using the pool, by step
	// A step pool (tier > 0) is kept up to date only once hot: from the
	// first time a request waits at one of its tiers (warm). Until then
	// reindex skips it, so steps nobody reaches cost the hot path
	// nothing. members are its eligible agent MRDs, so warm can fill it;
	// their order never matters (the index orders them). Hotness changes
	// no decision, so it is not in the snapshot.
	hot     bool
	members map[*agentMRD]struct{}
}

// warm makes the step pool p hot: every available member enters the
// index under its current keys.
func (s *State) warm(p *pool) {
	p.hot = true
	for am := range p.members {
		if !am.available() {
			continue
		}
		i, ok := poolIndex(am.pools, p)
		if !ok {
			continue
		}
		sl := &am.slots[i]
		if sl.in {
			p.avail.Delete(sl.item(am))
		}
		sl.k1, sl.k2, sl.k3 = availKeyFor(p, am)
		sl.in = true
		p.avail.ReplaceOrInsert(sl.item(am))
	}
}

// validateSteps checks q's steps (validateQueue).
func (s *State) validateSteps(q *Queue) *Error {
	if len(q.Steps) == 0 {
		return nil
	}
	if q.Mode == External {
		return errf(CodeInvalidArgument, "queue %q: escalation steps need an internal queue", q.ID)
	}
	if len(q.Steps) > MaxSteps {
		return errf(CodeLimitExceeded, "queue %q has more than %d steps", q.ID, MaxSteps)
	}
	var prev time.Duration
	for i, st := range q.Steps {
		if st.After <= prev || st.After > MaxDuration {
			return errf(CodeInvalidArgument, "queue %q step %d: after must be over the step before (%s) and at most %s", q.ID, i+1, prev, MaxDuration)
		}
		prev = st.After
		if st.Skills != nil {
			if err := checkSkills("queue step", st.Skills); err != nil {
				return err
			}
		}
		if st.Priority < 0 || st.Priority > MaxPriority {
			return errf(CodeInvalidArgument, "queue %q step %d: priority %d is outside 0..%d", q.ID, i+1, st.Priority, MaxPriority)
		}
		if len(st.AddQueues) > MaxAddQueues {
			return errf(CodeLimitExceeded, "queue %q step %d adds more than %d queues", q.ID, i+1, MaxAddQueues)
		}
		for _, id := range st.AddQueues {
			if err := checkID("queue step addQueues", id); err != nil {
				return err
			}
			if id == q.ID {
				return errf(CodeInvalidArgument, "queue %q step %d adds the queue itself", q.ID, i+1)
			}
			if o, ok := s.queues[id]; ok && (o.def.MRD != q.MRD || o.def.Mode == External) {
				return errf(CodeInvalidArgument, "queue %q step %d adds %q, which is not an internal queue on mrd %q", q.ID, i+1, id, q.MRD)
			}
		}
		if len(slices.Compact(slices.Sorted(slices.Values(st.AddQueues)))) != len(st.AddQueues) {
			return errf(CodeInvalidArgument, "queue %q step %d names a queue twice in addQueues", q.ID, i+1)
		}
	}
	return nil
}

func cloneSteps(steps []EscalationStep) []EscalationStep {
	if steps == nil {
		return nil
	}
	out := make([]EscalationStep, len(steps))
	for i, st := range steps {
		st.Skills = maps.Clone(st.Skills)
		st.AddQueues = slices.Clone(st.AddQueues)
		out[i] = st
	}
	return out
}

// buildTiers makes q's tiers and pools from q.def, unlinking the old
// tiers from the overflow lists. The agents must already be out of the
// old pools; the waiting trees of the tiers are empty.
func (s *State) buildTiers(q *queueRT) {
	for _, t := range q.tiers {
		for _, id := range t.add {
			if l := s.overflow[id]; l != nil {
				*l = slices.DeleteFunc(*l, func(x *tier) bool { return x == t })
			}
		}
	}
	q.tiers = q.tiers[:0]
	skills := q.def.Skills
	var pools []*pool
	for i := 0; i <= len(q.def.Steps); i++ {
		t := &tier{q: q, step: i, waiting: q.waiting}
		if i > 0 {
			st := q.def.Steps[i-1]
			if st.Skills != nil {
				skills = st.Skills
			}
			// Step priorities add up: a step never lowers a priority.
			t.add, t.priority = st.AddQueues, min(q.tiers[i-1].priority+st.Priority, MaxPriority)
			t.waiting = btree.NewG(btreeDegree, requestLess)
		}
		for _, p := range pools {
			if maps.Equal(p.skills, skills) {
				t.pool = p
				break
			}
		}
		if t.pool == nil {
			t.pool = &pool{q: q, tier: i, skills: skills, names: slices.Sorted(maps.Keys(skills)),
				avail: btree.NewG(btreeDegree, availLess), hot: i == 0}
			if i > 0 {
				t.pool.members = map[*agentMRD]struct{}{}
			}
			pools = append(pools, t.pool)
		}
		t.pool.tiers = append(t.pool.tiers, t)
		q.tiers = append(q.tiers, t)
		for _, id := range t.add {
			l := s.overflowList(id)
			*l = append(*l, t)
		}
	}
	// With steps, the queue's waiting tree holds every step; tier 0 gets
	// a tree of its own.
	if len(q.tiers) > 1 {
		q.tiers[0].waiting = btree.NewG(btreeDegree, requestLess)
	}
	q.pools = pools
	q.avail = pools[0].avail
	q.overflowIn = s.overflowList(q.def.ID)
}

// overflowList is the shared list of tiers that add queue id.
func (s *State) overflowList(id string) *[]*tier {
	l := s.overflow[id]
	if l == nil {
		l = new([]*tier)
		s.overflow[id] = l
	}
	return l
}

// stepFor is the step of a request of q first queued at enqueuedAt, at now.
func stepFor(q *queueRT, enqueuedAt, now time.Time) int {
	n := 0
	if len(q.def.Steps) == 0 {
		return 0
	}
	wait := now.Sub(enqueuedAt)
	for i, st := range q.def.Steps {
		if wait < st.After {
			break
		}
		n = i + 1
	}
	return n
}

// agingCap is the priority aging stops at in q.
func agingCap(q *queueRT) int {
	if q.def.MaxPriority > 0 {
		return q.def.MaxPriority
	}
	return MaxPriority
}

// aged is r's base priority plus the levels its wait at now earns in its
// queue (Queue.PriorityAging), capped; and when the next level comes
// (zero: never).
func (r *request) aged(now time.Time) (int, time.Time) {
	q := r.queue
	n := q.def.PriorityAging
	top := agingCap(q)
	if n <= 0 || r.base >= top {
		return r.base, time.Time{}
	}
	levels := int64(0)
	if w := now.Sub(r.enqueuedAt); w > 0 {
		levels = int64(w / n)
	}
	if levels >= int64(top-r.base) {
		return top, time.Time{}
	}
	return r.base + int(levels), r.enqueuedAt.Add(time.Duration(levels+1) * n)
}

// effectivePriority is r's priority at step at now: its aged base plus the
// steps', capped at MaxPriority.
func (r *request) effectivePriority(step int, now time.Time) int {
	p, _ := r.aged(now)
	return min(p+r.queue.tiers[step].priority, MaxPriority)
}

// hasPolicy says whether q's requests change over time (steps, aging).
func (q *queueRT) hasPolicy() bool {
	return len(q.def.Steps) > 0 || q.def.PriorityAging > 0
}

// addWaiting puts r in its queue's and its tier's waiting trees.
func (s *State) addWaiting(r *request) {
	q := r.queue
	q.waiting.ReplaceOrInsert(r)
	if t := q.tiers[r.step]; t.waiting != q.waiting {
		t.waiting.ReplaceOrInsert(r)
		if !t.pool.hot {
			s.warm(t.pool)
		}
	}
	s.waiting++
}

// delWaiting takes r out of its waiting trees.
func (s *State) delWaiting(r *request) {
	q := r.queue
	q.waiting.Delete(r)
	if t := q.tiers[r.step]; t.waiting != q.waiting {
		t.waiting.Delete(r)
	}
	s.waiting--
}

// schedStep replaces r's step deadline with the start of its next step or
// its next aging level, whichever comes first.
func (s *State) schedStep(r *request) {
	if !r.stepAt.IsZero() {
		s.removeDeadline(r.stepAt, deadlineStep, r.id)
		r.stepAt = time.Time{}
	}
	var next time.Time
	if steps := r.queue.def.Steps; r.step < len(steps) {
		next = r.enqueuedAt.Add(steps[r.step].After)
	}
	if _, lvl := r.aged(s.now); !lvl.IsZero() && (next.IsZero() || lvl.Before(next)) {
		next = lvl
	}
	if !next.IsZero() {
		r.stepAt = next
		s.addDeadline(r.stepAt, deadlineStep, r.id)
	}
}

// restep moves r to the step its wait calls for now under its queue's
// current steps (a Tick, a definition change, a request waiting again),
// keeping its place in the trees if QUEUED, and says whether the step or
// the priority changed.
func (s *State) restep(r *request) bool {
	step := stepFor(r.queue, r.enqueuedAt, s.now)
	if step >= len(r.queue.tiers) {
		step = len(r.queue.tiers) - 1
	}
	prio := r.effectivePriority(step, s.now)
	changed := step != r.step || prio != r.priority
	if changed {
		waiting := r.state == RequestQueuedState && s.requests[r.id] == r
		if waiting {
			s.delWaiting(r)
		}
		r.step, r.priority = step, prio
		if waiting {
			s.addWaiting(r)
			s.dirtyReqs = append(s.dirtyReqs, r)
		}
	}
	s.schedStep(r)
	return changed
}

// escalate applies r's step (or aging) deadline.
func (s *State) escalate(r *request) {
	r.stepAt = time.Time{} // the Tick took the deadline out
	step := r.step
	if s.restep(r) {
		reason := ReasonEscalated
		if r.step == step {
			reason = ReasonAged
		}
		s.emitStep(r, reason)
	}
}

func (s *State) emitStep(r *request, reason CloseReason) {
	s.emit(RequestUpdated{Request: r.id, Conversation: r.conv.id, Queue: r.queue.def.ID, Reason: reason,
		Excluded: slices.Clone(r.excluded), Step: r.step, Priority: r.priority, At: s.now})
}

// SetRequestPriority changes a live request's priority in place (PATCH
// /v1/requests/{id}): its enqueue time, step and exclusions stay, so it
// keeps its place among requests of its new priority (Asterisk app_queue
// users ask for exactly this). Priority is the base, 0..MaxPriority;
// steps and aging add to it. The conversation keeps the new priority for
// a later re-queue. Errors: CodeRequestNotFound, CodeInvalidArgument.
// Event: RequestUpdated PRIORITY_CHANGED.
type SetRequestPriority struct {
	Request  string `json:"request"`
	Priority int    `json:"priority"`
}

// CommandName implements Command.
func (SetRequestPriority) CommandName() string { return "SetRequestPriority" }

func (s *State) setRequestPriority(c SetRequestPriority) *Error {
	r, ok := s.requests[c.Request]
	if !ok {
		return errf(CodeRequestNotFound, "request %q does not exist or has ended", c.Request)
	}
	if c.Priority < 0 || c.Priority > MaxPriority {
		return errf(CodeInvalidArgument, "priority %d is outside 0..%d", c.Priority, MaxPriority)
	}
	waiting := r.state == RequestQueuedState
	if waiting {
		s.delWaiting(r)
	}
	r.base = c.Priority
	r.conv.priority = c.Priority
	r.priority = r.effectivePriority(min(r.step, len(r.queue.tiers)-1), s.now)
	if waiting {
		s.addWaiting(r)
		s.dirtyReqs = append(s.dirtyReqs, r)
	}
	if r.queue.hasPolicy() || !r.stepAt.IsZero() {
		s.schedStep(r)
	}
	s.emitStep(r, ReasonPriorityChanged)
	return nil
}

// bestIn returns the first available agent MRD of p that r may take,
// dropping the stale entries it meets and moving those whose key grew
// since they were indexed (see reindex): an entry's current key is never
// before its indexed one, so the scan ends at the first entry that is
// current, or once the indexed keys pass the best current key seen.
func (s *State) bestIn(p *pool, r *request) *agentMRD {
	var best availItem
	found := false
	stale, moved := s.stale[:0], s.moved[:0]
	p.avail.Ascend(func(it availItem) bool {
		if found && !availLess(it, best) {
			return false
		}
		if !it.am.available() {
			stale = append(stale, it)
			return true
		}
		cur := it
		cur.k1, cur.k2, cur.k3 = availKeyFor(p, it.am)
		if cur != it {
			moved = append(moved, it)
		}
		if !r.canTake(it.am.agent) {
			return true
		}
		if !found || availLess(cur, best) {
			best, found = cur, true
		}
		return cur != it // a current entry ends the scan
	})
	for i, it := range stale {
		s.dropStale(p, it)
		stale[i] = availItem{}
	}
	for i, it := range moved {
		if j, ok := poolIndex(it.am.pools, p); ok {
			s.rekey(p, it.am, j)
		}
		moved[i] = availItem{}
	}
	s.stale, s.moved = stale[:0], moved[:0]
	if !found {
		return nil
	}
	return best.am
}

// overflowPool is the base pool of queue id when r's tier may use it: an
// internal queue on r's MRD.
func (s *State) overflowPool(r *request, id string) *pool {
	o, ok := s.queues[id]
	if !ok || o.def.Mode == External || o.mrd != r.queue.mrd {
		return nil
	}
	return o.tiers[0].pool
}
