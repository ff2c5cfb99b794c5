package restapi

import (
	"reflect"
	"testing"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/routing"
)

// A queue's escalation steps go in and come back out over /v1 (seconds,
// nil skills apart from {}), and the engine's refusals come back as errors
// that change nothing.
func TestQueueStepsREST(t *testing.T) {
	e := newEnv(t)
	a := adminToken
	var q config.QueueSpec
	e.ok(200, "PUT", "/v1/queues/sales", a,
		`{"mrd":"chat","skills":{"sales":10},"steps":[{"afterSeconds":30,"skills":{"sales":1}},{"afterSeconds":60.5,"addQueues":["later"],"priority":2},{"afterSeconds":90,"skills":{}}]}`).decode(t, &q)
	want := []config.StepSpec{{AfterSeconds: 30, Skills: map[string]int{"sales": 1}},
		{AfterSeconds: 60.5, AddQueues: []string{"later"}, Priority: 2}, {AfterSeconds: 90, Skills: map[string]int{}}}
	if !reflect.DeepEqual(q.Steps, want) {
		t.Fatalf("stored steps %+v, want %+v", q.Steps, want)
	}
	var got config.QueueSpec
	e.ok(200, "GET", "/v1/queues/sales", a, "").decode(t, &got)
	if !reflect.DeepEqual(got.Steps, want) {
		t.Fatalf("GET steps %+v", got.Steps)
	}
	d := e.digest()
	e.refused(400, "INVALID_ARGUMENT", "PUT", "/v1/queues/sales", a, `{"mrd":"chat","steps":[{"afterSeconds":30},{"afterSeconds":20}]}`)
	// support is on voice: a chat queue cannot add it (the engine knows).
	e.refused(400, "INVALID_ARGUMENT", "PUT", "/v1/queues/sales", a, `{"mrd":"chat","steps":[{"afterSeconds":30,"addQueues":["support"]}]}`)
	if e.digest() != d {
		t.Fatal("a refused queue changed the state")
	}
}

// PATCH /v1/requests/{id} changes a waiting request's priority in place:
// it keeps its enqueue time and goes ahead of a later one of lower
// priority; bad bodies and unknown requests change nothing.
func TestPatchRequestPriority(t *testing.T) {
	e := newEnv(t)
	a := adminToken
	var c1, c2 ConversationCreated
	e.ok(201, "POST", "/v1/conversations", a, `{"queue":"support"}`).decode(t, &c1)
	e.ok(201, "POST", "/v1/conversations", a, `{"queue":"support","priority":1}`).decode(t, &c2)
	var pos PositionBody
	e.ok(200, "GET", "/v1/requests/"+c1.RequestID+"/position", a, "").decode(t, &pos)
	if pos.Position != 2 {
		t.Fatalf("before: %+v", pos)
	}
	var before, after routing.Request
	e.ok(200, "GET", "/v1/conversations/"+c1.ID, a, "")
	var cv routing.Conversation
	e.ok(200, "GET", "/v1/conversations/"+c1.ID, a, "").decode(t, &cv)
	before = *cv.Request
	e.ok(200, "PATCH", "/v1/requests/"+c1.RequestID, a, `{"priority":2}`).decode(t, &after)
	if after.Priority != 2 || after.BasePriority != 2 || !after.EnqueuedAt.Equal(before.EnqueuedAt) {
		t.Fatalf("after PATCH %+v (before %+v)", after, before)
	}
	e.ok(200, "GET", "/v1/requests/"+c1.RequestID+"/position", a, "").decode(t, &pos)
	if pos.Position != 1 {
		t.Fatalf("after: %+v", pos)
	}
	d := e.digest()
	e.refused(400, "INVALID_ARGUMENT", "PATCH", "/v1/requests/"+c1.RequestID, a, `{}`)
	e.refused(400, "INVALID_ARGUMENT", "PATCH", "/v1/requests/"+c1.RequestID, a, `{"priority":-1}`)
	e.refused(404, "REQUEST_NOT_FOUND", "PATCH", "/v1/requests/nope", a, `{"priority":1}`)
	e.refused(403, "FORBIDDEN", "PATCH", "/v1/requests/"+c1.RequestID, e.tokens["alice"], `{"priority":1}`)
	if e.digest() != d {
		t.Fatal("a refused PATCH changed the state")
	}
}
