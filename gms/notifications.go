package gms

import (
	"context"
	"encoding/json"
	"net/http"
)

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
