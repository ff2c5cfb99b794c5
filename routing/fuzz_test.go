package routing_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/omniroute/omniroute/routing"
	"github.com/omniroute/omniroute/routing/routingtest"
)

var fuzzEpoch = time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)

// fuzzState builds a small state with work in every shape: a1 READY with
// a reserved voice task (task-1), a2 NOT_READY, a3 READY with an active chat
// (task-2), a chat waiting (c3), a callback c4 holding a1 on chat (r4,
// HELD), queues with TTL and wrap-up.
func fuzzState(tb testing.TB) *routing.State {
	s := routing.New()
	cmds := []routing.Command{
		routing.UpsertMRD{MRD: routing.MRD{ID: "voice", MaxRequests: 1}},
		routing.UpsertMRD{MRD: routing.MRD{ID: "chat", Interruptible: true, MaxRequests: 2}},
		routing.UpsertReasonCode{ReasonCode: routing.ReasonCode{ID: "break", Type: routing.ReasonTypeNotReady}},
		routing.UpsertReasonCode{ReasonCode: routing.ReasonCode{ID: "eod", Type: routing.ReasonTypeLogout}},
		routing.UpsertQueue{Queue: routing.Queue{ID: "q1", MRD: "voice", TTL: time.Minute}},
		routing.UpsertQueue{Queue: routing.Queue{ID: "q2", MRD: "chat", WrapUp: 10 * time.Second, Skills: map[string]int{"en": 10}}},
		routing.UpsertAgent{Agent: routing.Agent{ID: "a1", Skills: map[string]int{"en": 5}}},
		routing.UpsertAgent{Agent: routing.Agent{ID: "a2", Skills: map[string]int{"en": 50}}},
		routing.UpsertAgent{Agent: routing.Agent{ID: "a3", Skills: map[string]int{"en": 50}, Capacity: map[string]int{"chat": 1}}},
		routing.SetAgentState{Agent: "a1", State: routing.AgentReady},
		routing.SetAgentState{Agent: "a2", State: routing.AgentNotReady, ReasonCode: "break"},
		routing.SetAgentState{Agent: "a3", State: routing.AgentReady},
		routing.SetMRDState{Agent: "a3", MRD: "voice", State: routing.MRDNotReady},
		routing.CreateConversation{ID: "c1", RequestID: "r1", Queue: "q1"},
		routing.CreateConversation{ID: "c2", RequestID: "r2", Queue: "q2"},
		routing.AcceptTask{Task: "task-2", Agent: "a3"},
		routing.CreateConversation{ID: "c3", RequestID: "r3", Queue: "q2", Priority: 2},
		routing.UpsertQueue{Queue: routing.Queue{ID: "cb", MRD: "chat"}},
		routing.CreateConversation{ID: "c4", RequestID: "r4", Queue: "cb", Hold: 30 * time.Second, HoldAttempts: 2},
		routing.UpsertAgent{Agent: routing.Agent{ID: "a4", CapacityUnits: 4}},
		routing.UpsertQueue{Queue: routing.Queue{ID: "cases", MRD: "chat", CapacityWeight: 3}},
		routing.CreateConversation{ID: "c5", RequestID: "r5", Queue: "cases", CapacityWeight: 2},
		routing.UpsertQueue{Queue: routing.Queue{ID: "sticky", MRD: "chat", LastAgent: time.Hour, LastAgentCustomers: 2}},
		routing.CreateConversation{ID: "c6", RequestID: "r6", Queue: "sticky", CustomerID: "k1"},
	}
	for _, c := range cmds {
		if _, err := s.Apply(fuzzEpoch, c); err != nil {
			tb.Fatalf("%s: %v", c.CommandName(), err)
		}
	}
	return s
}

