package routingtest

// The event model: what the Checker rebuilds from the events alone, and
// how it compares that model with the state's read views.

import (
	"fmt"
	"maps"
	"slices"

	"github.com/omniroute/omniroute/routing"
)

// Checker checks the routing engine's invariants after every command. It
// keeps a model of agents, MRD states, tasks, requests and conversations
// that it updates from the events alone, so it also proves that every change
// the state shows was announced by an event, in an order that makes sense.
//
// Use it as:
//
//	chk := routingtest.NewChecker(s)
//	evs, err := s.Apply(now, cmd)
//	if err := chk.Check(s, evs); err != nil { ... }
//
// Check must see every command applied to s (a refused command: nil events).
// It reads s only through its exported read views.
type Checker struct {
	mrds   map[string]bool
	agents map[string]*agentModel
	tasks  map[string]*taskModel
	reqs   map[string]routing.RequestState
	convs  map[string]bool // open conversations
	// monitors: conversation -> supervisor -> role (participants without
	// a task, announced by ParticipantJoined with no task).
	monitors map[string]map[string]routing.ParticipantRole
	// holds: HELD request -> the hold (AgentHeld until HoldReleased); a
	// hold is one load unit on its agent's MRD (routing/hold.go).
	holds map[string]holdModel
	// confirmed: request -> agent whose hold was released CONFIRMED in
	// the current command; the TaskReserved that follows goes to that
	// agent, whatever its availability (the hold's unit passes to it).
	confirmed map[string]string
	// steps: live request -> its escalation step as the events announced
	// it (RequestQueued: 0; RequestUpdated: its Step).
	steps map[string]int
	// accepted: request -> the task that accepted it (a request id is
	// accepted once; multi-reservation must not activate a second).
	accepted map[string]string
	// last models last-agent routing (lastagent.go).
	last *lastAgents
}

type holdModel struct {
	agent, mrd, conv string
}

type agentModel struct {
	state  routing.AgentState
	reason string
	mrd    map[string]routing.MRDState
	load   map[string]int
}

type taskModel struct {
	id, agent, mrd, request, conv string
	state                         routing.TaskState
	queue                         string // TaskReserved's queue
	left                          bool   // ParticipantLeft seen
	revoked                       bool   // TaskRevoked seen
}

// offerRecord is one TaskReserved of the last command with what the model
// knew at that moment.
type offerRecord struct {
	ev          routing.TaskReserved
	loadAtOffer int
}

// NewChecker starts a checker from s's current state.
func NewChecker(s *routing.State) *Checker {
	c := &Checker{mrds: map[string]bool{}, agents: map[string]*agentModel{}, tasks: map[string]*taskModel{},
		reqs: map[string]routing.RequestState{}, convs: map[string]bool{}, monitors: map[string]map[string]routing.ParticipantRole{},
		holds: map[string]holdModel{}, confirmed: map[string]string{}, steps: map[string]int{},
		accepted: map[string]string{}, last: newLastAgents(s)}
	for _, m := range s.MRDs() {
		c.mrds[m.ID] = true
	}
	for _, id := range s.AgentIDs() {
		st, _ := s.Agent(id)
		am := &agentModel{state: st.State, reason: st.ReasonCode, mrd: map[string]routing.MRDState{}, load: map[string]int{}}
		for _, m := range st.MRDs {
			am.mrd[m.MRD.ID] = m.State
		}
		c.agents[id] = am
		ts, _ := s.Tasks(id)
		for _, t := range ts {
			tm := &taskModel{id: t.ID, agent: id, mrd: t.MRD, request: t.Request, conv: t.Conversation, queue: t.Queue, state: t.State,
				left: t.State == routing.TaskWrapUpState}
			c.tasks[t.ID] = tm
			am.load[t.MRD]++
		}
	}
	for _, r := range s.Requests() {
		c.reqs[r.ID] = r.State
		c.steps[r.ID] = r.Step
		if r.State == routing.RequestHeldState {
			q, _ := s.Queue(r.Queue)
			c.holds[r.ID] = holdModel{agent: r.HeldAgent, mrd: q.MRD, conv: r.Conversation}
			if a := c.agents[r.HeldAgent]; a != nil {
				a.load[q.MRD]++
			}
		}
	}
	for _, id := range s.OpenConversations() {
		c.convs[id] = true
		cv, _ := s.Conversation(id)
		for _, p := range cv.Participants {
			if p.Task == "" {
				c.monitor(id)[p.Agent] = p.Role
			}
		}
	}
	return c
}

