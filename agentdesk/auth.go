package agentdesk

import (
	"strings"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/omniroute/omniroute/routing"
)

// MaxTokenBytes bounds a bearer token; a longer one is refused with
// CodeUnauthorized without calling the TokenVerifier.
const MaxTokenBytes = 16 << 10

// connectError builds the connect_error the client receives:
// {"message": message, "data": {"code": code, "message": message}}.
func connectError(code, message string) *socket.ExtendedError {
	return socket.NewExtendedError(message, map[string]any{"code": code, "message": message})
}

// bearerToken finds the token: auth.token, auth.agent.token,
// auth.agent.access_token, the Authorization: Bearer header, the query
// parameter token; the first non-empty one wins.
func bearerToken(hs *socket.Handshake) string {
	auth := hs.Auth
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
	if h := hs.Headers.Header().Get("Authorization"); h != "" {
		if scheme, t, ok := strings.Cut(strings.TrimSpace(h), " "); ok && strings.EqualFold(scheme, "Bearer") {
			if t = strings.TrimSpace(t); t != "" {
				return t
			}
		}
	}
	for _, t := range hs.Query.Query()["token"] {
		if t != "" {
			return t
		}
	}
	return ""
}

// namedAgents returns the agent ids auth.agent may name: a string id, or
// the "id" and "username" of a keycloak user object. None when auth.agent is
// absent or names nobody.
func namedAgents(auth map[string]any) []string {
	switch a := auth["agent"].(type) {
	case string:
		if a != "" {
			return []string{a}
		}
	case map[string]any:
		var out []string
		for _, k := range []string{"id", "username"} {
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
func (s *Server) authenticate(sock *socket.Socket, next func(*socket.ExtendedError)) {
	hs := sock.Handshake()
	refuse := func(code, message string, attrs ...any) {
		s.log.Info("agentdesk: connection refused", append([]any{"code", code, "reason", message, "address", hs.Address}, attrs...)...)
		next(connectError(code, message))
	}
	token := bearerToken(hs)
	if token == "" {
		refuse(CodeUnauthorized, "no bearer token: send auth.token or an Authorization: Bearer header")
		return
	}
	if len(token) > MaxTokenBytes {
		refuse(CodeUnauthorized, "bearer token too long")
		return
	}
	agent, err := s.verify(token)
	if err != nil || agent == "" {
		refuse(CodeUnauthorized, "invalid bearer token", "err", err)
		return
	}
	if names := namedAgents(hs.Auth); len(names) > 0 {
		match := false
		for _, n := range names {
			match = match || n == agent
		}
		if !match {
			refuse(CodeAgentMismatch, "auth.agent does not name the agent of the token", "agent", agent, "named", names)
			return
		}
	}
	ctx, cancel := s.commandCtx()
	defer cancel()
	exists := false
	if err := s.n.View(ctx, func(st *routing.State) { _, exists = st.Agent(agent) }); err != nil {
		refuse(CodeUnavailable, "the routing engine is not available", "err", err)
		return
	}
	if !exists {
		refuse(CodeUnknownAgent, "agent "+agent+" is not configured", "agent", agent)
		return
	}
	if max := s.opts.MaxSocketsPerAgent; max > 0 && s.socketCount(agent) >= max {
		refuse(CodeTooManySockets, "too many connections for this agent", "agent", agent)
		return
	}
	sock.SetData(agent)
	next(nil)
}