// FuzzDecodeCommand: any command name and JSON body either fails to decode
// or decodes to a command that, applied to a small state, does not panic, is
// either refused with a *routing.Error leaving the digest unchanged, or keeps
// every invariant; an accepted command re-encodes stably.
func FuzzDecodeCommand(f *testing.F) {
	seeds := []struct{ name, body string }{
		{"UpsertMRD", `{"mrd":{"id":"email","maxRequests":5}}`},
		{"UpsertMRD", `{"mrd":{"id":"voice","interruptible":true,"maxRequests":0}}`},
		{"UpsertQueue", `{"queue":{"id":"q3","mrd":"chat","strategy":"best-skill","skills":{"en":1},"ronaTimeout":1000000000}}`},
		{"UpsertQueue", `{"queue":{"id":"q1","mrd":"chat"}}`},
		{"UpsertQueue", `{"queue":{"id":"q4","mrd":"chat","hours":{"timeZone":"Europe/Berlin","weekly":[{"day":"sunday","open":"02:30","close":"03:30"}],"closures":["2025-03-30","2025-03-30"],"closedAction":"queue"}}}`},
		{"UpsertQueue", `{"queue":{"id":"q5","mrd":"chat","hours":{"timeZone":"America/New_York","closedAction":"overflow","closedOverflowQueue":"q1"}}}`},
		{"UpsertQueue", `{"queue":{"id":"q2","mrd":"chat","mode":"external","members":["a1","a1",""]}}`},
		{"UpsertAgent", `{"agent":{"id":"a2","skills":{"en":100},"capacity":{"chat":0}}}`},
		{"UpsertAgent", `{"agent":{"id":"a4","role":"supervisor","teams":["t","t"]}}`},
		{"UpsertReasonCode", `{"reasonCode":{"id":"break","type":"LOGOUT"}}`},
		{"SetAgentState", `{"agent":"a1","state":"LOGOUT","reasonCode":"eod"}`},
		{"SetAgentState", `{"agent":"a2","state":"READY"}`},
		{"SetAgentState", `{"agent":"a3","state":"NOT_READY","reasonCode":"RONA"}`},
		{"SetMRDState", `{"agent":"a2","mrd":"chat","state":"READY"}`},
		{"SetMRDState", `{"agent":"a3","mrd":"chat","state":"NOT_READY"}`},
		{"CreateConversation", `{"id":"c9","requestId":"r9","queue":"q2","priority":7,"customer":{"n":1},"attributes":{"k":"v"},"ttl":5}`},
		{"CreateConversation", `{"id":"c1","requestId":"r1","queue":"q1"}`},
		{"AcceptTask", `{"task":"task-1","agent":"a1"}`},
		{"DeclineTask", `{"task":"task-1","agent":"a1"}`},
		{"CloseTask", `{"task":"task-2","agent":"a3"}`},
		{"CloseTask", `{"task":"task-1","agent":"a1"}`},
		{"CloseConversation", `{"conversation":"c2"}`},
		{"AbandonConversation", `{"conversation":"c1"}`},
		{"AbandonConversation", `{"conversation":"c3"}`},
		{"Tick", `{}`},
		{"Tick", `null`},
		{"RequestTransfer", `{"conversation":"c1","requestId":"x1","agent":"a1","fromTask":"task-1","mode":"transfer","queue":"q2","note":"n","ttl":5}`},
		{"RequestTransfer", `{"conversation":"c1","requestId":"x2","agent":"a1","fromTask":"task-1","mode":"conference","targetAgent":"a2"}`},
		{"JoinConversation", `{"conversation":"c1","agent":"a3","role":"SILENT_MONITOR"}`},
		{"ChangeParticipantRole", `{"conversation":"c1","agent":"a3","role":"BARGE_IN"}`},
		{"LeaveConversation", `{"conversation":"c1","agent":"a3"}`},
		{"CustomerLeft", `{"conversation":"c1"}`},
		{"AssignWork", `{"request":"r9","agent":"a1","task":"0Bz1","pushTimeout":20000000000}`},
		{"AssignWork", `{"request":"r1","agent":"a2","task":"task-1"}`},
		{"ConfirmHold", `{"request":"r4"}`},
		{"ConfirmHold", `{"request":"r3"}`},
		{"ConfirmHold", `{"request":"nope"}`},
		{"ConfirmHold", `{"request":"r4","agent":"a1"}`},
		{"CreateConversation", `{"id":"c8","requestId":"r8","queue":"cb","hold":1000000000,"holdAttempts":100}`},
		{"CreateConversation", `{"id":"c8","requestId":"r8","queue":"cb","hold":-1,"holdAttempts":101}`},
		{"AbandonConversation", `{"conversation":"c4"}`},
		{"CreateConversation", `{"id":"c7","requestId":"r7","queue":"sticky","customerId":"k1"}`},
		{"CreateConversation", `{"id":"c7","requestId":"r7","queue":"sticky","customerId":"k\u0000"}`},
		{"UpsertQueue", `{"queue":{"id":"sticky","mrd":"chat","lastAgent":60000000000,"lastAgentTimeout":1,"lastAgentCustomers":1}}`},
		{"UpsertQueue", `{"queue":{"id":"sticky","mrd":"chat","lastAgent":-1,"lastAgentCustomers":1000001}}`},
		{"SetAgentState", `{"agent":"a1","state":"LOGOUT"}`},
		{"AgentDisconnected", `{"agent":"a1"}`},
		{"Nope", `{}`},
		{"SetAgentState", `{"agent":"a1","state":"READY"} {}`},
		{"SetAgentState", `{"agent":"a1","bogus":1}`},
	}
	for _, sd := range seeds {
		f.Add(sd.name, []byte(sd.body))
	}
	base := fuzzState(f)
	snap, err := base.MarshalSnapshot()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		cmd, err := routing.DecodeCommand(name, body)
		if err != nil {
			if cmd != nil {
				t.Fatalf("decode failed (%v) but returned %#v", err, cmd)
			}
			return
		}
		if cmd.CommandName() != name {
			t.Fatalf("decoded %q as %q", name, cmd.CommandName())
		}
		enc, err := routing.EncodeCommand(cmd)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		again, err := routing.DecodeCommand(name, enc)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", enc, err)
		}
		if enc2, _ := routing.EncodeCommand(again); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable:\n%s\n%s", enc, enc2)
		}

		s, err := routing.UnmarshalSnapshot(snap)
		if err != nil {
			t.Fatal(err)
		}
		chk := routingtest.NewChecker(s)
		before := s.Digest()
		now := fuzzEpoch.Add(time.Minute)
		evs, err := s.Apply(now, cmd)
		if err != nil {
			var re *routing.Error
			if !errors.As(err, &re) || re.Code == "" {
				t.Fatalf("error %v is not a *routing.Error with a code", err)
			}
			if len(evs) != 0 {
				t.Fatalf("refused (%v) with %d events", err, len(evs))
			}
			if s.Digest() != before {
				t.Fatalf("refused (%v) but the state changed", err)
			}
		}
		if err := chk.Check(s, evs); err != nil {
			t.Fatalf("%s %s: %v", name, body, err)
		}
		// Time passes: every deadline fires.
		evs, err = s.Apply(now.Add(48*time.Hour), routing.Tick{})
		if err != nil {
			t.Fatal(err)
		}
		if err := chk.Check(s, evs); err != nil {
			t.Fatalf("Tick after %s %s: %v", name, body, err)
		}
		if err := routingtest.CheckSnapshotRoundTrip(s); err != nil {
			t.Fatal(err)
		}
	})
}
