package routingtest

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/routing"
)

var long = flag.Bool("long", false, "run the long seeded simulation (more seeds, more steps)")

// TestSimulation drives the engine with random but seeded interleavings of
// every command and checks the invariants after each one, snapshot round
// trips at random points, and at the end that every request and
// conversation ended. A failure names the seed and the step:
// SIM_SEED=<seed> go test ./routing/routingtest -run TestSimulation reruns
// one seed.
func TestSimulation(t *testing.T) {
	seeds, steps := 200, 500
	if *long {
		seeds, steps = 1000, 3000
	}
	if testing.Short() {
		seeds = 20
	}
	first := uint64(1)
	if v := os.Getenv("SIM_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		first, seeds = n, 1
	}
	// The seeds are shared out between parallel workers (one per CPU).
	workers := min(runtime.GOMAXPROCS(0), seeds)
	for w := range workers {
		t.Run(fmt.Sprintf("worker%d", w), func(t *testing.T) {
			t.Parallel()
			for seed := first + uint64(w); seed < first+uint64(seeds); seed += uint64(workers) {
				sm := newSim(seed)
				if err := sm.run(steps); err != nil {
					t.Fatalf("seed %d step %d: %v", seed, sm.step, err)
				}
			}
		})
	}
}

// TestSimulationCoversParticipants: the random runs do exercise
// transfers, conferences, supervisors, the leave policy and customers
// leaving (with the checker on), so TestSimulation's invariants cover them.
func TestSimulationCoversParticipants(t *testing.T) {
	total := map[string]int{}
	for seed := uint64(1); seed <= 6; seed++ {
		sm := newSim(seed)
		if err := sm.run(500); err != nil {
			t.Fatalf("seed %d step %d: %v", seed, sm.step, err)
		}
		for k, n := range sm.kinds {
			total[k] += n
		}
	}
	for _, k := range []string{"transferred", "joined CONFERENCE", "joined SILENT_MONITOR", "joined BARGE_IN",
		"role changed", "transfer failed EXPIRED", "customer left", "requeued", "assigned", "held",
		"hold released CONFIRMED", "hold released EXPIRED", "hold released CANCELLED", "hold released AGENT_LOGOUT",
		"last agent"} {
		if total[k] == 0 {
			t.Errorf("no %q in 6 seeded runs: %v", k, total)
		}
	}
	t.Logf("participant events in 6 runs: %v", total)
}

// TestSimulationDeterministic: the same seed gives the same event stream.
func TestSimulationDeterministic(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		a, b := newSim(seed), newSim(seed)
		a.fast, b.fast = true, true
		if err := a.run(500); err != nil {
			t.Fatalf("seed %d step %d: %v", seed, a.step, err)
		}
		if err := b.run(500); err != nil {
			t.Fatalf("seed %d step %d: %v", seed, b.step, err)
		}
		if a.events != b.events || a.hash.Sum64() != b.hash.Sum64() {
			t.Fatalf("seed %d: two runs differ: %d events (hash %x) vs %d (hash %x)", seed, a.events,
				a.hash.Sum64(), b.events, b.hash.Sum64())
		}
		if a.s.Digest() != b.s.Digest() {
			t.Fatalf("seed %d: two runs end in different states", seed)
		}
	}
}

// TestSimulationCatchesBrokenEngine proves the simulation can fail: a run
// whose checker is fed a forged event stream must report it.
func TestSimulationCatchesBrokenEngine(t *testing.T) {
	sm := newSim(7)
	if err := sm.run(100); err != nil {
		t.Fatal(err)
	}
	// Pretend an agent's MRD changed without the state changing.
	id := sm.agents[0]
	st, _ := sm.s.Agent(id)
	m := st.MRDs[0]
	next := routing.MRDReady
	if m.State == routing.MRDReady {
		next = routing.MRDNotReady
	}
	err := sm.chk.Check(sm.s, []routing.Event{routing.MRDStateChanged{Agent: id, MRD: m.MRD.ID, State: next, Previous: m.State}})
	if err == nil {
		t.Fatal("checker accepted an MRDStateChanged that the state does not show")
	}
}

type sim struct {
	// fast skips the checks (for runs that only compare event streams).
	fast  bool
	seed  uint64
	rng   *rand.Rand
	s     *routing.State
	chk   *Checker
	now   time.Time
	step  int
	convN int

	mrds   []string
	queues []routing.Queue
	agents []string
	skills []string
	// supervisors are also in agents (they take work too).
	supervisors []string
	xferN       int
	open        []string // conversations created, maybe closed since
	callbacks   []string // requests created with a hold (routing/hold.go)
	lastErr     error
	invalidLast routing.Command

	// twin is a state restored from a snapshot of s; while twinLeft > 0
	// every command is applied to both and their events compared.
	twin     *routing.State
	twinLeft int

	// accounting from the event stream
	events    int
	hash      hash.Hash64
	queued    map[string]int // request id -> RequestQueued count
	removed   map[string]routing.CloseReason
	created   int
	closed    map[string]routing.CloseReason
	reserved  int
	tasksDone int
	// kinds counts events by a label (coverage of transfer, conference,
	// supervisors: TestSimulationCoversParticipants).
	kinds map[string]int
}

