package routing

import (
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/btree"
)

func checkID(what, id string) *Error {
	if id == "" {
		return errf(CodeInvalidArgument, "%s id is empty", what)
	}
	if len(id) > MaxIDLength {
		return errf(CodeInvalidArgument, "%s id is longer than %d bytes", what, MaxIDLength)
	}
	if !utf8.ValidString(id) {
		return errf(CodeInvalidArgument, "%s id is not valid UTF-8", what)
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return errf(CodeInvalidArgument, "%s id has a control character", what)
		}
	}
	return nil
}

func checkName(what, name string) *Error {
	if len(name) > MaxNameLength {
		return errf(CodeInvalidArgument, "%s name is longer than %d bytes", what, MaxNameLength)
	}
	if !utf8.ValidString(name) {
		return errf(CodeInvalidArgument, "%s name is not valid UTF-8", what)
	}
	return nil
}

func checkDuration(what string, d time.Duration) *Error {
	if d < 0 || d > MaxDuration {
		return errf(CodeInvalidArgument, "%s must be between 0 and %s", what, MaxDuration)
	}
	return nil
}

func checkSkills(what string, skills map[string]int) *Error {
	if len(skills) > MaxSkillsPerEntity {
		return errf(CodeLimitExceeded, "%s has more than %d skills", what, MaxSkillsPerEntity)
	}
	for _, name := range slices.Sorted(maps.Keys(skills)) {
		if err := checkID(what+" skill", name); err != nil {
			return err
		}
		if l := skills[name]; l < 1 || l > MaxSkillLevel {
			return errf(CodeInvalidArgument, "%s skill %q level %d is outside 1..%d", what, name, l, MaxSkillLevel)
		}
	}
	return nil
}

func (s *State) upsertMRD(m MRD) *Error {
	if err := checkID("mrd", m.ID); err != nil {
		return err
	}
	if err := checkName("mrd", m.Name); err != nil {
		return err
	}
	if err := checkName("mrd description", m.Description); err != nil {
		return err
	}
	if m.MaxRequests == 0 {
		m.MaxRequests = 1
	}
	if m.MaxRequests < 1 || m.MaxRequests > MaxCapacity {
		return errf(CodeInvalidArgument, "mrd maxRequests %d is outside 1..%d", m.MaxRequests, MaxCapacity)
	}
	if m.Name == "" {
		m.Name = m.ID
	}
	md, exists := s.mrds[m.ID]
	if !exists {
		if len(s.mrds) >= MaxMRDs {
			return errf(CodeLimitExceeded, "more than %d MRDs", MaxMRDs)
		}
		md = &mrdRT{def: m, minWeight: 1}
		s.mrds[m.ID] = md
		s.mrdIDs = insertSorted(s.mrdIDs, m.ID)
		for _, id := range s.agentIDs {
			a := s.agents[id]
			a.mrds[m.ID] = &agentMRD{agent: a, mrd: md, want: a.state == AgentReady, state: MRDNotReady, since: s.now}
			s.listMRDs(a)
		}
	}
	md.def = m
	s.emit(DefinitionChanged{Kind: "mrd", ID: m.ID, At: s.now})
	for _, id := range s.agentIDs {
		a := s.agents[id]
		a.mrds[m.ID].capacity = capacityFor(&a.def, md)
		s.refreshAgent(a)
	}
	return nil
}

func (s *State) upsertReasonCode(rc ReasonCode) *Error {
	if err := checkID("reason code", rc.ID); err != nil {
		return err
	}
	if err := checkName("reason code", rc.Name); err != nil {
		return err
	}
	if rc.Type != ReasonTypeNotReady && rc.Type != ReasonTypeLogout {
		return errf(CodeInvalidArgument, "reason code type must be NOT_READY or LOGOUT, not %q", rc.Type)
	}
	if _, ok := s.reasons[rc.ID]; !ok && len(s.reasons) >= MaxReasonCodes {
		return errf(CodeLimitExceeded, "more than %d reason codes", MaxReasonCodes)
	}
	if rc.Name == "" {
		rc.Name = rc.ID
	}
	s.reasons[rc.ID] = rc
	s.emit(DefinitionChanged{Kind: "reasonCode", ID: rc.ID, At: s.now})
	return nil
}

