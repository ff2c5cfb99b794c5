package auth

import (
	"errors"
	"testing"
	"time"
)

// TestTickets: a ticket redeems once, to its bearer, for its scope only,
// until its TTL; reuse and expiry are told apart from an unknown ticket.
func TestTickets(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	a, err := New(Options{Secret: make([]byte, SecretBytes), Now: func() time.Time { return now }, TicketTTL: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tk, exp, err := a.MintTicket("conversation-events:c1", "bearer-1")
	if err != nil || !exp.Equal(now.Add(10*time.Second)) {
		t.Fatalf("mint: %v %v", exp, err)
	}
	if _, err := a.RedeemTicket(tk, "conversation-events:c2"); !errors.Is(err, ErrTicketInvalid) {
		t.Fatalf("other scope: %v", err)
	}
	if _, err := a.RedeemTicket("nope", "conversation-events:c1"); !errors.Is(err, ErrTicketInvalid) {
		t.Fatalf("unknown: %v", err)
	}
	b, err := a.RedeemTicket(tk, "conversation-events:c1") // the other scope did not use it up
	if err != nil || b != "bearer-1" {
		t.Fatalf("redeem: %q %v", b, err)
	}
	if _, err := a.RedeemTicket(tk, "conversation-events:c1"); !errors.Is(err, ErrTicketUsed) {
		t.Fatalf("reuse: %v", err)
	}

	tk2, _, _ := a.MintTicket("crm-connector", "bearer-2")
	now = now.Add(10 * time.Second)
	if _, err := a.RedeemTicket(tk2, "crm-connector"); !errors.Is(err, ErrTicketExpired) {
		t.Fatalf("expired: %v", err)
	}
	// A TTL later still, both are forgotten at the next mint.
	now = now.Add(10 * time.Second)
	if _, _, err := a.MintTicket("x", "y"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RedeemTicket(tk2, "crm-connector"); !errors.Is(err, ErrTicketInvalid) {
		t.Fatalf("forgotten: %v", err)
	}
	if n := len(a.tickets.m); n != 1 {
		t.Fatalf("%d tickets remembered, want 1", n)
	}
	if _, _, err := a.MintTicket("", "y"); !errors.Is(err, ErrTicketInvalid) {
		t.Fatalf("empty scope: %v", err)
	}
	if _, _, err := a.MintTicket("x", ""); !errors.Is(err, ErrTicketInvalid) {
		t.Fatalf("empty bearer: %v", err)
	}
}
