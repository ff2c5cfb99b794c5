package routing

import (
	"slices"
	"time"
	"unicode/utf8"
)

// Participants, transfer, conference, supervisors and the leave policy
// (seed 004 sections 7 "Reroute Chat Requests to Queues", 8 "Silent
// Monitoring", 9 "Leave Conversation"; PROTOCOLS.md "ExpertFlow CX Agent
// Manager").
//
// A conversation has at most one request at a time (conv.req): the
// customer's (first routing, or re-queued after its last agent dropped it)
// or a transfer/conference request made by an agent. Both never coexist: a
// transfer needs an ACTIVE requester, and a conversation with an ACTIVE
// agent has no customer request; while a transfer request lives, the
// conversation is "waiting for an agent" and is not re-queued nor closed
// when its agents leave. One slot keeps every existing rule (abandon,
// close, logout, the checker's "one request per conversation") valid for
// transfers too.
//
// Rules chosen where seed 004 is silent (documented here and in the
// command docs):
//   - A transfer's requester stays ACTIVE until an agent accepts; then its
//     task closes TRANSFERRED at once, without wrap-up (the receiving agent
//     owns the conversation and its wrap-up), and the conversation moves to
//     the transfer's queue (statistics, re-queue and leave policy follow
//     the new queue).
//   - A request is never offered to an agent who holds a task on the
//     conversation or monitors it (a conference with oneself, or the agent
//     in wrap-up getting the same conversation back).
//   - A transfer/conference request expires after its TTL: the command's,
//     else the queue's, else DefaultTransferTTL (a requester must hear an
//     answer). It ends EXPIRED with TransferFailed; if no agent remains
//     ACTIVE the conversation follows its queue's LastAgentLeaves policy.
//   - Supervisors (role supervisor) join without a task and without
//     routing capacity; they never keep a conversation open and leave when
//     it closes.
//   - A supervisor who goes LOGOUT, or whose desk is gone past the
//     adapter's grace period (AgentDisconnected), leaves every
//     conversation it supervises (ParticipantLeft each, in conversation id
//     order, after its AgentStateChanged): nobody is left "monitoring"
//     from a closed desk. Joining needs no particular agent state.

// TransferMode says what a RequestTransfer does once accepted.
type TransferMode string

// Transfer modes (seed 004 directTransferRequest, directConferenceRequest).
const (
	// TransferModeTransfer: the accepting agent becomes PRIMARY and the
	// requester's task closes TRANSFERRED.
	TransferModeTransfer TransferMode = "transfer"
	// TransferModeConference: the accepting agent joins as CONFERENCE; the
	// requester stays.
	TransferModeConference TransferMode = "conference"
)

// ParticipantRole is a participant's role in a conversation (DESIGN.md
// "Domain terms"; ExpertFlow topicParticipant.role): an agent with a task
// is PRIMARY or CONFERENCE, a supervisor without one SILENT_MONITOR,
// WHISPER or BARGE_IN.
type ParticipantRole string

// Participant roles.
const (
	RolePrimary       ParticipantRole = "PRIMARY"
	RoleConference    ParticipantRole = "CONFERENCE"
	RoleSilentMonitor ParticipantRole = "SILENT_MONITOR"
	// RoleWhisper: a supervisor who coaches the agents (seed 004
	// joinAsWhisper): like SILENT_MONITOR it sees everything and is not
	// shown to the customer; it publishes whispers only (the rule is
	// conversation.MayPublish).
	RoleWhisper ParticipantRole = "WHISPER"
	RoleBargeIn ParticipantRole = "BARGE_IN"
)

// Queue.LastAgentLeaves values.
const (
	// LastAgentClose: the conversation closes DONE (the default, as
	// before this option existed: an agent leaving means the work is done).
	LastAgentClose = "close"
	// LastAgentRequeue: the conversation is queued again (a new request at
	// its original position, reason REROUTE) while the customer is present.
	LastAgentRequeue = "requeue"
)

// Limits of this file's commands.
const (
	// DefaultTransferTTL is a transfer/conference request's TTL when
	// neither the command nor the queue gives one.
	DefaultTransferTTL = 2 * time.Minute
	// MaxNoteBytes bounds RequestTransfer.Note.
	MaxNoteBytes = 4 << 10
	// MaxMonitorsPerConversation bounds the supervisors in one conversation.
	MaxMonitorsPerConversation = 16
)