func newSim(seed uint64) *sim {
	return &sim{
		seed: seed, rng: rand.New(rand.NewPCG(seed, seed*0x9e3779b97f4a7c15)), s: routing.New(),
		now: Epoch, hash: fnv.New64a(), queued: map[string]int{}, removed: map[string]routing.CloseReason{},
		closed: map[string]routing.CloseReason{},
	}
}

func (sm *sim) run(steps int) error {
	sm.chk = NewChecker(sm.s)
	if err := sm.setup(); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	for sm.step = 1; sm.step <= steps; sm.step++ {
		if err := sm.randomStep(); err != nil {
			return err
		}
	}
	sm.step = steps + 1
	if err := sm.drain(); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	return sm.account()
}

// apply applies cmd at sm.now and checks everything that must hold after it.
// A refused command is fine (random commands are often refused) but must
// change nothing.
func (sm *sim) apply(cmd routing.Command) ([]routing.Event, error) {
	evs, err := sm.s.Apply(sm.now, cmd)
	if err != nil {
		var re *routing.Error
		if !errors.As(err, &re) {
			return nil, fmt.Errorf("%s: error %v is not a *routing.Error", cmd.CommandName(), err)
		}
		if len(evs) != 0 {
			return nil, fmt.Errorf("%s refused but returned events", cmd.CommandName())
		}
	}
	if sm.fast {
		for _, ev := range evs {
			sm.record(ev)
		}
		sm.lastErr = err
		return evs, nil
	}
	if cerr := sm.chk.Check(sm.s, evs); cerr != nil {
		return nil, fmt.Errorf("%s %s: %v", cmd.CommandName(), mustJSON(cmd), cerr)
	}
	if sm.twin != nil {
		tevs, terr := sm.twin.Apply(sm.now, cmd)
		if (err == nil) != (terr == nil) || (err != nil && err.Error() != terr.Error()) {
			return nil, fmt.Errorf("%s: restored twin answered %v, state %v", cmd.CommandName(), terr, err)
		}
		if !reflect.DeepEqual(evs, tevs) {
			return nil, fmt.Errorf("%s: restored twin emitted\n%v\nstate emitted\n%v", cmd.CommandName(), tevs, evs)
		}
		if sm.twinLeft--; sm.twinLeft == 0 {
			if err := CompareStates(sm.s, sm.twin); err != nil {
				return nil, fmt.Errorf("restored twin ends different: %v", err)
			}
			sm.twin = nil
		}
	}
	for _, ev := range evs {
		sm.record(ev)
	}
	sm.lastErr = err
	return evs, nil
}

// applyChecked is apply for a command that may be refused: the digest is
// compared around a refusal.
func (sm *sim) applyChecked(cmd routing.Command, always bool) ([]routing.Event, error) {
	if sm.fast || (!always && sm.pick(20) > 0) {
		// The digest costs a whole snapshot: one command in twenty (and
		// every deliberately invalid one) is checked.
		return sm.apply(cmd)
	}
	before := sm.s.Digest()
	evs, err := sm.apply(cmd)
	if err != nil {
		return nil, err
	}
	if sm.lastErr != nil && sm.s.Digest() != before {
		return nil, fmt.Errorf("%s %s refused (%v) but the state changed", cmd.CommandName(), mustJSON(cmd), sm.lastErr)
	}
	return evs, nil
}

