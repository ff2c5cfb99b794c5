package gms

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/omniroute/omniroute/guard"
	"github.com/omniroute/omniroute/routing"
	"github.com/omniroute/omniroute/routing/waittime"
)

// create serves POST /genesys/1/service/callback/{service} (seed 003 "Create
// chat (delay) service"): fields _customer_number, usr_* (kept as
// conversation attributes under their own names, their values sealed with
// customer keys on: plainAttributes), _device_notification_id,
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
	if err := requireCallbackFields(f); err != nil {
		return err
	}
	now := s.o.Now()
	desired, err := desiredTime(f["_desired_time"], now)
	if err != nil {
		return err
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
	// The engine resolves the target and the TTL as the command runs
	// (CreateConversation.Target, DefaultTTL): no read of the state here
	// that could be stale by then. The record learns both from the events.
	ttl := time.Duration(sv.spec.TTLSeconds * float64(time.Second))
	cb := &callback{id: s.o.IDPrefix + "-" + uuid.NewString(), service: name, owner: ownerKey(user), deviceOS: f["_device_os"],
		deviceID: f["_device_notification_id"], customerNumber: f["_customer_number"],
		createdAt: now, desiredAt: desired, state: StateQueued}
	if cb.deviceID == "" && cb.deviceOS == "comet" {
		cb.deviceID = user
	}
	// Rated once the request is known good, so a refusal costs no token.
	if err := s.createAllowed(w, r, user); err != nil {
		return err
	}
	// The customer's fields are sealed in the attributes too, since the
	// journal keeps them (plainAttributes stay as given).
	if attrs, err = s.o.CustomerKeys.SealAttributes(attrs, customerOf(cb.id, cb.customerNumber, nil), personalAttribute); err != nil {
		return err
	}
	// Registered before the command, so that the follower, which may see
	// AgentHeld before Submit returns, finds it.
	s.mu.Lock()
	if s.live >= MaxLiveCallbacks {
		s.mu.Unlock()
		return fail(http.StatusServiceUnavailable, ExcUnavailable, "too many callbacks waiting (%d)", MaxLiveCallbacks)
	}
	if max := sv.maxLive(); s.liveByService[name] >= max {
		s.mu.Unlock()
		return fail(http.StatusServiceUnavailable, ExcUnavailable, "service %q has too many callbacks waiting (%d)", name, max)
	}
	s.callbacks[cb.id] = cb
	s.live++
	s.liveByService[name]++
	s.mu.Unlock()
	drop := func() {
		s.mu.Lock()
		if s.callbacks[cb.id] == cb {
			delete(s.callbacks, cb.id)
			s.live--
			s.liveByService[name]--
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
	cmd := routing.CreateConversation{ID: cb.id, RequestID: cb.id, Target: sv.spec.Options[OptTarget],
		Queue: sv.spec.DefaultQueue, Priority: sv.spec.Priority, Attributes: attrs, TTL: ttl, DefaultTTL: DefaultCallbackTTL,
		CustomerID: s.o.CustomerKeys.RoutingID(cb.customerNumber), HoldAttempts: sv.holdAttempts(),
		Hold: time.Duration(sv.confirmSeconds() * float64(time.Second))}
	events, err := s.n.Submit(r.Context(), cmd)
	if err != nil {
		drop()
		if derr := s.save(context.WithoutCancel(r.Context()), cb); derr != nil {
			s.log.Warn("gms: record of a refused callback not deleted", "callback", cb.id, "err", derr)
		}
		if re := (*routing.Error)(nil); errors.As(err, &re) && re.Code == routing.CodeQueueNotFound {
			return fail(http.StatusBadRequest, ExcBadRequest, "service %q: target %q selects no queue and defaultQueue is not a queue", name, clip(sv.spec.Options[OptTarget]))
		}
		return err
	}
	s.created(r.Context(), cb, events)
	writeJSON(w, http.StatusOK, map[string]string{"_id": cb.id, "_text": textWillNotify})
	return nil
}

// callbackView is GET/DELETE /genesys/1/service/callback/{service}/{id}.
//
// The keys GMS always returns (Callback Services API): _id, _desired_time,
// _service_name, _callback_state, _expiration_time, _customer_number,
// _callback_reason (once COMPLETED); plus _request_time. Times are ISO 8601
// UTC with milliseconds, as GMS writes them ("2025-03-01T09:00:00.000Z").
type callbackView struct {
	ID             string `json:"_id"`
	DesiredTime    string `json:"_desired_time"`
	ServiceName    string `json:"_service_name"`
	State          string `json:"_callback_state"`
	ExpirationTime string `json:"_expiration_time"`
	Reason         string `json:"_callback_reason,omitempty"`
	CustomerNumber string `json:"_customer_number"`
	CreatedAt      string `json:"_request_time"`
}

// gmsTime is GMS's time format.
const gmsTime = "2006-01-02T15:04:05.000Z"

// viewLocked is cb's record as GET answers it (s.mu held).
func viewLocked(cb *callback) callbackView {
	desired, expires := cb.desiredAt, cb.expiresAt
	if desired.IsZero() {
		desired = cb.createdAt
	}
	v := callbackView{ID: cb.id, DesiredTime: desired.UTC().Format(gmsTime), ServiceName: cb.service, State: cb.state,
		Reason: cb.reason, CustomerNumber: cb.customerNumber, CreatedAt: cb.createdAt.UTC().Format(time.RFC3339)}
	if !expires.IsZero() {
		v.ExpirationTime = expires.UTC().Format(gmsTime)
	}
	return v
}

// requireCallbackFields refuses a create without what a callback needs:
// _customer_number (GMS: mandatory on every create; the number the agent
// calls or the customer is known by), 1..MaxCustomerNumberBytes.
func requireCallbackFields(f Form) error {
	n := strings.TrimSpace(f["_customer_number"])
	switch {
	case n == "":
		return fail(http.StatusBadRequest, ExcBadRequest, "_customer_number is required")
	case len(n) > MaxCustomerNumberBytes:
		return fail(http.StatusBadRequest, ExcBadRequest, "_customer_number is over %d bytes", MaxCustomerNumberBytes)
	}
	return nil
}

// maxDesiredSkew is how far in the future _desired_time may be: omniroute
// routes callbacks at once (no scheduled callbacks), so a later time is
// refused rather than silently ignored.
const maxDesiredSkew = time.Minute

// desiredTime reads _desired_time (ISO 8601 / RFC 3339; empty: now).
func desiredTime(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return now, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fail(http.StatusBadRequest, ExcBadRequest, "_desired_time %q is not an ISO 8601 time (2025-03-01T09:00:00.000Z)", clip(v))
	}
	if t.After(now.Add(maxDesiredSkew)) {
		return time.Time{}, fail(http.StatusBadRequest, ExcBadRequest, "_desired_time %s is in the future: scheduled callbacks are not supported; omit it for an immediate callback", clip(v))
	}
	return t, nil
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
	v := viewLocked(cb)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, v)
	return nil
}

