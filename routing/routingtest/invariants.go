package routingtest

// The invariants over one state: agents, MRD states, tasks, requests,
// conversations, and a maximal matching under each request's step.

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/omniroute/omniroute/routing"
)

// CheckState checks the invariants that need no history:
//
//   - each request OFFERED is held by exactly one RESERVED task, and each
//     RESERVED task holds an OFFERED request (no request offered to two
//     agents at once); a HELD request (a callback, routing/hold.go) names
//     its logged-in agent and deadline, is not waiting and not confirmed;
//   - load (RESERVED + ACTIVE + WRAP_UP tasks + holds) equals the tasks and
//     holds listed and is within capacity; a load above a capacity that a
//     definition lowered is tolerated only while the MRD takes no work
//     (BUSY, PENDING_NOT_READY, INTERRUPTED);
//   - MRD states follow the rules: an agent not READY has every MRD
//     NOT_READY (no work) or PENDING_NOT_READY (work); a LOGOUT agent has no
//     work; READY has no work, ACTIVE has room, BUSY is full, INTERRUPTED
//     only while another non-interruptible MRD has work, which interrupts
//     every MRD the agent wants;
//   - an open conversation has a live request or an ACTIVE participant;
//     RESERVED and ACTIVE tasks belong to open conversations;
//   - each queue's waiting requests are in priority then enqueue order, and
//     its count of available agents (QueueStats) matches the agents that
//     are available and eligible;
//   - the matching is maximal: no QUEUED request of an internal queue while
//     an eligible agent who is available and not excluded exists.
func CheckState(s *routing.State) error { return checkState(s, newView(s)) }

