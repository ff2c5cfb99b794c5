package presencesync

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/errcode"
)

// writeTicketErr answers a ticket that does not redeem: 401 with
// TICKET_USED, TICKET_EXPIRED or TICKET_INVALID.
func writeTicketErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, auth.ErrTicketUsed):
		writeErr(w, http.StatusUnauthorized, errcode.TicketUsed, "this ticket was used before; mint another")
	case errors.Is(err, auth.ErrTicketExpired):
		writeErr(w, http.StatusUnauthorized, errcode.TicketExpired, "this ticket has expired; mint another")
	default:
		writeErr(w, http.StatusUnauthorized, errcode.TicketInvalid, "unknown ticket, or a ticket for another use")
	}
}

// telephonyTicket is POST /presencesync/telephony/tickets: a telephony
// partner (its token in the header) mints a ticket for a browser-side
// softphone that opens GET /presencesync/telephony?ticket= (a browser's
// WebSocket cannot set headers). Answer 201 {"ticket","expiresAt","expiresIn"}.
func (s *Service) telephonyTicket(w http.ResponseWriter, r *http.Request) {
	tok := bearer(r)
	if s.telephonyPartnerOf(tok, "") == nil {
		writeErr(w, http.StatusUnauthorized, errcode.Unauthorized, "a telephony partner token is required")
		return
	}
	s.writeTicket(w, auth.ScopeTelephony, tok)
}

func (s *Service) writeTicket(w http.ResponseWriter, scope, tok string) {
	tk, exp, err := s.auth.MintTicket(scope, tok)
	if errors.Is(err, auth.ErrTooManyTickets) {
		w.Header().Set("Retry-After", "1")
		writeErr(w, http.StatusTooManyRequests, errcode.TooManyRequests, "too many live tickets; try again shortly")
		return
	}
	if err != nil {
		writeErr(w, http.StatusInternalServerError, errcode.Internal, "no ticket could be minted")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"ticket": tk, "expiresAt": exp.UTC().Format(time.RFC3339),
		"expiresIn": int(s.auth.TicketTTL().Seconds())})
}

// crmSession is POST /presencesync/crm/session {"ticket":"..."}: the CRM
// connector page was opened with ?ticket= (minted by the CRM's back end
// with the agent's token: POST /v1/tickets {"scope":"crm-connector"}) and
// exchanges it, once, for that token, which it then keeps in memory and
// sends in the Authorization header (report, events). Answer 200
// {"token","agent","expiresIn"} (seconds the token has left, absent for a
// token without expiry); 401 TICKET_* or UNAUTHORIZED (the token no longer
// verifies).
func (s *Service) crmSession(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Ticket string `json:"ticket"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, MaxBodyBytes)).Decode(&body); err != nil {
		writeErr(w, http.StatusBadRequest, errcode.InvalidJSON, err.Error())
		return
	}
	tok, err := s.auth.RedeemTicket(body.Ticket, auth.ScopeCRMConnector)
	if err != nil {
		writeTicketErr(w, err)
		return
	}
	p, err := s.auth.VerifyContext(r.Context(), tok)
	if err != nil {
		writeErr(w, http.StatusUnauthorized, errcode.Unauthorized, "the ticket's token is no longer valid")
		return
	}
	out := map[string]any{"token": tok, "agent": p.AgentID}
	if !p.Expiry.IsZero() {
		out["expiresIn"] = int(p.Expiry.Sub(s.clock.Now()).Seconds())
	}
	writeJSON(w, http.StatusOK, out)
}
