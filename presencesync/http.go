package presencesync

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/config"
)

// AgentStatusInfo is seed 001's AgentStatusInfo.
type AgentStatusInfo struct {
	StatusID      string `json:"statusId"`
	StatusAPIName string `json:"statusApiName,omitempty"`
	StatusName    string `json:"statusName,omitempty"`
}

// TelephonyInit is the first message on /presencesync/telephony (seed 001
// init(callCenterConfig)): UserPresenceStatuses is a JSON string that
// parses into statusId -> statusInfo, booleans as "true"/"false" strings,
// exactly as in the seed.
type TelephonyInit struct {
	Type             string `json:"type"` // "init"
	CallCenterConfig struct {
		UserPresenceStatuses string `json:"userPresenceStatuses"`
	} `json:"callCenterConfig"`
}

// TelephonyPublishEvent is a partner's request (seed 001 publishEvent):
// {"type":"publishEvent","id":"r1","eventType":"SET_AGENT_STATUS","agent":"alice",
// "payload":{"statusId":"..."},"enqueueNextState":false}, answered by a
// TelephonyResult with the same id.
type TelephonyPublishEvent struct {
	Type             string          `json:"type"`
	ID               string          `json:"id"`
	EventType        string          `json:"eventType"`
	Agent            string          `json:"agent"`
	Payload          AgentStatusInfo `json:"payload"`
	EnqueueNextState bool            `json:"enqueueNextState,omitempty"`
}

// TelephonyResult answers a publishEvent (and the REST call): Success is
// true for applied, in-sync and enqueued; Outcome names the decision.
type TelephonyResult struct {
	Type    string       `json:"type"` // "result"
	ID      string       `json:"id,omitempty"`
	Success bool         `json:"success"`
	Outcome string       `json:"outcome,omitempty"`
	Error   *ErrorDetail `json:"error,omitempty"`
}

// TelephonySetAgentStatus is omniroute's change for the partner (seed 001
// setAgentStatus(agentStatus, statusInfo, enqueueNextState)); the partner
// answers {"type":"setAgentStatusResult","id":...,"success":bool,"isStatusSyncNeeded":bool}.
type TelephonySetAgentStatus struct {
	Type             string          `json:"type"`
	ID               string          `json:"id"`
	Agent            string          `json:"agent"`
	AgentStatus      string          `json:"agentStatus"`
	StatusInfo       AgentStatusInfo `json:"statusInfo"`
	EnqueueNextState bool            `json:"enqueueNextState"`
}

// telephonyAnswer is the partner's answer to TelephonySetAgentStatus.
type telephonyAnswer struct {
	Type               string `json:"type"`
	ID                 string `json:"id"`
	Success            bool   `json:"success"`
	IsStatusSyncNeeded bool   `json:"isStatusSyncNeeded"`
}

// ErrorDetail is the error shape of the native API: {"error":{"code","message"}}.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

//go:embed connector/*
var connectorFS embed.FS

// Handler serves:
//
//	GET  /v1/presence-sync/statuses                 any token: {"userPresenceStatuses": {id: statusInfo}} (seed 001 shape)
//	GET  /v1/presence-sync/partners                 admin: [PresencePartnerSpec] (tokens omitted)
//	PUT  /v1/presence-sync/partners/{id}            admin: replace a partner's mode and mapping (durable, Store)
//	GET  /v1/agents/{id}/presence-sync              admin or the agent: {"agent","partners":{id:{statusId,known}},"decisions":[Decision]}
//	GET  /presencesync/telephony[?ticket=]          websocket, partner bearer token in the header, or a ticket
//	POST /presencesync/telephony/tickets            partner token: {"ticket","expiresAt","expiresIn"} for a browser's websocket
//	POST /presencesync/telephony/{partner}/agents/{agent}/status   partner token; body AgentStatusInfo + enqueueNextState -> TelephonyResult
//	GET  /presencesync/crm/connector.html, .js      the browser connector (seed 002)
//	GET  /presencesync/crm/config?partner=ID        {"origins","mode","heartbeatMs"}
//	POST /presencesync/crm/session                  {"ticket"} (from POST /v1/tickets, scope crm-connector) -> {"token","agent"}
//	GET  /presencesync/crm/events?partner=[&agent=] agent token in the header; SSE: "requestSyncOmnichannel" {"statusId":"id;..."}
//	POST /presencesync/crm/report                   agent token: {"partner","statusId","success"}
func (s *Service) Handler() http.Handler {
	m := http.NewServeMux()
	for _, rt := range s.routes() {
		m.HandleFunc(rt.pattern, rt.h)
	}
	return m
}