func (c *Checker) monitor(conv string) map[string]routing.ParticipantRole {
	m := c.monitors[conv]
	if m == nil {
		m = map[string]routing.ParticipantRole{}
		c.monitors[conv] = m
	}
	return m
}

// Check applies the events of the last command to the model, then compares
// the model with s and checks every invariant. The first violation found is
// returned.
func (c *Checker) Check(s *routing.State, events []routing.Event) error {
	clear(c.last.created)
	offers, err := c.apply(s, events)
	if err != nil {
		return err
	}
	// A supervisor that went LOGOUT left every conversation it monitored
	// within the same command.
	for _, ev := range events {
		if e, ok := ev.(routing.AgentStateChanged); ok && e.State == routing.AgentLogout && c.agents[e.Agent].state == routing.AgentLogout {
			for conv, m := range c.monitors {
				if _, in := m[e.Agent]; in {
					return fmt.Errorf("agent %s went LOGOUT but still monitors conversation %s", e.Agent, conv)
				}
			}
		}
	}
	v := newView(s)
	if err := c.compare(s, v); err != nil {
		return err
	}
	if err := checkState(s, v); err != nil {
		return err
	}
	return checkOffers(s, v, offers)
}

func (c *Checker) agent(id string) (*agentModel, error) {
	a, ok := c.agents[id]
	if !ok {
		return nil, fmt.Errorf("event names agent %q, unknown to the model", id)
	}
	return a, nil
}

// apply updates the model with events and checks that each event is
// possible at its place in the stream.
func (c *Checker) apply(s *routing.State, events []routing.Event) ([]offerRecord, error) {
	var offers []offerRecord
	clear(c.confirmed)
	for i, ev := range events {
		err := c.applyOne(s, ev, &offers)
		if err != nil {
			return nil, fmt.Errorf("event %d %s: %v", i, ev.EventName(), err)
		}
	}
	return offers, nil
}