// RequestTransfer: an agent asks to transfer its ACTIVE conversation to,
// or add a conference participant from, a queue or a named agent (seed 004
// directTransferRequest / directConferenceRequest). A new request RequestID
// is queued in Queue (or, when only TargetAgent is given, in the
// conversation's queue), on the conversation's MRD, with the conversation's
// priority and a fresh position; RONA keeps looking (excluding the agent)
// until the TTL. TargetAgent set = seed 004 mode "agent": the request is
// offered to that agent only, who must be eligible for the queue.
//
// On an external queue (seed 000, external.go) a queue transfer waits for
// the partner's AssignWork, and a direct transfer (TargetAgent) is offered
// by the engine at once to the target, who must be assignable now (the
// AssignWork rules, else NOT_ELIGIBLE). A Queue whose mode (internal,
// external) differs from the conversation's current queue's is refused
// with MIXED_ROUTING.
//
// Errors: CONVERSATION_NOT_FOUND, TASK_NOT_FOUND, NOT_TASK_OWNER,
// INVALID_TRANSITION (task not ACTIVE, customer left), REQUEST_PENDING (the
// conversation already waits for an agent), QUEUE_NOT_FOUND,
// AGENT_NOT_FOUND, NOT_ELIGIBLE, MIXED_ROUTING, ALREADY_EXISTS (request id, or the target
// already in the conversation), INVALID_ARGUMENT (mode, ids, a queue on
// another MRD, the requester as target), LIMIT_EXCEEDED (note, waiting).
type RequestTransfer struct {
	Conversation string `json:"conversation"`
	RequestID    string `json:"requestId"`
	// Agent is the requester; FromTask its ACTIVE task on Conversation.
	Agent    string       `json:"agent"`
	FromTask string       `json:"fromTask"`
	Mode     TransferMode `json:"mode"`
	Queue    string       `json:"queue,omitempty"`
	// TargetAgent restricts the offer to one agent (seed 004 requestedAgentId).
	TargetAgent string `json:"targetAgent,omitempty"`
	// Note is shown to the offered agent (taskRequest.note), at most MaxNoteBytes.
	Note string `json:"note,omitempty"`
	// TTL overrides the queue's TTL when > 0.
	TTL time.Duration `json:"ttl,omitempty"`
}

// JoinConversation: a supervisor joins an ACTIVE push-mode chat of an agent
// of one of its teams (seed 004 "Silent Monitoring", JoinAsSilentMonitor;
// JoinAsBargeIn or joinAsWhisper when not yet joined) with Role
// SILENT_MONITOR, WHISPER or BARGE_IN.
// The supervisor gets no task and holds no routing capacity.
//
// Errors: INVALID_ARGUMENT (role), AGENT_NOT_FOUND, NOT_SUPERVISOR,
// CONVERSATION_NOT_FOUND, NOT_MONITORABLE (closed, no ACTIVE PRIMARY agent,
// MRD not interruptible), ALREADY_EXISTS, TEAM_MISMATCH, LIMIT_EXCEEDED.
type JoinConversation struct {
	Conversation string          `json:"conversation"`
	Agent        string          `json:"agent"`
	Role         ParticipantRole `json:"role"`
}

// ChangeParticipantRole: a supervisor participant switches between
// SILENT_MONITOR, WHISPER and BARGE_IN (seed 004 JoinAsBargin,
// joinAsWhisper). Errors:
// INVALID_ARGUMENT (role), CONVERSATION_NOT_FOUND, NOT_PARTICIPANT,
// INVALID_TRANSITION (already in that role).
type ChangeParticipantRole struct {
	Conversation string          `json:"conversation"`
	Agent        string          `json:"agent"`
	Role         ParticipantRole `json:"role"`
}

// LeaveConversation: a supervisor participant leaves (seed 004
// topicUnsubscription_ from a supervisor; agents with a task use
// CloseTask). Errors: CONVERSATION_NOT_FOUND, NOT_PARTICIPANT.
type LeaveConversation struct {
	Conversation string `json:"conversation"`
	Agent        string `json:"agent"`
}

// CustomerLeft: the customer left the conversation (the customer side
// calls it). Waiting for a first or re-queued agent: the conversation is
// abandoned (as AbandonConversation). Waiting for a transfer/conference:
// the request is CANCELLED. Agents still ACTIVE stay until they leave; the
// last one leaving then always closes the conversation, whatever the
// queue's LastAgentLeaves. Errors: CONVERSATION_NOT_FOUND,
// INVALID_TRANSITION (closed, or the customer already left).
type CustomerLeft struct {
	Conversation string `json:"conversation"`
}

