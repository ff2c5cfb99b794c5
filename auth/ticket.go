package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"sync"
	"time"
)

// Tickets stand in for an Authorization header where a browser API cannot
// send one (EventSource, WebSocket, an iframe's URL): a caller that holds a
// bearer token mints a ticket with that token in the header, and hands the
// ticket to the page, which puts it in the URL (?ticket=). A ticket is
// short-lived (Options.TicketTTL, default DefaultTicketTTL), single-use,
// and bound to one scope (what it opens, e.g. "conversation-events:<id>"):
// redeeming it gives back the bearer token it was minted with, which the
// route then verifies as if it had come in the header (so a token revoked
// in between is still refused). Tickets live in the memory of the node that
// minted them.
var (
	// ErrTicketInvalid: not a ticket this node minted, or minted for
	// another scope (errcode.TicketInvalid).
	ErrTicketInvalid = errors.New("auth: unknown ticket, or a ticket for another use")
	// ErrTicketExpired: the ticket's TTL has passed (errcode.TicketExpired).
	ErrTicketExpired = errors.New("auth: ticket expired")
	// ErrTicketUsed: the ticket was redeemed before (errcode.TicketUsed).
	ErrTicketUsed = errors.New("auth: ticket already used")
	// ErrTooManyTickets: MaxTickets are live; minting waits for some to
	// expire (errcode.TooManyRequests).
	ErrTooManyTickets = errors.New("auth: too many live tickets")
)

const (
	// DefaultTicketTTL is a ticket's lifetime: long enough for a page to
	// open its stream, short enough that one copied from a log is dead.
	DefaultTicketTTL = 30 * time.Second
	// MaxTickets bounds the tickets a node remembers (live ones, and
	// redeemed or expired ones for one more TTL so that a second use is
	// told TICKET_USED or TICKET_EXPIRED rather than TICKET_INVALID).
	MaxTickets = 100_000
	// MaxTicketScopeBytes bounds a scope string.
	MaxTicketScopeBytes = 256
	ticketBytes         = 32
)

type ticketEntry struct {
	scope, bearer string
	exp           time.Time
	used          bool
}

type tickets struct {
	mu    sync.Mutex
	m     map[string]*ticketEntry
	order []string // minting order; with one TTL, also expiry order
	ttl   time.Duration
}

// sweepLocked forgets tickets a TTL past their expiry.
func (t *tickets) sweepLocked(now time.Time) {
	n := 0
	for ; n < len(t.order); n++ {
		e := t.m[t.order[n]]
		if e != nil && now.Before(e.exp.Add(t.ttl)) {
			break
		}
		delete(t.m, t.order[n])
	}
	t.order = t.order[n:]
}

// TicketTTL is how long a minted ticket stays valid.
func (a *Authenticator) TicketTTL() time.Duration { return a.tickets.ttl }

// MintTicket returns a new single-use ticket for scope that redeems to
// bearer, and its expiry. The caller has verified bearer (it came in the
// Authorization header) and decided that its principal may open scope.
// Errors: ErrTooManyTickets; ErrTicketInvalid for an empty or over-long
// scope or an empty bearer.
func (a *Authenticator) MintTicket(scope, bearer string) (string, time.Time, error) {
	if scope == "" || len(scope) > MaxTicketScopeBytes || bearer == "" {
		return "", time.Time{}, ErrTicketInvalid
	}
	var b [ticketBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", time.Time{}, err
	}
	tk := base64.RawURLEncoding.EncodeToString(b[:])
	t := &a.tickets
	now := a.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweepLocked(now)
	if len(t.m) >= MaxTickets {
		return "", time.Time{}, ErrTooManyTickets
	}
	if t.m == nil {
		t.m = map[string]*ticketEntry{}
	}
	exp := now.Add(t.ttl)
	t.m[tk] = &ticketEntry{scope: scope, bearer: bearer, exp: exp}
	t.order = append(t.order, tk)
	return tk, exp, nil
}

// RedeemTicket uses ticket for scope and returns the bearer token it was
// minted with. Errors: ErrTicketInvalid (unknown, or another scope: the
// ticket is then not used up), ErrTicketExpired, ErrTicketUsed.
func (a *Authenticator) RedeemTicket(ticket, scope string) (string, error) {
	t := &a.tickets
	now := a.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.m[ticket]
	switch {
	case e == nil || e.scope != scope:
		return "", ErrTicketInvalid
	case e.used:
		return "", ErrTicketUsed
	case !now.Before(e.exp):
		return "", ErrTicketExpired
	}
	e.used = true
	return e.bearer, nil
}

// Ticket scopes: what a ticket opens.
const (
	// ScopeCRMConnector: the CRM connector page (presencesync, seed 002)
	// exchanges its ?ticket= for the agent's token, POST
	// /presencesync/crm/session.
	ScopeCRMConnector = "crm-connector"
	// ScopeTelephony: the telephony presence-sync websocket,
	// GET /presencesync/telephony?ticket=.
	ScopeTelephony = "presencesync-telephony"
)

// ScopeConversationEvents is the scope of GET
// /v1/conversations/{id}/events?ticket= for conversation id.
func ScopeConversationEvents(id string) string { return "conversation-events:" + id }
