package restapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/errcode"
	"github.com/omniroute/omniroute/routing"
)

// TicketRequest is POST /v1/tickets:
//
//	{"scope":"conversation-events","conversation":"c1"}  an admin, or the channel that created c1
//	{"scope":"crm-connector"}                            an agent (or admin): the CRM connector page
//
// TicketResponse answers it: {"ticket":"...","expiresAt":"2026-...Z","expiresIn":30}.
// The ticket goes in the URL of the one request that cannot carry an
// Authorization header (EventSource, an iframe): ?ticket=. It is single
// use and short-lived (auth.DefaultTicketTTL); a reconnecting EventSource
// mints another (the browser's own retry reuses the URL and gets 401
// TICKET_USED, which ends that EventSource).
type TicketRequest struct {
	Scope        string `json:"scope"`
	Conversation string `json:"conversation,omitempty"`
}

// TicketResponse is POST /v1/tickets's answer; ExpiresIn is in seconds.
type TicketResponse struct {
	Ticket    string `json:"ticket"`
	ExpiresAt string `json:"expiresAt"`
	ExpiresIn int    `json:"expiresIn"`
}

// Ticket scopes as POST /v1/tickets names them.
const (
	TicketScopeConversationEvents = "conversation-events"
	TicketScopeCRMConnector       = auth.ScopeCRMConnector
)

func (s *api) mintTicket(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req TicketRequest
	if err := decodeBody(w, r, MaxBodyBytes, &req, false); err != nil {
		return err
	}
	var scope string
	switch req.Scope {
	case TicketScopeConversationEvents:
		if req.Conversation == "" {
			return errorf(http.StatusBadRequest, routing.CodeInvalidArgument, "conversation is required for scope %s", req.Scope)
		}
		if p.Kind != auth.Admin && p.Kind != auth.ChannelKind {
			return errorf(http.StatusForbidden, CodeForbidden, "the customer event stream is for an admin or the conversation's channel")
		}
		if err := s.channelMay(r, p, req.Conversation); err != nil {
			return err
		}
		scope = auth.ScopeConversationEvents(req.Conversation)
	case TicketScopeCRMConnector:
		if p.Kind != auth.Agent && p.Kind != auth.Admin {
			return errorf(http.StatusForbidden, CodeForbidden, "the CRM connector takes an agent's token")
		}
		scope = auth.ScopeCRMConnector
	default:
		return errorf(http.StatusBadRequest, routing.CodeInvalidArgument, "scope must be %s or %s, not %q",
			TicketScopeConversationEvents, TicketScopeCRMConnector, req.Scope)
	}
	tk, exp, err := s.auth.MintTicket(scope, bearerOf(r))
	if errors.Is(err, auth.ErrTooManyTickets) {
		w.Header().Set("Retry-After", "1")
		return errorf(http.StatusTooManyRequests, CodeTooManyRequests, "too many live tickets; try again shortly")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, TicketResponse{Ticket: tk, ExpiresAt: exp.UTC().Format(time.RFC3339),
		ExpiresIn: int(s.auth.TicketTTL().Seconds())})
	return nil
}

// bearerOf is the token of r's Authorization: Bearer header ("" without).
func bearerOf(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// ticketError is the refusal of a ticket that does not redeem.
func ticketError(err error) error {
	switch {
	case errors.Is(err, auth.ErrTicketUsed):
		return errorf(http.StatusUnauthorized, errcode.TicketUsed, "this ticket was used before; mint another (POST /v1/tickets)")
	case errors.Is(err, auth.ErrTicketExpired):
		return errorf(http.StatusUnauthorized, errcode.TicketExpired, "this ticket has expired; mint another (POST /v1/tickets)")
	default:
		return errorf(http.StatusUnauthorized, errcode.TicketInvalid, "unknown ticket, or a ticket for another stream")
	}
}

// withTicket turns r's ?ticket= into the Authorization header it stands
// for, on a route that takes tickets (scope says for what), when r has no
// Authorization header. The route then verifies the token as usual.
func (s *api) withTicket(r *http.Request, scope func(*http.Request) string) (*http.Request, error) {
	if scope == nil || r.Header.Get("Authorization") != "" || !r.URL.Query().Has("ticket") {
		return r, nil
	}
	bearer, err := s.auth.RedeemTicket(r.URL.Query().Get("ticket"), scope(r))
	if err != nil {
		return r, ticketError(err)
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+bearer)
	return r, nil
}