// CommandName implementations.
func (RequestTransfer) CommandName() string       { return "RequestTransfer" }
func (JoinConversation) CommandName() string      { return "JoinConversation" }
func (ChangeParticipantRole) CommandName() string { return "ChangeParticipantRole" }
func (LeaveConversation) CommandName() string     { return "LeaveConversation" }
func (CustomerLeft) CommandName() string          { return "CustomerLeft" }

// TransferRequested: RequestTransfer queued Request (a RequestQueued
// follows). The adapters tell the requester it is under way.
type TransferRequested struct {
	Request      string       `json:"request"`
	Conversation string       `json:"conversation"`
	Queue        string       `json:"queue"`
	Mode         TransferMode `json:"mode"`
	Agent        string       `json:"agent"`
	FromTask     string       `json:"fromTask"`
	TargetAgent  string       `json:"targetAgent,omitempty"`
	Note         string       `json:"note,omitempty"`
	At           time.Time    `json:"at"`
}

// TransferFailed: a transfer/conference request ended without an agent:
// Reason EXPIRED (TTL) or CANCELLED (conversation closed, customer left).
// Agent and FromTask name the requester, who is to be told.
type TransferFailed struct {
	Request      string       `json:"request"`
	Conversation string       `json:"conversation"`
	Mode         TransferMode `json:"mode"`
	Agent        string       `json:"agent"`
	FromTask     string       `json:"fromTask"`
	Reason       CloseReason  `json:"reason"`
	At           time.Time    `json:"at"`
}

// ParticipantRoleChanged: a supervisor participant's role changed
// (between SILENT_MONITOR, WHISPER and BARGE_IN).
type ParticipantRoleChanged struct {
	Conversation string          `json:"conversation"`
	Agent        string          `json:"agent"`
	Role         ParticipantRole `json:"role"`
	Previous     ParticipantRole `json:"previous"`
	At           time.Time       `json:"at"`
}

// ConversationCustomerLeft: the customer left (CustomerLeft); the
// conversation may stay open while agents finish.
type ConversationCustomerLeft struct {
	Conversation string    `json:"conversation"`
	At           time.Time `json:"at"`
}

// EventName implementations.
func (TransferRequested) EventName() string        { return "TransferRequested" }
func (TransferFailed) EventName() string           { return "TransferFailed" }
func (ParticipantRoleChanged) EventName() string   { return "ParticipantRoleChanged" }
func (ConversationCustomerLeft) EventName() string { return "ConversationCustomerLeft" }

// monitor is a supervisor in a conversation without a task.
type monitor struct {
	agent *agentRT
	role  ParticipantRole
}

