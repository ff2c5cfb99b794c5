package routingtest

// The engine's rules re-implemented from the read views: eligibility,
// availability, steps, capacity by weight, service order.

import (
	"slices"
	"strings"
	"time"

	"github.com/omniroute/omniroute/routing"
)

// view gathers what the stateless checks need from s's read views.
type view struct {
	queues   []routing.Queue
	agentIDs []string
	agents   map[string]routing.AgentStatus
	tasks    map[string][]routing.Task
	waiting  map[string][]routing.Request    // queue -> QUEUED requests in order
	mrdInt   map[string]bool                 // mrd -> interruptible
	convs    map[string]routing.Conversation // open conversations
	// involved: conversation -> agents holding a task on it or
	// supervising it (never offered it again).
	involved map[string]map[string]bool
	// holds: agent -> its HELD requests (one load unit each).
	holds map[string][]routing.Request
}

func newView(s *routing.State) *view {
	v := &view{queues: s.Queues(), agentIDs: s.AgentIDs(), agents: map[string]routing.AgentStatus{},
		tasks: map[string][]routing.Task{}, waiting: map[string][]routing.Request{}, mrdInt: map[string]bool{}}
	for _, m := range s.MRDs() {
		v.mrdInt[m.ID] = m.Interruptible
	}
	for _, id := range v.agentIDs {
		v.agents[id], _ = s.Agent(id)
		v.tasks[id], _ = s.Tasks(id)
	}
	for _, q := range v.queues {
		v.waiting[q.ID], _ = s.WaitingRequests(q.ID)
	}
	v.holds = map[string][]routing.Request{}
	for _, r := range s.Requests() {
		if r.State == routing.RequestHeldState {
			v.holds[r.HeldAgent] = append(v.holds[r.HeldAgent], r)
		}
	}
	v.convs = map[string]routing.Conversation{}
	v.involved = map[string]map[string]bool{}
	involve := func(conv, agent string) {
		if v.involved[conv] == nil {
			v.involved[conv] = map[string]bool{}
		}
		v.involved[conv][agent] = true
	}
	for _, id := range v.agentIDs {
		for _, t := range v.tasks[id] {
			involve(t.Conversation, id)
		}
	}
	for _, id := range s.OpenConversations() {
		cv, _ := s.Conversation(id)
		v.convs[id] = cv
		for _, p := range cv.Participants {
			if p.Task == "" {
				involve(id, p.Agent)
			}
		}
	}
	return v
}

// canTake re-implements the engine's per-request rule: the target agent
// only (when the request names one), room by weight for the conversation
// (routing/capacity.go), not excluded, not already holding a task on or
// supervising the conversation.
func (v *view) canTake(r routing.Request, agent string) bool {
	if r.TargetAgent != "" && r.TargetAgent != agent {
		return false
	}
	if st := v.agents[agent]; !fitsUnits(st, st.UsedUnits, weightOf(r)) {
		return false
	}
	if len(r.PreferredAgents) > 0 && !slices.Contains(r.PreferredAgents, agent) {
		return false // routing/preferred.go
	}
	return !slices.Contains(r.Excluded, agent) && !v.involved[r.Conversation][agent]
}

// weightOf is a request's capacity weight (0 shown for 1).
func weightOf(r routing.Request) int { return max(r.CapacityWeight, 1) }

// fitsUnits: w more units fit an agent using used units.
func fitsUnits(st routing.AgentStatus, used, w int) bool {
	return st.Agent.CapacityUnits == 0 || used+w <= st.Agent.CapacityUnits
}

// minWeight re-implements an MRD's smallest waiting weight: the smallest
// capacity weight of its internal queues (0 counts as 1), 1 without any.
func (v *view) minWeight(mrd string) int {
	w := 0
	for _, q := range v.queues {
		if q.MRD == mrd && q.Mode != routing.External && (w == 0 || max(q.CapacityWeight, 1) < w) {
			w = max(q.CapacityWeight, 1)
		}
	}
	return max(w, 1)
}

// offerLimit is how many agents r's queue offers a request to at once
// (routing/multioffer.go); transfers to one agent and callbacks reserve one.
func offerLimit(s *routing.State, r routing.Request) int {
	if r.TargetAgent != "" || r.HeldAgent != "" {
		return 1
	}
	q, _ := s.Queue(r.Queue)
	return max(q.OfferToAgents, 1)
}

func mrdOf(st routing.AgentStatus, mrd string) (routing.AgentMRDStatus, bool) {
	for _, m := range st.MRDs {
		if m.MRD.ID == mrd {
			return m, true
		}
	}
	return routing.AgentMRDStatus{}, false
}

