// Package replay drives the routing engine with real or synthetic traffic
// and reports the contact-center figures (offered, answered, abandoned,
// expired, ASA, service level, occupancy).
//
// RunVirtual runs a Setup in virtual time, in-process, straight on a
// routing.State: no clock is read, so a run is exactly repeatable. Agents
// answer every offer at once (auto-answer, as telephony agents do), hold the
// call for its service time and close it; callers with a patience abandon
// when it runs out. The live mode (package replay, Live) plays the same
// Setup against a running server over its real protocols.
package replay

import (
	"container/heap"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/omniroute/omniroute/routing"
)

// Arrival is one customer contact to replay.
type Arrival struct {
	// At is the arrival time, from the start of the run.
	At time.Duration
	// Queue is the queue id; Priority the request priority (higher first).
	Queue    string
	Priority int
	// Service is how long the agent holds the contact once answered.
	Service time.Duration
	// Patience, when Abandons is true, is how long the caller waits before
	// hanging up; otherwise the caller waits until served or expired.
	Patience time.Duration
	Abandons bool
	// Hour is a label for hourly reports (e.g. the clock hour of arrival).
	Hour int
	// Bypass, when not Pending, says the contact ended without reaching
	// the router, at its arrival: Abandoned for a caller who hung up in
	// the IVR, Answered for a call the records show finished with no
	// agent. RunVirtual records that outcome with a zero wait and sends
	// nothing to the engine. Only RunVirtual honours it.
	Bypass Result
}

// Shift is one agent's logged-in period.
type Shift struct {
	Agent  string
	Skills map[string]int
	// Login and Logout are offsets from the start of the run. At Logout the
	// agent goes NOT_READY and logs out once its last call ends.
	Login, Logout time.Duration
	// Off are breaks inside [Login, Logout], in time order and disjoint:
	// at From the agent goes NOT_READY (finishing the call it holds), at
	// To it is READY again. Staffed time leaves them out. Only RunVirtual
	// honours them.
	Off []Interval
}

// Setup is everything a run needs.
type Setup struct {
	// Epoch is the wall time of offset 0 (only stamps the engine's times).
	Epoch  time.Time
	MRD    routing.MRD
	Queues []routing.Queue
	Shifts []Shift
	// Arrivals in any order; they are replayed by At, then index.
	Arrivals []Arrival
	// Observe, when set, is called once per arrival by RunVirtual, right
	// after the engine has taken the arrival (queued it, or offered it at
	// once), with the arrival's index and the engine's state at that
	// instant (its clock reads Epoch + Arrivals[i].At). It lets a caller
	// record what the queue knew when the customer arrived (position, the
	// waiting list, agents), to compare later with the Outcome of that
	// arrival: wait-time estimators are judged this way. The arrival's
	// request id is RequestID(i). The observer must only use st's read
	// views; a command applied to st would corrupt the run. Nil (the
	// default) changes nothing.
	Observe func(i int, st *routing.State)
	// Misses, when set, makes agents let some offers ring out (RONA):
	// RunVirtual only.
	Misses *Misses
}

// Misses describes offers agents do not answer: each offer is missed with
// probability Rate (seeded by Seed, in the run's event order), the engine's
// RONA timer of the queue then fires and requeues the request, and the
// agent, made NOT_READY by the queue's RONA action, is READY again Return
// after the timeout (0: at once) unless it is on a break or leaving.
type Misses struct {
	Rate   float64
	Return time.Duration
	Seed   uint64
}

// RequestID is the routing request id RunVirtual gives arrival i (its
// conversation id is "c" followed by i).
func RequestID(i int) string { return "r" + strconv.Itoa(i) }

// Result says how each arrival ended.
type Result int

// Results.
const (
	Pending Result = iota
	Answered
	Abandoned
	Expired
)

// Outcome is the fate of one arrival.
type Outcome struct {
	Result Result
	// Wait is from arrival to answer, abandon or expiry.
	Wait time.Duration
	// Agent who answered, if any.
	Agent string
	// Arrived and Ended, set by RunLive on a shared Clock, are the server's
	// instants of the call's creation and of its answer, abandon or expiry
	// (from GET /v1/conversations/{id}); zero otherwise.
	Arrived, Ended time.Time
}

