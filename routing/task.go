package routing

// Tasks: one agent's work on one conversation, from the reservation
// (RESERVED) through accept (ACTIVE) and wrap-up to CLOSED, and what a
// decline, a close or a logout does to it.

import (
	"slices"
	"time"
)

// offerTask reserves am's capacity for r: task id RESERVED with a deadline
// rona from now (internal routing, AssignWork, direct transfers).
func (s *State) offerTask(r *request, am *agentMRD, id string, rona time.Duration) {
	s.delWaiting(r)
	s.reserve(r, am, id, rona)
}

// reserve makes task id RESERVED for r (out of the waiting tree: offered
// now, or HELD and confirmed) on am, with a deadline rona from now.
func (s *State) reserve(r *request, am *agentMRD, id string, rona time.Duration) {
	q := r.queue
	t := &task{
		id: id, conv: r.conv, req: r, agent: am.agent, am: am, queue: q,
		state: TaskReservedState, reservedAt: s.now, role: r.roleFor(),
	}
	t.deadline = s.now.Add(rona)
	s.addDeadline(t.deadline, deadlineRONA, t.id)
	s.tasks[t.id] = t
	q.tasks++
	am.agent.tasks = append(am.agent.tasks, t)
	r.conv.tasks = append(r.conv.tasks, t)
	r.state = RequestOfferedState
	if r.task == nil {
		r.task = t
	} else {
		r.also = append(r.also, t) // multioffer.go
	}
	am.take(r.conv.weight)
	am.lastOffer = s.now
	s.emit(TaskReserved{Task: t.id, Conversation: r.conv.id, Request: r.id, Agent: am.agent.def.ID,
		Queue: q.def.ID, MRD: q.def.MRD, Deadline: t.deadline, Mode: r.kind, RequestedBy: r.fromAgent, Note: r.note, At: s.now,
		Offered: s.offered(r)})
	s.adding = am
	s.refreshAgent(am.agent)
	s.adding = nil
}

func (s *State) ownedTask(id, agent string) (*task, *Error) {
	t, ok := s.tasks[id]
	if !ok {
		return nil, errf(CodeTaskNotFound, "task %q does not exist or is closed", id)
	}
	if t.agent.def.ID != agent {
		return nil, errf(CodeNotTaskOwner, "task %q belongs to another agent", id)
	}
	return t, nil
}

// agentTask resolves the task of a command that names the agent and, when
// conversation is set, the conversation: id when given (owned, and on that
// conversation), else the agent's first task on the conversation in state
// want, in creation order.
func (s *State) agentTask(id, agent, conversation string, want TaskState) (*task, *Error) {
	if id == "" && conversation != "" {
		if a, ok := s.agents[agent]; ok {
			for _, t := range a.tasks {
				if t.conv.id == conversation && t.state == want {
					return t, nil
				}
			}
		}
		return nil, errf(CodeTaskNotFound, "the agent has no task on conversation %q", conversation)
	}
	t, err := s.ownedTask(id, agent)
	if err != nil {
		return nil, err
	}
	if conversation != "" && t.conv.id != conversation {
		return nil, errf(CodeInvalidArgument, "task %q is not on conversation %q", id, conversation)
	}
	return t, nil
}

func (s *State) acceptTask(c AcceptTask) *Error {
	t, err := s.agentTask(c.Task, c.Agent, c.Conversation, TaskReservedState)
	if err != nil {
		return err
	}
	if t.state != TaskReservedState {
		return errf(CodeInvalidTransition, "task %q is %s; only a RESERVED task can be accepted", t.id, t.state)
	}
	r := t.req
	s.removeDeadline(t.deadline, deadlineRONA, t.id)
	t.state = TaskActiveState
	t.acceptedAt = s.now
	t.deadline = time.Time{}
	t.req = nil
	r.dropOffer(t)
	s.emit(TaskActivated{Task: t.id, Conversation: t.conv.id, Agent: t.agent.def.ID, At: s.now})
	s.emit(ParticipantJoined{Conversation: t.conv.id, Agent: t.agent.def.ID, Task: t.id, Role: t.role, At: s.now})
	s.servedBy(t)                              // lastagent.go
	s.revokeOffers(r, ReasonAcceptedElsewhere) // multioffer.go: no RONA action, no exclusion
	if t.conv.answeredAt.IsZero() {
		t.conv.answeredAt = s.now
		st := &r.queue.stats
		st.Answered++
		wait := s.now.Sub(r.enqueuedAt)
		st.TotalWaitAnswered += wait.Seconds()
		if wait <= slThreshold(r.queue) {
			st.AnsweredWithinSL++
		}
	}
	s.removeRequest(r, ReasonAccepted)
	s.completeTransfer(r)
	return nil
}

func slThreshold(q *queueRT) time.Duration {
	if q.def.ServiceLevelThreshold > 0 {
		return q.def.ServiceLevelThreshold
	}
	return DefaultServiceLevelThreshold
}