func (c *Checker) applyOne(s *routing.State, ev routing.Event, offers *[]offerRecord) error {
	switch e := ev.(type) {
	case routing.DefinitionChanged:
		switch e.Kind {
		case "mrd":
			if !c.mrds[e.ID] {
				c.mrds[e.ID] = true
				for _, a := range c.agents {
					a.mrd[e.ID] = routing.MRDNotReady
				}
			}
		case "agent":
			if _, ok := c.agents[e.ID]; !ok {
				a := &agentModel{state: routing.AgentLogout, mrd: map[string]routing.MRDState{}, load: map[string]int{}}
				for m := range c.mrds {
					a.mrd[m] = routing.MRDNotReady
				}
				c.agents[e.ID] = a
			}
		case "queue":
			if q, ok := s.Queue(e.ID); ok {
				c.last.trim(q)
			}
		case "reasonCode":
		default:
			return fmt.Errorf("unknown kind %q", e.Kind)
		}
	case routing.AgentStateChanged:
		a, err := c.agent(e.Agent)
		if err != nil {
			return err
		}
		if a.state != e.Previous {
			return fmt.Errorf("agent %s previous %s, model has %s", e.Agent, e.Previous, a.state)
		}
		if a.state == e.State && a.reason == e.ReasonCode {
			return fmt.Errorf("agent %s: no change (%s %q)", e.Agent, e.State, e.ReasonCode)
		}
		a.state, a.reason = e.State, e.ReasonCode
	case routing.MRDStateChanged:
		a, err := c.agent(e.Agent)
		if err != nil {
			return err
		}
		prev, ok := a.mrd[e.MRD]
		if !ok {
			return fmt.Errorf("unknown mrd %q", e.MRD)
		}
		if prev != e.Previous {
			return fmt.Errorf("agent %s mrd %s previous %s, model has %s", e.Agent, e.MRD, e.Previous, prev)
		}
		if e.State == e.Previous {
			return fmt.Errorf("agent %s mrd %s: no change", e.Agent, e.MRD)
		}
		a.mrd[e.MRD] = e.State
	case routing.ConversationCreated:
		if c.convs[e.Conversation] {
			return fmt.Errorf("conversation %s is already open", e.Conversation)
		}
		c.convs[e.Conversation] = true
		c.last.created[e.Conversation] = true
	case routing.ConversationClosed:
		if !c.convs[e.Conversation] {
			return fmt.Errorf("conversation %s is not open", e.Conversation)
		}
		for _, t := range c.tasks {
			if t.conv == e.Conversation && (t.state == routing.TaskReservedState || t.state == routing.TaskActiveState) {
				return fmt.Errorf("conversation %s closes while task %s is %s", e.Conversation, t.id, t.state)
			}
		}
		for id := range c.reqs {
			if r, ok := s.Request(id); ok && r.Conversation == e.Conversation {
				return fmt.Errorf("conversation %s closes while its request %s lives", e.Conversation, id)
			}
		}
		if len(c.monitors[e.Conversation]) > 0 {
			return fmt.Errorf("conversation %s closes while supervisors %v are in it", e.Conversation, c.monitors[e.Conversation])
		}
		delete(c.convs, e.Conversation)
		delete(c.monitors, e.Conversation)
	case routing.RequestQueued:
		if _, ok := c.reqs[e.Request]; ok {
			return fmt.Errorf("request %s already exists", e.Request)
		}
		if !c.convs[e.Conversation] {
			return fmt.Errorf("request %s for conversation %s, which is not open", e.Request, e.Conversation)
		}
		if err := c.last.queued(s, e); err != nil {
			return err
		}
		c.reqs[e.Request] = routing.RequestQueuedState
		c.steps[e.Request] = 0
		delete(c.accepted, e.Request) // a new request may reuse an ended one's id
	case routing.RequestUpdated:
		st, ok := c.reqs[e.Request]
		if !ok {
			return fmt.Errorf("request %s does not exist", e.Request)
		}
		c.steps[e.Request] = e.Step
		switch e.Reason {
		case routing.ReasonEscalated, routing.ReasonAged, routing.ReasonPriorityChanged, routing.ReasonPreferredTimeout:
			// A step or priority change, in whatever state the request is.
			return nil
		}
		if st == routing.RequestOfferedState && e.Reason == routing.ReasonRequeuedAfterDrop {
			return fmt.Errorf("request %s is OFFERED", e.Request)
		}
		if t := c.reservedFor(e.Request); t != nil {
			return fmt.Errorf("request %s re-queued while task %s still holds it", e.Request, t.id)
		}
		if h, ok := c.holds[e.Request]; ok {
			return fmt.Errorf("request %s re-queued while it holds agent %s", e.Request, h.agent)
		}
		c.reqs[e.Request] = routing.RequestQueuedState
	case routing.RequestRemoved:
		if _, ok := c.reqs[e.Request]; !ok {
			return fmt.Errorf("request %s does not exist", e.Request)
		}
		delete(c.steps, e.Request)
		if t := c.reservedFor(e.Request); t != nil {
			return fmt.Errorf("request %s removed (%s) while task %s still holds it", e.Request, e.Reason, t.id)
		}
		if h, ok := c.holds[e.Request]; ok {
			return fmt.Errorf("request %s removed (%s) while it holds agent %s", e.Request, e.Reason, h.agent)
		}
		switch e.Reason {
		case routing.ReasonAccepted, routing.ReasonExpired, routing.ReasonCancelled, routing.ReasonAbandoned,
			routing.ReasonUnconfirmed:
		default:
			return fmt.Errorf("request %s removed with reason %s", e.Request, e.Reason)
		}
		delete(c.reqs, e.Request)
	case routing.TaskReserved:
		if _, ok := c.tasks[e.Task]; ok {
			return fmt.Errorf("task %s already exists", e.Task)
		}
		if st, ok := c.reqs[e.Request]; !ok || st != routing.RequestQueuedState {
			// A further reservation of a multi-reservation queue
			// (routing/multioffer.go) comes in the same command.
			q, _ := s.Queue(e.Queue)
			n := 0
			for _, t := range c.tasks {
				if t.request == e.Request && t.state == routing.TaskReservedState && !t.revoked {
					n++
				}
			}
			if st != routing.RequestOfferedState || n == 0 || n >= q.OfferToAgents {
				return fmt.Errorf("request %s offered while %q (%d reservations)", e.Request, st, n)
			}
		}
		a, err := c.agent(e.Agent)
		if err != nil {
			return err
		}
		if held, ok := c.confirmed[e.Request]; ok {
			// The confirmed hold's unit passes to the task: no new
			// capacity taken, not the engine's choice of agent.
			if held != e.Agent {
				return fmt.Errorf("confirmed hold of %s offered to %s, not the held agent %s", e.Request, e.Agent, held)
			}
			delete(c.confirmed, e.Request)
			a.load[e.MRD]++
			c.tasks[e.Task] = &taskModel{id: e.Task, agent: e.Agent, mrd: e.MRD, request: e.Request, conv: e.Conversation, queue: e.Queue,
				state: routing.TaskReservedState}
			c.reqs[e.Request] = routing.RequestOfferedState
			return nil
		}
		if a.state != routing.AgentReady {
			return fmt.Errorf("offered to agent %s who is %s", e.Agent, a.state)
		}
		if ms := a.mrd[e.MRD]; ms != routing.MRDReady && ms != routing.MRDActive {
			return fmt.Errorf("offered to agent %s whose mrd %s is %s", e.Agent, e.MRD, ms)
		}
		capacity := -1
		if st, ok := s.Agent(e.Agent); ok {
			for _, m := range st.MRDs {
				if m.MRD.ID == e.MRD {
					capacity = m.Capacity
				}
			}
		}
		if a.load[e.MRD] >= capacity {
			return fmt.Errorf("offered to agent %s with load %d, capacity %d on %s", e.Agent, a.load[e.MRD], capacity, e.MRD)
		}
		if !e.Deadline.After(e.At) {
			return fmt.Errorf("RONA deadline %s not after %s", e.Deadline, e.At)
		}
		// Never a second part in one conversation.
		for _, t := range c.tasks {
			if t.agent == e.Agent && t.conv == e.Conversation {
				return fmt.Errorf("conversation %s offered to %s, who holds task %s on it", e.Conversation, e.Agent, t.id)
			}
		}
		if _, ok := c.monitors[e.Conversation][e.Agent]; ok {
			return fmt.Errorf("conversation %s offered to %s, who supervises it", e.Conversation, e.Agent)
		}
		*offers = append(*offers, offerRecord{ev: e, loadAtOffer: a.load[e.MRD]})
		a.load[e.MRD]++
		c.tasks[e.Task] = &taskModel{id: e.Task, agent: e.Agent, mrd: e.MRD, request: e.Request, conv: e.Conversation, queue: e.Queue,
			state: routing.TaskReservedState}
		c.reqs[e.Request] = routing.RequestOfferedState
	case routing.TaskRevoked:
		t, err := c.task(e.Task, e.Agent)
		if err != nil {
			return err
		}
		if t.state != routing.TaskReservedState || t.revoked {
			return fmt.Errorf("task %s revoked while %s", e.Task, t.state)
		}
		t.revoked = true
	case routing.TaskActivated:
		t, err := c.task(e.Task, e.Agent)
		if err != nil {
			return err
		}
		if t.state != routing.TaskReservedState || t.revoked {
			return fmt.Errorf("task %s activated while %s", e.Task, t.state)
		}
		// Never ACTIVE with two agents: the other reservations of the
		// request are revoked before anything else is accepted.
		if c.accepted[t.request] != "" {
			return fmt.Errorf("request %s accepted by task %s, already accepted by task %s", t.request, e.Task, c.accepted[t.request])
		}
		c.accepted[t.request] = e.Task
		c.last.record(s, t.queue, t.conv, t.agent, e.At)
		t.state = routing.TaskActiveState
		t.request = ""
	case routing.ParticipantJoined:
		if e.Task == "" {
			// A supervisor: no task, no capacity.
			if !c.convs[e.Conversation] {
				return fmt.Errorf("supervisor %s joined conversation %s, which is not open", e.Agent, e.Conversation)
			}
			if e.Role != routing.RoleSilentMonitor && e.Role != routing.RoleWhisper && e.Role != routing.RoleBargeIn {
				return fmt.Errorf("supervisor %s joined with role %s", e.Agent, e.Role)
			}
			if _, dup := c.monitors[e.Conversation][e.Agent]; dup {
				return fmt.Errorf("supervisor %s joined conversation %s twice", e.Agent, e.Conversation)
			}
			for _, t := range c.tasks {
				if t.agent == e.Agent && t.conv == e.Conversation {
					return fmt.Errorf("supervisor %s joined conversation %s where it holds task %s", e.Agent, e.Conversation, t.id)
				}
			}
			c.monitor(e.Conversation)[e.Agent] = e.Role
			return nil
		}
		t, err := c.task(e.Task, e.Agent)
		if err != nil {
			return err
		}
		if t.state != routing.TaskActiveState {
			return fmt.Errorf("participant joined with task %s %s", e.Task, t.state)
		}
	case routing.ParticipantLeft:
		if e.Task == "" {
			if _, ok := c.monitors[e.Conversation][e.Agent]; !ok {
				return fmt.Errorf("supervisor %s left conversation %s without having joined", e.Agent, e.Conversation)
			}
			delete(c.monitors[e.Conversation], e.Agent)
			return nil
		}
		t, err := c.task(e.Task, e.Agent)
		if err != nil {
			return err
		}
		if t.state != routing.TaskActiveState || t.left {
			return fmt.Errorf("participant left with task %s %s", e.Task, t.state)
		}
		t.left = true
	case routing.TaskWrapUp:
		t, err := c.task(e.Task, e.Agent)
		if err != nil {
			return err
		}
		if t.state != routing.TaskActiveState || !t.left {
			return fmt.Errorf("wrap-up of task %s %s (left %v)", e.Task, t.state, t.left)
		}
		if !e.Deadline.After(e.At) {
			return fmt.Errorf("wrap-up deadline %s not after %s", e.Deadline, e.At)
		}
		c.last.record(s, t.queue, t.conv, t.agent, e.At)
		t.state = routing.TaskWrapUpState
	case routing.TaskClosed:
		t, err := c.task(e.Task, e.Agent)
		if err != nil {
			return err
		}
		switch t.state {
		case routing.TaskReservedState:
			if !t.revoked && e.Reason != routing.ReasonDeclined {
				return fmt.Errorf("reserved task %s closed %s without TaskRevoked", e.Task, e.Reason)
			}
		case routing.TaskActiveState:
			if !t.left {
				return fmt.Errorf("active task %s closed %s without ParticipantLeft", e.Task, e.Reason)
			}
			if e.Reason != routing.ReasonTransferred {
				c.last.record(s, t.queue, t.conv, t.agent, e.At)
			}
		}
		c.agents[t.agent].load[t.mrd]--
		delete(c.tasks, e.Task)
	case routing.ParticipantRoleChanged:
		role, ok := c.monitors[e.Conversation][e.Agent]
		if !ok {
			return fmt.Errorf("role of %s changed in conversation %s, where it is no supervisor", e.Agent, e.Conversation)
		}
		if role != e.Previous || role == e.Role {
			return fmt.Errorf("role of %s: previous %s, model %s, new %s", e.Agent, e.Previous, role, e.Role)
		}
		c.monitors[e.Conversation][e.Agent] = e.Role
	case routing.TransferRequested:
		if !c.convs[e.Conversation] {
			return fmt.Errorf("transfer %s of conversation %s, which is not open", e.Request, e.Conversation)
		}
		t, err := c.task(e.FromTask, e.Agent)
		if err != nil {
			return err
		}
		if t.state != routing.TaskActiveState || t.conv != e.Conversation {
			return fmt.Errorf("transfer %s from task %s %s on %s", e.Request, t.id, t.state, t.conv)
		}
		if _, ok := c.reqs[e.Request]; ok {
			return fmt.Errorf("transfer request %s already exists", e.Request)
		}
	case routing.TransferFailed:
		if _, ok := c.reqs[e.Request]; ok {
			return fmt.Errorf("transfer %s failed (%s) while its request lives", e.Request, e.Reason)
		}
		switch e.Reason {
		case routing.ReasonExpired, routing.ReasonCancelled, routing.ReasonAbandoned:
		default:
			return fmt.Errorf("transfer %s failed with reason %s", e.Request, e.Reason)
		}
	case routing.ConversationCustomerLeft:
		if !c.convs[e.Conversation] {
			return fmt.Errorf("customer left conversation %s, which is not open", e.Conversation)
		}
	case routing.AgentHeld:
		return c.held(s, e, offers)
	case routing.HoldReleased:
		h, ok := c.holds[e.Request]
		if !ok || c.reqs[e.Request] != routing.RequestHeldState {
			return fmt.Errorf("hold of request %s released (%s) but it holds nobody", e.Request, e.Reason)
		}
		if h.agent != e.Agent || h.conv != e.Conversation {
			return fmt.Errorf("hold of request %s released for %s/%s, model has %s/%s", e.Request, e.Agent, e.Conversation, h.agent, h.conv)
		}
		switch e.Reason {
		case routing.ReasonConfirmed:
			c.confirmed[e.Request] = e.Agent
		case routing.ReasonExpired, routing.ReasonCancelled, routing.ReasonAgentLogout, routing.ReasonAgentDisconnected:
		default:
			return fmt.Errorf("hold of request %s released with reason %s", e.Request, e.Reason)
		}
		c.agents[h.agent].load[h.mrd]--
		delete(c.holds, e.Request)
		// Out of the waiting tree until RequestUpdated, RequestRemoved or
		// (confirmed) TaskReserved says where it goes.
		c.reqs[e.Request] = routing.RequestQueuedState
	default:
		return fmt.Errorf("unknown event %T", ev)
	}
	return nil
}