// Interval is a span of virtual time, offsets from the start.
type Interval struct{ From, To time.Duration }

// Run is the record of a finished run.
type Run struct {
	Setup    *Setup
	Outcomes []Outcome // indexed like Setup.Arrivals
	// Busy are the service intervals actually worked, by agent.
	Busy map[string][]Interval
	// Staffed are the logged-in intervals, by agent.
	Staffed map[string][]Interval
	// Commands counts the commands applied to the engine.
	Commands int
}

type simKind int

// Order of simultaneous events: agents log in and finish calls before new
// calls arrive, so capacity freed at an instant serves arrivals of the
// same instant; abandons then logouts come last.
// A break ends with the logins and starts with the logouts.
const (
	kindLogin simKind = iota
	kindBreakEnd
	kindFinish
	kindArrival
	kindAbandon
	kindBreakStart
	kindLogout
	kindReadyAfterRONA
)

type simEvent struct {
	at   time.Duration
	kind simKind
	seq  int
	idx  int    // arrival or shift index
	task string // for kindFinish
}

type eventHeap []simEvent

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if a.at != b.at {
		return a.at < b.at
	}
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	return a.seq < b.seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(simEvent)) }
func (h *eventHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type virtualRun struct {
	setup   *Setup
	st      *routing.State
	events  eventHeap
	seq     int
	run     *Run
	now     time.Duration
	convIdx map[string]int // conversation id -> arrival index
	tasks   map[string]int // agent id -> open tasks
	leaving map[string]bool
	// breaking: on a break, its staffed interval still open for the call
	// it holds.
	breaking map[string]bool
	shiftOf  map[string]int
	served   map[string]time.Duration // task id -> service start
	rng      *rand.Rand               // offer misses
	offDuty  map[string]bool          // on a break
}

// ErrBadSetup is returned for a setup the engine refuses (the wrapped
// routing error says what).
var ErrBadSetup = errors.New("replay: bad setup")

// RunVirtual replays setup in virtual time and returns what happened.
func RunVirtual(setup *Setup) (*Run, error) {
	v := &virtualRun{setup: setup, st: routing.New(), convIdx: map[string]int{}, tasks: map[string]int{},
		leaving: map[string]bool{}, breaking: map[string]bool{}, offDuty: map[string]bool{}, shiftOf: map[string]int{}, served: map[string]time.Duration{},
		run: &Run{Setup: setup, Outcomes: make([]Outcome, len(setup.Arrivals)),
			Busy: map[string][]Interval{}, Staffed: map[string][]Interval{}}}
	if m := setup.Misses; m != nil {
		if !(m.Rate >= 0 && m.Rate < 1) || m.Return < 0 {
			return nil, fmt.Errorf("%w: miss rate %v not in [0, 1) or negative return %v", ErrBadSetup, m.Rate, m.Return)
		}
		v.rng = rand.New(rand.NewPCG(m.Seed, 0x5eed))
	}
	if err := v.configure(); err != nil {
		return nil, err
	}
	for i, a := range setup.Arrivals {
		if a.Bypass != Pending {
			v.run.Outcomes[i] = Outcome{Result: a.Bypass}
			continue
		}
		v.push(simEvent{at: a.At, kind: kindArrival, idx: i})
		if a.Abandons {
			v.push(simEvent{at: a.At + a.Patience, kind: kindAbandon, idx: i})
		}
	}
	for i, s := range setup.Shifts {
		v.push(simEvent{at: s.Login, kind: kindLogin, idx: i})
		v.push(simEvent{at: s.Logout, kind: kindLogout, idx: i})
		for _, off := range s.Off {
			v.push(simEvent{at: off.From, kind: kindBreakStart, idx: i})
			v.push(simEvent{at: off.To, kind: kindBreakEnd, idx: i})
		}
	}
	for {
		next, haveSim := v.peek()
		dl, haveDL := v.st.NextDeadline()
		if haveDL {
			dOff := dl.Sub(setup.Epoch)
			if !haveSim || dOff <= next.at {
				if err := v.apply(dOff, routing.Tick{}); err != nil {
					return nil, err
				}
				continue
			}
		}
		if !haveSim {
			break
		}
		ev := heap.Pop(&v.events).(simEvent)
		if err := v.step(ev); err != nil {
			return nil, err
		}
	}
	pending := 0
	for _, o := range v.run.Outcomes {
		if o.Result == Pending {
			pending++
		}
	}
	if pending > 0 {
		return nil, fmt.Errorf("%w: %d arrivals never ended (a queue without TTL and nobody to serve it)", ErrBadSetup, pending)
	}
	return v.run, nil
}

func (v *virtualRun) push(e simEvent) {
	v.seq++
	e.seq = v.seq
	heap.Push(&v.events, e)
}

func (v *virtualRun) peek() (simEvent, bool) {
	if len(v.events) == 0 {
		return simEvent{}, false
	}
	return v.events[0], true
}

func (v *virtualRun) configure() error {
	cmds := []routing.Command{routing.UpsertMRD{MRD: v.setup.MRD}}
	for _, q := range v.setup.Queues {
		cmds = append(cmds, routing.UpsertQueue{Queue: q})
	}
	seen := map[string]bool{}
	for i, s := range v.setup.Shifts {
		if seen[s.Agent] {
			return fmt.Errorf("%w: agent %q has two shifts", ErrBadSetup, s.Agent)
		}
		seen[s.Agent] = true
		prev := s.Login
		for _, off := range s.Off {
			if off.From < prev || off.To <= off.From || off.To > s.Logout {
				return fmt.Errorf("%w: agent %q: break %v..%v not in order inside the shift %v..%v", ErrBadSetup, s.Agent, off.From, off.To, s.Login, s.Logout)
			}
			prev = off.To
		}
		v.shiftOf[s.Agent] = i
		cmds = append(cmds, routing.UpsertAgent{Agent: routing.Agent{ID: s.Agent, Skills: s.Skills}})
	}
	for _, c := range cmds {
		if _, err := v.st.Apply(v.setup.Epoch, c); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadSetup, c.CommandName(), err)
		}
	}
	return nil
}

