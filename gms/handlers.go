package gms

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// Paths.
const (
	servicePrefix = "/genesys/1/service/"
	adminPrefix   = "/genesys/1/admin/services"
)

// Texts of the responses (seed 003).
const (
	textWillNotify       = "We will notify you when agent is available"
	textNotificationSent = "Notification Sent"
)

// maxAdminBodyBytes bounds a PUT admin/services body.
const maxAdminBodyBytes = 64 << 10

// gmsError is a refusal: status, exception name and message.
type gmsError struct {
	status    int
	exception string
	msg       string
}

func (e *gmsError) Error() string { return e.msg }

func fail(status int, exception, format string, args ...any) error {
	return &gmsError{status: status, exception: exception, msg: fmt.Sprintf(format, args...)}
}

// Exception names of the error bodies.
const (
	ExcBadRequest       = "BadRequestException"
	ExcServiceNotFound  = "ServiceNotFoundException"
	ExcNotFound         = "CallbackNotFoundException"
	ExcUnauthorized     = "UnauthorizedException"
	ExcUnavailable      = "ServiceUnavailableException"
	ExcConflict         = "ConflictException"
	ExcTooLarge         = "PayloadTooLargeException"
	ExcMediaType        = "UnsupportedMediaTypeException"
	ExcMethod           = "MethodNotAllowedException"
	ExcTooMany          = "TooManyNotificationsException"
	ExcInternal         = "InternalServerException"
	notFoundCallbackMsg = "callback %q not found"
)

// ErrorBody is every error response: {"message": ..., "exception": ...}.
type ErrorBody struct {
	Message   string `json:"message"`
	Exception string `json:"exception"`
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc(servicePrefix, s.wrap(s.serveService))
	s.mux.HandleFunc(adminPrefix, s.wrap(s.serveAdmin))
	s.mux.HandleFunc(adminPrefix+"/", s.wrap(s.serveAdmin))
	s.mux.HandleFunc("/genesys/", s.wrap(func(w http.ResponseWriter, r *http.Request) error {
		return fail(http.StatusNotFound, ExcNotFound, "no GMS resource at %s", clip(r.URL.Path))
	}))
}

func (s *Server) wrap(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ge *gmsError
	var fe *formError
	var re *routing.Error
	status, exc, msg := http.StatusInternalServerError, ExcInternal, "internal error"
	switch {
	case errors.As(err, &ge):
		status, exc, msg = ge.status, ge.exception, ge.msg
	case errors.As(err, &fe):
		status, msg = fe.status, fe.msg
		switch fe.status {
		case http.StatusRequestEntityTooLarge:
			exc = ExcTooLarge
		case http.StatusUnsupportedMediaType:
			exc = ExcMediaType
		default:
			exc = ExcBadRequest
		}
	case errors.As(err, &re):
		msg = re.Message
		switch re.Code {
		case routing.CodeConversationNotFound, routing.CodeQueueNotFound:
			status, exc = http.StatusNotFound, ExcNotFound
		case routing.CodeInvalidArgument, routing.CodeLimitExceeded:
			status, exc = http.StatusBadRequest, ExcBadRequest
		default:
			status, exc = http.StatusConflict, ExcConflict
		}
	case errors.Is(err, node.ErrClosed), errors.Is(err, node.ErrJournal), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.Canceled):
		status, exc, msg = http.StatusServiceUnavailable, ExcUnavailable, "the routing node is not available"
	}
	if status >= 500 {
		s.log.Error("gms: request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="gms"`)
	}
	writeJSON(w, status, ErrorBody{Message: msg, Exception: exc})
}

// writeJSON writes v with the headers GMS sends (seed 003).
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "Thu, 01 Jan 1970 00:00:00 GMT")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func post(r *http.Request) error {
	if r.Method != http.MethodPost {
		return fail(http.StatusMethodNotAllowed, ExcMethod, "%s is not allowed here; use POST", r.Method)
	}
	return nil
}