func (s *State) requestTransfer(c RequestTransfer) *Error {
	cv, ok := s.convs[c.Conversation]
	if !ok {
		return errf(CodeConversationNotFound, "conversation %q does not exist", c.Conversation)
	}
	if err := checkID("request", c.RequestID); err != nil {
		return err
	}
	if _, ok := s.requests[c.RequestID]; ok {
		return errf(CodeAlreadyExists, "request %q already exists", c.RequestID)
	}
	if c.Mode != TransferModeTransfer && c.Mode != TransferModeConference {
		return errf(CodeInvalidArgument, "mode must be transfer or conference, not %q", c.Mode)
	}
	if len(c.Note) > MaxNoteBytes {
		return errf(CodeLimitExceeded, "note is over %d bytes", MaxNoteBytes)
	}
	if !utf8.ValidString(c.Note) {
		return errf(CodeInvalidArgument, "note is not valid UTF-8")
	}
	if err := checkDuration("ttl", c.TTL); err != nil {
		return err
	}
	from, err := s.ownedTask(c.FromTask, c.Agent)
	if err != nil {
		return err
	}
	if from.conv != cv {
		return errf(CodeInvalidArgument, "task %q is not on conversation %q", from.id, cv.id)
	}
	if from.state != TaskActiveState {
		return errf(CodeInvalidTransition, "task %q is %s; only an ACTIVE task can transfer or conference", from.id, from.state)
	}
	if cv.req != nil {
		return errf(CodeRequestPending, "conversation %q already waits for an agent (request %q)", cv.id, cv.req.id)
	}
	if cv.customerLeft {
		return errf(CodeInvalidTransition, "the customer of conversation %q left", cv.id)
	}
	q := cv.queue
	switch {
	case c.Queue != "":
		if q, ok = s.queues[c.Queue]; !ok {
			return errf(CodeQueueNotFound, "queue %q does not exist", c.Queue)
		}
		if q.def.MRD != cv.queue.def.MRD {
			return errf(CodeInvalidArgument, "queue %q is on mrd %q, the conversation on %q", q.def.ID, q.def.MRD, cv.queue.def.MRD)
		}
		if q.def.Mode != cv.queue.def.Mode {
			return errf(CodeMixedRouting, "queue %q is %s, the conversation's queue %q is %s: no transfer between external and internal routing",
				q.def.ID, q.def.Mode, cv.queue.def.ID, cv.queue.def.Mode)
		}
	case c.TargetAgent == "":
		return errf(CodeInvalidArgument, "a queue or a target agent is required")
	}
	r := &request{id: c.RequestID, conv: cv, queue: q, priority: cv.priority, enqueuedAt: s.now,
		kind: c.Mode, fromAgent: c.Agent, fromTask: from.id, target: c.TargetAgent, note: c.Note}
	if c.TargetAgent != "" {
		// The target is the request's only preferred agent, with no window
		// of its own: the TTL ends it (preferred.go).
		r.preferred = []string{c.TargetAgent}
	}
	// direct: a direct transfer on an external queue, offered at once
	// (external.go).
	var direct *agentMRD
	if c.TargetAgent != "" {
		a, ok := s.agents[c.TargetAgent]
		switch {
		case !ok:
			return errf(CodeAgentNotFound, "agent %q does not exist", c.TargetAgent)
		case a == from.agent:
			return errf(CodeInvalidArgument, "an agent cannot transfer or conference to itself")
		case cv.involves(a):
			return errf(CodeAlreadyExists, "agent %q is already in conversation %q", a.def.ID, cv.id)
		case q.def.Mode == External:
			if direct, err = s.assignable(a, r); err != nil {
				return err
			}
		case !s.eligible(a, q):
			return errf(CodeNotEligible, "agent %q may not take work from queue %q", a.def.ID, q.def.ID)
		}
	}
	if s.waiting >= MaxWaitingRequests {
		return errf(CodeLimitExceeded, "more than %d waiting requests", MaxWaitingRequests)
	}
	s.seq++
	r.seq = s.seq
	ttl := DefaultTransferTTL
	switch {
	case c.TTL > 0:
		ttl = c.TTL
	case q.def.TTL > 0:
		ttl = q.def.TTL
	}
	r.ttl = s.now.Add(ttl)
	s.emit(TransferRequested{Request: r.id, Conversation: cv.id, Queue: q.def.ID, Mode: r.kind, Agent: r.fromAgent,
		FromTask: r.fromTask, TargetAgent: r.target, Note: r.note, At: s.now})
	s.enqueue(r)
	s.emit(RequestQueued{Request: r.id, Conversation: cv.id, Queue: q.def.ID, Priority: r.priority, IsTransfer: true,
		TargetAgent: r.target, CapacityWeight: cv.shownWeight(), At: s.now})
	if direct != nil {
		s.offerTask(r, direct, s.newTaskID(), ronaTimeout(q))
	}
	return nil
}

// involves says whether a holds a task on cv or monitors it.
func (cv *conv) involves(a *agentRT) bool {
	for _, t := range a.tasks {
		if t.conv == cv {
			return true
		}
	}
	return cv.monitorIndex(a.def.ID) >= 0
}

func (cv *conv) monitorIndex(agent string) int {
	return slices.IndexFunc(cv.monitors, func(m monitor) bool { return m.agent.def.ID == agent })
}

// canTake says whether r may be offered to a (besides availability and
// queue eligibility): one of its preferred agents while it has some (a
// direct transfer's target is its only one), not excluded, not already in
// the conversation.
func (r *request) canTake(a *agentRT) bool {
	id := a.def.ID
	if r.preferring() && !slices.Contains(r.preferred, id) {
		return false // preferred.go
	}
	return a.fits(r.conv.weight) && !r.excludes(id) && !r.conv.involves(a)
}

// rematch makes cv's waiting request a matching candidate again: an agent
// who held a task on cv or supervised it may take it now, though its own
// availability did not change.
func (s *State) rematch(cv *conv) {
	if r := cv.req; r != nil && r.state == RequestQueuedState {
		s.dirtyReqs = append(s.dirtyReqs, r)
	}
}

// roleFor is the role of the task that accepts r.
func (r *request) roleFor() ParticipantRole {
	if r.kind == TransferModeConference {
		return RoleConference
	}
	return RolePrimary
}