// Routes lists the "METHOD /path" patterns Handler serves (the OpenAPI
// document must describe each; server tests check it).
func (s *Service) Routes() []string {
	var out []string
	for _, rt := range s.routes() {
		out = append(out, rt.pattern)
	}
	return out
}

type route struct {
	pattern string
	h       http.HandlerFunc
}

func (s *Service) routes() []route {
	return []route{
		{"GET /v1/presence-sync/statuses", s.authed(false, s.getStatuses)},
		{"GET /v1/presence-sync/partners", s.authed(true, s.getPartners)},
		{"PUT /v1/presence-sync/partners/{id}", s.authed(true, s.putPartner)},
		{"GET /v1/agents/{id}/presence-sync", s.getAgent},
		{"GET /presencesync/telephony", s.telephonyWS},
		{"POST /presencesync/telephony/{partner}/agents/{agent}/status", s.telephonyREST},
		{"POST /presencesync/telephony/tickets", s.telephonyTicket},
		{"GET /presencesync/crm/config", s.crmConfig},
		{"POST /presencesync/crm/session", s.crmSession},
		{"GET /presencesync/crm/events", s.crmEvents},
		{"POST /presencesync/crm/report", s.crmReport},
		{"GET /presencesync/crm/{file}", s.connectorFile},
	}
}

// connectorFile serves connector.html and connector.js, and the CRM test
// page crmtest.html (+ crmtest.js), which plays a CRM for people trying the
// feature from a configured CRM origin.
func (s *Service) connectorFile(w http.ResponseWriter, r *http.Request) {
	f := r.PathValue("file")
	if f != "connector.html" && f != "connector.js" && f != "crmtest.html" && f != "crmtest.js" {
		writeErr(w, http.StatusNotFound, "NOT_FOUND", "no such file")
		return
	}
	b, _ := connectorFS.ReadFile("connector/" + f)
	ct := "text/html; charset=utf-8"
	if strings.HasSuffix(f, ".js") {
		ct = "text/javascript; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]ErrorDetail{"error": {Code: code, Message: msg}})
}

// bearer is the token of r's Authorization: Bearer header. Tokens are
// never read from the URL (URLs end up in logs and Referer headers); a
// browser that cannot set the header uses a ticket (tickets.go).
func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

func (s *Service) principal(w http.ResponseWriter, r *http.Request) (auth.Principal, bool) {
	p, err := s.auth.Verify(bearer(r))
	if err != nil {
		writeErr(w, http.StatusUnauthorized, "UNAUTHORIZED", "missing, invalid or expired bearer token")
		return p, false
	}
	return p, true
}

func (s *Service) authed(admin bool, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.principal(w, r)
		if !ok {
			return
		}
		if admin && p.Kind != auth.Admin {
			writeErr(w, http.StatusForbidden, "FORBIDDEN", "admin token required")
			return
		}
		h(w, r)
	}
}

// userPresenceStatuses is the seed 001 map, booleans as strings.
func (s *Service) userPresenceStatuses() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, st := range s.catalog {
		out[st.StatusID] = map[string]string{"statusName": st.StatusName, "hasChannels": fmt.Sprint(st.HasChannels),
			"isOffline": fmt.Sprint(st.IsOffline), "statusId": st.StatusID}
	}
	return out
}

func (s *Service) getStatuses(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"userPresenceStatuses": s.userPresenceStatuses()})
}