// serveService dispatches /genesys/1/service/... (one handler: the paths
// callback/{service} and {id}/connect overlap for ServeMux).
func (s *Server) serveService(w http.ResponseWriter, r *http.Request) error {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, servicePrefix), "/")
	for _, p := range parts {
		if p == "" {
			return fail(http.StatusNotFound, ExcNotFound, "no GMS resource at %s", clip(r.URL.Path))
		}
	}
	if parts[0] == "callback" {
		switch len(parts) {
		case 2:
			if err := post(r); err != nil {
				return err
			}
			return s.create(w, r, parts[1])
		case 3:
			switch r.Method {
			case http.MethodGet:
				return s.get(w, r, parts[1], parts[2], false)
			case http.MethodDelete:
				return s.get(w, r, parts[1], parts[2], true)
			}
			return fail(http.StatusMethodNotAllowed, ExcMethod, "%s is not allowed here; use GET or DELETE", r.Method)
		}
	}
	if len(parts) == 3 && parts[1] == "ixn" && parts[2] == "chat" {
		parts = []string{parts[0], "ixn/chat"}
	}
	if len(parts) != 2 {
		return fail(http.StatusNotFound, ExcNotFound, "no GMS resource at %s", clip(r.URL.Path))
	}
	id, op := parts[0], parts[1]
	h := map[string]func(http.ResponseWriter, *http.Request, *callback, Form) error{
		"connect":                      s.connect,
		"check-queue-position":         s.checkPosition,
		"ixn/chat":                     s.startChat,
		"internal-notification":        s.internalNotification,
		"retrieve-notifications":       s.retrieveNotifications,
		"agent-notification":           s.agentNotification,
		"retrieve-agent-notifications": s.retrieveAgentNotifications,
	}[op]
	if h == nil {
		return fail(http.StatusNotFound, ExcNotFound, "no GMS resource at %s", clip(r.URL.Path))
	}
	if err := post(r); err != nil {
		return err
	}
	agentSide := op == "internal-notification" || op == "retrieve-agent-notifications"
	cb, err := s.authorize(r, id, "", agentSide)
	if err != nil {
		return err
	}
	f, err := DecodeForm(r)
	if err != nil {
		return err
	}
	return h(w, r, cb, f)
}

// ownerKey is what a callback keeps of its gms_user: a hash, compared in
// constant time.
func ownerKey(user string) string {
	h := sha256.Sum256([]byte(user))
	return string(h[:])
}

// authorize finds callback id for this caller: 404 when unknown, of
// another device (gms_user), or of another service than svc (when set);
// 401 when its service wants basic auth and the request lacks it.
// agentSide admits Options.AgentAuth callers instead of the owner.
func (s *Server) authorize(r *http.Request, id, svc string, agentSide bool) (*callback, error) {
	user := r.Header.Get(UserHeader)
	agent := agentSide && s.o.AgentAuth != nil && s.o.AgentAuth(r)
	s.mu.Lock()
	cb := s.callbacks[id]
	var sv *service
	if cb != nil {
		sv = s.services[cb.service]
	}
	s.mu.Unlock()
	if cb == nil || (svc != "" && cb.service != svc) ||
		(!agent && subtle.ConstantTimeCompare([]byte(ownerKey(user)), []byte(cb.owner)) != 1) {
		return nil, fail(http.StatusNotFound, ExcNotFound, notFoundCallbackMsg, clip(id))
	}
	if sv != nil && !agent {
		if err := basicAuth(r, sv); err != nil {
			return nil, err
		}
	}
	return cb, nil
}

func basicAuth(r *http.Request, sv *service) error {
	if sv.spec.Username == "" {
		return nil
	}
	u, p, ok := r.BasicAuth()
	uok := subtle.ConstantTimeCompare([]byte(u), []byte(sv.spec.Username))
	pok := subtle.ConstantTimeCompare([]byte(p), []byte(sv.spec.Password))
	if !ok || uok&pok != 1 {
		return fail(http.StatusUnauthorized, ExcUnauthorized, "service %q requires HTTP basic authentication", sv.spec.Name)
	}
	return nil
}

