package routing

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// snapshotVersion changes whenever the snapshot layout does.
const snapshotVersion = 1

// snapshot is the canonical serialized form of a State: definitions and
// runtime facts, never indexes (they are rebuilt on restore). Every slice is
// in a deterministic order, so equal states encode to equal bytes.
type snapshot struct {
	Version     int          `json:"version"`
	Seq         uint64       `json:"seq"`
	TaskSeq     uint64       `json:"taskSeq"`
	MRDs        []MRD        `json:"mrds"`
	Queues      []queueSnap  `json:"queues"`
	Agents      []agentSnap  `json:"agents"`
	Reasons     []ReasonCode `json:"reasons"`
	Convs       []convSnap   `json:"conversations"`
	ClosedOrder []string     `json:"closedOrder"`
}

type queueSnap struct {
	Def   Queue      `json:"def"`
	Stats QueueStats `json:"stats"`
	// HoursAt is the pending business-hours deadline (omitted when none).
	HoursAt time.Time `json:"hoursAt,omitzero"`
	// LastAgents is the queue's last-agent memory, least recently served
	// first (lastagent.go); omitted when empty.
	LastAgents []lastServedSnap `json:"lastAgents,omitempty"`
}

type agentSnap struct {
	Def     Agent        `json:"def"`
	State   AgentState   `json:"state"`
	Reason  string       `json:"reason,omitempty"`
	Since   time.Time    `json:"since"`
	LoginAt time.Time    `json:"loginAt"`
	MRDs    []agentMRDSn `json:"mrds"`
}

type agentMRDSn struct {
	MRD       string    `json:"mrd"`
	Want      bool      `json:"want"`
	State     MRDState  `json:"state"`
	Since     time.Time `json:"since"`
	LastReady time.Time `json:"lastReady"`
	IdleSince time.Time `json:"idleSince"`
	LastOffer time.Time `json:"lastOffer"`
}

type convSnap struct {
	ID          string            `json:"id"`
	Queue       string            `json:"queue"`
	Priority    int               `json:"priority"`
	Customer    json.RawMessage   `json:"customer,omitempty"`
	Attrs       map[string]string `json:"attrs,omitempty"`
	CreatedAt   time.Time         `json:"createdAt"`
	EnqueuedAt  time.Time         `json:"enqueuedAt"`
	Seq         uint64            `json:"seq"`
	Closed      bool              `json:"closed"`
	CloseReason CloseReason       `json:"closeReason,omitempty"`
	ClosedAt    time.Time         `json:"closedAt"`
	AnsweredAt  time.Time         `json:"answeredAt"`
	Requeues    int               `json:"requeues"`
	Request     *requestSnap      `json:"request,omitempty"`
	Tasks       []taskSnap        `json:"tasks,omitempty"`
	// CustomerLeft and Monitors: participants.go (omitted when unset, so
	// earlier snapshots read the same).
	CustomerLeft bool          `json:"customerLeft,omitempty"`
	Monitors     []monitorSnap `json:"monitors,omitempty"`
	// Weight is the capacity weight (capacity.go); omitted when 1, so
	// earlier snapshots read the same.
	Weight int `json:"capacityWeight,omitempty"`
	// CustomerID names the customer for last-agent routing (lastagent.go).
	CustomerID string `json:"customerId,omitempty"`
}

type monitorSnap struct {
	Agent string          `json:"agent"`
	Role  ParticipantRole `json:"role"`
}

type requestSnap struct {
	ID         string       `json:"id"`
	Queue      string       `json:"queue"`
	Priority   int          `json:"priority"`
	EnqueuedAt time.Time    `json:"enqueuedAt"`
	Seq        uint64       `json:"seq"`
	TTL        time.Time    `json:"ttl"`
	Excluded   []string     `json:"excluded,omitempty"`
	State      RequestState `json:"state"`
	// A transfer or conference request (participants.go).
	Kind      TransferMode `json:"kind,omitempty"`
	FromAgent string       `json:"fromAgent,omitempty"`
	FromTask  string       `json:"fromTask,omitempty"`
	Target    string       `json:"target,omitempty"`
	Note      string       `json:"note,omitempty"`
	// A callback (hold.go); omitted when unset, so earlier snapshots read
	// the same. HeldAgent and HoldDeadline while HELD.
	Hold         time.Duration `json:"hold,omitempty"`
	HoldAttempts int           `json:"holdAttempts,omitempty"`
	HoldExpired  int           `json:"holdExpired,omitempty"`
	Confirmed    bool          `json:"confirmed,omitempty"`
	HeldAgent    string        `json:"heldAgent,omitempty"`
	HoldDeadline time.Time     `json:"holdDeadline,omitzero"`
	// Escalation (steps.go); omitted when unset, so earlier snapshots
	// read the same: Base is the priority before the step's (absent:
	// Priority), StepAt the next step's start.
	Step   int       `json:"step,omitempty"`
	Base   *int      `json:"base,omitempty"`
	StepAt time.Time `json:"stepAt,omitzero"`
	// Preferred agents and the end of their window (preferred.go).
	Preferred      []string  `json:"preferred,omitempty"`
	PreferredUntil time.Time `json:"preferredUntil,omitzero"`
}

