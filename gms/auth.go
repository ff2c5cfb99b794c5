package gms

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"

	"github.com/omniroute/omniroute/routing"
)

// ownerKey is what a callback keeps of its gms_user: a hash, compared in
// constant time.
func ownerKey(user string) string {
	h := sha256.Sum256([]byte(user))
	return string(h[:])
}

// authorize finds callback id for this caller: 404 when unknown, of
// another device (gms_user), or of another service than svc (when set);
// 401 when its service wants basic auth and the request lacks it. The
// agent-side endpoints (agentSide) are authorizeAgent's instead.
func (s *Server) authorize(r *http.Request, id, svc string, agentSide bool) (*callback, error) {
	if agentSide {
		return s.authorizeAgent(r, id)
	}
	user := r.Header.Get(UserHeader)
	s.mu.Lock()
	cb := s.callbacks[id]
	var sv *service
	if cb != nil {
		sv = s.services[cb.service]
	}
	s.mu.Unlock()
	if cb == nil || (svc != "" && cb.service != svc) ||
		subtle.ConstantTimeCompare([]byte(ownerKey(user)), []byte(cb.owner)) != 1 {
		return nil, fail(http.StatusNotFound, ExcNotFound, notFoundCallbackMsg, clip(id))
	}
	if sv != nil {
		if err := basicAuth(r, sv); err != nil {
			return nil, err
		}
	}
	return cb, nil
}

// authorizeAgent admits a caller of internal-notification and
// retrieve-agent-notifications: an administrator, the agent the callback's
// conversation is assigned to (an open task on it), or a supervisor of that
// agent's team (routing.State.MayRead), as Options.AgentAuth identifies
// them. The device's gms_user is not a credential here: a device must not
// message itself as the agent, nor drain the agent's notes. Errors: 401
// without an agent or admin credential; 404 for an unknown callback or one
// the agent has no part in (the same answer, so ids cannot be probed).
func (s *Server) authorizeAgent(r *http.Request, id string) (*callback, error) {
	var agent string
	admin, ok := false, false
	if s.o.AgentAuth != nil {
		agent, admin, ok = s.o.AgentAuth(r)
	}
	if !ok {
		return nil, fail(http.StatusUnauthorized, ExcUnauthorized, "an agent or admin bearer token is required")
	}
	s.mu.Lock()
	cb := s.callbacks[id]
	s.mu.Unlock()
	if cb == nil {
		return nil, fail(http.StatusNotFound, ExcNotFound, notFoundCallbackMsg, clip(id))
	}
	if admin {
		return cb, nil
	}
	may := false
	if err := s.n.View(r.Context(), func(st routing.View) { may = st.MayRead(agent, cb.id) }); err != nil {
		return nil, err
	}
	if !may {
		return nil, fail(http.StatusNotFound, ExcNotFound, notFoundCallbackMsg, clip(id))
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
