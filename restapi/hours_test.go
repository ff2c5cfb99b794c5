package restapi

import (
	"testing"
	"time"
)

// Business hours over REST: GET /v1/queues/{id} says whether the queue is
// open at the node's clock (Saturday 2025-03-01 09:00 UTC) and when that
// changes; a create on a closed reject queue is refused 409 QUEUE_CLOSED
// and changes nothing; a bad time zone is 400.
func TestQueueHoursREST(t *testing.T) {
	e := newEnv(t)
	a := adminToken
	e.ok(200, "PUT", "/v1/queues/office", a,
		`{"mrd":"chat","hours":{"timeZone":"Europe/Berlin","weekly":[{"day":"monday","open":"09:00","close":"17:00"}]}}`)
	e.ok(200, "PUT", "/v1/queues/weekend", a,
		`{"mrd":"chat","hours":{"timeZone":"Europe/Berlin","weekly":[{"day":"saturday","open":"09:00","close":"12:00"}],"closedAction":"queue"}}`)
	var got struct {
		Open      bool      `json:"open"`
		NextOpen  time.Time `json:"nextOpen"`
		NextClose time.Time `json:"nextClose"`
		Hours     struct {
			ClosedAction string `json:"closedAction"`
		} `json:"hours"`
	}
	e.ok(200, "GET", "/v1/queues/office", a, "").decode(t, &got)
	if got.Open || !got.NextOpen.Equal(time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)) || got.Hours.ClosedAction != "reject" {
		t.Fatalf("office %+v", got)
	}
	got.NextOpen = time.Time{}
	e.ok(200, "GET", "/v1/queues/weekend", a, "").decode(t, &got)
	if !got.Open || !got.NextClose.Equal(time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC)) || !got.NextOpen.IsZero() {
		t.Fatalf("weekend %+v", got)
	}
	d := e.digest()
	e.refused(409, "QUEUE_CLOSED", "POST", "/v1/conversations", a, `{"queue":"office"}`)
	e.refused(400, "INVALID_ARGUMENT", "PUT", "/v1/queues/office", a, `{"mrd":"chat","hours":{"timeZone":"Mars/Olympus"}}`)
	if e.digest() != d {
		t.Fatal("a refused request changed the state")
	}
	e.ok(201, "POST", "/v1/conversations", a, `{"queue":"weekend"}`)
}
