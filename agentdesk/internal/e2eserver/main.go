// Command e2eserver is a test-only server for e2e/agentdesk.test.mjs (not
// shipped): a node on a memory journal with the agentdesk fixture
// (agentdesk/internal/fixture: MRDs chat and voice, queues chat, chat-rona,
// voice, agents a1..a3 with tokens "token-a1".."token-a3"), the Agent
// Manager Socket.IO API at /socket.io/, and a test admin API:
//
//	POST /test/conversations {"queue","id"?,"customer"?,"attributes"?} -> 201 {"id","requestId"}
//	GET  /test/agents/{id}   -> 200 {"status": routing.AgentStatus, "tasks": [routing.Task]}
//	POST /test/agents/{id}/state {"state","reasonCode"?} -> 204 (a change from outside the desk)
//
// and the customer side of conversations (e2e/agentdesk_cim.test.mjs), the
// same calls restapi makes for /v1/conversations/{id}/...:
//
//	POST /test/conversations/{id}/messages  CIM message -> 201 {"seq","cimEvent"}
//	POST /test/conversations/{id}/customer-left        -> 200 {"seq","cimEvent"}
//	GET  /test/conversations/{id}/events?after=N       Server-Sent Events (id: seq, event: cimEvent, data: JSON)
//
// -grace sets agentdesk Options.DisconnectGrace (default: the package's).
//
// Errors are {"error":{"code","message"}}. It prints "LISTEN <url>" on
// stdout once it serves, and stops on SIGINT, SIGTERM or when its stdin
// reaches end of file (so it never outlives the test that started it).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/omniroute/omniroute/agentdesk"
	"github.com/omniroute/omniroute/agentdesk/internal/fixture"
	"github.com/omniroute/omniroute/conversation"
	"github.com/omniroute/omniroute/internal/testserver"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

func main() {
	var f testserver.Flags
	f.Register(flag.CommandLine)
	grace := flag.Duration("grace", 0, "agentdesk DisconnectGrace (0: default)")
	os.Exit(testserver.Main("e2eserver", func() error { return run(f, *grace) }))
}

func run(f testserver.Flags, grace time.Duration) error {
	logger := f.Logger(slog.LevelInfo)
	ctx, stop := testserver.Context(f.Stdin)
	defer stop()

	n, err := fixture.Open(ctx)
	if err != nil {
		return err
	}
	defer n.Close()
	conv, err := conversation.New(n, conversation.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer conv.Close()
	desk, err := agentdesk.New(n, fixture.Verify, agentdesk.Options{Logger: logger, DisconnectGrace: grace, Conversations: conv})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(desk.Path()+"/", desk.Handler())
	a := &admin{n: n}
	mux.HandleFunc("POST /test/conversations", a.createConversation)
	mux.HandleFunc("GET /test/agents/{id}", a.agent)
	mux.HandleFunc("POST /test/agents/{id}/state", a.setState)
	c := &customer{conv: conv}
	mux.HandleFunc("POST /test/conversations/{id}/messages", c.message)
	mux.HandleFunc("POST /test/conversations/{id}/customer-left", c.left)
	mux.HandleFunc("GET /test/conversations/{id}/events", c.events)

	return testserver.Serve(ctx, mux, testserver.Options{Listen: f.Listen, BeforeShutdown: desk.Close})
}

type admin struct {
	n   *node.Node
	seq atomic.Int64
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	status, code := http.StatusInternalServerError, "INTERNAL"
	var re *routing.Error
	if errors.As(err, &re) {
		status, code = http.StatusBadRequest, re.Code
	}
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": err.Error()}})
}

func (a *admin) createConversation(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID         string            `json:"id"`
		Queue      string            `json:"queue"`
		Customer   json.RawMessage   `json:"customer"`
		Attributes map[string]string `json:"attributes"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeError(w, &routing.Error{Code: routing.CodeInvalidArgument, Message: err.Error()})
		return
	}
	if req.ID == "" {
		req.ID = "conv-" + strconv.FormatInt(a.seq.Add(1), 10)
	}
	cmd := routing.CreateConversation{ID: req.ID, RequestID: "req-" + req.ID, Queue: req.Queue, Customer: req.Customer, Attributes: req.Attributes}
	if _, err := a.n.Submit(r.Context(), cmd); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": cmd.ID, "requestId": cmd.RequestID})
}

func (a *admin) agent(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var (
		status routing.AgentStatus
		tasks  []routing.Task
		ok     bool
	)
	if err := a.n.View(r.Context(), func(st routing.View) {
		status, ok = st.Agent(id)
		tasks, _ = st.Tasks(id)
	}); err != nil {
		writeError(w, err)
		return
	}
	if !ok {
		writeError(w, &routing.Error{Code: routing.CodeAgentNotFound, Message: "no agent " + id})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": status, "tasks": tasks})
}

func (a *admin) setState(w http.ResponseWriter, r *http.Request) {
	var req struct {
		State      routing.AgentState `json:"state"`
		ReasonCode string             `json:"reasonCode"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeError(w, &routing.Error{Code: routing.CodeInvalidArgument, Message: err.Error()})
		return
	}
	if _, err := a.n.Submit(r.Context(), routing.SetAgentState{Agent: r.PathValue("id"), State: req.State, ReasonCode: req.ReasonCode}); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// customer plays the customer side through the desk server.
type customer struct{ conv *conversation.Conversations }

func (c *customer) answer(w http.ResponseWriter, status int, seq uint64, ev json.RawMessage, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, status, map[string]any{"seq": seq, "cimEvent": ev})
}

func (c *customer) message(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, err)
		return
	}
	seq, ev, err := c.conv.CustomerMessage(r.Context(), r.PathValue("id"), body)
	c.answer(w, http.StatusCreated, seq, ev, err)
}

func (c *customer) left(w http.ResponseWriter, r *http.Request) {
	seq, ev, err := c.conv.CustomerLeft(r.Context(), r.PathValue("id"))
	c.answer(w, http.StatusOK, seq, ev, err)
}

func (c *customer) events(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	flusher, _ := w.(http.Flusher)
	started := false
	err := c.conv.CustomerEvents(r.Context(), r.PathValue("id"), after, func(seq uint64, ev json.RawMessage) error {
		if !started {
			started = true
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
		}
		if _, err := w.Write(conversation.SSEFrame(seq, ev)); err != nil {
			return err
		}
		flusher.Flush()
		return nil
	})
	if err != nil && !started {
		writeError(w, err)
	}
}
