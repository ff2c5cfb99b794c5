package restapi

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/erasure"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
	"github.com/omniroute/omniroute/routing/waittime"
)

// ConversationBody is the body of POST /v1/conversations:
//
//	{"queue":"chat-sales","mrd":"chat","priority":0,"customer":{...},"attributes":{"k":"v"},"ttlSeconds":600}
//
// queue is required; mrd, when given, must be the queue's MRD (400
// otherwise); priority 0..routing.MaxPriority (higher first); customer a
// JSON object up to routing.MaxCustomerBytes; attributes up to
// routing.MaxAttributes; ttlSeconds, when > 0, overrides the queue's request
// TTL (0..one year); capacityWeight, when > 0, overrides the queue's
// capacity weight (agent capacity units the conversation takes,
// 0..routing.MaxCapacityUnits). The customer's id (its first field of
// erasure.IDFields: id, customerId, phoneNumber, email) keys the queue's
// last-agent routing (lastAgentSeconds).
type ConversationBody struct {
	Queue      string            `json:"queue"`
	MRD        string            `json:"mrd,omitempty"`
	Priority   int               `json:"priority,omitempty"`
	Customer   json.RawMessage   `json:"customer,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	TTLSeconds float64           `json:"ttlSeconds,omitempty"`
	// CapacityWeight: routing.CreateConversation.CapacityWeight.
	CapacityWeight int `json:"capacityWeight,omitempty"`
	// PreferredAgents (agent ids, ordered, at most 10) are offered the
	// conversation first for preferredTimeoutSeconds (0: 30 s), then the
	// queue serves it (routing/preferred.go).
	PreferredAgents         []string `json:"preferredAgents,omitempty"`
	PreferredTimeoutSeconds float64  `json:"preferredTimeoutSeconds,omitempty"`
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

// RequestPatchBody is PATCH /v1/requests/{id}: the request's new priority,
// 0..routing.MaxPriority (required), changed in place: the request keeps its
// enqueue time, step and exclusions (routing.SetRequestPriority). The answer
// is the request (routing.Request) after the change; 404 REQUEST_NOT_FOUND
// once it is accepted or ended.
//
//	{"priority":5}
type RequestPatchBody struct {
	Priority *int `json:"priority"`
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
// task in progress to measure (waittime.DefaultMeanService, in seconds).
const DefaultHandleSeconds = waittime.DefaultMeanServiceSeconds

func quote(s string) string { return strconv.Quote(s) }

func (s *api) createConversation(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var b ConversationBody
	if err := decodeBody(w, r, MaxBodyBytes, &b, false); err != nil {
		return err
	}
	if b.Queue == "" {
		return errorf(http.StatusBadRequest, routing.CodeInvalidArgument, "queue is required")
	}
	if p.Kind == auth.ChannelKind {
		if !p.Channel.MayUseQueue(b.Queue) {
			return errorf(http.StatusForbidden, CodeForbidden, "channel %s may not create conversations in queue %s", quote(p.Channel.ID), quote(b.Queue))
		}
		// The attribute is what makes the conversation this channel's;
		// a channel cannot claim another's by sending it.
		b.Attributes = maps.Clone(b.Attributes)
		if b.Attributes == nil {
			b.Attributes = map[string]string{}
		}
		b.Attributes[auth.ChannelAttribute] = p.Channel.ID
	}
	if err := config.CheckSeconds("ttlSeconds", b.TTLSeconds); err != nil {
		return errorf(http.StatusBadRequest, routing.CodeInvalidArgument, "%v", err)
	}
	if err := config.CheckSeconds("preferredTimeoutSeconds", b.PreferredTimeoutSeconds); err != nil {
		return errorf(http.StatusBadRequest, routing.CodeInvalidArgument, "%v", err)
	}
	if bytes.Equal(bytes.TrimSpace(b.Customer), []byte("null")) {
		b.Customer = nil
	}
	// b.MRD travels with the command: the engine checks the queue's MRD
	// as it is when the command runs.
	cmd := routing.CreateConversation{ID: s.newID(), RequestID: s.newID(), Queue: b.Queue, MRD: b.MRD, Priority: b.Priority,
		Attributes: b.Attributes, TTL: config.Seconds(b.TTLSeconds), CapacityWeight: b.CapacityWeight,
		PreferredAgents: b.PreferredAgents, PreferredTimeout: config.Seconds(b.PreferredTimeoutSeconds)}
	// The customer's id (erasure.IDFields) keys last-agent routing
	// (routing/lastagent.go), pseudonymized when customer fields are sealed.
	cmd.CustomerID = s.keys.RoutingID(erasure.CustomerID(b.Customer))
	var err error
	if cmd.Customer, err = s.keys.SealCustomer(b.Customer, "conversation:"+cmd.ID); err != nil {
		return err
	}
	if _, err := s.submit(r, cmd); err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/conversations/"+cmd.ID)
	writeJSON(w, http.StatusCreated, ConversationCreated{ID: cmd.ID, RequestID: cmd.RequestID})
	return nil
}

// writeConversationFor answers conversation id if p may read it
// (access.go), else 404 as for an unknown one.
func (s *api) writeConversationFor(w http.ResponseWriter, r *http.Request, id string, p auth.Principal) error {
	var c routing.Conversation
	var ok bool
	if err := s.view(r, func(st routing.View) { c, ok = conversationFor(st, p, id) }); err != nil {
		return err
	}
	return s.answerConversation(w, id, c, ok)
}

// conversationFor reads conversation id if p may read it; ok is false
// when it does not exist or p may not read it.
func conversationFor(st routing.View, p auth.Principal, id string) (c routing.Conversation, ok bool) {
	if mayReadConversation(st, p, id) {
		c, ok = st.Conversation(id)
	}
	return c, ok
}

// answerConversation writes c (customer fields shown), or returns not
// found when ok is false.
func (s *api) answerConversation(w http.ResponseWriter, id string, c routing.Conversation, ok bool) error {
	if !ok {
		return &routing.Error{Code: routing.CodeConversationNotFound, Message: "conversation " + quote(id) + " does not exist"}
	}
	c.Customer, c.Attributes = s.keys.Show(c.Customer), s.keys.ShowAttributes(c.Attributes)
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *api) getConversation(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return s.writeConversationFor(w, r, r.PathValue("id"), p)
}

// endConversation applies cmd (a close or an abandon of conversation id)
// and answers the conversation as the command left it.
func (s *api) endConversation(w http.ResponseWriter, r *http.Request, id string, cmd routing.Command) error {
	var c routing.Conversation
	var ok bool
	if _, err := s.submitThen(r, cmd, func(st routing.View) { c, ok = st.Conversation(id) }); err != nil {
		return err
	}
	return s.answerConversation(w, id, c, ok)
}

func (s *api) closeConversation(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	id := r.PathValue("id")
	return s.endConversation(w, r, id, routing.CloseConversation{Conversation: id})
}

func (s *api) abandonConversation(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	id := r.PathValue("id")
	return s.endConversation(w, r, id, routing.AbandonConversation{Conversation: id})
}

func (s *api) queueStats(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	id := r.PathValue("id")
	now := s.now()
	var body QueueStatsBody
	var ok bool
	if err := s.view(r, func(st routing.View) {
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

// EWT is the estimated wait, in seconds, of a request entering queue
// stats.Queue at now: waittime.Arrival, the estimate every surface
// announces.
func EWT(st routing.View, stats routing.QueueStats, now time.Time) float64 {
	return waittime.Arrival(st, stats, now)
}

func (s *api) position(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	id := r.PathValue("id")
	body := PositionBody{RequestID: id}
	var ok bool
	if err := s.view(r, func(st routing.View) { body.Position, body.Waiting, ok = st.Position(id) }); err != nil {
		return err
	}
	if !ok {
		return errorf(http.StatusNotFound, CodeRequestNotFound, "request %s is not waiting (unknown, accepted or ended)", quote(id))
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (s *api) patchRequest(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	id := r.PathValue("id")
	var b RequestPatchBody
	if err := decodeBody(w, r, MaxBodyBytes, &b, false); err != nil {
		return err
	}
	if b.Priority == nil {
		return errorf(http.StatusBadRequest, routing.CodeInvalidArgument, "priority is required")
	}
	var req routing.Request
	var ok bool
	if _, err := s.submitThen(r, routing.SetRequestPriority{Request: id, Priority: *b.Priority},
		func(st routing.View) { req, ok = st.Request(id) }); err != nil {
		return err
	}
	if !ok {
		return errorf(http.StatusNotFound, CodeRequestNotFound, "request %s has ended", quote(id))
	}
	writeJSON(w, http.StatusOK, req)
	return nil
}

// writeAgentStatus writes the agent's presence, or returns not found.
func (s *api) writeAgentStatus(w http.ResponseWriter, r *http.Request, id string) error {
	var a routing.AgentStatus
	var ok bool
	if err := s.view(r, func(st routing.View) { a, ok = st.Agent(id) }); err != nil {
		return err
	}
	return answerAgentStatus(w, id, a, ok)
}

// setAgentStatus applies cmd (a state change of agent id) and answers the
// agent's presence as the command left it.
func (s *api) setAgentStatus(w http.ResponseWriter, r *http.Request, id string, cmd routing.Command) error {
	var a routing.AgentStatus
	var ok bool
	if _, err := s.submitThen(r, cmd, func(st routing.View) { a, ok = st.Agent(id) }); err != nil {
		return err
	}
	return answerAgentStatus(w, id, a, ok)
}

// answerAgentStatus writes a, or returns not found when ok is false.
func answerAgentStatus(w http.ResponseWriter, id string, a routing.AgentStatus, ok bool) error {
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
	return s.setAgentStatus(w, r, id, routing.SetAgentState{Agent: id, State: b.State, ReasonCode: b.ReasonCode})
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
	return s.setAgentStatus(w, r, id, routing.SetMRDState{Agent: id, MRD: r.PathValue("mrd"), State: b.State})
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
	agent := r.URL.Query().Get("agent")
	if agent == "" {
		var err error
		if agent, err = actingAgent(r, p); err != nil {
			return err
		}
	}
	var tasks []routing.Task
	var ok, may bool
	if err := s.view(r, func(st routing.View) {
		if may = mayReadTasks(st, p, agent); may {
			tasks, ok = st.Tasks(agent)
		}
	}); err != nil {
		return err
	}
	if !may {
		return mustActFor(p, agent)
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
		// The task right before the action keeps its details for the
		// answer when the action closes it (closed tasks leave the state);
		// right after, it is the answer while it stays open. Both are read
		// in the command's writer turn.
		var before, after routing.Task
		var open bool
		events, err := s.submitWith(r, cmd, node.Reads{
			Before: func(st routing.View) { before, _ = st.Task(id) },
			After:  func(st routing.View, _ []routing.Event) { after, open = st.Task(id) },
		})
		if err != nil {
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
