package restapi

import (
	"testing"
	"time"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/routing"
)

// Weighted capacity and preferred agents over REST: capacityUnits on an agent, capacityWeight on
// a queue and on a conversation are stored, read back, shown on the
// request, and out-of-range values are refused without a change.
func TestWeightedCapacityREST(t *testing.T) {
	e := newEnv(t)
	a := adminToken
	var q config.QueueSpec
	e.ok(200, "PUT", "/v1/queues/cases", a, `{"mrd":"chat","capacityWeight":5}`).decode(t, &q)
	if q.CapacityWeight != 5 {
		t.Fatalf("stored queue %+v", q)
	}
	var ag config.AgentSpec
	e.ok(200, "PUT", "/v1/agents/weighted", a, `{"capacityUnits":6}`).decode(t, &ag)
	if ag.CapacityUnits != 6 {
		t.Fatalf("stored agent %+v", ag)
	}
	e.ok(200, "GET", "/v1/agents/weighted", a, "").decode(t, &ag)
	if ag.CapacityUnits != 6 {
		t.Fatalf("GET agent %+v", ag)
	}
	var c1, c2 ConversationCreated
	e.ok(201, "POST", "/v1/conversations", a, `{"queue":"cases"}`).decode(t, &c1)
	e.ok(201, "POST", "/v1/conversations", a, `{"queue":"cases","capacityWeight":2}`).decode(t, &c2)
	for c, want := range map[string]int{c1.ID: 5, c2.ID: 2} {
		var cv routing.Conversation
		e.ok(200, "GET", "/v1/conversations/"+c, a, "").decode(t, &cv)
		if cv.CapacityWeight != want || cv.Request == nil || cv.Request.CapacityWeight != want {
			t.Fatalf("conversation %s: %+v, want weight %d", c, cv, want)
		}
	}
	var c3 ConversationCreated
	e.ok(201, "POST", "/v1/conversations", a, `{"queue":"cases","preferredAgents":["weighted","alice"],"preferredTimeoutSeconds":15}`).decode(t, &c3)
	var cv3 routing.Conversation
	e.ok(200, "GET", "/v1/conversations/"+c3.ID, a, "").decode(t, &cv3)
	if cv3.Request == nil || len(cv3.Request.PreferredAgents) != 2 || cv3.Request.PreferredAgents[0] != "weighted" ||
		!cv3.Request.PreferredUntil.Equal(cv3.CreatedAt.Add(15*time.Second)) {
		t.Fatalf("preferred: %+v", cv3.Request)
	}
	d := e.digest()
	e.refused(400, "INVALID_ARGUMENT", "POST", "/v1/conversations", a, `{"queue":"cases","preferredAgents":["alice","alice"]}`)
	e.refused(400, "INVALID_ARGUMENT", "POST", "/v1/conversations", a, `{"queue":"cases","preferredTimeoutSeconds":5}`)
	e.refused(400, "INVALID_ARGUMENT", "PUT", "/v1/queues/cases", a, `{"mrd":"chat","capacityWeight":1001}`)
	e.refused(400, "INVALID_ARGUMENT", "PUT", "/v1/agents/weighted", a, `{"capacityUnits":-1}`)
	e.refused(400, "INVALID_ARGUMENT", "POST", "/v1/conversations", a, `{"queue":"cases","capacityWeight":1001}`)
	if e.digest() != d {
		t.Fatal("a refused body changed the state")
	}
}
