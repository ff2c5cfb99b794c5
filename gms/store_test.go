package gms_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/omniroute/omniroute/gms"
	"github.com/omniroute/omniroute/routing"
)

// A re-adopted callback keeps its owner, state, flags and pending
// notifications in both directions; retrieving them is durable.
func TestStoreReadopts(t *testing.T) {
	store := &gms.MemStore{}
	e := newEnvStore(t, store)
	id := e.create("dev-2", "customhttp") // no pusher: notifications wait
	e.ready("alice")
	waitFor(t, "held", func() bool { st, _ := e.state(id, "dev-2"); return st == "ROUTING" })
	if r := e.do("POST", "/genesys/1/service/"+id+"/agent-notification", "application/json",
		`{"_display_message":"hello agent"}`, "gms_user", "dev-2"); r.status != 200 {
		t.Fatalf("agent-notification %d %s", r.status, r.body)
	}
	<-e.deskNotes

	e.restartGMS()
	if st, _ := e.state(id, "dev-2"); st != "ROUTING" {
		t.Fatalf("state after restart %s", st)
	}
	if r := e.post("/genesys/1/service/"+id+"/connect", "someone-else"); r.status != 404 {
		t.Fatalf("connect by another device %d", r.status)
	}
	if r := e.post("/genesys/1/service/"+id+"/connect", "dev-2"); r.status != 200 || r.json(t)["_dialog_id"] != "1" {
		t.Fatalf("connect %d %s", r.status, r.body)
	}
	r := e.post("/genesys/1/service/"+id+"/retrieve-notifications", "dev-2")
	var got []map[string]any
	_ = json.Unmarshal(r.body, &got)
	if want := []map[string]any{{"_action": gms.ActionAgentAvailable, "_id": id}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("retrieve-notifications %s", r.body)
	}
	r = e.do("POST", "/genesys/1/service/"+id+"/retrieve-agent-notifications", "application/json", `{}`,
		"Authorization", "Bearer agent:alice")
	var notes []map[string]any
	if json.Unmarshal(r.body, &notes) != nil || len(notes) != 1 || notes[0]["tag"] != gms.TagAgentMessage+id {
		t.Fatalf("retrieve-agent-notifications %d %s", r.status, r.body)
	}

	e.restartGMS()
	if r := e.post("/genesys/1/service/"+id+"/retrieve-notifications", "dev-2"); string(r.body) != "[]\n" {
		t.Fatalf("retrieved notifications came back: %s", r.body)
	}
	if r := e.post("/genesys/1/service/"+id+"/connect", "dev-2"); r.json(t)["_dialog_id"] != "2" {
		t.Fatalf("dialogs counter not kept: %s", r.body)
	}
	if r := e.post("/genesys/1/service/"+id+"/ixn/chat", "dev-2"); r.status != 200 {
		t.Fatalf("ixn/chat %d %s", r.status, r.body)
	}
	waitFor(t, "processing", func() bool { st, _ := e.state(id, "dev-2"); return st == "PROCESSING" })
}

// A conversation closed while the GMS server was down completes at
// re-adoption; the completed callback stays readable across restarts.
func TestStoreReconcilesAndKeepsCompleted(t *testing.T) {
	store := &gms.MemStore{}
	e := newEnvStore(t, store)
	id := e.create(seedUser, "comet")
	e.hs.Close()
	e.gms.Close()
	e.submit(routing.CloseConversation{Conversation: id})
	e.restartGMS()
	if st, reason := e.state(id, seedUser); st != "COMPLETED" || reason != "CANCELLED" {
		t.Fatalf("after restart %s %s", st, reason)
	}
	e.restartGMS()
	if st, reason := e.state(id, seedUser); st != "COMPLETED" || reason != "CANCELLED" {
		t.Fatalf("after second restart %s %s", st, reason)
	}
	recs, _ := store.Load(t.Context())
	if len(recs) != 1 || recs[0].State != gms.StateCompleted {
		t.Fatalf("stored %+v", recs)
	}
}