// held applies AgentHeld: like an offer (a QUEUED request, a READY agent
// on a READY or ACTIVE MRD with room, never a conversation it is in), it
// takes one load unit, and the engine's choice is checked as an offer's.
func (c *Checker) held(s *routing.State, e routing.AgentHeld, offers *[]offerRecord) error {
	if st, ok := c.reqs[e.Request]; !ok || st != routing.RequestQueuedState {
		return fmt.Errorf("request %s held while %q", e.Request, st)
	}
	if !c.convs[e.Conversation] {
		return fmt.Errorf("request %s held for conversation %s, which is not open", e.Request, e.Conversation)
	}
	a, err := c.agent(e.Agent)
	if err != nil {
		return err
	}
	if a.state != routing.AgentReady {
		return fmt.Errorf("held agent %s who is %s", e.Agent, a.state)
	}
	if ms := a.mrd[e.MRD]; ms != routing.MRDReady && ms != routing.MRDActive {
		return fmt.Errorf("held agent %s whose mrd %s is %s", e.Agent, e.MRD, ms)
	}
	capacity := -1
	if st, ok := s.Agent(e.Agent); ok {
		if m, ok := mrdOf(st, e.MRD); ok {
			capacity = m.Capacity
		}
	}
	if a.load[e.MRD] >= capacity {
		return fmt.Errorf("held agent %s with load %d, capacity %d on %s", e.Agent, a.load[e.MRD], capacity, e.MRD)
	}
	if !e.Deadline.After(e.At) {
		return fmt.Errorf("hold deadline %s not after %s", e.Deadline, e.At)
	}
	for _, t := range c.tasks {
		if t.agent == e.Agent && t.conv == e.Conversation {
			return fmt.Errorf("conversation %s held %s, who holds task %s on it", e.Conversation, e.Agent, t.id)
		}
	}
	*offers = append(*offers, offerRecord{ev: routing.TaskReserved{Conversation: e.Conversation, Request: e.Request,
		Agent: e.Agent, Queue: e.Queue, MRD: e.MRD, Deadline: e.Deadline, At: e.At}, loadAtOffer: a.load[e.MRD]})
	a.load[e.MRD]++
	c.holds[e.Request] = holdModel{agent: e.Agent, mrd: e.MRD, conv: e.Conversation}
	c.reqs[e.Request] = routing.RequestHeldState
	return nil
}

