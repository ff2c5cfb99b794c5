package routing

// Deadlines: the journaled Tick fires RONA, wrap-up, TTL, hold, business
// hours and escalation-step deadlines in time order.

import (
	"time"
)

// tick fires every deadline at or before now, earliest first (same
// instant: RONA, wrap-up, TTL, hold, escalation step).
func (s *State) tick() {
	now := s.now.UnixNano()
	for {
		d, ok := s.deadlines.Min()
		if !ok || d.at > now {
			return
		}
		s.deadlines.Delete(d)
		switch d.kind {
		case deadlineRONA:
			t := s.tasks[d.id]
			if t == nil || t.state != TaskReservedState {
				continue
			}
			// The RONA action comes before the task closes, so the freed
			// capacity never shows the agent READY for an instant.
			r := t.req
			s.emit(TaskRevoked{Task: t.id, Conversation: t.conv.id, Agent: t.agent.def.ID, Reason: ReasonRONA, At: s.now})
			if t.queue.def.RONAAction != "NONE" && t.agent.state == AgentReady {
				s.changeAgentState(t.agent, AgentNotReady, RONAReasonCode)
			}
			s.closeTask(t, ReasonRONA)
			s.requeue(r, ReasonRONA, t.agent.def.ID, true)
		case deadlineWrapUp:
			if t := s.tasks[d.id]; t != nil && t.state == TaskWrapUpState {
				s.closeTask(t, ReasonDone)
			}
		case deadlineTTL:
			// An offered or held request expires only if its offer or hold
			// fails (requeue).
			if r := s.requests[d.id]; r != nil && r.state == RequestQueuedState {
				s.expire(r)
			}
		case deadlineHold:
			if r := s.requests[d.id]; r != nil && r.state == RequestHeldState {
				s.expireHold(r)
			}
		case deadlineHours:
			if q := s.queues[d.id]; q != nil && q.hoursAt.UnixNano() == d.at {
				q.hoursAt = time.Time{}
				s.hoursChange(q)
			}
		case deadlinePreferred:
			if r := s.requests[d.id]; r != nil && r.preferredUntil.UnixNano() == d.at {
				s.endPreferred(r)
			}
		case deadlineStep:
			if r := s.requests[d.id]; r != nil && r.stepAt.UnixNano() == d.at {
				s.escalate(r)
			}
		}
	}
}