// must applies a command that must be accepted.
func (sm *sim) must(cmd routing.Command) error {
	if _, err := sm.apply(cmd); err != nil {
		return err
	}
	if sm.lastErr != nil {
		return fmt.Errorf("%s %s refused: %v", cmd.CommandName(), mustJSON(cmd), sm.lastErr)
	}
	return nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func (sm *sim) record(ev routing.Event) {
	sm.events++
	sm.hash.Write([]byte(ev.EventName()))
	b, _ := json.Marshal(ev)
	sm.hash.Write(b)
	switch e := ev.(type) {
	case routing.RequestQueued:
		sm.queued[e.Request]++
		if e.LastAgent {
			sm.count("last agent")
		}
	case routing.RequestRemoved:
		sm.removed[e.Request] = e.Reason
	case routing.ConversationCreated:
		sm.created++
	case routing.ConversationClosed:
		sm.closed[e.Conversation] = e.Reason
	case routing.TaskReserved:
		sm.reserved++
		if strings.HasPrefix(e.Task, "aw") {
			sm.count("assigned")
		}
	case routing.TaskClosed:
		sm.tasksDone++
		if e.Reason == routing.ReasonTransferred {
			sm.count("transferred")
		}
	case routing.ParticipantJoined:
		sm.count("joined " + string(e.Role))
	case routing.ParticipantRoleChanged:
		sm.count("role changed")
	case routing.TransferFailed:
		sm.count("transfer failed " + string(e.Reason))
	case routing.ConversationCustomerLeft:
		sm.count("customer left")
	case routing.AgentHeld:
		sm.count("held")
	case routing.HoldReleased:
		sm.count("hold released " + string(e.Reason))
	case routing.RequestUpdated:
		if e.Reason == routing.ReasonRequeuedAfterDrop {
			sm.count("requeued")
		}
	}
}

func (sm *sim) count(label string) {
	if sm.kinds == nil {
		sm.kinds = map[string]int{}
	}
	sm.kinds[label]++
}

func (sm *sim) pick(n int) int { return sm.rng.IntN(n) }

func (sm *sim) setup() error {
	cmds := []routing.Command{
		routing.UpsertMRD{MRD: routing.MRD{ID: "voice", Interruptible: false, MaxRequests: 1}},
		routing.UpsertMRD{MRD: routing.MRD{ID: "chat", Interruptible: true, MaxRequests: 3}},
		routing.UpsertReasonCode{ReasonCode: routing.ReasonCode{ID: "break", Type: routing.ReasonTypeNotReady}},
		routing.UpsertReasonCode{ReasonCode: routing.ReasonCode{ID: "eod", Type: routing.ReasonTypeLogout}},
	}
	sm.mrds = []string{"voice", "chat"}
	for i := range 8 {
		sm.skills = append(sm.skills, "s"+strconv.Itoa(i))
	}
	nAgents := 10 + sm.pick(31)
	for i := range nAgents {
		a := routing.Agent{ID: fmt.Sprintf("a%02d", i), Skills: map[string]int{}}
		for _, sk := range sm.skills {
			if sm.pick(2) == 0 {
				a.Skills[sk] = 1 + sm.pick(100)
			}
		}
		switch sm.pick(8) {
		case 0:
			a.Capacity = map[string]int{"chat": 1 + sm.pick(4)}
		case 1:
			a.Capacity = map[string]int{"voice": 0}
		}
		a.Teams = sm.randomTeams()
		if sm.pick(3) == 0 {
			a.CapacityUnits = 2 + sm.pick(7) // weighted capacity (capacity.go)
		}
		sm.agents = append(sm.agents, a.ID)
		cmds = append(cmds, routing.UpsertAgent{Agent: a})
	}
	for i := range 2 {
		// sup0 supervises every team, sup1 some (TEAM_MISMATCH happens).
		a := routing.Agent{ID: fmt.Sprintf("sup%d", i), Role: routing.RoleSupervisor, Teams: teams}
		if i > 0 {
			a.Teams = sm.randomTeams()
		}
		sm.agents = append(sm.agents, a.ID)
		sm.supervisors = append(sm.supervisors, a.ID)
		cmds = append(cmds, routing.UpsertAgent{Agent: a})
	}
	nQueues := 3 + sm.pick(4)
	for i := range nQueues {
		sm.queues = append(sm.queues, sm.randomQueue(fmt.Sprintf("q%d", i), sm.mrds[sm.pick(2)]))
		cmds = append(cmds, routing.UpsertQueue{Queue: sm.queues[i]})
	}
	// One external queue (seed 000) at least, served by random AssignWork.
	x := sm.randomQueue("qx", sm.mrds[sm.pick(2)])
	x.Mode, x.Steps, x.PriorityAging, x.MaxPriority, x.OfferToAgents = routing.External, nil, 0, 0, 0
	if x.Hours != nil && x.Hours.ClosedAction == routing.ClosedQueue {
		x.Hours.ClosedAction = routing.ClosedReject // an external queue does not hold requests back
	}
	sm.queues = append(sm.queues, x)
	cmds = append(cmds, routing.UpsertQueue{Queue: x})
	for _, c := range cmds {
		if err := sm.must(c); err != nil {
			return err
		}
	}
	for _, a := range sm.agents {
		if sm.pick(3) > 0 {
			if err := sm.must(routing.SetAgentState{Agent: a, State: routing.AgentReady}); err != nil {
				return err
			}
		}
	}
	return nil
}

var teams = []string{"t1", "t2", "t3"}

func (sm *sim) randomTeams() []string {
	var out []string
	for _, t := range teams {
		if sm.pick(2) == 0 {
			out = append(out, t)
		}
	}
	return out
}

var strategies = []routing.Strategy{routing.LongestIdle, routing.MostAvailable, routing.LeastActive, routing.RoundRobin, routing.BestSkill}

func (sm *sim) randomQueue(id, mrd string) routing.Queue {
	q := routing.Queue{ID: id, MRD: mrd, Strategy: strategies[sm.pick(len(strategies))], Skills: map[string]int{},
		RONATimeout: time.Duration(10+sm.pick(31)) * time.Second}
	for range sm.pick(3) {
		q.Skills[sm.skills[sm.pick(len(sm.skills))]] = 1 + sm.pick(60)
	}
	if sm.pick(10) == 0 {
		for _, a := range sm.agents {
			if sm.pick(2) == 0 {
				q.Members = append(q.Members, a)
			}
		}
	}
	if sm.pick(3) > 0 {
		q.TTL = time.Duration(30+sm.pick(150)) * time.Second
	}
	if sm.pick(2) == 0 {
		q.WrapUp = time.Duration(5+sm.pick(25)) * time.Second
	}
	if sm.pick(5) == 0 {
		q.RONAAction = "NONE"
	}
	if sm.pick(20) == 0 || (id == "qx" && sm.pick(10) > 0) {
		q.Mode = routing.External
	}
	if sm.pick(3) == 0 {
		q.LastAgentLeaves = routing.LastAgentRequeue
	}
	if q.Mode != routing.External && sm.pick(2) == 0 {
		q.Steps = sm.randomSteps(q)
	}
	if sm.pick(3) == 0 {
		q.CapacityWeight = sm.pick(5) // 0: the default 1
	}
	if q.Mode != routing.External && sm.pick(4) == 0 {
		q.OfferToAgents = 2 + sm.pick(2) // multi-reservation (multioffer.go)
	}
	if sm.pick(3) == 0 { // last-agent routing (lastagent.go), small memories to evict
		q.LastAgent = time.Duration(30+sm.pick(270)) * time.Second
		q.LastAgentTimeout = time.Duration(sm.pick(30)) * time.Second
		q.LastAgentCustomers = sm.pick(4)
	}
	if sm.pick(4) == 0 {
		q.Hours = sm.randomHours(q)
	}
	if q.Mode != routing.External && sm.pick(3) == 0 {
		q.PriorityAging = time.Duration(5+sm.pick(30)) * time.Second
		if sm.pick(2) == 0 {
			q.MaxPriority = 1 + sm.pick(4)
		}
	}
	return q
}

// randomHours returns business hours that open and close a few times in
// the simulated half hour after Epoch (Monday 09:00 UTC = 10:00 in
// Berlin): one or two short Monday intervals, reject or (with a TTL, so
// drained requests still end) queue.
func (sm *sim) randomHours(q routing.Queue) *routing.BusinessHours {
	h := &routing.BusinessHours{TimeZone: "UTC", ClosedAction: routing.ClosedReject}
	base := 9 * 60
	if sm.pick(2) == 0 {
		h.TimeZone, base = "Europe/Berlin", 10*60
	}
	at := base + sm.pick(5)
	for range 1 + sm.pick(2) {
		open, close := at, at+2+sm.pick(10)
		h.Weekly = append(h.Weekly, routing.OpenInterval{Day: "monday",
			Open: fmt.Sprintf("%02d:%02d", open/60, open%60), Close: fmt.Sprintf("%02d:%02d", close/60, close%60)})
		at = close + 1 + sm.pick(5)
	}
	if q.Mode != routing.External && q.TTL > 0 && sm.pick(2) == 0 {
		h.ClosedAction = routing.ClosedQueue
	}
	return h
}

// randomSteps returns 1-3 escalation steps for q: skills relaxed, kept or
// replaced, overflow into other internal queues on q's MRD, priority.
func (sm *sim) randomSteps(q routing.Queue) []routing.EscalationStep {
	var steps []routing.EscalationStep
	after := time.Duration(0)
	for range 1 + sm.pick(3) {
		after += time.Duration(5+sm.pick(40)) * time.Second
		st := routing.EscalationStep{After: after}
		switch sm.pick(4) {
		case 0: // any agent on the MRD
			st.Skills = map[string]int{}
		case 1: // levels lowered
			st.Skills = map[string]int{}
			for k, v := range q.Skills {
				st.Skills[k] = max(1, v/2)
			}
		case 2: // another skill
			st.Skills = map[string]int{sm.skills[sm.pick(len(sm.skills))]: 1 + sm.pick(60)}
		}
		for _, o := range sm.queues {
			if o.ID != q.ID && o.MRD == q.MRD && o.Mode != routing.External && sm.pick(3) == 0 {
				st.AddQueues = append(st.AddQueues, o.ID)
			}
		}
		if sm.pick(3) == 0 {
			st.Priority = sm.pick(3)
		}
		steps = append(steps, st)
	}
	return steps
}

// participantCommand returns a random transfer, conference, supervisor or
// customer-left command (often refused: wrong team, wrong MRD...).
func (sm *sim) participantCommand() routing.Command {
	switch sm.pick(10) {
	case 0, 1, 2, 3:
		ts := sm.tasks(routing.TaskActiveState)
		if len(ts) == 0 {
			return nil
		}
		t := ts[sm.pick(len(ts))]
		sm.xferN++
		c := routing.RequestTransfer{Conversation: t.Conversation, RequestID: fmt.Sprintf("x%d", sm.xferN), Agent: t.Agent,
			FromTask: t.ID, Mode: routing.TransferModeTransfer}
		if sm.pick(2) == 0 {
			c.Mode = routing.TransferModeConference
		}
		if sm.pick(3) == 0 {
			c.TargetAgent = sm.agents[sm.pick(len(sm.agents))]
		} else {
			c.Queue = sm.queues[sm.pick(len(sm.queues))].ID
		}
		if sm.pick(2) == 0 {
			c.TTL = time.Duration(10+sm.pick(90)) * time.Second
		}
		if sm.pick(2) == 0 {
			c.Note = "note " + c.RequestID
		}
		return c
	case 4, 5, 6:
		if len(sm.open) == 0 {
			return nil
		}
		who := sm.supervisors[sm.pick(len(sm.supervisors))]
		if sm.pick(5) == 0 {
			who = sm.agents[sm.pick(len(sm.agents))]
		}
		role := []routing.ParticipantRole{routing.RoleSilentMonitor, routing.RoleSilentMonitor, routing.RoleWhisper, routing.RoleBargeIn}[sm.pick(4)]
		conv := sm.open[sm.pick(len(sm.open))]
		if ts := sm.tasks(routing.TaskActiveState); len(ts) > 0 && sm.pick(4) > 0 {
			conv = ts[sm.pick(len(ts))].Conversation // likely monitorable
		}
		return routing.JoinConversation{Conversation: conv, Agent: who, Role: role}
	case 7, 8:
		// A supervisor in a conversation, most of the time.
		var in []routing.Participant
		var convs []string
		for _, id := range sm.s.OpenConversations() {
			cv, _ := sm.s.Conversation(id)
			for _, p := range cv.Participants {
				if p.Task == "" {
					in, convs = append(in, p), append(convs, id)
				}
			}
		}
		conv, who := "", sm.supervisors[sm.pick(len(sm.supervisors))]
		if len(sm.open) > 0 {
			conv = sm.open[sm.pick(len(sm.open))]
		}
		if len(in) > 0 && sm.pick(5) > 0 {
			i := sm.pick(len(in))
			conv, who = convs[i], in[i].Agent
		}
		if sm.pick(2) == 0 {
			return routing.LeaveConversation{Conversation: conv, Agent: who}
		}
		role := []routing.ParticipantRole{routing.RoleBargeIn, routing.RoleSilentMonitor, routing.RoleWhisper}[sm.pick(3)]
		return routing.ChangeParticipantRole{Conversation: conv, Agent: who, Role: role}
	default:
		if len(sm.open) == 0 {
			return nil
		}
		return routing.CustomerLeft{Conversation: sm.open[sm.pick(len(sm.open))]}
	}
}

// tasks lists every open task, by agent then reservation order.
func (sm *sim) tasks(state routing.TaskState) []routing.Task {
	var out []routing.Task
	for _, a := range sm.agents {
		ts, _ := sm.s.Tasks(a)
		for _, t := range ts {
			if state == "" || t.State == state {
				out = append(out, t)
			}
		}
	}
	return out
}

func (sm *sim) randomStep() error {
	// Time passes a little; the node ticks when a deadline is due (most of
	// the time: a late Tick must be fine too).
	sm.now = sm.now.Add(time.Duration(sm.pick(2000)) * time.Millisecond)
	if at, ok := sm.s.NextDeadline(); ok && !at.After(sm.now) && sm.pick(10) < 8 {
		if err := sm.must(routing.Tick{}); err != nil {
			return err
		}
	}
	if !sm.fast && sm.twin == nil && sm.pick(80) == 0 {
		data, err := sm.s.MarshalSnapshot()
		if err != nil {
			return err
		}
		tw, err := routing.UnmarshalSnapshot(data)
		if err != nil {
			return fmt.Errorf("snapshot restore: %w", err)
		}
		if err := CompareStates(sm.s, tw); err != nil {
			return fmt.Errorf("snapshot round trip: %w", err)
		}
		sm.twin, sm.twinLeft = tw, 5+sm.pick(20)
	}
	agent := sm.agents[sm.pick(len(sm.agents))]
	r := sm.pick(100)
	var cmd routing.Command
	if sm.pick(100) < 15 {
		r = 100 // transfer, conference, supervisors, customer left
		cmd = sm.participantCommand()
	} else if reqs := sm.s.Requests(); len(reqs) > 0 && sm.pick(100) < 4 {
		// Priority changed in place (PATCH /v1/requests/{id}).
		r = 100
		cmd = routing.SetRequestPriority{Request: reqs[sm.pick(len(reqs))].ID, Priority: sm.pick(6)}
	}
	switch {
	case r < 16:
		sm.convN++
		q := sm.queues[sm.pick(len(sm.queues))]
		c := routing.CreateConversation{ID: fmt.Sprintf("c%d", sm.convN), RequestID: fmt.Sprintf("r%d", sm.convN),
			Queue: q.ID, Priority: sm.pick(4)}
		if q.TTL == 0 || sm.pick(4) == 0 {
			c.TTL = time.Duration(20+sm.pick(160)) * time.Second
		}
		if sm.pick(5) == 0 {
			c.CapacityWeight = 1 + sm.pick(5)
		}
		if sm.pick(2) == 0 { // a returning customer (lastagent.go)
			c.CustomerID = fmt.Sprintf("k%d", sm.pick(6))
		}
		if sm.pick(6) == 0 { // preferred agents (preferred.go)
			for _, k := range []int{sm.pick(len(sm.agents)), sm.pick(len(sm.agents))}[:1+sm.pick(2)] {
				if !slices.Contains(c.PreferredAgents, sm.agents[k]) {
					c.PreferredAgents = append(c.PreferredAgents, sm.agents[k])
				}
			}
			c.PreferredTimeout = time.Duration(sm.pick(40)) * time.Second
		}
		if sm.pick(4) == 0 {
			// A callback (seed 003): held, not offered, until confirmed.
			c.Hold = time.Duration(5+sm.pick(55)) * time.Second
			c.HoldAttempts = sm.pick(4)
			sm.callbacks = append(sm.callbacks, c.RequestID)
		}
		sm.open = append(sm.open, c.ID)
		cmd = c
	case r < 30:
		if ts := sm.tasks(routing.TaskReservedState); len(ts) > 0 {
			t := ts[sm.pick(len(ts))]
			cmd = routing.AcceptTask{Task: t.ID, Agent: t.Agent}
		}
	case r < 34:
		if ts := sm.tasks(routing.TaskReservedState); len(ts) > 0 {
			t := ts[sm.pick(len(ts))]
			cmd = routing.DeclineTask{Task: t.ID, Agent: t.Agent}
		}
	case r < 45:
		var ts []routing.Task
		for _, t := range sm.tasks("") {
			if t.State != routing.TaskReservedState {
				ts = append(ts, t)
			}
		}
		if len(ts) > 0 {
			t := ts[sm.pick(len(ts))]
			cmd = routing.CloseTask{Task: t.ID, Agent: t.Agent}
		}
	case r < 48:
		if len(sm.open) > 0 {
			cmd = routing.AbandonConversation{Conversation: sm.open[sm.pick(len(sm.open))]}
		}
	case r < 50:
		if len(sm.open) > 0 {
			cmd = routing.CloseConversation{Conversation: sm.open[sm.pick(len(sm.open))]}
		}
	case r < 60:
		cmd = routing.SetAgentState{Agent: agent, State: routing.AgentReady}
	case r < 65:
		c := routing.SetAgentState{Agent: agent, State: routing.AgentNotReady}
		if sm.pick(2) == 0 {
			c.ReasonCode = "break"
		}
		cmd = c
	case r < 69:
		// Logout, preferably of an agent with work.
		if ts := sm.tasks(""); len(ts) > 0 && sm.pick(2) == 0 {
			agent = ts[sm.pick(len(ts))].Agent
		}
		for _, r := range sm.s.Requests() {
			if r.State == routing.RequestHeldState && sm.pick(2) == 0 {
				agent = r.HeldAgent // an agent holding a callback
				break
			}
		}
		c := routing.SetAgentState{Agent: agent, State: routing.AgentLogout}
		if sm.pick(2) == 0 {
			c.ReasonCode = "eod"
		}
		cmd = c
	case r < 75:
		st := routing.MRDNotReady
		if sm.pick(2) == 0 {
			st = routing.MRDReady
		}
		cmd = routing.SetMRDState{Agent: agent, MRD: sm.mrds[sm.pick(len(sm.mrds))], State: st}
	case r < 90:
		sm.now = sm.now.Add(time.Duration(1+sm.pick(40)) * time.Second)
		cmd = routing.Tick{}
	case r < 93:
		sm.invalidLast = sm.invalidCommand(agent)
		if _, err := sm.applyChecked(sm.invalidLast, true); err != nil {
			return err
		}
		if sm.lastErr == nil {
			return fmt.Errorf("an invalid command was accepted: %s %s", sm.invalidLast.CommandName(), mustJSON(sm.invalidLast))
		}
		return nil
	case r < 94:
		// Redefine a queue on its MRD: strategy, skills, timers change;
		// waiting order must stay.
		i := sm.pick(len(sm.queues))
		q := sm.randomQueue(sm.queues[i].ID, sm.queues[i].MRD)
		sm.queues[i] = q
		cmd = routing.UpsertQueue{Queue: q}
	case r < 95:
		// Redefine an agent's skills (eligibility changes under work).
		a := routing.Agent{ID: agent, Skills: map[string]int{}}
		for _, sk := range sm.skills {
			if sm.pick(2) == 0 {
				a.Skills[sk] = 1 + sm.pick(100)
			}
		}
		if sm.pick(3) == 0 {
			a.CapacityUnits = 1 + sm.pick(8)
		}
		cmd = routing.UpsertAgent{Agent: a}
	}
	// Customers confirm callbacks (ConfirmHold) in place of a no-op or one
	// Tick in three; partner assignments likewise (a CreateConversation is
	// never replaced: sm.open lists it).
	if _, tick := cmd.(routing.Tick); cmd == nil || (tick && sm.pick(3) == 0) {
		if sm.pick(3) == 0 {
			if c := sm.confirmHold(); c != nil {
				cmd = c
			}
		}
	}
	if _, tick := cmd.(routing.Tick); cmd == nil || (tick && sm.pick(3) == 0) {
		if c := sm.assignWork(); c != nil {
			cmd = c
		}
	}
	if cmd == nil {
		cmd = routing.Tick{}
	}
	_, err := sm.applyChecked(cmd, false)
	return err
}

// confirmHold returns a ConfirmHold (seed 003 "Initiate Chat"): most of
// the time for a HELD request, else for any callback (often refused:
// confirmed already, offered, ended). nil when there is no callback.
func (sm *sim) confirmHold() routing.Command {
	if len(sm.callbacks) == 0 {
		return nil
	}
	var held []string
	for _, r := range sm.s.Requests() {
		if r.State == routing.RequestHeldState {
			held = append(held, r.ID)
		}
	}
	id := sm.callbacks[sm.pick(len(sm.callbacks))]
	if len(held) > 0 && sm.pick(4) > 0 {
		id = held[sm.pick(len(held))]
	}
	sm.count("confirm hold")
	return routing.ConfirmHold{Request: id}
}

// assignWork returns a random AssignWork (seed 000): most of the time a
// QUEUED request of an external queue to an available agent, else any
// request or agent (often refused: NOT_EXTERNAL, NOT_ELIGIBLE...).
func (sm *sim) assignWork() routing.Command {
	reqs := sm.s.Requests()
	if len(reqs) == 0 {
		return nil
	}
	var ext []routing.Request
	for _, r := range reqs {
		if q, ok := sm.s.Queue(r.Queue); ok && q.Mode == routing.External && r.State == routing.RequestQueuedState {
			ext = append(ext, r)
		}
	}
	r := reqs[sm.pick(len(reqs))]
	if len(ext) > 0 && sm.pick(5) > 0 {
		r = ext[sm.pick(len(ext))]
	}
	agent := sm.agents[sm.pick(len(sm.agents))]
	if sm.pick(4) > 0 {
		q, _ := sm.s.Queue(r.Queue)
		var avail []string
		for _, id := range sm.agents {
			st, _ := sm.s.Agent(id)
			if available(st, q.MRD) && !slices.Contains(r.Excluded, id) {
				avail = append(avail, id)
			}
		}
		if len(avail) > 0 {
			agent = avail[sm.pick(len(avail))]
		}
	}
	sm.xferN++
	c := routing.AssignWork{Request: r.ID, Agent: agent, Task: fmt.Sprintf("aw%d", sm.xferN)}
	if sm.pick(10) == 0 {
		c.Task = "task-" + strconv.Itoa(1+sm.pick(sm.xferN)) // maybe in use
	}
	if sm.pick(2) == 0 {
		c.PushTimeout = time.Duration(1+sm.pick(30)) * time.Second
	}
	sm.count("assign work")
	return c
}

// invalidCommand returns a command the engine must refuse without change.
func (sm *sim) invalidCommand(agent string) routing.Command {
	switch sm.pick(8) {
	case 6:
		// A plain agent cannot supervise; a supervisor cannot join an
		// unknown conversation.
		if len(sm.open) > 0 && sm.pick(2) == 0 {
			return routing.JoinConversation{Conversation: sm.open[sm.pick(len(sm.open))], Agent: sm.agents[0], Role: routing.RoleSilentMonitor}
		}
		return routing.JoinConversation{Conversation: "no-such-conv", Agent: sm.supervisors[0], Role: routing.RoleBargeIn}
	case 7:
		if ts := sm.tasks(routing.TaskActiveState); len(ts) > 0 {
			t := ts[sm.pick(len(ts))]
			return routing.RequestTransfer{Conversation: t.Conversation, RequestID: "bad", Agent: t.Agent, FromTask: t.ID,
				Mode: routing.TransferModeTransfer, Queue: "no-such-queue"}
		}
		return routing.CustomerLeft{Conversation: "no-such-conv"}
	case 0:
		if ts := sm.tasks(""); len(ts) > 0 {
			t := ts[sm.pick(len(ts))]
			other := sm.agents[sm.pick(len(sm.agents))]
			if other != t.Agent {
				return routing.AcceptTask{Task: t.ID, Agent: other}
			}
		}
		return routing.AcceptTask{Task: "task-none", Agent: agent}
	case 1:
		if ts := sm.tasks(routing.TaskReservedState); len(ts) > 0 {
			t := ts[sm.pick(len(ts))]
			return routing.CloseTask{Task: t.ID, Agent: t.Agent}
		}
		return routing.CloseTask{Task: "task-none", Agent: agent}
	case 2:
		if len(sm.open) > 0 {
			// A create refused by business hours (QUEUE_CLOSED) left no
			// conversation: only an existing one makes a duplicate.
			if id := sm.open[sm.pick(len(sm.open))]; sm.exists(id) {
				return routing.CreateConversation{ID: id, RequestID: "dup-" + id, Queue: sm.queues[0].ID}
			}
		}
		return routing.CreateConversation{ID: "x", RequestID: "y", Queue: "no-such-queue"}
	case 3:
		if sm.pick(2) == 0 {
			return routing.ConfirmHold{Request: "no-such-request"}
		}
		return routing.SetAgentState{Agent: agent, State: routing.AgentReady, ReasonCode: "break"}
	case 4:
		return routing.SetAgentState{Agent: agent, State: routing.AgentNotReady, ReasonCode: "eod"}
	default:
		if ts := sm.tasks(routing.TaskActiveState); len(ts) > 0 {
			t := ts[sm.pick(len(ts))]
			return routing.DeclineTask{Task: t.ID, Agent: t.Agent}
		}
		return routing.SetMRDState{Agent: agent, MRD: "no-such-mrd", State: routing.MRDReady}
	}
}

// drain makes every agent READY on every MRD, accepts every offer, closes
// every task and lets time pass until nothing is left.
func (sm *sim) drain() error {
	for round := 0; ; round++ {
		if round > 400 {
			return fmt.Errorf("not drained after %d rounds: requests %s, conversations open %v, %d tasks",
				round, mustJSON(sm.s.Requests()), sm.s.OpenConversations(), len(sm.tasks("")))
		}
		for _, a := range sm.agents {
			st, _ := sm.s.Agent(a)
			if st.State != routing.AgentReady {
				if err := sm.must(routing.SetAgentState{Agent: a, State: routing.AgentReady}); err != nil {
					return err
				}
			}
			for _, m := range st.MRDs {
				if m.State == routing.MRDNotReady || m.State == routing.MRDPendingNotReady {
					if err := sm.must(routing.SetMRDState{Agent: a, MRD: m.MRD.ID, State: routing.MRDReady}); err != nil {
						return err
					}
				}
			}
		}
		// Held callbacks: the customer confirms (odd rounds) or lets the
		// hold expire (even rounds: the Tick below).
		for _, r := range sm.s.Requests() {
			if r.State == routing.RequestHeldState && round%2 == 1 {
				if err := sm.must(routing.ConfirmHold{Request: r.ID}); err != nil {
					return err
				}
			}
		}
		for _, t := range sm.tasks(routing.TaskReservedState) {
			if cur, ok := sm.s.Task(t.ID); !ok || cur.State != routing.TaskReservedState {
				continue // revoked by another accept (multi-reservation)
			}
			if err := sm.must(routing.AcceptTask{Task: t.ID, Agent: t.Agent}); err != nil {
				return err
			}
		}
		for _, t := range sm.tasks("") {
			if t.State == routing.TaskReservedState {
				continue // offered just now, by a close above
			}
			if _, ok := sm.s.Task(t.ID); !ok {
				continue
			}
			if err := sm.must(routing.CloseTask{Task: t.ID, Agent: t.Agent}); err != nil {
				return err
			}
			if tt, ok := sm.s.Task(t.ID); ok && tt.State == routing.TaskWrapUpState {
				if err := sm.must(routing.CloseTask{Task: t.ID, Agent: t.Agent}); err != nil {
					return err
				}
			}
		}
		if len(sm.s.Requests()) == 0 && len(sm.s.OpenConversations()) == 0 && len(sm.tasks("")) == 0 {
			if _, ok := sm.s.NextDeadline(); ok {
				// Only stale deadlines may remain; a Tick must do nothing.
				sm.now = sm.now.Add(10 * time.Minute)
				if evs, err := sm.apply(routing.Tick{}); err != nil || len(evs) > 0 {
					return fmt.Errorf("final Tick: %v %v", evs, err)
				}
			}
			return nil
		}
		if round >= 2 {
			// Queues that re-queue when the last agent leaves would serve
			// for ever while the customer stays: customers leave.
			for _, id := range sm.s.OpenConversations() {
				if cv, _ := sm.s.Conversation(id); !cv.CustomerLeft {
					if err := sm.must(routing.CustomerLeft{Conversation: id}); err != nil {
						return err
					}
				}
			}
		}
		if round >= 20 {
			// Every TTL has passed by now. A request without one (a
			// conversation queued again after its agent logged out gets no
			// TTL) that every eligible agent declined waits for ever: the
			// system cancels it.
			for _, r := range sm.s.Requests() {
				if r.TTLDeadline.IsZero() {
					if err := sm.must(routing.CloseConversation{Conversation: r.Conversation}); err != nil {
						return err
					}
				}
			}
		}
		sm.now = sm.now.Add(15 * time.Second)
		if err := sm.must(routing.Tick{}); err != nil {
			return err
		}
	}
}

// account checks from the whole event stream that every request and every
// conversation ended, each exactly once, for an allowed reason.
func (sm *sim) account() error {
	for id, n := range sm.queued {
		if n != 1 {
			return fmt.Errorf("request %s queued %d times", id, n)
		}
		reason, ok := sm.removed[id]
		if !ok {
			return fmt.Errorf("request %s never ended", id)
		}
		switch reason {
		case routing.ReasonAccepted, routing.ReasonAbandoned, routing.ReasonExpired, routing.ReasonCancelled,
			routing.ReasonUnconfirmed:
		default:
			return fmt.Errorf("request %s ended %s", id, reason)
		}
	}
	if len(sm.removed) != len(sm.queued) {
		return fmt.Errorf("%d requests removed, %d queued", len(sm.removed), len(sm.queued))
	}
	if len(sm.closed) != sm.created {
		return fmt.Errorf("%d conversations created, %d closed", sm.created, len(sm.closed))
	}
	for id, reason := range sm.closed {
		switch reason {
		case routing.ReasonDone, routing.ReasonAbandoned, routing.ReasonNoAgentAvailable, routing.ReasonCancelled,
			routing.ReasonUnconfirmed:
		default:
			return fmt.Errorf("conversation %s closed %s", id, reason)
		}
	}
	if sm.reserved != sm.tasksDone {
		return fmt.Errorf("%d tasks reserved, %d closed", sm.reserved, sm.tasksDone)
	}
	if _, waiting, open, tasks := sm.s.Counts(); waiting != 0 || open != 0 || tasks != 0 {
		return fmt.Errorf("counts after drain: %d waiting, %d open, %d tasks", waiting, open, tasks)
	}
	return nil
}

func (sm *sim) exists(conv string) bool {
	_, ok := sm.s.Conversation(conv)
	return ok
}