func (s *State) validateQueue(q *Queue) *Error {
	if err := checkID("queue", q.ID); err != nil {
		return err
	}
	if err := checkName("queue", q.Name); err != nil {
		return err
	}
	if q.Name == "" {
		q.Name = q.ID
	}
	if _, ok := s.mrds[q.MRD]; !ok {
		return errf(CodeMRDNotFound, "queue %q: mrd %q does not exist", q.ID, q.MRD)
	}
	switch q.Mode {
	case "":
		q.Mode = Internal
	case Internal, External:
	default:
		return errf(CodeInvalidArgument, "queue mode must be internal or external, not %q", q.Mode)
	}
	switch q.Strategy {
	case "":
		q.Strategy = LongestIdle
	case LongestIdle, MostAvailable, LeastActive, RoundRobin, BestSkill:
	default:
		return errf(CodeInvalidArgument, "unknown strategy %q (longest-idle, most-available, least-active, round-robin, best-skill)", q.Strategy)
	}
	if err := checkSkills("queue", q.Skills); err != nil {
		return err
	}
	if err := checkWeight("queue capacityWeight", q.CapacityWeight); err != nil {
		return err
	}
	if q.OfferToAgents < 0 || q.OfferToAgents > MaxOfferToAgents {
		return errf(CodeInvalidArgument, "queue %q: offerToAgents %d is outside 0..%d", q.ID, q.OfferToAgents, MaxOfferToAgents)
	}
	if q.OfferToAgents > 1 && q.Mode == External {
		return errf(CodeInvalidArgument, "queue %q: offerToAgents needs an internal queue (the partner chooses one agent)", q.ID)
	}
	if len(q.Members) > MaxMembersPerQueue {
		return errf(CodeLimitExceeded, "queue has more than %d members", MaxMembersPerQueue)
	}
	for _, m := range q.Members {
		if err := checkID("queue member", m); err != nil {
			return err
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ronaTimeout", q.RONATimeout}, {"ttl", q.TTL}, {"serviceLevelThreshold", q.ServiceLevelThreshold}, {"wrapUp", q.WrapUp},
		{"lastAgent", q.LastAgent}, {"lastAgentTimeout", q.LastAgentTimeout}} {
		if err := checkDuration("queue "+d.name, d.v); err != nil {
			return err
		}
	}
	switch q.RONAAction {
	case "":
		q.RONAAction = "NOT_READY"
	case "NOT_READY", "NONE":
	default:
		return errf(CodeInvalidArgument, "queue ronaAction must be NOT_READY or NONE, not %q", q.RONAAction)
	}
	// Empty stays empty (means close), so existing definitions read back
	// unchanged.
	switch q.LastAgentLeaves {
	case "", LastAgentClose, LastAgentRequeue:
	default:
		return errf(CodeInvalidArgument, "queue lastAgentLeaves must be close or requeue, not %q", q.LastAgentLeaves)
	}
	if err := checkDuration("queue priorityAging", q.PriorityAging); err != nil {
		return err
	}
	if q.LastAgentCustomers < 0 || q.LastAgentCustomers > MaxLastAgentCustomers {
		return errf(CodeInvalidArgument, "queue lastAgentCustomers %d is outside 0..%d", q.LastAgentCustomers, MaxLastAgentCustomers)
	}
	if q.MaxPriority < 0 || q.MaxPriority > MaxPriority {
		return errf(CodeInvalidArgument, "queue maxPriority %d is outside 0..%d", q.MaxPriority, MaxPriority)
	}
	if q.PriorityAging > 0 && q.Mode == External {
		return errf(CodeInvalidArgument, "queue %q: priority aging needs an internal queue", q.ID)
	}
	if err := s.validateHours(q); err != nil {
		return err
	}
	return s.validateSteps(q)
}

func (s *State) upsertQueue(q Queue) *Error {
	q.Skills = maps.Clone(q.Skills)
	q.Members = slices.Clone(q.Members)
	q.Steps = cloneSteps(q.Steps)
	q.Hours = q.Hours.Clone()
	if err := s.validateQueue(&q); err != nil {
		return err
	}
	qr, exists := s.queues[q.ID]
	if !exists {
		if len(s.queues) >= MaxQueues {
			return errf(CodeLimitExceeded, "more than %d queues", MaxQueues)
		}
	} else if qr.def.MRD != q.MRD && (qr.open > 0 || qr.tasks > 0) {
		return errf(CodeInUse, "queue %q has open conversations or tasks; its mrd cannot change", q.ID)
	}
	// A queue that other queues' steps add must stay an internal queue on
	// its MRD while it is added.
	if exists && (qr.def.MRD != q.MRD || q.Mode == External) {
		// Name the smallest adding queue: the list's order depends on the
		// order the queues were defined in, which a restore does not keep.
		by := ""
		for _, t := range *qr.overflowIn {
			if by == "" || t.q.def.ID < by {
				by = t.q.def.ID
			}
		}
		if by != "" {
			return errf(CodeInUse, "queue %q is added by a step of queue %q; its mrd and mode cannot change", q.ID, by)
		}
	}
	slices.Sort(q.Members)
	q.Members = slices.Compact(q.Members)
	if !exists {
		qr = &queueRT{
			waiting: btree.NewG(btreeDegree, requestLess),
		}
		s.queues[q.ID] = qr
		s.queueIDs = insertSorted(s.queueIDs, q.ID)
	}
	// Take the agents out of the old index before the definition changes.
	for _, id := range s.agentIDs {
		s.setQueueEligibility(s.agents[id], qr, false)
	}
	hadSteps := qr.hasPolicy()
	oldMRD := qr.mrd
	qr.def = q
	qr.mrd = s.mrds[q.MRD]
	qr.stats.Queue = q.ID
	qr.members = nil
	if len(q.Members) > 0 {
		qr.members = make(map[string]bool, len(q.Members))
		for _, m := range q.Members {
			qr.members[m] = true
		}
	}
	// The waiting requests leave the trees while the tiers are rebuilt and
	// come back in their order, each at the step the new steps give it.
	var waiting []*request
	qr.waiting.Ascend(func(r *request) bool {
		waiting = append(waiting, r)
		return true
	})
	qr.waiting.Clear(false)
	s.waiting -= len(waiting)
	// Offered and held requests move to their new step too (rare: only
	// when the queue has or had steps; by id, so the order is fixed).
	var out []*request
	if hadSteps || qr.hasPolicy() {
		for _, id := range slices.Sorted(maps.Keys(s.requests)) {
			if r := s.requests[id]; r.queue == qr && r.state != RequestQueuedState {
				out = append(out, r)
			}
		}
	}
	s.buildTiers(qr)
	qr.redefineLastAgents() // lastagent.go
	qr.hours = compileHours(q.Hours)
	i, found := slices.BinarySearchFunc(s.hoursQueues, q.ID, func(x *queueRT, id string) int { return strings.Compare(x.def.ID, id) })
	switch {
	case qr.hours != nil && !found:
		s.hoursQueues = slices.Insert(s.hoursQueues, i, qr)
	case qr.hours == nil && found:
		s.hoursQueues = slices.Delete(s.hoursQueues, i, i+1)
	}
	qr.hoursFrom = time.Time{}
	s.schedHours(qr)
	s.emit(DefinitionChanged{Kind: "queue", ID: q.ID, At: s.now})
	for _, id := range s.agentIDs {
		s.setQueueEligibility(s.agents[id], qr, true)
	}
	s.setMinWeight(oldMRD)
	s.setMinWeight(qr.mrd)
	for _, id := range s.agentIDs {
		s.refreshAgent(s.agents[id])
	}
	for _, r := range out {
		step, prio := r.step, r.priority
		r.step = min(r.step, len(qr.tiers)-1)
		s.restep(r)
		if r.step != step || r.priority != prio {
			s.emitStep(r, ReasonEscalated)
		}
	}
	for _, r := range waiting {
		step, prio := r.step, r.priority
		r.step = min(r.step, len(qr.tiers)-1)
		s.addWaiting(r)
		s.restep(r)
		if r.step != step || r.priority != prio {
			s.emitStep(r, ReasonEscalated)
		}
		s.dirtyReqs = append(s.dirtyReqs, r)
	}
	return nil
}

// eligible says whether a may take internal work from q under its own
// definition (membership, skills, capacity on the queue's MRD). External
// queues have no eligible agents: a partner router chooses.
func (s *State) eligible(a *agentRT, q *queueRT) bool {
	return s.eligibleFor(a, q, q.def.Skills)
}

// eligibleFor is eligible with skills in place of the queue's (a pool's).
func (s *State) eligibleFor(a *agentRT, q *queueRT, skills map[string]int) bool {
	if q.def.Mode == External {
		return false
	}
	if capacityFor(&a.def, q.mrd) <= 0 {
		return false
	}
	if q.members != nil && !q.members[a.def.ID] {
		return false
	}
	for name, level := range skills {
		if a.def.Skills[name] < level {
			return false
		}
	}
	return true
}

// setQueueEligibility adds a to, or removes it from, each pool of q (on:
// where eligible; off: all) on q's MRD: a's pool list and the pools'
// availability indexes.
func (s *State) setQueueEligibility(a *agentRT, q *queueRT, on bool) {
	am := a.mrds[q.def.MRD]
	if am == nil {
		return
	}
	for _, p := range q.pools {
		want := on && s.eligibleFor(a, q, p.skills)
		i, found := poolIndex(am.pools, p)
		if want && !found {
			am.pools = slices.Insert(am.pools, i, p)
			am.slots = slices.Insert(am.slots, i, availSlot{})
			if p.members != nil {
				p.members[am] = struct{}{}
			}
		}
		if !want && found {
			if sl := &am.slots[i]; sl.in {
				p.avail.Delete(sl.item(am))
			}
			am.pools = slices.Delete(am.pools, i, i+1)
			am.slots = slices.Delete(am.slots, i, i+1)
			delete(p.members, am)
		}
	}
}

// poolIndex finds p in pools, sorted by (queue id, first tier).
func poolIndex(pools []*pool, p *pool) (int, bool) {
	return slices.BinarySearchFunc(pools, p, func(x, p *pool) int {
		switch {
		case x.q.def.ID < p.q.def.ID:
			return -1
		case x.q.def.ID > p.q.def.ID:
			return 1
		}
		return x.tier - p.tier
	})
}

func (s *State) upsertAgent(ag Agent) *Error {
	if err := checkID("agent", ag.ID); err != nil {
		return err
	}
	if err := checkName("agent", ag.Name); err != nil {
		return err
	}
	switch ag.Role {
	case "":
		ag.Role = RoleAgent
	case RoleAgent, RoleSupervisor:
	default:
		return errf(CodeInvalidArgument, "agent role must be agent or supervisor, not %q", ag.Role)
	}
	if len(ag.Teams) > MaxTeamsPerAgent {
		return errf(CodeLimitExceeded, "agent has more than %d teams", MaxTeamsPerAgent)
	}
	for _, t := range ag.Teams {
		if err := checkID("team", t); err != nil {
			return err
		}
	}
	if err := checkSkills("agent", ag.Skills); err != nil {
		return err
	}
	for _, m := range slices.Sorted(maps.Keys(ag.Capacity)) {
		if _, ok := s.mrds[m]; !ok {
			return errf(CodeMRDNotFound, "agent capacity names mrd %q, which does not exist", m)
		}
		if c := ag.Capacity[m]; c < 0 || c > MaxCapacity {
			return errf(CodeInvalidArgument, "agent capacity on %q is outside 0..%d", m, MaxCapacity)
		}
	}
	if err := checkWeight("agent capacityUnits", ag.CapacityUnits); err != nil {
		return err
	}
	a, exists := s.agents[ag.ID]
	if !exists && len(s.agents) >= MaxAgents {
		return errf(CodeLimitExceeded, "more than %d agents", MaxAgents)
	}
	if ag.Name == "" {
		ag.Name = ag.ID
	}
	ag.Skills = maps.Clone(ag.Skills)
	ag.Capacity = maps.Clone(ag.Capacity)
	ag.Teams = slices.Clone(ag.Teams)
	slices.Sort(ag.Teams)
	ag.Teams = slices.Compact(ag.Teams)
	if !exists {
		a = &agentRT{state: AgentLogout, since: s.now, mrds: map[string]*agentMRD{}}
		s.agents[ag.ID] = a
		s.agentIDs = insertSorted(s.agentIDs, ag.ID)
		for _, id := range s.mrdIDs {
			a.mrds[id] = &agentMRD{agent: a, mrd: s.mrds[id], state: MRDNotReady, since: s.now}
		}
		s.listMRDs(a)
	}
	for _, qid := range s.queueIDs {
		s.setQueueEligibility(a, s.queues[qid], false)
	}
	a.def = ag
	for _, id := range s.mrdIDs {
		a.mrds[id].capacity = capacityFor(&a.def, s.mrds[id])
	}
	for _, qid := range s.queueIDs {
		s.setQueueEligibility(a, s.queues[qid], true)
	}
	s.emit(DefinitionChanged{Kind: "agent", ID: ag.ID, At: s.now})
	if exists && ag.Role != RoleSupervisor {
		s.dropSupervisor(a) // participants.go
	}
	s.refreshAgent(a)
	s.markDirty(a)
	return nil
}

// listMRDs rebuilds a.mrdList in the order of s.mrdIDs.
func (s *State) listMRDs(a *agentRT) {
	a.mrdList = a.mrdList[:0]
	for _, id := range s.mrdIDs {
		a.mrdList = append(a.mrdList, a.mrds[id])
	}
}