// eligible re-implements the eligibility rule from the definitions alone:
// internal queue, capacity on its MRD, member (when the queue lists
// members), every required skill at or above its level.
func eligible(st routing.AgentStatus, q routing.Queue) bool {
	if q.Mode == routing.External {
		return false
	}
	m, ok := mrdOf(st, q.MRD)
	if !ok || m.Capacity <= 0 {
		return false
	}
	if len(q.Members) > 0 && !slices.Contains(q.Members, st.Agent.ID) {
		return false
	}
	for name, level := range q.Skills {
		if st.Agent.Skills[name] < level {
			return false
		}
	}
	return true
}

// stepSkills re-implements a step's skills: the latest step at or before
// step that sets skills, else the queue's own.
func stepSkills(q routing.Queue, step int) map[string]int {
	skills := q.Skills
	for i := 0; i < step && i < len(q.Steps); i++ {
		if q.Steps[i].Skills != nil {
			skills = q.Steps[i].Skills
		}
	}
	return skills
}

// stepPriority re-implements the priority steps 1..step add.
func stepPriority(q routing.Queue, step int) int {
	p := 0
	for i := 0; i < step && i < len(q.Steps); i++ {
		p += q.Steps[i].Priority
	}
	return min(p, routing.MaxPriority)
}

// nextChange re-implements when r's step or aged priority next changes
// (zero: never), from its step, priority and base: the next step's start
// or the next aging level, whichever comes first.
func nextChange(q routing.Queue, r routing.Request) time.Time {
	var next time.Time
	if r.Step < len(q.Steps) {
		next = r.EnqueuedAt.Add(q.Steps[r.Step].After)
	}
	top := q.MaxPriority
	if top == 0 {
		top = routing.MaxPriority
	}
	aged := r.Priority - stepPriority(q, r.Step)
	if q.PriorityAging > 0 && r.BasePriority < top && aged < top && r.Priority < routing.MaxPriority {
		lvl := r.EnqueuedAt.Add(time.Duration(aged-r.BasePriority+1) * q.PriorityAging)
		if next.IsZero() || lvl.Before(next) {
			next = lvl
		}
	}
	return next
}

// atStep is q as a request at step sees it: the step's skills in place of
// the queue's (members, MRD and mode are the queue's).
func atStep(q routing.Queue, step int) routing.Queue {
	q.Skills = stepSkills(q, step)
	return q
}

// addedQueues re-implements overflow: the queues r's step adds that exist
// and are internal queues on r's queue's MRD, in order.
func (v *view) addedQueues(q routing.Queue, step int) []routing.Queue {
	if step < 1 || step > len(q.Steps) {
		return nil
	}
	var out []routing.Queue
	for _, id := range q.Steps[step-1].AddQueues {
		if o, ok := v.queue(id); ok && o.MRD == q.MRD && o.Mode != routing.External {
			out = append(out, o)
		}
	}
	return out
}

func (v *view) queue(id string) (routing.Queue, bool) {
	i, ok := slices.BinarySearchFunc(v.queues, id, func(q routing.Queue, id string) int { return strings.Compare(q.ID, id) })
	if !ok {
		return routing.Queue{}, false
	}
	return v.queues[i], true
}

// serves says whether the agent may take request r under r's current step:
// eligible under the step's skills, or under the own definition of a queue
// the step adds.
func (v *view) serves(st routing.AgentStatus, q routing.Queue, r routing.Request) bool {
	if eligible(st, atStep(q, r.Step)) {
		return true
	}
	for _, o := range v.addedQueues(q, r.Step) {
		if eligible(st, o) {
			return true
		}
	}
	return false
}

// available: the agent may be offered work on mrd now.
func available(st routing.AgentStatus, mrd string) bool {
	m, ok := mrdOf(st, mrd)
	return ok && st.State == routing.AgentReady && (m.State == routing.MRDReady || m.State == routing.MRDActive) &&
		m.Load < m.Capacity
}

// before says whether request a is served before request b (priority, then
// enqueue time). Requests equal on both are not ordered.
func before(a, b routing.Request) bool {
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	return a.EnqueuedAt.Before(b.EnqueuedAt)
}

// wallOpen reads business hours naively: open when t's local date is no
// closure and its local weekday and HH:MM fall in a weekly interval.
func wallOpen(h routing.BusinessHours, t time.Time) bool {
	loc, err := time.LoadLocation(h.TimeZone)
	if err != nil {
		return false
	}
	lt := t.In(loc)
	if slices.Contains(h.Closures, lt.Format(time.DateOnly)) {
		return false
	}
	hm := lt.Format("15:04")
	for _, iv := range h.Weekly {
		if strings.EqualFold(iv.Day, lt.Weekday().String()) && hm >= iv.Open && hm < iv.Close {
			return true
		}
	}
	return false
}