// create serves POST /genesys/1/service/callback/{service} (seed 003 "Create
// chat (delay) service"): fields _customer_number, usr_* (kept as
// conversation attributes under their own names), _device_notification_id,
// _device_os, and any other field (also kept as an attribute). The
// gms_user header is required: it owns the callback. Answer:
// {"_id": "<prefix>-<uuid>", "_text": "We will notify you when agent is
// available"}. Errors: 404 unknown service, 401 basic auth, 400 no
// gms_user / bad form / too many attributes / no queue fits the target,
// 413, 415, 503 too many live callbacks or node down.
func (s *Server) create(w http.ResponseWriter, r *http.Request, name string) error {
	s.mu.Lock()
	sv := s.services[name]
	s.mu.Unlock()
	if sv == nil {
		return fail(http.StatusNotFound, ExcServiceNotFound, "service %q not found", clip(name))
	}
	if err := basicAuth(r, sv); err != nil {
		return err
	}
	user := r.Header.Get(UserHeader)
	if user == "" || len(user) > MaxUserHeaderBytes {
		return fail(http.StatusBadRequest, ExcBadRequest, "the %s header is required (1..%d bytes)", UserHeader, MaxUserHeaderBytes)
	}
	f, err := DecodeForm(r)
	if err != nil {
		return err
	}
	if len(f["_device_notification_id"]) > MaxUserHeaderBytes {
		return fail(http.StatusBadRequest, ExcBadRequest, "_device_notification_id is over %d bytes", MaxUserHeaderBytes)
	}
	// The device id is a credential (for comet it is the gms_user): it
	// stays out of the attributes agents see.
	attrs := maps.Clone(map[string]string(f))
	delete(attrs, "_device_notification_id")
	attrs["gms_service"] = name
	if vq := sv.spec.Options[OptURSVirtualQueue]; vq != "" {
		attrs["gms_virtual_queue"] = vq
	}
	if len(attrs) > routing.MaxAttributes {
		return fail(http.StatusBadRequest, ExcBadRequest, "more than %d fields", routing.MaxAttributes-2)
	}
	var queue string
	var found bool
	if err := s.n.View(r.Context(), func(st *routing.State) { queue, found = sv.resolveQueue(st) }); err != nil {
		return err
	}
	if !found {
		return fail(http.StatusBadRequest, ExcBadRequest, "service %q: target %q selects no queue and defaultQueue is not a queue", name, clip(sv.spec.Options[OptTarget]))
	}
	cb := &callback{id: s.o.IDPrefix + "-" + newID(), service: name, owner: ownerKey(user), deviceOS: f["_device_os"],
		deviceID: f["_device_notification_id"], customerNumber: f["_customer_number"], queue: queue,
		createdAt: s.o.Now(), state: StateQueued}
	if cb.deviceID == "" && cb.deviceOS == "comet" {
		cb.deviceID = user
	}
	// Registered before the command, so that the follower, which may see
	// AgentHeld before Submit returns, finds it.
	s.mu.Lock()
	if s.live >= MaxLiveCallbacks {
		s.mu.Unlock()
		return fail(http.StatusServiceUnavailable, ExcUnavailable, "too many callbacks waiting (%d)", MaxLiveCallbacks)
	}
	s.callbacks[cb.id] = cb
	s.live++
	s.mu.Unlock()
	drop := func() {
		s.mu.Lock()
		if s.callbacks[cb.id] == cb {
			delete(s.callbacks, cb.id)
			s.live--
		}
		cb.forgotten = true
		s.mu.Unlock()
	}
	// Stored before the command: a conversation in the engine always has
	// its record.
	if err := s.save(r.Context(), cb); err != nil {
		drop()
		return err
	}
	cmd := routing.CreateConversation{ID: cb.id, RequestID: cb.id, Queue: queue, Priority: sv.spec.Priority,
		Attributes: attrs, TTL: time.Duration(sv.spec.TTLSeconds * float64(time.Second)),
		Hold: time.Duration(sv.confirmSeconds() * float64(time.Second)), HoldAttempts: sv.holdAttempts()}
	if _, err := s.n.Submit(r.Context(), cmd); err != nil {
		drop()
		if derr := s.save(context.WithoutCancel(r.Context()), cb); derr != nil {
			s.log.Warn("gms: record of a refused callback not deleted", "callback", cb.id, "err", derr)
		}
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"_id": cb.id, "_text": textWillNotify})
	return nil
}

