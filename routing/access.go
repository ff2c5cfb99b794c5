package routing

import (
	"maps"
	"slices"
)

// Who may read which work. The engine keeps the facts (tasks, supervisors'
// teams, monitors); the adapters (restapi, gms) ask these questions before
// they show a conversation, a task list or a callback's messages to a
// caller that is not an administrator.

// Supervises reports whether supervisor is a supervisor (Role supervisor)
// whose teams include one of agent's teams. False when either is unknown.
// A supervisor supervises themself only through a shared team.
func (s *State) Supervises(supervisor, agent string) bool {
	sa, ok := s.agents[supervisor]
	if !ok || sa.def.Role != RoleSupervisor {
		return false
	}
	a, ok := s.agents[agent]
	return ok && sharesTeam(sa.def.Teams, a.def.Teams)
}

// Involved reports whether agent holds an open task (RESERVED, ACTIVE or
// WRAP_UP) on conversation, is held for it (a callback in HELD, hold.go),
// or is in it as a supervisor (SILENT_MONITOR, WHISPER, BARGE_IN).
func (s *State) Involved(agent, conversation string) bool {
	cv, ok := s.convs[conversation]
	a, known := s.agents[agent]
	if !ok || !known {
		return false
	}
	if r := cv.req; r != nil && r.held != nil && r.held.agent == a {
		return true
	}
	return cv.involves(a)
}

// Oversees reports whether supervisor supervises (Supervises) an agent
// holding an open task on conversation.
func (s *State) Oversees(supervisor, conversation string) bool {
	cv, ok := s.convs[conversation]
	if !ok {
		return false
	}
	for _, t := range cv.tasks {
		if s.Supervises(supervisor, t.agent.def.ID) {
			return true
		}
	}
	if r := cv.req; r != nil && r.held != nil {
		return s.Supervises(supervisor, r.held.agent.def.ID)
	}
	return false
}

// MayRead reports whether agent may read conversation: it is Involved, or
// it Oversees it.
func (s *State) MayRead(agent, conversation string) bool {
	return s.Involved(agent, conversation) || s.Oversees(agent, conversation)
}

// ConversationIDs returns the ids of every conversation the state holds
// (open, and the last RetainedClosedConversations closed), sorted.
func (s *State) ConversationIDs() []string {
	return slices.Sorted(maps.Keys(s.convs))
}

// ConversationAgents returns the agents holding an open task on
// conversation, or held for it, in task order (a supervisor who joined
// without a task is not among them); nil when unknown.
func (s *State) ConversationAgents(conversation string) []string {
	cv, ok := s.convs[conversation]
	if !ok {
		return nil
	}
	var out []string
	for _, t := range cv.tasks {
		if !slices.Contains(out, t.agent.def.ID) {
			out = append(out, t.agent.def.ID)
		}
	}
	if r := cv.req; r != nil && r.held != nil && !slices.Contains(out, r.held.agent.def.ID) {
		out = append(out, r.held.agent.def.ID)
	}
	return out
}
