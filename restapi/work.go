package restapi

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/routing"
)

// ConversationBody is the body of POST /v1/conversations:
//
//	{"queue":"chat-sales","mrd":"chat","priority":0,"customer":{...},"attributes":{"k":"v"},"ttlSeconds":600}
//
// queue is required; mrd, when given, must be the queue's MRD (400
// otherwise); priority 0..routing.MaxPriority (higher first); customer a
// JSON object up to routing.MaxCustomerBytes; attributes up to
// routing.MaxAttributes; ttlSeconds, when > 0, overrides the queue's request
// TTL (0..one year).
type ConversationBody struct {
	Queue      string            `json:"queue"`
	MRD        string            `json:"mrd,omitempty"`
	Priority   int               `json:"priority,omitempty"`
	Customer   json.RawMessage   `json:"customer,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	TTLSeconds float64           `json:"ttlSeconds,omitempty"`
}

// ConversationCreated is the 201 answer to POST /v1/conversations: the new
// conversation's id and its request's id (for /v1/requests/{id}/position).
type ConversationCreated struct {
	ID        string `json:"id"`
	RequestID string `json:"requestId"`
}

// QueueStatsBody is GET /v1/queues/{id}/stats: routing.QueueStats plus
// ewtSeconds, the estimated wait of a request arriving now (see EWT).
type QueueStatsBody struct {
	routing.QueueStats
	EWTSeconds float64 `json:"ewtSeconds"`
}

// PositionBody is GET /v1/requests/{id}/position: the request's 1-based
// position in its queue (0 while it is offered to an agent) and how many
// requests wait in that queue.
type PositionBody struct {
	RequestID string `json:"requestId"`
	Position  int    `json:"position"`
	Waiting   int    `json:"waiting"`
}

// AgentStateBody is PUT /v1/agents/{id}/state: state READY, NOT_READY or
// LOGOUT; reasonCode (optional, none with READY) a reason code of the
// matching type.
type AgentStateBody struct {
	State      routing.AgentState `json:"state"`
	ReasonCode string             `json:"reasonCode,omitempty"`
}

// MRDStateBody is PUT /v1/agents/{id}/mrds/{mrd}/state: state READY (the
// agent must be READY, else 409 AGENT_NOT_READY) or NOT_READY.
type MRDStateBody struct {
	State routing.MRDState `json:"state"`
}

// TaskView is the answer to the task actions: the task after the action
// (routing.Task), with closeReason once it is CLOSED.
type TaskView struct {
	routing.Task
	CloseReason routing.CloseReason `json:"closeReason,omitempty"`
}

// DefaultHandleSeconds is the handle time EWT assumes while a queue has no
// task in progress to measure (five minutes).
const DefaultHandleSeconds = 300

func quote(s string) string { return strconv.Quote(s) }

func (s *api) createConversation(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	var b ConversationBody
	if err := decodeBody(w, r, MaxBodyBytes, &b, false); err != nil {
		return err
	}
	if b.Queue == "" {
		return errorf(http.StatusBadRequest, routing.CodeInvalidArgument, "queue is required")
	}
	if err := config.CheckSeconds("ttlSeconds", b.TTLSeconds); err != nil {
		return errorf(http.StatusBadRequest, routing.CodeInvalidArgument, "%v", err)
	}
	if bytes.Equal(bytes.TrimSpace(b.Customer), []byte("null")) {
		b.Customer = nil
	}
	if b.MRD != "" {
		// The queue's MRD may change between this read and the submit; the
		// check is a guard against client mistakes, not a transaction.
		var q routing.Queue
		var ok bool
		if err := s.view(r, func(st *routing.State) { q, ok = st.Queue(b.Queue) }); err != nil {
			return err
		}
		if !ok {
			return &routing.Error{Code: routing.CodeQueueNotFound, Message: "queue " + quote(b.Queue) + " does not exist"}
		}
		if q.MRD != b.MRD {
			return errorf(http.StatusBadRequest, routing.CodeInvalidArgument, "queue %s is on mrd %s, not %s", quote(b.Queue), quote(q.MRD), quote(b.MRD))
		}
	}
	cmd := routing.CreateConversation{ID: s.newID(), RequestID: s.newID(), Queue: b.Queue, Priority: b.Priority,
		Customer: b.Customer, Attributes: b.Attributes, TTL: config.Seconds(b.TTLSeconds)}
	if _, err := s.submit(r, cmd); err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/conversations/"+cmd.ID)
	writeJSON(w, http.StatusCreated, ConversationCreated{ID: cmd.ID, RequestID: cmd.RequestID})
	return nil
}

// conversation writes the conversation's view, or returns not found.
func (s *api) writeConversation(w http.ResponseWriter, r *http.Request, id string) error {
	var c routing.Conversation
	var ok bool
	if err := s.view(r, func(st *routing.State) { c, ok = st.Conversation(id) }); err != nil {
		return err
	}
	if !ok {
		return &routing.Error{Code: routing.CodeConversationNotFound, Message: "conversation " + quote(id) + " does not exist"}
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *api) getConversation(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	return s.writeConversation(w, r, r.PathValue("id"))
}

func (s *api) closeConversation(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	id := r.PathValue("id")
	if _, err := s.submit(r, routing.CloseConversation{Conversation: id}); err != nil {
		return err
	}
	return s.writeConversation(w, r, id)
}

func (s *api) abandonConversation(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	id := r.PathValue("id")
	if _, err := s.submit(r, routing.AbandonConversation{Conversation: id}); err != nil {
		return err
	}
	return s.writeConversation(w, r, id)
}

func (s *api) queueStats(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	id := r.PathValue("id")
	now := s.now()
	var body QueueStatsBody
	var ok bool
	if err := s.view(r, func(st *routing.State) {
		body.QueueStats, ok = st.QueueStats(id, now)
		if ok {
			body.EWTSeconds = EWT(st, body.QueueStats, now)
		}
	}); err != nil {
		return err
	}
	if !ok {
		return &routing.Error{Code: routing.CodeQueueNotFound, Message: "queue " + quote(id) + " does not exist"}
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// EWT is a simple estimate of the wait, in seconds, of a request entering
// queue stats.Queue at now, until routing/waittime replaces it:
//
//	0 when nothing waits and an eligible agent is available; otherwise
//	(waiting + 1) × H ÷ max(1, staffed)
//
// where staffed counts the agents available on the queue now plus the
// agents holding tasks from it, and H, the mean handle time, is the mean age
// (now − acceptedAt) of the queue's accepted tasks still open, or
// DefaultHandleSeconds when there are none. The engine keeps no handle times
// of closed tasks, so H is measured on work in progress: for exponential
// handle times its mean age equals the mean handle time. It costs one pass
// over every agent's open tasks.
func EWT(st *routing.State, stats routing.QueueStats, now time.Time) float64 {
	if stats.Waiting == 0 && stats.ReadyAgents > 0 {
		return 0
	}
	busy := 0
	var ages float64
	accepted := 0
	for _, id := range st.AgentIDs() {
		tasks, _ := st.Tasks(id)
		holds := false
		for _, t := range tasks {
			if t.Queue != stats.Queue {
				continue
			}
			holds = true
			if !t.AcceptedAt.IsZero() && now.After(t.AcceptedAt) {
				ages += now.Sub(t.AcceptedAt).Seconds()
				accepted++
			}
		}
		if holds {
			busy++
		}
	}
	h := float64(DefaultHandleSeconds)
	if accepted > 0 {
		h = ages / float64(accepted)
	}
	staffed := max(1, busy+stats.ReadyAgents)
	ewt := float64(stats.Waiting+1) * h / float64(staffed)
	return math.Round(ewt*1000) / 1000
}

func (s *api) position(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	id := r.PathValue("id")
	body := PositionBody{RequestID: id}
	var ok bool
	if err := s.view(r, func(st *routing.State) { body.Position, body.Waiting, ok = st.Position(id) }); err != nil {
		return err
	}
	if !ok {
		return errorf(http.StatusNotFound, CodeRequestNotFound, "request %s is not waiting (unknown, accepted or ended)", quote(id))
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// writeAgentStatus writes the agent's presence, or returns not found.
func (s *api) writeAgentStatus(w http.ResponseWriter, r *http.Request, id string) error {
	var a routing.AgentStatus
	var ok bool
	if err := s.view(r, func(st *routing.State) { a, ok = st.Agent(id) }); err != nil {
		return err
	}
	if !ok {
		return &routing.Error{Code: routing.CodeAgentNotFound, Message: "agent " + quote(id) + " does not exist"}
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *api) getAgentState(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	return s.writeAgentStatus(w, r, r.PathValue("id"))
}

// mustActFor refuses (403) an agent acting on another agent.
func mustActFor(p auth.Principal, agent string) error {
	if !p.CanActFor(agent) {
		return errorf(http.StatusForbidden, CodeForbidden, "agent %s may not act for agent %s", quote(p.AgentID), quote(agent))
	}
	return nil
}

func (s *api) setAgentState(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id := r.PathValue("id")
	if err := mustActFor(p, id); err != nil {
		return err
	}
	var b AgentStateBody
	if err := decodeBody(w, r, MaxBodyBytes, &b, false); err != nil {
		return err
	}
	if _, err := s.submit(r, routing.SetAgentState{Agent: id, State: b.State, ReasonCode: b.ReasonCode}); err != nil {
		return err
	}
	return s.writeAgentStatus(w, r, id)
}

func (s *api) setMRDState(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id := r.PathValue("id")
	if err := mustActFor(p, id); err != nil {
		return err
	}
	var b MRDStateBody
	if err := decodeBody(w, r, MaxBodyBytes, &b, false); err != nil {
		return err
	}
	if _, err := s.submit(r, routing.SetMRDState{Agent: id, MRD: r.PathValue("mrd"), State: b.State}); err != nil {
		return err
	}
	return s.writeAgentStatus(w, r, id)
}

// actingAgent is the agent a task request acts for: an agent acts for
// itself (?agent= may only name itself); an admin names the agent with
// ?agent= (required, 400 without).
func actingAgent(r *http.Request, p auth.Principal) (string, error) {
	q := r.URL.Query().Get("agent")
	if p.Kind == auth.Admin {
		if q == "" {
			return "", errorf(http.StatusBadRequest, routing.CodeInvalidArgument, "an admin must name the agent: ?agent=ID")
		}
		return q, nil
	}
	if q != "" {
		if err := mustActFor(p, q); err != nil {
			return "", err
		}
	}
	return p.AgentID, nil
}

func (s *api) listTasks(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	agent, err := actingAgent(r, p)
	if err != nil {
		return err
	}
	var tasks []routing.Task
	var ok bool
	if err := s.view(r, func(st *routing.State) { tasks, ok = st.Tasks(agent) }); err != nil {
		return err
	}
	if !ok {
		return &routing.Error{Code: routing.CodeAgentNotFound, Message: "agent " + quote(agent) + " does not exist"}
	}
	writeJSON(w, http.StatusOK, Items[routing.Task]{Items: tasks})
	return nil
}

// taskAction handles POST /v1/tasks/{id}/accept|decline|close.
func (s *api) taskAction(action string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		agent, err := actingAgent(r, p)
		if err != nil {
			return err
		}
		id := r.PathValue("id")
		var cmd routing.Command
		switch action {
		case "accept":
			cmd = routing.AcceptTask{Task: id, Agent: agent}
		case "decline":
			cmd = routing.DeclineTask{Task: id, Agent: agent}
		default:
			cmd = routing.CloseTask{Task: id, Agent: agent}
		}
		// The view before the action keeps the task's details for the answer
		// when the action closes it (closed tasks leave the state).
		var before routing.Task
		if err := s.view(r, func(st *routing.State) { before, _ = st.Task(id) }); err != nil {
			return err
		}
		events, err := s.submit(r, cmd)
		if err != nil {
			return err
		}
		var after routing.Task
		var open bool
		if err := s.view(r, func(st *routing.State) { after, open = st.Task(id) }); err != nil {
			return err
		}
		if open {
			writeJSON(w, http.StatusOK, TaskView{Task: after})
			return nil
		}
		v := TaskView{Task: before}
		v.State, v.Deadline = routing.TaskClosedState, time.Time{}
		for _, e := range events {
			if c, ok := e.(routing.TaskClosed); ok && c.Task == id {
				v.ID, v.Conversation, v.Agent, v.CloseReason = c.Task, c.Conversation, c.Agent, c.Reason
			}
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	}
}
