package gms

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// maxAdminBodyBytes bounds a PUT admin/services body.
const maxAdminBodyBytes = 64 << 10

// adminQueues serves GET /genesys/1/admin/callback/queues (GMS "Query
// Callback by Queues", admin only): {"<service>": [callback views]} of the
// callbacks not yet COMPLETED, each service's oldest first; every
// configured service appears, with [] when none waits. ?_callback_state=S
// keeps one state (COMPLETED included). Errors: 401 not admin, 405.
func (s *Server) adminQueues(w http.ResponseWriter, r *http.Request) error {
	if s.o.AdminAuth == nil || !s.o.AdminAuth(r) {
		return fail(http.StatusUnauthorized, ExcUnauthorized, "an admin token is required")
	}
	if r.Method != http.MethodGet {
		return fail(http.StatusMethodNotAllowed, ExcMethod, "%s is not allowed here; use GET", r.Method)
	}
	state := r.URL.Query().Get("_callback_state")
	out := map[string][]callbackView{}
	s.mu.Lock()
	for name := range s.services {
		out[name] = []callbackView{}
	}
	for _, cb := range s.callbacks {
		if (state == "" && cb.state == StateCompleted) || (state != "" && cb.state != state) {
			continue
		}
		out[cb.service] = append(out[cb.service], viewLocked(cb))
	}
	s.mu.Unlock()
	for _, v := range out {
		slices.SortFunc(v, func(a, b callbackView) int { return strings.Compare(a.CreatedAt+a.ID, b.CreatedAt+b.ID) })
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
