package gms_test

import (
	"strings"
	"testing"

	"github.com/omniroute/omniroute/gms"
	"github.com/omniroute/omniroute/routing"
)

// A callback create on a queue outside its business hours (closedAction
// reject) is refused by the engine's rule with a GMS error naming the
// closed queue, and nothing is created.
func TestCreateOnClosedQueue(t *testing.T) {
	e := newEnv(t)
	// The env's clock is Saturday 2025-03-01 09:00 UTC: a weekday-only
	// queue is closed.
	e.submit(routing.UpsertQueue{Queue: routing.Queue{ID: "chat-support", Name: "Support", MRD: "chat", Skills: map[string]int{"support": 10},
		Hours: &routing.BusinessHours{TimeZone: "Europe/Berlin", Weekly: []routing.OpenInterval{{Day: "monday", Open: "09:00", Close: "17:00"}}}}})
	const bd = "xYz"
	before := e.digest()
	body := multipart(bd, "_customer_number", "4082652649", "_device_notification_id", seedUser, "_device_os", "comet")
	r := e.do("POST", "/genesys/1/service/callback/chat-delay", "multipart/form-data; boundary="+bd, body, "gms_user", seedUser)
	m := r.json(t)
	if r.status != 409 || m["exception"] != gms.ExcConflict || !strings.Contains(m["message"].(string), `queue "chat-support" is closed`) {
		t.Fatalf("create on a closed queue: %d %s", r.status, r.body)
	}
	if e.digest() != before {
		t.Fatal("the refused create changed the state")
	}
}