func (s *State) declineTask(c DeclineTask) *Error {
	t, err := s.ownedTask(c.Task, c.Agent)
	if err != nil {
		return err
	}
	if t.state != TaskReservedState {
		return errf(CodeInvalidTransition, "task %q is %s; only a RESERVED task can be declined", t.id, t.state)
	}
	r := t.req
	s.closeTask(t, ReasonDeclined)
	s.requeue(r, ReasonDeclined, t.agent.def.ID, true)
	return nil
}

// closeTask ends t and frees its capacity.
func (s *State) closeTask(t *task, reason CloseReason) {
	switch t.state {
	case TaskReservedState:
		s.removeDeadline(t.deadline, deadlineRONA, t.id)
	case TaskWrapUpState:
		s.removeDeadline(t.deadline, deadlineWrapUp, t.id)
	}
	if t.state == TaskReservedState && t.req != nil {
		t.req.dropOffer(t)
	}
	t.state = TaskClosedState
	t.deadline = time.Time{}
	delete(s.tasks, t.id)
	t.queue.tasks--
	t.agent.tasks = removeTask(t.agent.tasks, t)
	t.conv.tasks = removeTask(t.conv.tasks, t)
	s.release(t.am, t.conv.weight)
	s.emit(TaskClosed{Task: t.id, Conversation: t.conv.id, Agent: t.agent.def.ID, Reason: reason, At: s.now})
	s.refreshAgent(t.agent)
	s.rematch(t.conv) // participants.go: the agent may take the conversation now
}

func removeTask(ts []*task, t *task) []*task {
	if i := slices.Index(ts, t); i >= 0 {
		return slices.Delete(ts, i, i+1)
	}
	return ts
}

func (s *State) closeTaskCmd(c CloseTask) *Error {
	want := c.State
	switch want {
	case "":
		want = TaskActiveState
	case TaskActiveState, TaskWrapUpState:
	default:
		return errf(CodeInvalidArgument, "state must be %s or %s, not %q", TaskActiveState, TaskWrapUpState, c.State)
	}
	t, err := s.agentTask(c.Task, c.Agent, c.Conversation, want)
	if err != nil {
		return err
	}
	if c.State != "" && t.state != c.State {
		return errf(CodeInvalidTransition, "task %q is %s, not %s", t.id, t.state, c.State)
	}
	switch t.state {
	case TaskActiveState:
		s.leave(t)
		// The last agent left: the conversation closes (or is queued
		// again, see lastAgentLeft), even while the agent wraps up (the
		// task stays in WRAP_UP). A pending transfer keeps it open.
		if t.conv.activeAgents() == 0 && t.conv.req == nil && !t.conv.closed {
			s.lastAgentLeft(t.conv, t.agent.def.ID, ReasonDone)
		}
	case TaskWrapUpState:
		s.closeTask(t, ReasonDone)
	default:
		return errf(CodeInvalidTransition, "task %q is %s; decline a RESERVED task instead", t.id, t.state)
	}
	return nil
}

// leave takes an ACTIVE task's agent out of the conversation: wrap-up when
// the queue has one, else the task closes DONE.
func (s *State) leave(t *task) {
	s.emit(ParticipantLeft{Conversation: t.conv.id, Agent: t.agent.def.ID, Task: t.id, At: s.now})
	s.servedBy(t)
	if w := t.queue.def.WrapUp; w > 0 {
		t.state = TaskWrapUpState
		t.deadline = s.now.Add(w)
		s.addDeadline(t.deadline, deadlineWrapUp, t.id)
		s.emit(TaskWrapUp{Task: t.id, Conversation: t.conv.id, Agent: t.agent.def.ID, Deadline: t.deadline, At: s.now})
		return
	}
	s.closeTask(t, ReasonDone)
}

func (s *State) revoke(t *task, reason CloseReason) {
	s.emit(TaskRevoked{Task: t.id, Conversation: t.conv.id, Agent: t.agent.def.ID, Reason: reason, At: s.now})
	s.closeTask(t, reason)
}

// logoutWork re-routes the work of an agent who just went LOGOUT: reserved
// requests go back to their queues, conversations the agent was alone in
// are queued again at their original position, wrap-ups end, holds are
// released (HoldReleased AGENT_LOGOUT) and their requests wait again at
// their position.
func (s *State) logoutWork(a *agentRT) {
	for _, t := range slices.Clone(a.tasks) {
		switch t.state {
		case TaskReservedState:
			r := t.req
			s.revoke(t, ReasonAgentLogout)
			s.requeue(r, ReasonAgentLogout, a.def.ID, false)
		case TaskActiveState:
			cv := t.conv
			s.emit(ParticipantLeft{Conversation: cv.id, Agent: a.def.ID, Task: t.id, At: s.now})
			s.servedBy(t)
			s.closeTask(t, ReasonAgentLogout)
			if cv.activeAgents() == 0 && cv.req == nil && !cv.closed {
				// The agent dropped the conversation: queued again while
				// the customer is present, whatever LastAgentLeaves says.
				if cv.customerLeft {
					s.closeConversation(cv, ReasonDone)
				} else {
					s.reopen(cv, a.def.ID)
				}
			}
		case TaskWrapUpState:
			s.closeTask(t, ReasonDone)
		}
	}
	s.holdLeft(a, ReasonAgentLogout) // hold.go
}
