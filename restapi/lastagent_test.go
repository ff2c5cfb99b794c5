package restapi

import (
	"testing"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/routing"
)

// Last-agent routing over REST: lastAgentSeconds, lastAgentTimeoutSeconds
// and lastAgentCustomers on a queue are stored and read back; a
// conversation's customer id (the customer object's id) reaches the
// engine (as given: this server stores customer fields unsealed;
// erasure's TestRoutingID covers the pseudonym), the same for the same
// customer; out-of-range values are refused without a change.
func TestLastAgentREST(t *testing.T) {
	e := newEnv(t)
	a := adminToken
	var q config.QueueSpec
	e.ok(200, "PUT", "/v1/queues/sticky", a, `{"mrd":"chat","lastAgentSeconds":3600,"lastAgentTimeoutSeconds":20,"lastAgentCustomers":50}`).decode(t, &q)
	if q.LastAgentSeconds != 3600 || q.LastAgentTimeoutSeconds != 20 || q.LastAgentCustomers != 50 {
		t.Fatalf("stored queue %+v", q)
	}
	e.ok(200, "GET", "/v1/queues/sticky", a, "").decode(t, &q)
	if q.LastAgentSeconds != 3600 || q.LastAgentCustomers != 50 {
		t.Fatalf("GET queue %+v", q)
	}
	ids := map[string]string{}
	for i, body := range []string{
		`{"queue":"sticky","customer":{"id":"cust-7","name":"Ada"}}`,
		`{"queue":"sticky","customer":{"id":"cust-7"}}`,
		`{"queue":"sticky","customer":{"email":"bob@example.com"}}`,
		`{"queue":"sticky"}`,
	} {
		var c ConversationCreated
		e.ok(201, "POST", "/v1/conversations", a, body).decode(t, &c)
		var cv routing.Conversation
		e.ok(200, "GET", "/v1/conversations/"+c.ID, a, "").decode(t, &cv)
		ids[string(rune('0'+i))] = cv.CustomerID
	}
	if ids["0"] != "cust-7" || ids["1"] != "cust-7" || ids["2"] != "bob@example.com" || ids["3"] != "" {
		t.Fatalf("customer ids %v: want cust-7 twice, bob's email, none without a customer", ids)
	}
	d := e.digest()
	e.refused(400, "INVALID_ARGUMENT", "PUT", "/v1/queues/sticky", a, `{"mrd":"chat","lastAgentSeconds":-1}`)
	e.refused(400, "INVALID_ARGUMENT", "PUT", "/v1/queues/sticky", a, `{"mrd":"chat","lastAgentCustomers":1000001}`)
	e.refused(400, "INVALID_ARGUMENT", "PUT", "/v1/queues/sticky", a, `{"mrd":"chat","lastAgentTimeoutSeconds":31536001}`)
	if e.digest() != d {
		t.Fatal("a refused body changed the state")
	}
}