// apply runs one command at offset at and reacts to its events.
func (v *virtualRun) apply(at time.Duration, cmd routing.Command) error {
	v.now = at
	ev, err := v.st.Apply(v.setup.Epoch.Add(at), cmd)
	if err != nil {
		return err
	}
	v.run.Commands++
	return v.react(ev)
}

func (v *virtualRun) react(events []routing.Event) error {
	for _, e := range events {
		switch e := e.(type) {
		case routing.TaskReserved:
			if m := v.setup.Misses; m != nil && v.rng.Float64() < m.Rate {
				// Rings out: the queue's RONA timer requeues it.
				q, _ := v.st.Queue(v.setup.Arrivals[v.convIdx[e.Conversation]].Queue)
				rona := q.RONATimeout
				if rona <= 0 {
					rona = routing.DefaultRONATimeout
				}
				v.push(simEvent{at: v.now + rona + m.Return, kind: kindReadyAfterRONA, task: e.Agent})
				continue
			}
			// Auto-answer: the agent accepts at the instant of the offer.
			if err := v.apply(v.now, routing.AcceptTask{Task: e.Task, Agent: e.Agent}); err != nil {
				return fmt.Errorf("replay: accept %s: %w", e.Task, err)
			}
			i := v.convIdx[e.Conversation]
			a := v.setup.Arrivals[i]
			v.run.Outcomes[i] = Outcome{Result: Answered, Wait: v.now - a.At, Agent: e.Agent}
			v.tasks[e.Agent]++
			v.served[e.Task] = v.now
			v.push(simEvent{at: v.now + a.Service, kind: kindFinish, idx: i, task: e.Task})
		case routing.RequestRemoved:
			if e.Reason == routing.ReasonExpired {
				i := v.convIdx[e.Conversation]
				v.run.Outcomes[i] = Outcome{Result: Expired, Wait: v.now - v.setup.Arrivals[i].At}
			}
		}
	}
	return nil
}