// queryByNumber serves GET /genesys/1/service/callback/{service}
// ?_customer_number=N (GMS "Query Callback by Customer Number"): the
// callbacks of the service with that number, oldest first, as GET shows
// one. A device sees only its own (its gms_user); an admin bearer sees
// all. Basic auth as for the service's other requests. Errors: 400 without
// _customer_number, 404 unknown service, 401.
func (s *Server) queryByNumber(w http.ResponseWriter, r *http.Request, name string) error {
	s.mu.Lock()
	sv := s.services[name]
	s.mu.Unlock()
	if sv == nil {
		return fail(http.StatusNotFound, ExcServiceNotFound, "service %q not found", clip(name))
	}
	admin := s.o.AdminAuth != nil && s.o.AdminAuth(r)
	if !admin {
		if err := basicAuth(r, sv); err != nil {
			return err
		}
	}
	number := r.URL.Query().Get("_customer_number")
	if number == "" {
		return fail(http.StatusBadRequest, ExcBadRequest, "_customer_number is required")
	}
	owner := ownerKey(r.Header.Get(UserHeader))
	out := []callbackView{}
	s.mu.Lock()
	for _, cb := range s.callbacks {
		if cb.service != name || cb.customerNumber != number {
			continue
		}
		if !admin && subtle.ConstantTimeCompare([]byte(owner), []byte(cb.owner)) != 1 {
			continue
		}
		out = append(out, viewLocked(cb))
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b callbackView) int { return strings.Compare(a.CreatedAt+a.ID, b.CreatedAt+b.ID) })
	writeJSON(w, http.StatusOK, out)
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
	_ = s.n.View(r.Context(), func(st routing.View) {
		if c, ok := st.Conversation(cb.id); ok {
			sub = s.o.CustomerKeys.ShowAttributes(c.Attributes)["usr_subject"]
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
	var v waittime.Place
	var snap waittime.Snapshot
	if err := s.n.View(r.Context(), func(st routing.View) { v, snap = waittime.Request(st, cb.id, queue, now) }); err != nil {
		return err
	}
	maxEWT, maxPos := float64(DefaultAgentReadyEWTSeconds), DefaultAgentReadyPosition
	if sv != nil {
		maxEWT, maxPos = sv.readyEWT(), sv.readyPosition()
	}
	out := position{Position: v.Position, TotalWaiting: v.Waiting, ETA: "n/a"}
	if !v.Found || v.Position == 0 {
		out.ETA, out.ThresholdPassed, out.ThresholdReason = 0, true, "agent reserved"
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	s.mu.Lock()
	eta, model, known := s.estimate(queue, snap)
	first := known && model > 0 && cb.estAt.IsZero()
	if first {
		cb.estimate, cb.estPos, cb.estAt = model, v.Position, now
	}
	s.mu.Unlock()
	if first {
		if err := s.save(r.Context(), cb); err != nil {
			return err
		}
	}
	posOK := v.Position <= maxPos
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
	customer, attrs := chatCustomer(f, cb.customerNumber)
	attrs, err := s.o.CustomerKeys.SealAttributes(attrs, customerOf(cb.id, cb.customerNumber, f), personalAttribute)
	if err != nil {
		return err
	}
	if customer, err = s.o.CustomerKeys.SealCustomer(customer, "conversation:"+cb.id); err != nil {
		return err
	}
	if _, err := s.n.Submit(r.Context(), routing.ConfirmHold{Request: cb.id, Customer: customer, Attributes: attrs}); err != nil {
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

// chatFields are the Create Chat Interaction fields (seed 003) that
// describe the customer; chatCustomer turns them into the conversation's
// customer object.
var chatFields = []string{"firstName", "lastName", "email", "nickname"}

// chatCustomer builds what ixn/chat tells the engine before the chat is
// offered (routing.ConfirmHold): the customer {firstName, lastName, email,
// nickname, phoneNumber (the callback's _customer_number)} with the fields
// given, so the desk's taskRequest and onTopicData show who it is; and
// every chat field (subject, notify_by, ... ; _verbose excepted) as a
// conversation attribute under its own name. Nil customer when no field
// and no number describe one.
func chatCustomer(f Form, number string) (json.RawMessage, map[string]string) {
	c := map[string]string{}
	for _, k := range chatFields {
		if v := strings.TrimSpace(f[k]); v != "" {
			c[k] = v
		}
	}
	if number != "" {
		c["phoneNumber"] = number
	}
	var customer json.RawMessage
	if len(c) > 0 {
		customer, _ = json.Marshal(c)
	}
	attrs := map[string]string{}
	for k, v := range f {
		if k != "_verbose" && v != "" {
			attrs[k] = v
		}
	}
	if len(attrs) == 0 {
		attrs = nil
	}
	return customer, attrs
}

// createAllowed rates start-callback per gms_user and per client address
// before anything is decoded or stored: the route is unauthenticated in
// GMS (seed 003), so this is what stops a flood. 429 with Retry-After.
func (s *Server) createAllowed(w http.ResponseWriter, r *http.Request, user string) error {
	ok, wait := s.createPerAddress.Allow(guard.PeerAddr(r).String())
	if ok {
		ok, wait = s.createPerUser.Allow(ownerKey(user))
	}
	if ok {
		return nil
	}
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	return fail(http.StatusTooManyRequests, ExcTooManyCallbacks, "too many callbacks requested; retry in %s", wait.Round(time.Second))
}

// created records on cb what the engine chose as it created the callback's
// conversation (the queue its target selected, the TTL deadline) and
// stores the record again. A failed store is logged: the callback exists
// in the engine by now, and the next change writes the record again.
func (s *Server) created(ctx context.Context, cb *callback, events []routing.Event) {
	s.mu.Lock()
	for _, ev := range events {
		if e, ok := ev.(routing.RequestQueued); ok && e.Request == cb.id {
			cb.queue, cb.expiresAt = e.Queue, e.TTLDeadline
		}
	}
	s.mu.Unlock()
	if err := s.save(context.WithoutCancel(ctx), cb); err != nil {
		s.log.Warn("gms: callback record not stored", "callback", cb.id, "err", err)
	}
}