// callbackView is GET/DELETE /genesys/1/service/callback/{service}/{id}.
type callbackView struct {
	ID             string `json:"_id"`
	ServiceName    string `json:"_service_name"`
	State          string `json:"_callback_state"`
	Reason         string `json:"_callback_reason,omitempty"`
	CustomerNumber string `json:"_customer_number,omitempty"`
	CreatedAt      string `json:"_request_time"`
}

// get serves GET (and, with cancel, DELETE) of one callback: the view with
// _callback_state QUEUED | ROUTING (an agent is held) | PROCESSING (chat
// started or offered) | COMPLETED (+ _callback_reason). DELETE cancels a
// callback not COMPLETED (routing.CloseConversation) and answers the view
// (COMPLETED, CANCELLED); on a COMPLETED one it is 409.
func (s *Server) get(w http.ResponseWriter, r *http.Request, svc, id string, cancel bool) error {
	cb, err := s.authorize(r, id, svc, false)
	if err != nil {
		return err
	}
	if cancel {
		s.mu.Lock()
		done := cb.state == StateCompleted
		s.mu.Unlock()
		if done {
			return fail(http.StatusConflict, ExcConflict, "callback %q is already COMPLETED", clip(id))
		}
		if _, err := s.n.Submit(r.Context(), routing.CloseConversation{Conversation: id}); err != nil {
			return err
		}
		var changed []*callback
		s.mu.Lock()
		if cb.state != StateCompleted {
			changed = s.completeLocked(cb, ReasonCancelled)
		}
		s.mu.Unlock()
		for _, c := range changed {
			if err := s.save(r.Context(), c); err != nil {
				return err
			}
		}
	}
	s.mu.Lock()
	v := callbackView{ID: cb.id, ServiceName: cb.service, State: cb.state, Reason: cb.reason,
		CustomerNumber: cb.customerNumber, CreatedAt: cb.createdAt.UTC().Format(time.RFC3339)}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) baseURL(r *http.Request) string {
	if s.o.BaseURL != "" {
		return strings.TrimRight(s.o.BaseURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// dialog is connect's answer (seed 003 "Connect").
type dialog struct {
	DialogID       string            `json:"_dialog_id"`
	Action         string            `json:"_action"`
	Label          string            `json:"_label"`
	StartChatURL   string            `json:"_start_chat_url"`
	CometURL       string            `json:"_comet_url"`
	UserHeader     string            `json:"_user_header"`
	IDToJumpBefore string            `json:"_id_to_jump_before"`
	ChatParameters map[string]string `json:"_chat_parameters"`
	ID             string            `json:"_id"`
}

// connect serves POST /genesys/1/service/{id}/connect (the user confirms):
// the StartChat dialog. _chat_parameters.subject is the callback's
// usr_subject field, else "None". Errors: 404, 409 once COMPLETED.
func (s *Server) connect(w http.ResponseWriter, r *http.Request, cb *callback, _ Form) error {
	s.mu.Lock()
	if cb.state == StateCompleted {
		s.mu.Unlock()
		return fail(http.StatusConflict, ExcConflict, "callback %q is COMPLETED (%s)", cb.id, cb.reason)
	}
	cb.dialogs++
	n := cb.dialogs
	s.mu.Unlock()
	if err := s.save(r.Context(), cb); err != nil {
		return err
	}
	subject := "None"
	var sub string
	_ = s.n.View(r.Context(), func(st *routing.State) {
		if c, ok := st.Conversation(cb.id); ok {
			sub = c.Attributes["usr_subject"]
		}
	})
	if sub != "" {
		subject = sub
	}
	base := s.baseURL(r)
	writeJSON(w, http.StatusOK, dialog{DialogID: fmt.Sprint(n), Action: "StartChat", Label: "Start Chat",
		StartChatURL: base + servicePrefix + cb.id + "/ixn/chat", CometURL: base + "/genesys/cometd",
		UserHeader: r.Header.Get(UserHeader), IDToJumpBefore: "exit://", ChatParameters: map[string]string{"subject": subject}, ID: cb.id})
	return nil
}

// checkPosition serves POST /genesys/1/service/{id}/check-queue-position:
// {_position (1-based, priority counted; 0 once an agent is held or the
// chat offered), _eta (whole seconds, or "n/a"), _total_waiting (the
// queue's waiting requests), _agent_ready_threshold_passed,
// _agent_ready_threshold_passed_reason}. The threshold passes when the
// position is within the service's agentReadyPosition and the eta (when
// known) within agentReadyEwtSeconds. Errors: 404, 409 once COMPLETED.
func (s *Server) checkPosition(w http.ResponseWriter, r *http.Request, cb *callback, _ Form) error {
	s.mu.Lock()
	state, queue := cb.state, cb.queue
	sv := s.services[cb.service]
	s.mu.Unlock()
	if state == StateCompleted {
		return fail(http.StatusConflict, ExcConflict, "callback %q is COMPLETED (%s)", cb.id, cb.reason)
	}
	now := s.o.Now()
	var v queueView
	if err := s.n.View(r.Context(), func(st *routing.State) { v = readQueue(st, cb.id, queue, now) }); err != nil {
		return err
	}
	maxEWT, maxPos := float64(DefaultAgentReadyEWTSeconds), DefaultAgentReadyPosition
	if sv != nil {
		maxEWT, maxPos = sv.readyEWT(), sv.readyPosition()
	}
	out := position{Position: v.position, TotalWaiting: v.waiting, ETA: "n/a"}
	if !v.found || v.position == 0 {
		out.ETA, out.ThresholdPassed, out.ThresholdReason = 0, true, "agent reserved"
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	s.mu.Lock()
	eta, model, known := s.estimate(queue, v)
	first := known && model > 0 && cb.estAt.IsZero()
	if first {
		cb.estimate, cb.estPos, cb.estAt = model, v.position, now
	}
	s.mu.Unlock()
	if first {
		if err := s.save(r.Context(), cb); err != nil {
			return err
		}
	}
	posOK := v.position <= maxPos
	switch {
	case !known:
		out.ThresholdPassed = posOK
		out.ThresholdReason = "eta n/a"
		if !posOK {
			out.ThresholdReason = fmt.Sprintf("eta n/a and position > %d", maxPos)
		}
	default:
		sec := etaSeconds(eta)
		out.ETA = sec
		etaOK := float64(sec) <= maxEWT
		out.ThresholdPassed = etaOK && posOK
		switch {
		case out.ThresholdPassed:
			out.ThresholdReason = fmt.Sprintf("eta <= %g and position <= %d", maxEWT, maxPos)
		case !etaOK:
			out.ThresholdReason = fmt.Sprintf("eta > %g", maxEWT)
		default:
			out.ThresholdReason = fmt.Sprintf("position > %d", maxPos)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// startChat serves POST /genesys/1/service/{id}/ixn/chat (seed 003 "Create
// Chat Interaction"; fields notify_by, firstName, lastName, subject, email,
// _verbose kept with the callback): routing.ConfirmHold, then
// {"_id", "comet_channel": "/_genesys"}. Errors: 503 while the
// agent-available notification has not been sent (PROTOCOLS.md), 409 once
// COMPLETED or when the engine refuses, 404.
func (s *Server) startChat(w http.ResponseWriter, r *http.Request, cb *callback, f Form) error {
	s.mu.Lock()
	state, notified := cb.state, cb.notified
	s.mu.Unlock()
	switch {
	case state == StateCompleted:
		return fail(http.StatusConflict, ExcConflict, "callback %q is COMPLETED (%s)", cb.id, cb.reason)
	case !notified:
		return fail(http.StatusServiceUnavailable, ExcUnavailable, "no agent is available for callback %q yet; wait for the agent-available notification", cb.id)
	}
	if _, err := s.n.Submit(r.Context(), routing.ConfirmHold{Request: cb.id}); err != nil {
		return err
	}
	s.mu.Lock()
	cb.chat, cb.chatStarted = f, true
	if cb.state != StateCompleted {
		cb.state = StateProcessing
	}
	s.mu.Unlock()
	if err := s.save(r.Context(), cb); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"_id": cb.id, "comet_channel": CometChannel})
	return nil
}

// internalNotification serves POST .../internal-notification (agent ->
// device; fields _display_message, _application_message): the message
// {"_internal_message", "_id", "_display_message"} is pushed (tag
// "service.message.<id>") or kept for retrieve-notifications. Answer
// {"message": "Notification Sent"}. Errors: 400 when both fields are
// missing, 429 over MaxPendingNotifications, 404.
func (s *Server) internalNotification(w http.ResponseWriter, r *http.Request, cb *callback, f Form) error {
	disp, app := f["_display_message"], f["_application_message"]
	if disp == "" && app == "" {
		return fail(http.StatusBadRequest, ExcBadRequest, "_display_message or _application_message is required")
	}
	m := map[string]any{"_internal_message": app, "_id": cb.id, "_display_message": disp}
	s.mu.Lock()
	if len(cb.toDevice) >= MaxPendingNotifications {
		s.mu.Unlock()
		return fail(http.StatusTooManyRequests, ExcTooMany, "callback %q has %d notifications not retrieved", cb.id, MaxPendingNotifications)
	}
	s.notifyLocked(cb, Notification{ID: newNotificationID(), Message: m, Tag: TagMessage + cb.id})
	s.mu.Unlock()
	if err := s.save(r.Context(), cb); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": textNotificationSent})
	return nil
}

// retrieveNotifications serves POST .../retrieve-notifications: the device's
// undelivered messages, oldest first, then forgets them: [] when everything
// was pushed (seed 003).
func (s *Server) retrieveNotifications(w http.ResponseWriter, r *http.Request, cb *callback, _ Form) error {
	s.mu.Lock()
	out := cb.toDevice
	cb.toDevice = nil
	s.mu.Unlock()
	if out != nil {
		if err := s.save(r.Context(), cb); err != nil {
			// Not forgotten durably: kept for the next retrieve.
			s.mu.Lock()
			cb.toDevice = append(out, cb.toDevice...)
			s.mu.Unlock()
			return err
		}
	}
	if out == nil {
		out = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// agentNotification serves POST .../agent-notification (device -> agent):
// kept for retrieve-agent-notifications as {"message": "<JSON text of
// {_id, _internal_message, _display_message}>", "tag":
// "agent.message.<id>"} (seed 003). Errors as internal-notification.
func (s *Server) agentNotification(w http.ResponseWriter, r *http.Request, cb *callback, f Form) error {
	disp, app := f["_display_message"], f["_application_message"]
	if disp == "" && app == "" {
		return fail(http.StatusBadRequest, ExcBadRequest, "_display_message or _application_message is required")
	}
	msg, _ := json.Marshal(struct {
		ID       string `json:"_id"`
		Internal string `json:"_internal_message"`
		Display  string `json:"_display_message"`
	}{cb.id, app, disp})
	s.mu.Lock()
	if len(cb.toAgent) >= MaxPendingNotifications {
		s.mu.Unlock()
		return fail(http.StatusTooManyRequests, ExcTooMany, "callback %q has %d agent notifications not retrieved", cb.id, MaxPendingNotifications)
	}
	cb.toAgent = append(cb.toAgent, agentNote{Message: string(msg), Tag: TagAgentMessage + cb.id})
	if notify := s.o.AgentNotifier; notify != nil {
		data := map[string]string{"_id": cb.id, "_internal_message": app, "_display_message": disp, "tag": TagAgentMessage + cb.id}
		// Outside the request's lifetime and the lock: the desk delivery
		// appends to the transcript (an fsync) and must not hold s.mu.
		go func() {
			ctx, cancel := context.WithTimeout(s.ctx, s.o.PushTimeout)
			defer cancel()
			if err := notify(ctx, cb.id, data); err != nil {
				s.log.Warn("gms: agent notification not delivered to the desk; still retrievable", "callback", cb.id, "err", err)
			}
		}()
	}
	s.mu.Unlock()
	if err := s.save(r.Context(), cb); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": textNotificationSent})
	return nil
}

// retrieveAgentNotifications serves POST .../retrieve-agent-notifications:
// the agent's undelivered notes, oldest first, then forgets them.
func (s *Server) retrieveAgentNotifications(w http.ResponseWriter, r *http.Request, cb *callback, _ Form) error {
	s.mu.Lock()
	out := cb.toAgent
	cb.toAgent = nil
	s.mu.Unlock()
	if out != nil {
		if err := s.save(r.Context(), cb); err != nil {
			// Not forgotten durably: kept for the next retrieve.
			s.mu.Lock()
			cb.toAgent = append(out, cb.toAgent...)
			s.mu.Unlock()
			return err
		}
	}
	if out == nil {
		out = []agentNote{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// serveAdmin serves the service administration API (Options.AdminAuth):
//
//	GET    /genesys/1/admin/services          -> [ServiceSpec...] by name (passwords blanked)
//	GET    /genesys/1/admin/services/{name}   -> ServiceSpec
//	PUT    /genesys/1/admin/services/{name}   <- ServiceSpec JSON (name from the path) -> ServiceSpec
//	DELETE /genesys/1/admin/services/{name}   -> 204 (callbacks in flight keep going)
//
// Errors: 401 not admin, 404 unknown service, 400 invalid spec or JSON,
// 413 over 64 KiB, 415 not JSON. Changes are in memory: the config file's
// gmsServices come back at restart.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) error {
	if s.o.AdminAuth == nil || !s.o.AdminAuth(r) {
		return fail(http.StatusUnauthorized, ExcUnauthorized, "an admin token is required")
	}
	name := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, adminPrefix), "/")
	if name == "" {
		if r.Method != http.MethodGet {
			return fail(http.StatusMethodNotAllowed, ExcMethod, "%s is not allowed here; use GET", r.Method)
		}
		s.mu.Lock()
		out := make([]ServiceSpec, 0, len(s.services))
		for _, n := range slices.Sorted(maps.Keys(s.services)) {
			out = append(out, redact(s.services[n].spec))
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	s.mu.Lock()
	sv := s.services[name]
	s.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		if sv == nil {
			return fail(http.StatusNotFound, ExcServiceNotFound, "service %q not found", clip(name))
		}
		writeJSON(w, http.StatusOK, redact(sv.spec))
	case http.MethodDelete:
		if sv == nil {
			return fail(http.StatusNotFound, ExcServiceNotFound, "service %q not found", clip(name))
		}
		s.mu.Lock()
		delete(s.services, name)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPut:
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			return fail(http.StatusUnsupportedMediaType, ExcMediaType, "Content-Type must be application/json")
		}
		var spec ServiceSpec
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBodyBytes))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&spec); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return fail(http.StatusRequestEntityTooLarge, ExcTooLarge, "the body is over %d bytes", maxAdminBodyBytes)
			}
			return fail(http.StatusBadRequest, ExcBadRequest, "invalid JSON: %v", err)
		}
		if spec.Name != "" && spec.Name != name {
			return fail(http.StatusBadRequest, ExcBadRequest, "name %q differs from the path's %q", clip(spec.Name), clip(name))
		}
		spec.Name = name
		if err := s.PutService(spec); err != nil {
			return fail(http.StatusBadRequest, ExcBadRequest, "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
		}
		writeJSON(w, http.StatusOK, redact(spec))
	default:
		return fail(http.StatusMethodNotAllowed, ExcMethod, "%s is not allowed here", r.Method)
	}
	return nil
}

func redact(s ServiceSpec) ServiceSpec {
	if s.Password != "" {
		s.Password = "********"
	}
	s.Options = maps.Clone(s.Options)
	return s
}