type taskSnap struct {
	ID         string          `json:"id"`
	Agent      string          `json:"agent"`
	Queue      string          `json:"queue"`
	State      TaskState       `json:"state"`
	ReservedAt time.Time       `json:"reservedAt"`
	AcceptedAt time.Time       `json:"acceptedAt"`
	Deadline   time.Time       `json:"deadline"`
	Role       ParticipantRole `json:"role"`
	// Offer marks the task holding the conversation's request.
	Offer bool `json:"offer,omitempty"`
	// Order is the task's place in its agent's task list (reservation
	// order): task ids chosen by AssignWork are not numbered. Absent (0
	// everywhere) in older snapshots, whose ids are all task-N.
	Order int `json:"order,omitempty"`
}

// MarshalSnapshot encodes the whole state canonically: two states that
// behave the same encode to the same bytes.
func (s *State) MarshalSnapshot() ([]byte, error) {
	sn := snapshot{Version: snapshotVersion, Seq: s.seq, TaskSeq: s.taskSeq, MRDs: s.MRDs(), Reasons: s.ReasonCodes(),
		ClosedOrder: slices.Clone(s.closedConvs[s.closedHead:])}
	for _, id := range s.queueIDs {
		q := s.queues[id]
		sn.Queues = append(sn.Queues, queueSnap{Def: cloneQueue(q.def), Stats: q.stats, HoursAt: q.hoursAt,
			LastAgents: q.lastAgentsSnap()})
	}
	for _, id := range s.agentIDs {
		a := s.agents[id]
		as := agentSnap{Def: cloneAgent(a.def), State: a.state, Reason: a.reason, Since: a.since, LoginAt: a.loginAt}
		for _, mid := range s.mrdIDs {
			am := a.mrds[mid]
			as.MRDs = append(as.MRDs, agentMRDSn{MRD: mid, Want: am.want, State: am.state, Since: am.since,
				LastReady: am.lastReady, IdleSince: am.idleSince, LastOffer: am.lastOffer})
		}
		sn.Agents = append(sn.Agents, as)
	}
	for _, id := range slices.Sorted(maps.Keys(s.convs)) {
		cv := s.convs[id]
		cs := convSnap{ID: cv.id, Queue: cv.queue.def.ID, Priority: cv.priority, Customer: cv.customer, Attrs: cv.attrs,
			CreatedAt: cv.createdAt, EnqueuedAt: cv.enqueuedAt, Seq: cv.seq, Closed: cv.closed, CloseReason: cv.closeReason,
			ClosedAt: cv.closedAt, AnsweredAt: cv.answeredAt, Requeues: cv.requeues, CustomerLeft: cv.customerLeft,
			CustomerID: cv.customerID}
		if cv.weight != 1 {
			cs.Weight = cv.weight
		}
		if r := cv.req; r != nil {
			cs.Request = &requestSnap{ID: r.id, Queue: r.queue.def.ID, Priority: r.priority, EnqueuedAt: r.enqueuedAt,
				Seq: r.seq, TTL: r.ttl, Excluded: r.excluded, State: r.state,
				Kind: r.kind, FromAgent: r.fromAgent, FromTask: r.fromTask, Target: r.target, Note: r.note,
				Hold: r.hold, HoldAttempts: r.holdAttempts, HoldExpired: r.holdExpired, Confirmed: r.confirmed,
				HoldDeadline: r.holdDeadline, Step: r.step, StepAt: r.stepAt,
				Preferred: r.preferred, PreferredUntil: r.preferredUntil}
			if r.base != r.priority {
				cs.Request.Base = &r.base
			}
			if r.held != nil {
				cs.Request.HeldAgent = r.held.agent.def.ID
			}
		}
		for _, m := range cv.monitors {
			cs.Monitors = append(cs.Monitors, monitorSnap{Agent: m.agent.def.ID, Role: m.role})
		}
		for _, t := range cv.tasks {
			cs.Tasks = append(cs.Tasks, taskSnap{ID: t.id, Agent: t.agent.def.ID, Queue: t.queue.def.ID, State: t.state,
				ReservedAt: t.reservedAt, AcceptedAt: t.acceptedAt, Deadline: t.deadline, Role: t.role,
				Offer: cv.req != nil && (cv.req.task == t || slices.Contains(cv.req.also, t)), Order: slices.Index(t.agent.tasks, t)})
		}
		sn.Convs = append(sn.Convs, cs)
	}
	return json.Marshal(sn)
}