func (s *Service) getPartners(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := []config.PresencePartnerSpec{}
	for _, id := range slices.Sorted(maps.Keys(s.partners)) {
		p := s.partners[id].spec
		p.Token = ""
		out = append(out, p)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Service) putPartner(w http.ResponseWriter, r *http.Request) {
	var p config.PresencePartnerSpec
	dec := json.NewDecoder(io.LimitReader(r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		writeErr(w, http.StatusBadRequest, "INVALID_JSON", err.Error())
		return
	}
	p.ID = r.PathValue("id")
	s.mu.Lock()
	old := s.partners[p.ID]
	if old != nil && p.Token == "" {
		p.Token = old.spec.Token // keep the secret unless replaced
	}
	s.mu.Unlock()
	if probs := config.ValidatePresencePartner(p, s.catalog, s.reasons); len(probs) > 0 {
		writeErr(w, http.StatusBadRequest, "INVALID_ARGUMENT", strings.Join(probs, "; "))
		return
	}
	if err := s.store.Put(r.Context(), p); err != nil {
		writeErr(w, http.StatusServiceUnavailable, "UNAVAILABLE", "the mapping could not be stored; nothing changed")
		return
	}
	s.mu.Lock()
	s.partners[p.ID] = &partner{spec: p, core: newCore(p, s.catalog)}
	s.mu.Unlock()
	p.Token = ""
	writeJSON(w, http.StatusOK, p)
}

func (s *Service) getAgent(w http.ResponseWriter, r *http.Request) {
	p, ok := s.principal(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if !p.CanActFor(id) {
		writeErr(w, http.StatusForbidden, "FORBIDDEN", "an agent token reads its own agent only")
		return
	}
	type ps struct {
		StatusID string `json:"statusId,omitempty"`
		Known    bool   `json:"known"`
		Queued   string `json:"queuedStatusId,omitempty"`
	}
	s.mu.Lock()
	parts := map[string]ps{}
	for pid, pt := range s.partners {
		if a := pt.core.agents[id]; a != nil {
			parts[pid] = ps{StatusID: a.status, Known: a.known, Queued: a.queued}
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"agent": id, "partners": parts, "decisions": s.Decisions(id)})
}

// --- telephony (seed 001) ---

type telConn struct {
	ws *websocket.Conn
	mu sync.Mutex
}

func (c *telConn) send(v any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteJSON(v)
}

func sortedConns(m map[*telConn]struct{}) []*telConn {
	out := make([]*telConn, 0, len(m))
	for c := range m {
		out = append(out, c)
	}
	return out
}

func (s *Service) telephonyPartner(r *http.Request, id string) *partner {
	return s.telephonyPartnerOf(bearer(r), id)
}

// telephonyPartnerOf is the telephony partner whose token is tok (and
// whose id is id, unless id is "").
func (s *Service) telephonyPartnerOf(tok, id string) *partner {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, pid := range slices.Sorted(maps.Keys(s.partners)) {
		p := s.partners[pid]
		if p.spec.Kind == config.PresenceTelephony && (id == "" || id == pid) && tok != "" && tokenEqual(tok, p.spec.Token) {
			return p
		}
	}
	return nil
}

var upgrader = websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096}

func (s *Service) telephonyWS(w http.ResponseWriter, r *http.Request) {
	tok := bearer(r)
	if tok == "" && r.URL.Query().Has("ticket") {
		var err error
		if tok, err = s.auth.RedeemTicket(r.URL.Query().Get("ticket"), auth.ScopeTelephony); err != nil {
			writeTicketErr(w, err)
			return
		}
	}
	p := s.telephonyPartnerOf(tok, "")
	if p == nil {
		writeErr(w, http.StatusUnauthorized, "UNAUTHORIZED", "a telephony partner token is required")
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(MaxBodyBytes)
	c := &telConn{ws: ws}
	s.mu.Lock()
	if len(s.tel[p.spec.ID]) >= MaxConnsPerPartner {
		s.mu.Unlock()
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "too many connections"), time.Now().Add(time.Second))
		ws.Close()
		return
	}
	if s.tel[p.spec.ID] == nil {
		s.tel[p.spec.ID] = map[*telConn]struct{}{}
	}
	s.tel[p.spec.ID][c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.tel[p.spec.ID], c)
		s.mu.Unlock()
		ws.Close()
	}()
	var init TelephonyInit
	init.Type = "init"
	b, _ := json.Marshal(s.userPresenceStatuses())
	init.CallCenterConfig.UserPresenceStatuses = string(b)
	if c.send(init) != nil {
		return
	}
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var head struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		}
		if json.Unmarshal(data, &head) != nil {
			c.send(TelephonyResult{Type: "result", Error: &ErrorDetail{"INVALID_JSON", "a message is a JSON object with a type"}})
			continue
		}
		switch head.Type {
		case "publishEvent":
			var ev TelephonyPublishEvent
			if err := json.Unmarshal(data, &ev); err != nil {
				c.send(TelephonyResult{Type: "result", ID: head.ID, Error: &ErrorDetail{"INVALID_JSON", err.Error()}})
				continue
			}
			c.send(s.setAgentStatus(r.Context(), p, ev))
		case "setAgentStatusResult":
			var a telephonyAnswer
			json.Unmarshal(data, &a)
			s.telephonyAnswer(a)
		default:
			c.send(TelephonyResult{Type: "result", ID: head.ID, Error: &ErrorDetail{"INVALID_ARGUMENT", fmt.Sprintf("unknown message type %q", head.Type)}})
		}
	}
}

