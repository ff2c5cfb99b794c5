package routingtest

// The offers of one command: priority and FIFO first, then the queue's
// strategy choosing the agent.

import (
	"fmt"
	"slices"

	"github.com/omniroute/omniroute/routing"
)

// checkOffers checks every offer of the last command against the state
// after it: no request that comes first and that the agent could have taken
// still waits (priority, then FIFO), and no other available agent beats
// the chosen one under the queue's strategy (where the read views allow
// the strategy's keys to be rebuilt: longest-idle, most-available,
// least-active, best-skill; ties by agent id). Offers from external queues
// (AssignWork, seed 000) are not the engine's choice and are skipped; the
// per-event rules (READY agent, READY or ACTIVE MRD, room) still hold.
func checkOffers(s *routing.State, v *view, offers []offerRecord) error {
	if len(offers) == 0 {
		return nil
	}
	queues := map[string]routing.Queue{}
	for _, q := range v.queues {
		queues[q.ID] = q
	}
	for _, o := range offers {
		e := o.ev
		r, ok := s.Request(e.Request)
		if !ok {
			return fmt.Errorf("offered request %s is gone after the command", e.Request)
		}
		if r.TargetAgent != "" && r.TargetAgent != e.Agent {
			return fmt.Errorf("request %s for agent %s was offered to %s", r.ID, r.TargetAgent, e.Agent)
		}
		// An external queue's offers are the partner's choice (AssignWork)
		// or the requester's (a direct transfer): no engine order or
		// strategy to check.
		if queues[e.Queue].Mode == routing.External {
			continue
		}
		// Business hours: nothing is offered from a queue whose local wall
		// clock is outside its open intervals or on a closure date (a
		// naive reading of the hours, independent of the engine's; it can
		// only call open more than the engine does, in a repeated hour).
		if q := queues[e.Queue]; q.Hours != nil && !wallOpen(*q.Hours, e.At) {
			return fmt.Errorf("request %s offered from queue %s at %s, outside its business hours", e.Request, e.Queue, e.At)
		}
		x := v.agents[e.Agent]
		// Priority and FIFO: a better request that x could take still waits.
		for _, q := range v.queues {
			if q.MRD != e.MRD {
				continue
			}
			if hs, _ := s.QueueHours(q.ID, e.At); !hs.Open {
				continue // a closed queue's requests wait (business hours)
			}
			for _, wr := range v.waiting[q.ID] {
				if v.canTake(wr, e.Agent) && v.serves(x, q, wr) && before(wr, r) {
					return fmt.Errorf("request %s (priority %d, enqueued %s) was offered to %s while %s in %s (priority %d, enqueued %s) comes first and still waits",
						r.ID, r.Priority, r.EnqueuedAt.Format("15:04:05.000"), e.Agent, wr.ID, q.ID, wr.Priority,
						wr.EnqueuedAt.Format("15:04:05.000"))
				}
			}
		}
		// Strategy: a better agent was available. The request's step's
		// own eligible agents come first, then each queue the step adds,
		// in order, each by its own strategy (routing/steps.go): the
		// offered agent's group is the first that holds it; no agent of
		// an earlier group may be available, and no one in its group
		// may come first.
		own := atStep(queues[e.Queue], r.Step)
		groups := append([]routing.Queue{own}, v.addedQueues(queues[e.Queue], r.Step)...)
		gi := slices.IndexFunc(groups, func(g routing.Queue) bool { return eligible(x, g) })
		if gi < 0 {
			return fmt.Errorf("request %s (step %d) was offered to %s, who may not take it", r.ID, r.Step, e.Agent)
		}
		if len(r.PreferredAgents) > 0 {
			// Preferred agents (routing/preferred.go): the first of the
			// list that is available, eligible and may take it.
			for _, pid := range r.PreferredAgents {
				if pid == e.Agent {
					break
				}
				if p, ok := v.agents[pid]; ok && available(p, e.MRD) && v.canTake(r, pid) && v.serves(p, queues[e.Queue], r) {
					return fmt.Errorf("request %s went to preferred agent %s while %s, earlier in its list, could take it", r.ID, e.Agent, pid)
				}
			}
			continue
		}
		q := groups[gi]
		for _, g := range groups[:gi] {
			for _, yid := range v.agentIDs {
				if y := v.agents[yid]; yid != e.Agent && v.canTake(r, yid) && available(y, e.MRD) && eligible(y, g) {
					return fmt.Errorf("request %s (step %d) went to %s of added queue %s while %s of %s was available", r.ID, r.Step, e.Agent, q.ID, yid, g.ID)
				}
			}
		}
		xm, _ := mrdOf(x, e.MRD)
		xkey := strategyKey(q, x, xm.Capacity, o.loadAtOffer, xm.LastReady.UnixNano())
		for _, yid := range v.agentIDs {
			if yid == e.Agent || !v.canTake(r, yid) {
				continue
			}
			y := v.agents[yid]
			if !available(y, e.MRD) || !eligible(y, q) {
				continue
			}
			ym, _ := mrdOf(y, e.MRD)
			ykey := strategyKey(q, y, ym.Capacity, ym.Load, ym.LastReady.UnixNano())
			if keyBefore(ykey, xkey, yid, e.Agent) {
				return fmt.Errorf("%s strategy of %s: request %s went to %s (key %v) but %s (key %v) comes first",
					q.Strategy, q.ID, r.ID, e.Agent, xkey.k, yid, ykey.k)
			}
		}
	}
	return nil
}

// sKey is a strategy key rebuilt from the views: its known leading members
// and whether it is complete (then ties break by agent id). The last offer
// time that orders busy agents and round-robin is not in the views, so
// those keys are incomplete.
type sKey struct {
	k        []int64
	complete bool
}

func strategyKey(q routing.Queue, a routing.AgentStatus, capacity, load int, lastReady int64) sKey {
	var k sKey
	switch q.Strategy {
	case routing.RoundRobin:
		return k
	case routing.MostAvailable:
		k.k = append(k.k, -int64(capacity-load))
	case routing.LeastActive:
		k.k = append(k.k, int64(load))
	case routing.BestSkill:
		score := 0
		for name := range q.Skills {
			score += a.Agent.Skills[name]
		}
		k.k = append(k.k, -int64(score))
	}
	// Then (all strategies but round-robin) idle agents by idle time, then
	// busy agents by last offer.
	if load == 0 {
		k.k = append(k.k, 0, lastReady)
		k.complete = true
	} else {
		k.k = append(k.k, 1)
	}
	return k
}

// keyBefore says whether y certainly comes before x.
func keyBefore(y, x sKey, yid, xid string) bool {
	for i := 0; i < len(x.k) && i < len(y.k); i++ {
		if y.k[i] != x.k[i] {
			return y.k[i] < x.k[i]
		}
	}
	return x.complete && y.complete && yid < xid
}
