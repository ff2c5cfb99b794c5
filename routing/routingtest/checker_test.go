package routingtest

import (
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/routing"
)

// checkerState: a1 READY with a reserved voice task, a2 LOGOUT, c2 waiting.
func checkerState(t *testing.T) (*routing.State, *Checker) {
	t.Helper()
	s := routing.New()
	chk := NewChecker(s)
	for _, c := range []routing.Command{
		routing.UpsertMRD{MRD: routing.MRD{ID: "voice", MaxRequests: 1}},
		routing.UpsertQueue{Queue: routing.Queue{ID: "q", MRD: "voice"}},
		routing.UpsertAgent{Agent: routing.Agent{ID: "a1"}},
		routing.UpsertAgent{Agent: routing.Agent{ID: "a2"}},
		routing.SetAgentState{Agent: "a1", State: routing.AgentReady},
		routing.CreateConversation{ID: "c1", RequestID: "r1", Queue: "q"},
		routing.CreateConversation{ID: "c2", RequestID: "r2", Queue: "q"},
	} {
		evs, err := s.Apply(Epoch, c)
		if err != nil {
			t.Fatal(err)
		}
		if err := chk.Check(s, evs); err != nil {
			t.Fatalf("%s: %v", c.CommandName(), err)
		}
	}
	return s, chk
}

func wantCheckError(t *testing.T, err error, contains string) {
	t.Helper()
	if err == nil {
		t.Fatalf("checker found nothing; want an error with %q", contains)
	}
	if !strings.Contains(err.Error(), contains) {
		t.Fatalf("checker error %q; want it to mention %q", err, contains)
	}
}

func TestCheckerMissingEvents(t *testing.T) {
	s, chk := checkerState(t)
	// a2 logs in and takes c2, but the checker is not told.
	if _, err := s.Apply(Epoch.Add(time.Second), routing.SetAgentState{Agent: "a2", State: routing.AgentReady}); err != nil {
		t.Fatal(err)
	}
	wantCheckError(t, chk.Check(s, nil), "agent a2 is READY")
}

func TestCheckerOfferToAgentNotReady(t *testing.T) {
	s, chk := checkerState(t)
	ev := routing.TaskReserved{Task: "task-9", Conversation: "c2", Request: "r2", Agent: "a2", Queue: "q", MRD: "voice",
		Deadline: Epoch.Add(time.Minute), At: Epoch}
	wantCheckError(t, chk.Check(s, []routing.Event{ev}), "offered to agent a2 who is LOGOUT")
}

func TestCheckerOfferOverCapacity(t *testing.T) {
	s, chk := checkerState(t)
	// a1 is BUSY with task-1; a second offer in the event stream must be
	// refused by the model before the state is even compared.
	ev := routing.TaskReserved{Task: "task-9", Conversation: "c2", Request: "r2", Agent: "a1", Queue: "q", MRD: "voice",
		Deadline: Epoch.Add(time.Minute), At: Epoch}
	wantCheckError(t, chk.Check(s, []routing.Event{ev}), "whose mrd voice is BUSY")
}

func TestCheckerClosedTwice(t *testing.T) {
	s, chk := checkerState(t)
	ev := routing.ConversationClosed{Conversation: "nope", Reason: routing.ReasonDone, At: Epoch}
	wantCheckError(t, chk.Check(s, []routing.Event{ev}), "conversation nope is not open")
}

func TestCheckStateClean(t *testing.T) {
	s, _ := checkerState(t)
	if err := CheckState(s); err != nil {
		t.Fatal(err)
	}
	if err := CheckSnapshotRoundTrip(s); err != nil {
		t.Fatal(err)
	}
}

func TestParseScenarioErrors(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"no commands", "comment\n-- events --\n", "no -- commands --"},
		{"unknown section", "-- commands --\n-- other --\n", `unknown section "other"`},
		{"backwards", "-- commands --\n5s Tick {}\n4s Tick {}\n", "goes back"},
		{"bad offset", "-- commands --\nsoon Tick {}\n", "offset"},
		{"unknown command", "-- commands --\n0s Nope {}\n", "unknown command"},
		{"bad json", "-- commands --\n0s Tick {\n", "json"},
		{"bad duration", `-- commands --` + "\n" + `0s UpsertQueue {"queue":{"id":"q","mrd":"m","ttl":"soon"}}` + "\n", "ttl"},
		{"unknown field", `-- commands --` + "\n" + `0s Tick {"x":1}` + "\n", "unknown field"},
	} {
		_, err := ParseScenario([]byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestParseScenarioDurations(t *testing.T) {
	sc, err := ParseScenario([]byte("-- commands --\n# c\n\n1m5s UpsertQueue " +
		`{"queue":{"id":"q","mrd":"m","ronaTimeout":"30s","ttl":1000,"wrapUp":"1m","serviceLevelThreshold":"1.5s","name":"30s"}}` +
		"\n-- events --\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Steps) != 1 || sc.Steps[0].Offset != 65*time.Second || sc.Steps[0].Line != 3 {
		t.Fatalf("steps %+v", sc.Steps)
	}
	q := sc.Steps[0].Cmd.(routing.UpsertQueue).Queue
	if q.RONATimeout != 30*time.Second || q.TTL != 1000 || q.WrapUp != time.Minute ||
		q.ServiceLevelThreshold != 1500*time.Millisecond || q.Name != "30s" {
		t.Fatalf("queue %+v", q)
	}
}

func TestFormatEventAt(t *testing.T) {
	ev := routing.TaskWrapUp{Task: "t", Conversation: "c", Agent: "a", Deadline: Epoch.Add(time.Minute), At: Epoch}
	got, err := FormatEvent(ev, Epoch)
	if err != nil {
		t.Fatal(err)
	}
	if want := `TaskWrapUp {"task":"t","conversation":"c","agent":"a","deadline":"2025-01-06T09:01:00Z"}`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	got, _ = FormatEvent(ev, Epoch.Add(time.Second))
	if !strings.HasSuffix(got, `"at":"2025-01-06T09:00:00Z"}`) {
		t.Fatalf("an at that differs from the command time must stay: %s", got)
	}
}
