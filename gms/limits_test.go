package gms_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/omniroute/omniroute/gms"
)

// createStatus posts a valid start-callback for user and returns the status.
func (e *env) createStatus(user string) int {
	e.t.Helper()
	const bd = "----bd"
	body := multipart(bd, "_customer_number", "4082652649", "_device_os", "comet")
	return e.do("POST", "/genesys/1/service/callback/chat-delay", "multipart/form-data; boundary="+bd, body, "gms_user", user).status
}

// TestCreateRates: start-callback is rated per gms_user (a burst of
// CreatePerUserBurst, then 429 with Retry-After) and per client address
// (CreatePerAddressBurst), and the tokens come back with time.
func TestCreateRates(t *testing.T) {
	e := newEnv(t)
	for i := range gms.CreatePerUserBurst {
		if s := e.createStatus("device-1"); s != 200 {
			t.Fatalf("create %d: %d", i, s)
		}
	}
	r := e.do("POST", "/genesys/1/service/callback/chat-delay", "multipart/form-data; boundary=b", multipart("b", "_customer_number", "1"), "gms_user", "device-1")
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("over the per-user burst: %d %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	e.clock.Advance(time.Minute) // refills both buckets
	if s := e.createStatus("device-1"); s != 200 {
		t.Fatalf("after a minute: %d", s)
	}
	e.clock.Advance(time.Minute)
	for i := range gms.CreatePerAddressBurst {
		if s := e.createStatus(fmt.Sprintf("flood-%d", i)); s != 200 {
			t.Fatalf("address burst %d: %d", i, s)
		}
	}
	if s := e.createStatus("one-more-device"); s != 429 {
		t.Fatalf("over the per-address burst: %d", s)
	}
	e.clock.Advance(time.Second)
	if s := e.createStatus("one-more-device"); s != 200 {
		t.Fatalf("a second later: %d", s)
	}
}

// TestServiceMaxLive: a service's own cap on waiting callbacks answers 503
// beyond it.
func TestServiceMaxLive(t *testing.T) {
	spec := chatDelay()
	spec.MaxLiveCallbacks = 2
	e := newEnv(t, spec)
	for i := range 2 {
		if s := e.createStatus(fmt.Sprintf("d-%d", i)); s != 200 {
			t.Fatalf("create %d: %d", i, s)
		}
	}
	if s := e.createStatus("d-2"); s != 503 {
		t.Fatalf("over the service's cap: %d", s)
	}
}
