package gms

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// Paths.
const (
	servicePrefix = "/genesys/1/service/"
	adminPrefix   = "/genesys/1/admin/services"
	// adminQueuesPath is GMS's Query Callback by Queues.
	adminQueuesPath = "/genesys/1/admin/callback/queues"
)

// Texts of the responses (seed 003).
const (
	textWillNotify       = "We will notify you when agent is available"
	textNotificationSent = "Notification Sent"
)

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc(servicePrefix, s.wrap(s.serveService))
	s.mux.HandleFunc(adminPrefix, s.wrap(s.serveAdmin))
	s.mux.HandleFunc(adminPrefix+"/", s.wrap(s.serveAdmin))
	s.mux.HandleFunc(adminQueuesPath, s.wrap(s.adminQueues))
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
			if r.Method == http.MethodGet {
				return s.queryByNumber(w, r, parts[1])
			}
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
	h := s.callbackOps()[op]
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

// deviceRef names a device in logs and errors without its secret: the
// gms_user (and, for comet, the device id, which is the gms_user) is the
// device's only credential, so only the first 8 hex digits of its SHA-256
// are ever written, enough to tell devices apart in a log.
func deviceRef(id string) string {
	h := sha256.Sum256([]byte(id))
	return "sha256:" + hex.EncodeToString(h[:4])
}

// callbackOps are the POST /genesys/1/service/{id}/{op} operations.
func (s *Server) callbackOps() map[string]func(http.ResponseWriter, *http.Request, *callback, Form) error {
	return map[string]func(http.ResponseWriter, *http.Request, *callback, Form) error{
		"connect":                      s.connect,
		"check-queue-position":         s.checkPosition,
		"ixn/chat":                     s.startChat,
		"internal-notification":        s.internalNotification,
		"retrieve-notifications":       s.retrieveNotifications,
		"agent-notification":           s.agentNotification,
		"retrieve-agent-notifications": s.retrieveAgentNotifications,
	}
}

// Routes lists the "METHOD /path" patterns Handler serves (the OpenAPI
// document must describe each; server tests check it), sorted.
func (s *Server) Routes() []string {
	out := []string{
		"POST " + servicePrefix + "callback/{service}",
		"GET " + servicePrefix + "callback/{service}",
		"GET " + servicePrefix + "callback/{service}/{id}",
		"DELETE " + servicePrefix + "callback/{service}/{id}",
		"GET " + adminPrefix,
		"GET " + adminPrefix + "/{name}",
		"PUT " + adminPrefix + "/{name}",
		"DELETE " + adminPrefix + "/{name}",
		"GET " + adminQueuesPath,
	}
	for op := range s.callbackOps() {
		out = append(out, "POST "+servicePrefix+"{id}/"+op)
	}
	slices.Sort(out)
	return out
}