func (c *Checker) task(id, agent string) (*taskModel, error) {
	t, ok := c.tasks[id]
	if !ok {
		return nil, fmt.Errorf("task %s does not exist", id)
	}
	if t.agent != agent {
		return nil, fmt.Errorf("task %s belongs to %s, event says %s", id, t.agent, agent)
	}
	return t, nil
}

func (c *Checker) reservedFor(req string) *taskModel {
	for _, id := range slices.Sorted(maps.Keys(c.tasks)) {
		t := c.tasks[id]
		if t.state == routing.TaskReservedState && t.request == req {
			return t
		}
	}
	return nil
}

// compare checks that the model built from events equals what s shows.
func (c *Checker) compare(s *routing.State, v *view) error {
	ids := v.agentIDs
	if !slices.Equal(ids, slices.Sorted(maps.Keys(c.agents))) {
		return fmt.Errorf("agents %v, events announced %v", ids, slices.Sorted(maps.Keys(c.agents)))
	}
	seenTasks := 0
	for _, id := range ids {
		st := v.agents[id]
		a := c.agents[id]
		if st.State != a.state || st.ReasonCode != a.reason {
			return fmt.Errorf("agent %s is %s %q, events say %s %q", id, st.State, st.ReasonCode, a.state, a.reason)
		}
		if len(st.MRDs) != len(a.mrd) {
			return fmt.Errorf("agent %s has %d mrds, model %d", id, len(st.MRDs), len(a.mrd))
		}
		for _, m := range st.MRDs {
			if a.mrd[m.MRD.ID] != m.State {
				return fmt.Errorf("agent %s mrd %s is %s, events say %s", id, m.MRD.ID, m.State, a.mrd[m.MRD.ID])
			}
			if a.load[m.MRD.ID] != m.Load {
				return fmt.Errorf("agent %s mrd %s load %d, events say %d", id, m.MRD.ID, m.Load, a.load[m.MRD.ID])
			}
		}
		for _, t := range v.tasks[id] {
			tm, ok := c.tasks[t.ID]
			if !ok {
				return fmt.Errorf("task %s of %s was never announced", t.ID, id)
			}
			if tm.agent != id || tm.state != t.State || tm.mrd != t.MRD || tm.conv != t.Conversation {
				return fmt.Errorf("task %s is %s/%s/%s/%s, events say %s/%s/%s/%s", t.ID, t.Agent, t.State, t.MRD,
					t.Conversation, tm.agent, tm.state, tm.mrd, tm.conv)
			}
			seenTasks++
		}
	}
	if seenTasks != len(c.tasks) {
		return fmt.Errorf("state has %d open tasks, events say %d", seenTasks, len(c.tasks))
	}
	reqs := s.Requests()
	if len(reqs) != len(c.reqs) {
		return fmt.Errorf("state has %d live requests, events say %d", len(reqs), len(c.reqs))
	}
	for _, r := range reqs {
		if st, ok := c.reqs[r.ID]; !ok || st != r.State {
			return fmt.Errorf("request %s is %s, events say %q", r.ID, r.State, st)
		}
		if h := c.holds[r.ID]; h.agent != r.HeldAgent {
			return fmt.Errorf("request %s holds agent %q, events say %q", r.ID, r.HeldAgent, h.agent)
		}
		if c.steps[r.ID] != r.Step {
			return fmt.Errorf("request %s is at step %d, events say %d", r.ID, r.Step, c.steps[r.ID])
		}
	}
	if len(c.confirmed) > 0 {
		return fmt.Errorf("holds confirmed but not offered: %v", c.confirmed)
	}
	open := s.OpenConversations()
	if !slices.Equal(open, slices.Sorted(maps.Keys(c.convs))) {
		return fmt.Errorf("open conversations %v, events say %v", open, slices.Sorted(maps.Keys(c.convs)))
	}
	for _, id := range open {
		got := map[string]routing.ParticipantRole{}
		for _, p := range v.convs[id].Participants {
			if p.Task == "" {
				got[p.Agent] = p.Role
			}
		}
		if want := c.monitors[id]; !maps.Equal(got, want) && (len(got) > 0 || len(want) > 0) {
			return fmt.Errorf("conversation %s has supervisors %v, events say %v", id, got, want)
		}
	}
	return nil
}