func (s *Service) telephonyAnswer(a telephonyAnswer) {
	s.mu.Lock()
	req, ok := s.pending[a.ID]
	delete(s.pending, a.ID)
	p := s.partners[req.partner]
	var out string
	if ok && p != nil {
		out = p.core.PartnerAnswer(req.agent, a.Success)
	}
	s.mu.Unlock()
	if ok && p != nil && !a.Success {
		s.record(Decision{At: s.clock.Now().UTC(), Agent: req.agent, Partner: req.partner, Side: SidePartner,
			Change: fmt.Sprintf("setAgentStatus answer success=false isStatusSyncNeeded=%v", a.IsStatusSyncNeeded), Outcome: out})
	}
}

func (s *Service) setAgentStatus(ctx context.Context, p *partner, ev TelephonyPublishEvent) TelephonyResult {
	res := TelephonyResult{Type: "result", ID: ev.ID}
	if ev.EventType != "SET_AGENT_STATUS" {
		res.Error = &ErrorDetail{"INVALID_ARGUMENT", fmt.Sprintf("eventType %q is not SET_AGENT_STATUS", ev.EventType)}
		return res
	}
	if ev.Agent == "" || ev.Payload.StatusID == "" {
		res.Error = &ErrorDetail{"INVALID_ARGUMENT", "agent and payload.statusId are required"}
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := s.partnerReport(ctx, p.spec.ID, ev.Agent, ev.Payload.StatusID, ev.EnqueueNextState, true,
		fmt.Sprintf("SET_AGENT_STATUS %s enqueueNextState=%v", ev.Payload.StatusID, ev.EnqueueNextState))
	if err != nil {
		res.Error = &ErrorDetail{"UNAVAILABLE", "the routing node did not answer"}
		return res
	}
	res.Outcome = out
	res.Success = slices.Contains([]string{OutcomeApplied, OutcomeInSync, OutcomeEnqueued, OutcomeWorkOverride}, out)
	if out == OutcomeRejected {
		res.Error = &ErrorDetail{"NOT_FOUND", "unknown agent or status id"}
	}
	return res
}

func (s *Service) telephonyREST(w http.ResponseWriter, r *http.Request) {
	p := s.telephonyPartner(r, r.PathValue("partner"))
	if p == nil {
		writeErr(w, http.StatusUnauthorized, "UNAUTHORIZED", "the partner's bearer token is required")
		return
	}
	var body struct {
		AgentStatusInfo
		EnqueueNextState bool `json:"enqueueNextState"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeErr(w, http.StatusBadRequest, "INVALID_JSON", err.Error())
		return
	}
	res := s.setAgentStatus(r.Context(), p, TelephonyPublishEvent{EventType: "SET_AGENT_STATUS", Agent: r.PathValue("agent"),
		Payload: body.AgentStatusInfo, EnqueueNextState: body.EnqueueNextState})
	status := http.StatusOK
	switch {
	case res.Error != nil && res.Error.Code == "NOT_FOUND":
		status = http.StatusNotFound
	case res.Error != nil && res.Error.Code == "UNAVAILABLE":
		status = http.StatusServiceUnavailable
	case res.Error != nil:
		status = http.StatusBadRequest
	}
	if res.Error != nil {
		writeJSON(w, status, map[string]any{"error": res.Error})
		return
	}
	writeJSON(w, status, res)
}

// --- CRM connector (seed 002) ---

type crmConn struct {
	ch   chan []byte
	once sync.Once
	quit chan struct{}
}

func (c *crmConn) close() { c.once.Do(func() { close(c.quit) }) }

func (c *crmConn) push(event string, data any) bool {
	b, _ := json.Marshal(data)
	select {
	case c.ch <- []byte("event: " + event + "\ndata: " + string(b) + "\n\n"):
		return true
	default:
		return false
	}
}

func (s *Service) crmPartner(id string) *partner {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.partners[id]; p != nil && p.spec.Kind == config.PresenceCRM {
		return p
	}
	return nil
}

func (s *Service) crmConfig(w http.ResponseWriter, r *http.Request) {
	p := s.crmPartner(r.URL.Query().Get("partner"))
	if p == nil {
		writeErr(w, http.StatusNotFound, "NOT_FOUND", "no such CRM partner")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"origins": p.spec.Origins, "mode": p.spec.Mode,
		"heartbeatMs": HeartbeatInterval.Milliseconds(), "userPresenceStatuses": s.userPresenceStatuses()})
}

func (s *Service) crmEvents(w http.ResponseWriter, r *http.Request) {
	pr, ok := s.principal(w, r)
	if !ok {
		return
	}
	agent := r.URL.Query().Get("agent")
	if agent == "" {
		agent = pr.AgentID // the connector URL may leave the agent to the token
	}
	p := s.crmPartner(r.URL.Query().Get("partner"))
	if p == nil || agent == "" || !pr.CanActFor(agent) {
		writeErr(w, http.StatusForbidden, "FORBIDDEN", "unknown CRM partner, or the token does not act for this agent")
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		writeErr(w, http.StatusInternalServerError, "INTERNAL", "streaming unsupported")
		return
	}
	c := &crmConn{ch: make(chan []byte, 64), quit: make(chan struct{})}
	s.mu.Lock()
	if s.crm[p.spec.ID] == nil {
		s.crm[p.spec.ID] = map[string]map[*crmConn]struct{}{}
	}
	if s.crm[p.spec.ID][agent] == nil {
		s.crm[p.spec.ID][agent] = map[*crmConn]struct{}{}
	}
	if len(s.crm[p.spec.ID][agent]) >= MaxConnsPerPartner {
		s.mu.Unlock()
		writeErr(w, http.StatusTooManyRequests, "LIMIT_EXCEEDED", "too many connector streams for this agent")
		return
	}
	s.crm[p.spec.ID][agent][c] = struct{}{}
	p.core.Forget(agent) // a new connector: omniroute re-syncs the CRM
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.crm[p.spec.ID][agent], c)
		s.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte("event: hello\ndata: {}\n\n"))
	fl.Flush()
	go s.omniChanged(agent, "connector connected")
	tick := s.clock.NewTicker(20 * time.Second)
	defer tick.Stop()
	for {
		select {
		case b := <-c.ch:
			if _, err := w.Write(b); err != nil {
				return
			}
			fl.Flush()
		case <-tick.C():
			w.Write([]byte(": keepalive\n\n"))
			fl.Flush()
		case <-c.quit:
			return
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Service) crmReport(w http.ResponseWriter, r *http.Request) {
	pr, ok := s.principal(w, r)
	if !ok {
		return
	}
	var body struct {
		Partner  string `json:"partner"`
		Agent    string `json:"agent"`
		StatusID string `json:"statusId"`
		Success  *bool  `json:"success"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, MaxBodyBytes)).Decode(&body); err != nil {
		writeErr(w, http.StatusBadRequest, "INVALID_JSON", err.Error())
		return
	}
	if body.Agent == "" {
		body.Agent = pr.AgentID
	}
	p := s.crmPartner(body.Partner)
	if p == nil || !pr.CanActFor(body.Agent) {
		writeErr(w, http.StatusForbidden, "FORBIDDEN", "unknown CRM partner, or the token does not act for this agent")
		return
	}
	// omnichannelResponse data.statusId may carry "id;..." like the request.
	id, _, _ := strings.Cut(body.StatusID, ";")
	if body.Success != nil && !*body.Success {
		s.mu.Lock()
		out := p.core.PartnerAnswer(body.Agent, false)
		s.mu.Unlock()
		s.record(Decision{At: s.clock.Now().UTC(), Agent: body.Agent, Partner: p.spec.ID, Side: SidePartner, Change: "omnichannelResponse success=false " + id, Outcome: out})
		writeJSON(w, http.StatusOK, map[string]any{"outcome": out})
		return
	}
	out, err := s.partnerReport(r.Context(), p.spec.ID, body.Agent, id, false, false, "omnichannelResponse "+id)
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, "UNAVAILABLE", "the routing node did not answer")
		return
	}
	if out == OutcomeRejected {
		writeErr(w, http.StatusNotFound, "NOT_FOUND", "unknown agent or status id")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"outcome": out})
}