// completeTransfer runs after an agent accepted the transfer request r:
// the conversation moves to r's queue and the requester's task, if still
// ACTIVE, closes TRANSFERRED without wrap-up.
func (s *State) completeTransfer(r *request) {
	if r.kind != TransferModeTransfer {
		return
	}
	cv := r.conv
	if cv.queue != r.queue {
		cv.queue.open--
		r.queue.open++
		cv.queue = r.queue
	}
	if from := s.tasks[r.fromTask]; from != nil && from.conv == cv && from.state == TaskActiveState {
		s.emit(ParticipantLeft{Conversation: cv.id, Agent: from.agent.def.ID, Task: from.id, At: s.now})
		s.closeTask(from, ReasonTransferred)
	}
}

// transferFailed tells the requester of a transfer/conference request r
// that just ended (removed) without an agent.
func (s *State) transferFailed(r *request, reason CloseReason) {
	if r.kind == "" {
		return
	}
	s.emit(TransferFailed{Request: r.id, Conversation: r.conv.id, Mode: r.kind, Agent: r.fromAgent, FromTask: r.fromTask,
		Reason: reason, At: s.now})
}

// expireTransfer ends a transfer/conference request whose TTL passed.
func (s *State) expireTransfer(r *request) {
	s.removeRequest(r, ReasonExpired)
	s.transferFailed(r, ReasonExpired)
	if cv := r.conv; !cv.closed && cv.activeAgents() == 0 {
		s.lastAgentLeft(cv, r.fromAgent, ReasonNoAgentAvailable)
	}
}

// lastAgentLeft decides the fate of an open conversation left without an
// ACTIVE agent and without a request: its queue's LastAgentLeaves policy
// while the customer is present, else it closes with reason.
func (s *State) lastAgentLeft(cv *conv, lastAgent string, reason CloseReason) {
	if !cv.customerLeft && cv.queue.def.LastAgentLeaves == LastAgentRequeue {
		s.reopen(cv, lastAgent)
		return
	}
	s.closeConversation(cv, reason)
}

// leaveMonitors takes every supervisor out of cv (it is closing).
func (s *State) leaveMonitors(cv *conv) {
	for _, m := range cv.monitors {
		s.emit(ParticipantLeft{Conversation: cv.id, Agent: m.agent.def.ID, At: s.now})
	}
	cv.monitors = nil
}

// dropSupervisor takes an agent who is no longer a supervisor out of every
// conversation it supervises (a rare administrative change).
func (s *State) dropSupervisor(a *agentRT) { s.leaveMonitored(a) }

// leaveSupervised takes supervisor a out of every conversation it
// supervises: it went LOGOUT or its desk is gone (AgentDisconnected).
// Agents of another role supervise nothing and cost nothing.
func (s *State) leaveSupervised(a *agentRT) {
	if a.def.Role == RoleSupervisor {
		s.leaveMonitored(a)
	}
}

// leaveMonitored takes a out of every open conversation it monitors, in
// conversation id order. It scans the open conversations: supervisors are
// few and these changes rare, kept off the hot path with no index to keep
// in step.
func (s *State) leaveMonitored(a *agentRT) {
	var ids []string
	for id, cv := range s.convs {
		if !cv.closed && cv.monitorIndex(a.def.ID) >= 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		cv := s.convs[id]
		i := cv.monitorIndex(a.def.ID)
		cv.monitors = slices.Delete(cv.monitors, i, i+1)
		s.emit(ParticipantLeft{Conversation: id, Agent: a.def.ID, At: s.now})
		s.rematch(cv)
	}
}

func checkMonitorRole(role ParticipantRole) *Error {
	switch role {
	case RoleSilentMonitor, RoleWhisper, RoleBargeIn:
		return nil
	}
	return errf(CodeInvalidArgument, "role must be %s, %s or %s, not %q", RoleSilentMonitor, RoleWhisper, RoleBargeIn, role)
}

