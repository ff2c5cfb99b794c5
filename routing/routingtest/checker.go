package routingtest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

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
	monitors map[string]map[string]string
	// holds: HELD request -> the hold (AgentHeld until HoldReleased); a
	// hold is one load unit on its agent's MRD (routing/hold.go).
	holds map[string]holdModel
	// confirmed: request -> agent whose hold was released CONFIRMED in
	// the current command; the TaskReserved that follows goes to that
	// agent, whatever its availability (the hold's unit passes to it).
	confirmed map[string]string
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
	left                          bool // ParticipantLeft seen
	revoked                       bool // TaskRevoked seen
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
		reqs: map[string]routing.RequestState{}, convs: map[string]bool{}, monitors: map[string]map[string]string{},
		holds: map[string]holdModel{}, confirmed: map[string]string{}}
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
			tm := &taskModel{id: t.ID, agent: id, mrd: t.MRD, request: t.Request, conv: t.Conversation, state: t.State,
				left: t.State == routing.TaskWrapUpState}
			c.tasks[t.ID] = tm
			am.load[t.MRD]++
		}
	}
	for _, r := range s.Requests() {
		c.reqs[r.ID] = r.State
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

func (c *Checker) monitor(conv string) map[string]string {
	m := c.monitors[conv]
	if m == nil {
		m = map[string]string{}
		c.monitors[conv] = m
	}
	return m
}

// Check applies the events of the last command to the model, then compares
// the model with s and checks every invariant. The first violation found is
// returned.
func (c *Checker) Check(s *routing.State, events []routing.Event) error {
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
		case "queue", "reasonCode":
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
		c.reqs[e.Request] = routing.RequestQueuedState
	case routing.RequestUpdated:
		st, ok := c.reqs[e.Request]
		if !ok {
			return fmt.Errorf("request %s does not exist", e.Request)
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
			return fmt.Errorf("request %s offered while %q", e.Request, st)
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
			c.tasks[e.Task] = &taskModel{id: e.Task, agent: e.Agent, mrd: e.MRD, request: e.Request, conv: e.Conversation,
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
		c.tasks[e.Task] = &taskModel{id: e.Task, agent: e.Agent, mrd: e.MRD, request: e.Request, conv: e.Conversation,
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
	}
	if len(c.confirmed) > 0 {
		return fmt.Errorf("holds confirmed but not offered: %v", c.confirmed)
	}
	open := s.OpenConversations()
	if !slices.Equal(open, slices.Sorted(maps.Keys(c.convs))) {
		return fmt.Errorf("open conversations %v, events say %v", open, slices.Sorted(maps.Keys(c.convs)))
	}
	for _, id := range open {
		got := map[string]string{}
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
// only (when the request names one), not excluded, not already holding a
// task on or supervising the conversation.
func (v *view) canTake(r routing.Request, agent string) bool {
	if r.TargetAgent != "" && r.TargetAgent != agent {
		return false
	}
	return !slices.Contains(r.Excluded, agent) && !v.involved[r.Conversation][agent]
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
		for _, t := range ts {
			load[t.MRD]++
			if t.Agent != id {
				fail("task %s listed under %s belongs to %s", t.ID, id, t.Agent)
			}
			cv, ok := s.Conversation(t.Conversation)
			switch t.State {
			case routing.TaskReservedState:
				if t.Request == "" {
					fail("reserved task %s holds no request", t.ID)
				} else if other, dup := reserved[t.Request]; dup {
					fail("request %s offered to two agents: tasks %s and %s", t.Request, other, t.ID)
				}
				reserved[t.Request] = t.ID
				if r, ok := s.Request(t.Request); !ok || r.State != routing.RequestOfferedState || r.OfferedTask != t.ID {
					fail("reserved task %s: request %s is %+v", t.ID, t.Request, r)
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
				switch {
				case m.State == routing.MRDReady && m.Load != 0:
					fail("agent %s mrd %s READY with load %d", id, mid, m.Load)
				case m.State == routing.MRDActive && (m.Load == 0 || m.Load >= m.Capacity):
					fail("agent %s mrd %s ACTIVE with load %d capacity %d", id, mid, m.Load, m.Capacity)
				case m.State == routing.MRDBusy && (m.Load == 0 || m.Load < m.Capacity):
					fail("agent %s mrd %s BUSY with load %d capacity %d", id, mid, m.Load, m.Capacity)
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
		if len(w) == 0 || q.Mode == routing.External {
			continue
		}
		for _, aid := range v.agentIDs {
			st := v.agents[aid]
			if !available(st, q.MRD) || !eligible(st, q) {
				continue
			}
			for _, r := range w {
				if v.canTake(r, aid) {
					fail("matching not maximal: request %s waits in %s while agent %s is available and eligible", r.ID, q.ID, aid)
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
		x := v.agents[e.Agent]
		// Priority and FIFO: a better request that x could take still waits.
		for _, q := range v.queues {
			if q.MRD != e.MRD || !eligible(x, q) {
				continue
			}
			for _, wr := range v.waiting[q.ID] {
				if v.canTake(wr, e.Agent) && before(wr, r) {
					return fmt.Errorf("request %s (priority %d, enqueued %s) was offered to %s while %s in %s (priority %d, enqueued %s) comes first and still waits",
						r.ID, r.Priority, r.EnqueuedAt.Format("15:04:05.000"), e.Agent, wr.ID, q.ID, wr.Priority,
						wr.EnqueuedAt.Format("15:04:05.000"))
				}
			}
		}
		// Strategy: a better agent was available.
		q := queues[e.Queue]
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