func checkState(s *routing.State, v *view) error {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }

	reserved := map[string]string{} // request -> task
	for _, id := range v.agentIDs {
		st := v.agents[id]
		ts := v.tasks[id]
		load := map[string]int{}
		used := 0 // capacity units of tasks and holds (routing/capacity.go)
		for _, t := range ts {
			load[t.MRD]++
			if cv, ok := s.Conversation(t.Conversation); ok {
				used += max(cv.CapacityWeight, 1)
			}
			if t.Agent != id {
				fail("task %s listed under %s belongs to %s", t.ID, id, t.Agent)
			}
			cv, ok := s.Conversation(t.Conversation)
			switch t.State {
			case routing.TaskReservedState:
				r, rok := s.Request(t.Request)
				if t.Request == "" {
					fail("reserved task %s holds no request", t.ID)
				} else if other, dup := reserved[t.Request]; dup && len(r.AlsoOffered) == 0 {
					// Several reservations only through multi-reservation;
					// TaskReserved checked the queue's limit when each was
					// made (a redefinition keeps live reservations).
					fail("request %s offered to two agents: tasks %s and %s", t.Request, other, t.ID)
				}
				reserved[t.Request] = t.ID
				if !rok || r.State != routing.RequestOfferedState || (r.OfferedTask != t.ID && !slices.Contains(r.AlsoOffered, t.ID)) {
					fail("reserved task %s: request %s is %+v", t.ID, t.Request, r)
				}
				if rok && len(r.AlsoOffered) > 0 && offerLimit(s, r) == 1 && (r.TargetAgent != "" || r.HeldAgent != "") {
					fail("request %s for one agent holds %d reservations", r.ID, 1+len(r.AlsoOffered))
				}
				if !ok || cv.State != "OPEN" {
					fail("reserved task %s on conversation %s that is not open", t.ID, t.Conversation)
				}
				if t.Deadline.IsZero() {
					fail("reserved task %s has no RONA deadline", t.ID)
				}
			case routing.TaskActiveState:
				if !ok || cv.State != "OPEN" {
					fail("active task %s on conversation %s that is not open", t.ID, t.Conversation)
				}
			case routing.TaskWrapUpState:
				if t.Deadline.IsZero() {
					fail("wrap-up task %s has no deadline", t.ID)
				}
			default:
				fail("task %s listed in state %s", t.ID, t.State)
			}
		}
		for _, r := range v.holds[id] {
			q, _ := s.Queue(r.Queue)
			load[q.MRD]++
			used += weightOf(r)
		}
		if units := st.Agent.CapacityUnits; units > 0 {
			if st.UsedUnits != used {
				fail("agent %s reports %d capacity units used, its tasks and holds weigh %d", id, st.UsedUnits, used)
			}
			if used > units {
				for _, m := range st.MRDs {
					if m.State == routing.MRDReady || m.State == routing.MRDActive {
						fail("agent %s over capacity by weight (%d > %d units) while mrd %s is %s", id, used, units, m.MRD.ID, m.State)
					}
				}
			}
		}
		if st.State == routing.AgentLogout && len(ts)+len(v.holds[id]) > 0 {
			fail("agent %s is LOGOUT with %d tasks and %d holds", id, len(ts), len(v.holds[id]))
		}
		interrupting := map[string]bool{} // non-interruptible MRDs with work
		for _, m := range st.MRDs {
			if !v.mrdInt[m.MRD.ID] && m.Load > 0 {
				interrupting[m.MRD.ID] = true
			}
		}
		for _, m := range st.MRDs {
			mid := m.MRD.ID
			if m.Load != load[mid] {
				fail("agent %s mrd %s load %d but %d tasks and holds", id, mid, m.Load, load[mid])
			}
			if m.Load > m.Capacity && m.State != routing.MRDBusy && m.State != routing.MRDPendingNotReady &&
				m.State != routing.MRDInterrupted {
				fail("agent %s mrd %s over capacity: load %d > %d while %s", id, mid, m.Load, m.Capacity, m.State)
			}
			interrupted := len(interrupting) > 1 || (len(interrupting) == 1 && !interrupting[mid])
			switch m.State {
			case routing.MRDNotReady:
				if m.Load != 0 {
					fail("agent %s mrd %s NOT_READY with load %d", id, mid, m.Load)
				}
			case routing.MRDPendingNotReady:
				if m.Load == 0 {
					fail("agent %s mrd %s PENDING_NOT_READY without work", id, mid)
				}
			case routing.MRDReady, routing.MRDActive, routing.MRDBusy, routing.MRDInterrupted:
				if st.State != routing.AgentReady {
					fail("agent %s is %s but mrd %s is %s", id, st.State, mid, m.State)
					continue
				}
				if (m.State == routing.MRDInterrupted) != interrupted {
					fail("agent %s mrd %s is %s; non-interruptible mrds with work: %v", id, mid, m.State, slices.Sorted(maps.Keys(interrupting)))
					continue
				}
				// Room by weight: the smallest weight that can wait on
				// the MRD fits (routing/capacity.go).
				mw := v.minWeight(mid)
				if m.MinWeight != mw {
					fail("agent %s mrd %s reports smallest weight %d, its queues say %d", id, mid, m.MinWeight, mw)
				}
				room := fitsUnits(st, used, mw)
				switch {
				case m.State == routing.MRDReady && (m.Load != 0 || !room):
					fail("agent %s mrd %s READY with load %d, %d units used of %d", id, mid, m.Load, used, st.Agent.CapacityUnits)
				case m.State == routing.MRDActive && (m.Load == 0 || m.Load >= m.Capacity || !room):
					fail("agent %s mrd %s ACTIVE with load %d capacity %d, %d units used of %d", id, mid, m.Load, m.Capacity, used, st.Agent.CapacityUnits)
				case m.State == routing.MRDBusy && room && m.Load < m.Capacity:
					fail("agent %s mrd %s BUSY with load %d capacity %d, %d units used of %d", id, mid, m.Load, m.Capacity, used, st.Agent.CapacityUnits)
				}
			default:
				fail("agent %s mrd %s in unknown state %q", id, mid, m.State)
			}
		}
	}

	queued := 0
	for _, r := range s.Requests() {
		cv, ok := s.Conversation(r.Conversation)
		if !ok || cv.State != "OPEN" {
			fail("request %s of conversation %s that is not open", r.ID, r.Conversation)
		} else if cv.Request == nil || cv.Request.ID != r.ID {
			fail("request %s is not its conversation's request", r.ID)
		}
		switch r.State {
		case routing.RequestOfferedState:
			if reserved[r.ID] == "" {
				fail("request %s OFFERED but no task holds it", r.ID)
			}
		case routing.RequestQueuedState:
			queued++
			if r.OfferedTask != "" || r.HeldAgent != "" {
				fail("queued request %s names task %q, held agent %q", r.ID, r.OfferedTask, r.HeldAgent)
			}
		case routing.RequestHeldState:
			// Not waiting: out of the queue, one load unit on its agent.
			if r.HeldAgent == "" || r.HoldDeadline.IsZero() || r.OfferedTask != "" || r.Confirmed {
				fail("held request %s: agent %q, deadline %s, task %q, confirmed %v", r.ID, r.HeldAgent, r.HoldDeadline,
					r.OfferedTask, r.Confirmed)
			}
			if st, ok := v.agents[r.HeldAgent]; !ok || st.State == routing.AgentLogout {
				fail("held request %s holds agent %s, who is not logged in", r.ID, r.HeldAgent)
			}
		default:
			fail("request %s in state %q", r.ID, r.State)
		}
	}
	for _, id := range s.OpenConversations() {
		cv := v.convs[id]
		agents := 0
		for _, p := range cv.Participants {
			if p.Task != "" {
				agents++
				continue
			}
			// Supervisors hold no task and keep no conversation open.
			if st, ok := v.agents[p.Agent]; !ok || st.Agent.Role != routing.RoleSupervisor {
				fail("conversation %s has supervisor participant %s who is not a supervisor", id, p.Agent)
			}
			if p.Role != routing.RoleSilentMonitor && p.Role != routing.RoleWhisper && p.Role != routing.RoleBargeIn {
				fail("conversation %s: supervisor %s has role %s", id, p.Agent, p.Role)
			}
		}
		if cv.Request == nil && agents == 0 {
			fail("conversation %s is open with no request and no participant: lost", id)
		}
	}

	waitingTotal := 0
	for _, q := range v.queues {
		w := v.waiting[q.ID]
		waitingTotal += len(w)
		for i, r := range w {
			if r.Queue != q.ID || r.State != routing.RequestQueuedState {
				fail("queue %s lists request %s (%s, %s)", q.ID, r.ID, r.Queue, r.State)
			}
			if i > 0 && before(r, w[i-1]) {
				fail("queue %s serves %s before %s", q.ID, w[i-1].ID, r.ID)
			}
		}
		ready := 0
		for _, aid := range v.agentIDs {
			if st := v.agents[aid]; available(st, q.MRD) && eligible(st, q) {
				ready++
			}
		}
		if qs, _ := s.QueueStats(q.ID, time.Time{}); qs.ReadyAgents != ready {
			fail("queue %s reports %d available agents, %d are available and eligible", q.ID, qs.ReadyAgents, ready)
		}
		for _, r := range w {
			if r.Step < 0 || r.Step > len(q.Steps) {
				fail("request %s in %s at step %d of %d", r.ID, q.ID, r.Step, len(q.Steps))
				continue
			}
			if want := nextChange(q, r); !r.StepDeadline.Equal(want) {
				fail("request %s at step %d priority %d (base %d): next step or aging at %s, want %s", r.ID, r.Step,
					r.Priority, r.BasePriority, r.StepDeadline, want)
			}
		}
		if len(w) == 0 || q.Mode == routing.External {
			continue
		}
		if hs, _ := s.QueueHours(q.ID, s.Now()); !hs.Open {
			continue // outside business hours nothing of q is offered (checkOffers)
		}
		// Maximal under each request's current step: no available agent
		// who may take it (its step's skills, or a queue the step adds).
		for _, r := range w {
			for _, aid := range v.agentIDs {
				st := v.agents[aid]
				if available(st, q.MRD) && v.canTake(r, aid) && v.serves(st, q, r) {
					fail("matching not maximal: request %s (step %d) waits in %s while agent %s is available and eligible", r.ID, r.Step, q.ID, aid)
					break
				}
			}
		}
	}
	if waitingTotal != queued {
		fail("%d requests QUEUED but queues list %d", queued, waitingTotal)
	}
	if len(errs) > 0 {
		if len(errs) > 5 {
			errs = append(errs[:5], fmt.Sprintf("... and %d more", len(errs)-5))
		}
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}
