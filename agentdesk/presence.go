package agentdesk

import (
	"errors"
	"sort"
	"time"

	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// changeAgentState handles changeAgentState (seed 004 "Change Agent
// States"): action agentState -> routing.SetAgentState, action
// agentMRDState -> routing.SetMRDState.
//
// A change that happens reaches every socket of the agent as agentPresence
// AGENT_STATE_CHANGED through the node's event stream (dispatch.go), like a
// change from anywhere else. A change the engine refuses, or one that
// changes nothing, answers this socket only with agentPresence
// AGENT_STATE_UNCHANGED carrying the current state and a Reason: the routing
// error code (e.g. AGENT_NOT_READY for an MRD set READY while the agent is
// not READY) or STATE_UNCHANGED. A malformed payload or a foreign agentId
// gets an errors event.
func (c *client) changeAgentState(args []any) Ack {
	req, derr := decodeChangeAgentState(args)
	if derr != nil {
		return c.failErr(EventChangeAgentState, derr)
	}
	if res, ok := c.checkAgent(EventChangeAgentState, req.AgentID); !ok {
		return res
	}
	var cmd routing.Command
	switch req.Action {
	case actionAgentState:
		cmd = routing.SetAgentState{Agent: c.agent, State: req.State, ReasonCode: req.ReasonCode}
	default:
		cmd = routing.SetMRDState{Agent: c.agent, MRD: req.MRD, State: req.MRDState}
	}
	ctx, cancel := c.srv.commandCtx()
	defer cancel()
	var (
		pres  AgentPresence
		found bool
	)
	// A command that changed nothing is answered with the presence it
	// left, read in its writer turn.
	events, err := c.srv.n.SubmitWith(ctx, cmd, node.Reads{After: func(st routing.View, events []routing.Event) {
		if len(events) == 0 {
			pres, found = presenceOf(st, c.agent)
		}
	}})
	var re *routing.Error
	switch {
	case errors.As(err, &re):
		return c.unchanged(re.Code, re.Message)
	case err != nil:
		return c.failErr(EventChangeAgentState, err)
	case len(events) == 0:
		return c.answerUnchanged(pres, found, nil, CodeStateUnchanged, "the agent is already in the requested state")
	}
	return Ack{OK: true}
}

// unchanged answers this socket with agentPresence AGENT_STATE_UNCHANGED
// after a refusal (which changed nothing).
func (c *client) unchanged(code, message string) Ack {
	ctx, cancel := c.srv.commandCtx()
	defer cancel()
	var (
		pres AgentPresence
		ok   bool
	)
	err := c.srv.n.View(ctx, func(st routing.View) { pres, ok = presenceOf(st, c.agent) })
	return c.answerUnchanged(pres, ok, err, code, message)
}

// answerUnchanged sends pres (found: the agent exists; err: the read's
// error) as agentPresence AGENT_STATE_UNCHANGED with code and message.
func (c *client) answerUnchanged(pres AgentPresence, found bool, err error, code, message string) Ack {
	if err != nil || !found {
		return c.failErr(EventChangeAgentState, errors.Join(err, errors.New("agent not found")))
	}
	pres.Action = ActionStateUnchanged
	pres.Reason = &Reason{Code: code, Message: message}
	c.emit(EventAgentPresence, pres)
	return Ack{Code: code, Message: message}
}

// presenceOf builds the agentPresence of agent from the state (Action,
// AgentStateChanged and MrdStateChanges left for the caller). ok is false
// when the agent does not exist.
func presenceOf(st routing.View, agent string) (AgentPresence, bool) {
	p, ok := st.Presence(agent)
	if !ok {
		return AgentPresence{}, false
	}
	return presenceFrom(p), true
}

// presenceFrom builds an agentPresence from the engine's presence of an
// agent (a presence event's, or the state's).
func presenceFrom(as *routing.Presence) AgentPresence {
	p := AgentPresence{
		Agent:           ccUser(as.Agent),
		State:           PresenceState{Name: string(as.State)},
		StateChangeTime: as.StateSince,
		AgentMrdStates:  make([]AgentMrdState, 0, len(as.MRDs)),
		AgentLoginTime:  timeOrNil(as.LoginAt),
		MrdStateChanges: []string{},
	}
	if as.ReasonCode != "" {
		rc := as.Reason
		p.State.ReasonCode = &ReasonCode{ID: rc.ID, Name: rc.Name, Type: string(rc.Type)}
	}
	for _, m := range as.MRDs {
		p.AgentMrdStates = append(p.AgentMrdStates, AgentMrdState{
			MRD:                      mrdOf(m.MRD),
			State:                    string(m.State),
			StateChangeTime:          m.Since,
			LastReadyStateChangeTime: timeOrNil(m.LastReady),
		})
	}
	return p
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func mrdOf(m routing.MRD) MRD {
	return MRD{ID: m.ID, Name: m.Name, Description: m.Description, Interruptible: m.Interruptible, MaxRequests: m.MaxRequests}
}

// ccUser describes an agent as a CCUser: skills become routing
// attributes, sorted by name.
func ccUser(a routing.Agent) CCUser {
	role := a.Role
	if role == "" {
		role = routing.RoleAgent
	}
	u := CCUser{
		ParticipantType:             "CCUser",
		ID:                          a.ID,
		KeycloakUser:                KeycloakUser{ID: a.ID, Username: a.ID, FirstName: a.Name, Roles: []string{string(role)}},
		AssociatedRoutingAttributes: make([]AssociatedRoutingAttribute, 0, len(a.Skills)),
	}
	names := make([]string, 0, len(a.Skills))
	for n := range a.Skills {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		u.AssociatedRoutingAttributes = append(u.AssociatedRoutingAttributes, AssociatedRoutingAttribute{
			RoutingAttribute: RoutingAttribute{ID: n, Name: n, Type: "PROFICIENCY_LEVEL"},
			Value:            a.Skills[n],
		})
	}
	return u
}