// Digest is the SHA-256 of the canonical snapshot, hex encoded: recovery
// proves itself by comparing digests.
func (s *State) Digest() string {
	b, err := s.MarshalSnapshot()
	if err != nil {
		return "error: " + err.Error()
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// UnmarshalSnapshot rebuilds a state from MarshalSnapshot's bytes. Errors
// name what was inconsistent; a failed restore returns no state.
func UnmarshalSnapshot(data []byte) (*State, error) {
	var sn snapshot
	if err := json.Unmarshal(data, &sn); err != nil {
		return nil, fmt.Errorf("routing: snapshot: %w", err)
	}
	if sn.Version != snapshotVersion {
		return nil, fmt.Errorf("routing: snapshot version %d, want %d", sn.Version, snapshotVersion)
	}
	s := New()
	var zero time.Time
	// Definitions go through the same commands as live changes, so restore
	// and live state share one code path for indexes.
	for _, m := range sn.MRDs {
		if err := s.restoreApply(zero, UpsertMRD{MRD: m}); err != nil {
			return nil, err
		}
	}
	for _, rc := range sn.Reasons {
		if err := s.restoreApply(zero, UpsertReasonCode{ReasonCode: rc}); err != nil {
			return nil, err
		}
	}
	for _, a := range sn.Agents {
		if err := s.restoreApply(zero, UpsertAgent{Agent: a.Def}); err != nil {
			return nil, err
		}
	}
	for _, q := range sn.Queues {
		if err := s.restoreApply(zero, UpsertQueue{Queue: q.Def}); err != nil {
			return nil, err
		}
		qr := s.queues[q.Def.ID]
		qr.stats = q.Stats
		// The restore ran at the zero time; the deadline comes from the
		// snapshot.
		if !qr.hoursAt.IsZero() {
			s.deadlines.Delete(deadline{at: qr.hoursAt.UnixNano(), kind: deadlineHours, id: q.Def.ID})
		}
		qr.hoursAt, qr.hoursFrom = q.HoursAt, time.Time{}
		if !q.HoursAt.IsZero() {
			s.addDeadline(q.HoursAt, deadlineHours, q.Def.ID)
		}
		for _, ls := range q.LastAgents {
			if err := checkID("customer", ls.Customer); err != nil {
				return nil, err
			}
			qr.remember(ls.Customer, ls.Agent, ls.At)
		}
	}
	for _, as := range sn.Agents {
		a := s.agents[as.Def.ID]
		a.state, a.reason, a.since, a.loginAt = as.State, as.Reason, as.Since, as.LoginAt
		for _, ms := range as.MRDs {
			am, ok := a.mrds[ms.MRD]
			if !ok {
				return nil, fmt.Errorf("routing: snapshot: agent %q names unknown mrd %q", as.Def.ID, ms.MRD)
			}
			am.want, am.state, am.since, am.lastReady, am.idleSince, am.lastOffer =
				ms.Want, ms.State, ms.Since, ms.LastReady, ms.IdleSince, ms.LastOffer
		}
	}
	var tasks []*task
	order := map[*task]int{}
	for _, cs := range sn.Convs {
		q, ok := s.queues[cs.Queue]
		if !ok {
			return nil, fmt.Errorf("routing: snapshot: conversation %q names unknown queue %q", cs.ID, cs.Queue)
		}
		cv := &conv{id: cs.ID, queue: q, priority: cs.Priority, customer: cs.Customer, attrs: cs.Attrs,
			createdAt: cs.CreatedAt, enqueuedAt: cs.EnqueuedAt, seq: cs.Seq, closed: cs.Closed,
			closeReason: cs.CloseReason, closedAt: cs.ClosedAt, answeredAt: cs.AnsweredAt, requeues: cs.Requeues,
			customerLeft: cs.CustomerLeft, weight: max(cs.Weight, 1), customerID: cs.CustomerID}
		for _, ms := range cs.Monitors {
			a, ok := s.agents[ms.Agent]
			if !ok {
				return nil, fmt.Errorf("routing: snapshot: conversation %q names unknown supervisor %q", cs.ID, ms.Agent)
			}
			cv.monitors = append(cv.monitors, monitor{agent: a, role: ms.Role})
		}
		s.convs[cv.id] = cv
		if !cv.closed {
			s.openConvs++
			q.open++
		}
		if rs := cs.Request; rs != nil {
			rq, ok := s.queues[rs.Queue]
			if !ok {
				return nil, fmt.Errorf("routing: snapshot: request %q names unknown queue %q", rs.ID, rs.Queue)
			}
			r := &request{id: rs.ID, conv: cv, queue: rq, priority: rs.Priority, enqueuedAt: rs.EnqueuedAt,
				seq: rs.Seq, ttl: rs.TTL, excluded: rs.Excluded, state: rs.State,
				kind: rs.Kind, fromAgent: rs.FromAgent, fromTask: rs.FromTask, target: rs.Target, note: rs.Note,
				hold: rs.Hold, holdAttempts: rs.HoldAttempts, holdExpired: rs.HoldExpired, confirmed: rs.Confirmed,
				step: rs.Step, base: rs.Priority, stepAt: rs.StepAt,
				preferred: rs.Preferred, preferredUntil: rs.PreferredUntil}
			if !r.preferredUntil.IsZero() {
				s.addDeadline(r.preferredUntil, deadlinePreferred, r.id)
			}
			if r.target != "" && len(r.preferred) == 0 {
				// A direct transfer from a snapshot taken before targets
				// were preferred agents (preferred.go).
				r.preferred = []string{r.target}
			}
			if rs.Base != nil {
				r.base = *rs.Base
			}
			if r.step < 0 || r.step >= len(rq.tiers) {
				return nil, fmt.Errorf("routing: snapshot: request %q at step %d; queue %q has %d steps", rs.ID, r.step, rq.def.ID, len(rq.tiers)-1)
			}
			if !r.stepAt.IsZero() {
				s.addDeadline(r.stepAt, deadlineStep, r.id)
			}
			if r.state == RequestHeldState {
				a, ok := s.agents[rs.HeldAgent]
				if !ok || a.mrds[rq.def.MRD] == nil || rs.HoldDeadline.IsZero() {
					return nil, fmt.Errorf("routing: snapshot: held request %q names unknown agent %q or no deadline", rs.ID, rs.HeldAgent)
				}
				r.held, r.holdDeadline = a.mrds[rq.def.MRD], rs.HoldDeadline
				a.holds = insertHold(a.holds, r)
				r.held.take(cv.weight)
				s.addDeadline(r.holdDeadline, deadlineHold, r.id)
			}
			cv.req = r
			s.requests[r.id] = r
			if r.state == RequestQueuedState {
				s.addWaiting(r)
			}
			if !r.ttl.IsZero() {
				s.addDeadline(r.ttl, deadlineTTL, r.id)
			}
		}
		for _, ts := range cs.Tasks {
			a, ok := s.agents[ts.Agent]
			tq, ok2 := s.queues[ts.Queue]
			if !ok || !ok2 {
				return nil, fmt.Errorf("routing: snapshot: task %q names unknown agent or queue", ts.ID)
			}
			t := &task{id: ts.ID, conv: cv, agent: a, am: a.mrds[tq.def.MRD], queue: tq, state: ts.State,
				reservedAt: ts.ReservedAt, acceptedAt: ts.AcceptedAt, deadline: ts.Deadline, role: ts.Role}
			order[t] = ts.Order
			if ts.Offer && cv.req != nil {
				t.req = cv.req
				if cv.req.task == nil {
					cv.req.task = t
				} else {
					cv.req.also = append(cv.req.also, t) // tasks are in creation order
				}
			}
			cv.tasks = append(cv.tasks, t)
			s.tasks[t.id] = t
			tq.tasks++
			tasks = append(tasks, t)
			t.am.take(cv.weight)
			switch t.state {
			case TaskReservedState:
				s.addDeadline(t.deadline, deadlineRONA, t.id)
			case TaskWrapUpState:
				s.addDeadline(t.deadline, deadlineWrapUp, t.id)
			}
		}
	}
	// Agents list their tasks in reservation order: each task's Order in
	// its agent's list (older snapshots: numbered task ids).
	slices.SortFunc(tasks, func(a, b *task) int {
		if c := cmp.Compare(order[a], order[b]); c != 0 {
			return c
		}
		return compareTaskIDs(a.id, b.id)
	})
	for _, t := range tasks {
		t.agent.tasks = append(t.agent.tasks, t)
	}
	s.closedConvs = sn.ClosedOrder
	s.seq, s.taskSeq = sn.Seq, sn.TaskSeq
	for _, id := range s.agentIDs {
		for _, mid := range s.mrdIDs {
			s.reindex(s.agents[id].mrds[mid])
		}
	}
	s.dirtyAgents, s.dirtyReqs, s.events = nil, nil, nil
	for _, a := range s.agents {
		a.dirty = false
	}
	return s, nil
}

func (s *State) restoreApply(at time.Time, cmd Command) error {
	if _, err := s.Apply(at, cmd); err != nil {
		return fmt.Errorf("routing: snapshot: %w", err)
	}
	return nil
}

func compareTaskIDs(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