func (s *State) joinConversation(c JoinConversation) *Error {
	if err := checkMonitorRole(c.Role); err != nil {
		return err
	}
	a, ok := s.agents[c.Agent]
	if !ok {
		return errf(CodeAgentNotFound, "agent %q does not exist", c.Agent)
	}
	if a.def.Role != RoleSupervisor {
		return errf(CodeNotSupervisor, "agent %q is not a supervisor", c.Agent)
	}
	cv, ok := s.convs[c.Conversation]
	if !ok {
		return errf(CodeConversationNotFound, "conversation %q does not exist", c.Conversation)
	}
	if cv.closed {
		return errf(CodeNotMonitorable, "conversation %q is closed", cv.id)
	}
	if !cv.queue.mrd.def.Interruptible {
		return errf(CodeNotMonitorable, "conversation %q is on mrd %q, not a push-mode chat", cv.id, cv.queue.def.MRD)
	}
	var primary *task
	for _, t := range cv.tasks {
		if t.state == TaskActiveState && t.role == RolePrimary {
			primary = t
			break
		}
	}
	if primary == nil {
		return errf(CodeNotMonitorable, "conversation %q has no ACTIVE primary agent", cv.id)
	}
	if cv.involves(a) {
		return errf(CodeAlreadyExists, "agent %q is already in conversation %q", a.def.ID, cv.id)
	}
	if !sharesTeam(a.def.Teams, primary.agent.def.Teams) {
		return errf(CodeTeamMismatch, "agent %q of conversation %q is in none of the teams of supervisor %q",
			primary.agent.def.ID, cv.id, a.def.ID)
	}
	if len(cv.monitors) >= MaxMonitorsPerConversation {
		return errf(CodeLimitExceeded, "more than %d supervisors in conversation %q", MaxMonitorsPerConversation, cv.id)
	}
	cv.monitors = append(cv.monitors, monitor{agent: a, role: c.Role})
	s.emit(ParticipantJoined{Conversation: cv.id, Agent: a.def.ID, Role: c.Role, At: s.now})
	return nil
}

// sharesTeam says whether the sorted team lists a and b intersect.
func sharesTeam(a, b []string) bool {
	for _, t := range a {
		if _, ok := slices.BinarySearch(b, t); ok {
			return true
		}
	}
	return false
}

// supervisorOf finds agent among cv's supervisors.
func (s *State) supervisorOf(conversation, agent string) (*conv, int, *Error) {
	cv, ok := s.convs[conversation]
	if !ok {
		return nil, 0, errf(CodeConversationNotFound, "conversation %q does not exist", conversation)
	}
	i := cv.monitorIndex(agent)
	if i < 0 {
		return nil, 0, errf(CodeNotParticipant, "agent %q is not a supervisor participant of conversation %q", agent, conversation)
	}
	return cv, i, nil
}

func (s *State) changeParticipantRole(c ChangeParticipantRole) *Error {
	if err := checkMonitorRole(c.Role); err != nil {
		return err
	}
	cv, i, err := s.supervisorOf(c.Conversation, c.Agent)
	if err != nil {
		return err
	}
	m := &cv.monitors[i]
	if m.role == c.Role {
		return errf(CodeInvalidTransition, "agent %q is already %s", c.Agent, c.Role)
	}
	prev := m.role
	m.role = c.Role
	s.emit(ParticipantRoleChanged{Conversation: cv.id, Agent: c.Agent, Role: c.Role, Previous: prev, At: s.now})
	return nil
}

func (s *State) leaveConversation(c LeaveConversation) *Error {
	cv, i, err := s.supervisorOf(c.Conversation, c.Agent)
	if err != nil {
		return err
	}
	cv.monitors = slices.Delete(cv.monitors, i, i+1)
	s.emit(ParticipantLeft{Conversation: cv.id, Agent: c.Agent, At: s.now})
	s.rematch(cv)
	return nil
}

func (s *State) customerLeft(c CustomerLeft) *Error {
	cv, ok := s.convs[c.Conversation]
	if !ok {
		return errf(CodeConversationNotFound, "conversation %q does not exist", c.Conversation)
	}
	if cv.closed || cv.customerLeft {
		return errf(CodeInvalidTransition, "conversation %q is closed or its customer already left", cv.id)
	}
	cv.customerLeft = true
	s.emit(ConversationCustomerLeft{Conversation: cv.id, At: s.now})
	r := cv.req
	switch {
	case r != nil && r.kind == "":
		// Waiting for an agent (first time or re-queued): an abandon.
		return s.abandonConversation(AbandonConversation{Conversation: cv.id})
	case r != nil:
		if r.state == RequestOfferedState {
			s.revokeOffers(r, ReasonCancelled)
		}
		s.removeRequest(r, ReasonCancelled)
		s.transferFailed(r, ReasonCancelled)
	}
	if cv.activeAgents() == 0 {
		s.closeConversation(cv, ReasonDone)
	}
	return nil
}
