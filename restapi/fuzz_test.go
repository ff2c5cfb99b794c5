package restapi

import (
	"testing"
)

// fuzzBody feeds arbitrary bodies to one route and asserts the API's
// contract for bad input: never a 5xx, and a 4xx changes nothing. The
// environment is rebuilt every 500 inputs so accepted bodies do not grow the
// state (and the digest's cost) without bound.
func fuzzBody(f *testing.F, method, path string, token func(*env) string, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add(``)
	f.Add(`{}`)
	f.Add(`null`)
	f.Add(`[]`)
	f.Add(`{"id":"x"} trailing`)
	f.Add(`{"unknown":1}`)
	e := openEnv(f)
	f.Cleanup(func() { e.node.Close() })
	runs := 0
	f.Fuzz(func(t *testing.T, body string) {
		if runs++; runs%500 == 0 {
			e.node.Close()
			e = openEnv(t)
		}
		e.t = t
		before := e.digest()
		r := e.do(method, path, token(e), body, "Content-Type", "application/json")
		if r.status >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, r.status, r.body)
		}
		if r.status >= 400 {
			if r.errorCode() == "" {
				t.Fatalf("%d without an error code: %s", r.status, r.body)
			}
			if e.digest() != before {
				t.Fatalf("%s %s %q: refused with %d but the state changed", method, path, body, r.status)
			}
		}
	})
}

func admin(*env) string { return adminToken }

func FuzzConversationBody(f *testing.F) {
	fuzzBody(f, "POST", "/v1/conversations", admin,
		`{"queue":"sales","mrd":"chat","priority":5,"customer":{"name":"C"},"attributes":{"k":"v"},"ttlSeconds":60}`,
		`{"queue":"support","mrd":"chat"}`,
		`{"queue":"sales","priority":-1}`,
		`{"queue":"sales","ttlSeconds":1e308}`,
		`{"queue":"sales","customer":"x"}`,
		`{"queue":"sales","customer":null,"attributes":null}`,
		`{"queue":"nope"}`,
		`{"QUEUE":"sales"}`,
		`{"queue":"sales","capacityWeight":3}`, `{"queue":"sales","preferredAgents":["alice","bob"],"preferredTimeoutSeconds":20}`,
		`{"queue":"sales","preferredAgents":["alice","alice"]}`, `{"queue":"sales","preferredTimeoutSeconds":5}`, `{"queue":"sales","capacityWeight":1001}`, `{"queue":"sales","capacityWeight":-1}`,
		`{"queue":"sales","customer":{"id":"cust-1"}}`, `{"queue":"sales","customer":{"customerId":12345}}`, `{"queue":"sales","customer":{"id":""}}`,
	)
}

func FuzzAgentStateBody(f *testing.F) {
	fuzzBody(f, "PUT", "/v1/agents/alice/state", func(e *env) string { return e.tokens["alice"] },
		`{"state":"READY"}`, `{"state":"NOT_READY","reasonCode":"lunch"}`, `{"state":"LOGOUT","reasonCode":"eos"}`,
		`{"state":"NOT_READY","reasonCode":"eos"}`, `{"state":"READY","reasonCode":"lunch"}`, `{"state":7}`)
}

func FuzzMRDStateBody(f *testing.F) {
	fuzzBody(f, "PUT", "/v1/agents/alice/mrds/chat/state", func(e *env) string { return e.tokens["alice"] },
		`{"state":"READY"}`, `{"state":"NOT_READY"}`, `{"state":"BUSY"}`)
}

func FuzzMRDBody(f *testing.F) {
	fuzzBody(f, "PUT", "/v1/mrds/fuzz", admin,
		`{"id":"fuzz","name":"F","description":"d","interruptible":true,"maxRequests":3}`,
		`{"maxRequests":101}`, `{"id":"other"}`, `{"name":"\u0000"}`)
}

func FuzzQueueBody(f *testing.F) {
	fuzzBody(f, "PUT", "/v1/queues/fuzz", admin,
		`{"id":"fuzz","mrd":"chat","mode":"external","strategy":"best-skill","skills":{"a":5},"members":["alice"],"ronaTimeoutSeconds":1.5,"ttlSeconds":0,"serviceLevelSeconds":20,"wrapUpSeconds":3,"ronaAction":"NONE"}`,
		`{"mrd":"sms"}`, `{"mrd":"chat","ttlSeconds":-0.0}`, `{"mrd":"chat","wrapUpSeconds":31536000.5}`,
		`{"mrd":"chat","skills":{"":1}}`, `{"mrd":"chat","members":[""]}`,
		`{"mrd":"chat","steps":[{"afterSeconds":30,"skills":{"a":1},"addQueues":["chat-q"],"priority":2},{"afterSeconds":60,"skills":{}}]}`,
		`{"mrd":"chat","steps":[{"afterSeconds":30},{"afterSeconds":30}]}`, `{"mrd":"chat","steps":[{"afterSeconds":1,"addQueues":["fuzz"]}]}`,
		`{"mrd":"chat","steps":[{"afterSeconds":1,"skills":null,"priority":-1}]}`,
		`{"mrd":"chat","hours":{"timeZone":"Europe/Berlin","weekly":[{"day":"sunday","open":"02:30","close":"24:00"}],"closures":["2025-12-25"],"closedAction":"queue"}}`,
		`{"mrd":"chat","hours":{"timeZone":"America/New_York","closedAction":"overflow","closedOverflowQueue":"chat-q"}}`,
		`{"mrd":"chat","hours":{"timeZone":"../../etc/passwd","weekly":[{"day":"monday","open":"9:00","close":"24:01"}]}}`,
		`{"mrd":"chat","capacityWeight":2}`, `{"mrd":"chat","offerToAgents":3}`, `{"mrd":"chat","offerToAgents":11}`, `{"mrd":"chat","capacityWeight":1001}`, `{"mrd":"chat","capacityWeight":"2"}`,
		`{"mrd":"chat","lastAgentSeconds":3600,"lastAgentTimeoutSeconds":20,"lastAgentCustomers":2}`, `{"mrd":"chat","lastAgentCustomers":1000001}`, `{"mrd":"chat","lastAgentSeconds":-5}`)
}

func FuzzAgentBody(f *testing.F) {
	fuzzBody(f, "PUT", "/v1/agents/fuzz", admin,
		`{"id":"fuzz","name":"F","role":"supervisor","teams":["t"],"skills":{"s":100},"capacity":{"chat":0,"voice":1}}`,
		`{"capacity":{"sms":1}}`, `{"capacity":{"chat":-1}}`, `{"password":"x"}`, `{"role":"admin"}`,
		`{"capacityUnits":10}`, `{"capacityUnits":-1}`, `{"capacityUnits":1001}`)
}

func FuzzReasonCodeBody(f *testing.F) {
	fuzzBody(f, "PUT", "/v1/reason-codes/fuzz", admin,
		`{"id":"fuzz","name":"F","type":"LOGOUT"}`, `{"type":"NOT_READY"}`, `{"type":"READY"}`)
}

func FuzzRequestPatchBody(f *testing.F) {
	fuzzBody(f, "PATCH", "/v1/requests/fuzz", admin, `{"priority":3}`, `{"priority":-1}`, `{"priority":1000001}`, `{}`, `{"priority":null}`, `{"priority":1,"x":2}`)
}