func (v *virtualRun) step(ev simEvent) error {
	at := ev.at
	switch ev.kind {
	case kindArrival:
		a := v.setup.Arrivals[ev.idx]
		id := "c" + strconv.Itoa(ev.idx)
		v.convIdx[id] = ev.idx
		err := v.apply(at, routing.CreateConversation{ID: id, RequestID: RequestID(ev.idx), Queue: a.Queue, Priority: a.Priority})
		if err == nil && v.setup.Observe != nil {
			v.setup.Observe(ev.idx, v.st)
		}
		return err
	case kindAbandon:
		if v.run.Outcomes[ev.idx].Result != Pending {
			return nil
		}
		if err := v.apply(at, routing.AbandonConversation{Conversation: "c" + strconv.Itoa(ev.idx)}); err != nil {
			return fmt.Errorf("replay: abandon: %w", err)
		}
		v.run.Outcomes[ev.idx] = Outcome{Result: Abandoned, Wait: at - v.setup.Arrivals[ev.idx].At}
	case kindFinish:
		o := v.run.Outcomes[ev.idx]
		if err := v.apply(at, routing.CloseTask{Task: ev.task, Agent: o.Agent}); err != nil {
			return fmt.Errorf("replay: close %s: %w", ev.task, err)
		}
		v.run.Busy[o.Agent] = append(v.run.Busy[o.Agent], Interval{From: v.served[ev.task], To: at})
		delete(v.served, ev.task)
		v.tasks[o.Agent]--
		if v.breaking[o.Agent] && v.tasks[o.Agent] == 0 {
			v.closeStaffed(o.Agent, at)
		}
		if v.leaving[o.Agent] && v.tasks[o.Agent] == 0 {
			return v.logout(at, o.Agent)
		}
	case kindLogin:
		s := v.setup.Shifts[ev.idx]
		v.run.Staffed[s.Agent] = append(v.run.Staffed[s.Agent], Interval{From: at})
		return v.apply(at, routing.SetAgentState{Agent: s.Agent, State: routing.AgentReady})
	case kindReadyAfterRONA:
		agent := ev.task
		if st, ok := v.st.Agent(agent); ok && st.State == routing.AgentNotReady && !v.offDuty[agent] && !v.leaving[agent] {
			return v.apply(at, routing.SetAgentState{Agent: agent, State: routing.AgentReady})
		}
	case kindBreakStart:
		// The agent finishes the call it holds: staffed until then.
		s := v.setup.Shifts[ev.idx]
		v.offDuty[s.Agent] = true
		v.breaking[s.Agent] = true
		if v.tasks[s.Agent] == 0 {
			v.closeStaffed(s.Agent, at)
		}
		return v.apply(at, routing.SetAgentState{Agent: s.Agent, State: routing.AgentNotReady})
	case kindBreakEnd:
		s := v.setup.Shifts[ev.idx]
		if !v.breaking[s.Agent] { // the break's call outlasted it
			v.run.Staffed[s.Agent] = append(v.run.Staffed[s.Agent], Interval{From: at})
		}
		v.breaking[s.Agent] = false
		v.offDuty[s.Agent] = false
		return v.apply(at, routing.SetAgentState{Agent: s.Agent, State: routing.AgentReady})
	case kindLogout:
		s := v.setup.Shifts[ev.idx]
		if v.tasks[s.Agent] > 0 {
			v.leaving[s.Agent] = true
			return v.apply(at, routing.SetAgentState{Agent: s.Agent, State: routing.AgentNotReady})
		}
		return v.logout(at, s.Agent)
	}
	return nil
}

// closeStaffed ends the agent's staffed interval at at, for a break; the
// agent is then no longer breaking-with-a-call.
func (v *virtualRun) closeStaffed(agent string, at time.Duration) {
	st := v.run.Staffed[agent]
	if n := len(st); n > 0 {
		st[n-1].To = at
	}
	v.breaking[agent] = false
}

func (v *virtualRun) logout(at time.Duration, agent string) error {
	v.leaving[agent] = false
	st := v.run.Staffed[agent]
	if n := len(st); n > 0 {
		st[n-1].To = at
	}
	return v.apply(at, routing.SetAgentState{Agent: agent, State: routing.AgentLogout})
}
