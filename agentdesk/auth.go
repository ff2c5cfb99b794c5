package agentdesk

import (
	"encoding/json"
	"strings"

	"github.com/omniroute/omniroute/routing"
	"github.com/omniroute/omniroute/socketio"
)

// MaxTokenBytes bounds a bearer token; a longer one is refused with
// CodeUnauthorized without calling the TokenVerifier.
const MaxTokenBytes = 16 << 10

// connectError builds the connect_error the client receives:
// {"message": message, "data": {"code": code, "message": message}}.
func connectError(code, message string) *socketio.ConnectError {
	return &socketio.ConnectError{Message: message, Data: map[string]any{"code": code, "message": message}}
}

// bearerToken finds the token: auth.token, auth.agent.token,
// auth.agent.access_token, the Authorization: Bearer header; the first
// non-empty one wins. Never the query string: URLs end up in proxy and
// access logs and in Referer headers (docs/SECURITY.md).
func bearerToken(hs *socketio.Handshake, auth map[string]any) string {
	if t, ok := auth["token"].(string); ok && t != "" {
		return t
	}
	if a, ok := auth["agent"].(map[string]any); ok {
		for _, k := range []string{"token", "access_token"} {
			if t, ok := a[k].(string); ok && t != "" {
				return t
			}
		}
	}
	if h := hs.Header.Get("Authorization"); h != "" {
		if scheme, t, ok := strings.Cut(strings.TrimSpace(h), " "); ok && strings.EqualFold(scheme, "Bearer") {
			if t = strings.TrimSpace(t); t != "" {
				return t
			}
		}
	}
	return ""
}

// namedAgents returns the agent ids auth.agent may name: a string id, or
// the "id", "username" and "agentId" of an object (the login's
// keycloak_User, or the login's whole data). None when auth.agent is
// absent or names nobody.
func namedAgents(auth map[string]any) []string {
	switch a := auth["agent"].(type) {
	case string:
		if a != "" {
			return []string{a}
		}
	case map[string]any:
		var out []string
		for _, k := range []string{"id", "username", "agentId"} {
			if v, ok := a[k].(string); ok && v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	return nil
}

// authenticate is the namespace middleware; it runs once per connection on
// the goroutine that decoded the CONNECT packet. On success the socket's
// data is the agent id.
func (s *Server) authenticate(sock *socketio.Socket) error {
	hs := sock.Handshake()
	refuse := func(code, message string, attrs ...any) error {
		s.log.Info("agentdesk: connection refused", append([]any{"code", code, "reason", message, "address", hs.Address}, attrs...)...)
		return connectError(code, message)
	}
	var auth map[string]any
	_ = json.Unmarshal(hs.Auth, &auth) // an object, or nothing usable
	token := bearerToken(hs, auth)
	if token == "" {
		return refuse(CodeUnauthorized, "no bearer token: send auth.token or an Authorization: Bearer header")
	}
	if len(token) > MaxTokenBytes {
		return refuse(CodeUnauthorized, "bearer token too long")
	}
	agent, exp, err := s.verifyToken(token)
	if err != nil || agent == "" {
		return refuse(CodeUnauthorized, "invalid bearer token", "err", err)
	}
	if names := namedAgents(auth); len(names) > 0 {
		match := false
		for _, n := range names {
			match = match || n == agent
		}
		if !match {
			return refuse(CodeAgentMismatch, "auth.agent does not name the agent of the token", "agent", agent, "named", names)
		}
	}
	ctx, cancel := s.commandCtx()
	defer cancel()
	exists := false
	if err := s.n.View(ctx, func(st routing.View) { _, exists = st.Agent(agent) }); err != nil {
		return refuse(CodeUnavailable, "the routing engine is not available", "err", err)
	}
	if !exists {
		return refuse(CodeUnknownAgent, "agent "+agent+" is not configured", "agent", agent)
	}
	if max := s.opts.MaxSocketsPerAgent; max > 0 && s.socketCount(agent) >= max {
		return refuse(CodeTooManySockets, "too many connections for this agent", "agent", agent)
	}
	fcm, _ := auth["fcm"].(string)
	if len(fcm) > MaxTokenBytes {
		fcm = ""
	}
	sock.SetData(identity{agent: agent, fcm: fcm, exp: exp})
	return nil
}
