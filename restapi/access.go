package restapi

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/routing"
)

// Who reads which work (routing/access.go holds the facts):
//
//   - an administrator reads every conversation and every agent's tasks;
//   - a supervisor reads the conversations of the agents of their teams
//     (an agent of a team holds a task on it, or is held for it) and the
//     ones they joined, and GET /v1/tasks?agent= of the agents of their
//     teams;
//   - an agent reads the conversations it takes part in and its own tasks.
//
// A conversation a caller may not read answers 404 CONVERSATION_NOT_FOUND,
// as an unknown one does, so ids cannot be probed.

// mayReadConversation reports whether p may read conversation id.
func mayReadConversation(st routing.View, p auth.Principal, id string) bool {
	return p.Kind == auth.Admin || (p.AgentID != "" && st.MayRead(p.AgentID, id))
}

// mayReadTasks reports whether p may list agent's tasks: itself, an admin,
// or a supervisor of one of agent's teams.
func mayReadTasks(st routing.View, p auth.Principal, agent string) bool {
	return p.CanActFor(agent) || (p.AgentID != "" && st.Supervises(p.AgentID, agent))
}

// Paging of GET /v1/conversations.
const (
	// DefaultPageSize is limit when absent.
	DefaultPageSize = 100
	// MaxPageSize bounds limit.
	MaxPageSize = 1000
)

// Page is a page of a collection: Items, and Next, the cursor of the next
// page (pass it as ?after=), absent on the last page.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// listConversations serves GET /v1/conversations?state=OPEN|CLOSED&queue=
// &team=&agent=&limit=&after=: the conversations the caller may read
// (mayReadConversation) matching every filter given, by id, a page of
// limit (1..MaxPageSize, default DefaultPageSize) after the id after.
// team keeps conversations with an agent of that team on them, agent those
// the agent takes part in. Errors: 400 INVALID_ARGUMENT for a bad state or
// limit.
func (s *api) listConversations(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	q := r.URL.Query()
	state, queue, team, agent, after := q.Get("state"), q.Get("queue"), q.Get("team"), q.Get("agent"), q.Get("after")
	switch state {
	case "", "OPEN", "CLOSED":
	default:
		return errorf(http.StatusBadRequest, routing.CodeInvalidArgument, "state must be OPEN or CLOSED, not %s", quote(state))
	}
	limit := DefaultPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return errorf(http.StatusBadRequest, routing.CodeInvalidArgument, "limit must be 1..%d", MaxPageSize)
		}
		limit = n
	}
	var page Page[routing.Conversation]
	if err := s.view(r, func(st routing.View) {
		page = Page[routing.Conversation]{Items: []routing.Conversation{}}
		for _, id := range st.ConversationIDs() {
			if id <= after && after != "" {
				continue
			}
			if !mayReadConversation(st, p, id) {
				continue
			}
			c, _ := st.Conversation(id)
			if (state != "" && string(c.State) != state) || (queue != "" && c.Queue != queue) ||
				(agent != "" && !st.Involved(agent, id)) || (team != "" && !hasTeamAgent(st, id, team)) {
				continue
			}
			if len(page.Items) == limit {
				page.Next = page.Items[len(page.Items)-1].ID
				return
			}
			page.Items = append(page.Items, c)
		}
	}); err != nil {
		return err
	}
	for i := range page.Items { // unsealed outside the node's loop
		page.Items[i].Customer = s.keys.Show(page.Items[i].Customer)
		page.Items[i].Attributes = s.keys.ShowAttributes(page.Items[i].Attributes)
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// hasTeamAgent reports whether an agent of team is on conversation.
func hasTeamAgent(st routing.View, conversation, team string) bool {
	for _, a := range st.ConversationAgents(conversation) {
		if as, ok := st.Agent(a); ok && slices.Contains(as.Agent.Teams, team) {
			return true
		}
	}
	return false
}
