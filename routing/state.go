// Package routing is omniroute's routing engine: a pure, deterministic state
// machine over agents, MRDs, queues, conversations, requests and tasks.
//
// State.Apply(now, cmd) is the only way to change a State. It never reads a
// clock (time arrives as now), starts no goroutine, does no I/O and makes no
// decision that depends on map iteration order, so replaying the same
// commands with the same times rebuilds the same state (DESIGN.md
// "Principles" 1). A command that returns an error changed nothing.
//
// Matching is indexed: each queue keeps its waiting requests ordered by
// (priority desc, enqueue time, arrival order) and its available eligible
// agents ordered by the queue's strategy, so a decision costs O(log n) in
// agents and requests plus the agents or requests skipped by exclusions.
// An agent that stops being available leaves its index entries in place
// (stale) rather than touching every queue it serves; a decision skips and
// drops the stale entries it meets (see reindex).
package routing

import (
	"encoding/json"
	"sort"
	"strconv"
	"time"

	"github.com/google/btree"
)

// State is the whole routing state. The zero value is not usable; call New.
type State struct {
	mrds     map[string]*mrdRT
	mrdIDs   []string
	queues   map[string]*queueRT
	queueIDs []string
	// hoursQueues are the queues with business hours, by id (hours.go).
	// applied is the time of the last command applied (not refused).
	applied     time.Time
	hoursQueues []*queueRT
	agents      map[string]*agentRT
	agentIDs    []string
	reasons     map[string]ReasonCode

	convs       map[string]*conv
	closedConvs []string // FIFO of retained closed conversations, from closedHead
	closedHead  int
	openConvs   int
	requests    map[string]*request
	tasks       map[string]*task
	waiting     int
	deadlines   *btree.BTreeG[deadline]
	// overflow: queue id -> the tiers whose step adds it (steps.go).
	overflow map[string]*[]*tier

	seq     uint64 // request enqueue order
	taskSeq uint64

	// Per-Apply scratch.
	now         time.Time
	events      []Event
	dirtyAgents []*agentRT
	dirtyReqs   []*request
	cands       candHeap
	stale       []availItem
	moved       []availItem
	adding      *agentMRD // the agent MRD reserve or holdAgent just loaded (reindex)
}

type mrdRT struct {
	def MRD
	// minWeight is the smallest capacity weight of the MRD's internal
	// queues (capacity.go), at least 1.
	minWeight int
}

type queueRT struct {
	def     Queue
	mrd     *mrdRT
	members map[string]bool
	// waiting holds every QUEUED request of the queue, whatever its step,
	// in service order; each tier's own tree holds those at its step (the
	// same tree as waiting when the queue has no steps). See steps.go.
	waiting *btree.BTreeG[*request]
	// avail is the base pool's index: the agents eligible under the
	// queue's own definition.
	avail *btree.BTreeG[availItem]
	tiers []*tier
	pools []*pool // distinct pools of tiers, by first tier
	// overflowIn lists the tiers of other queues whose step adds this one
	// (shared with State.overflow, so a queue added later finds them).
	overflowIn *[]*tier
	// hours are the compiled business hours (nil: always open);
	// hoursOpen holds for [hoursFrom, hoursUntil); hoursAt is the pending
	// Tick deadline of the next transition (hours.go).
	hours                          *hoursRT
	hoursOpen                      bool
	hoursFrom, hoursUntil, hoursAt time.Time
	// last remembers who served each customer (lastagent.go); nil until
	// the first service of a queue with LastAgent.
	last  *lastAgents
	open  int // open conversations whose current queue is this one
	tasks int // open tasks (any state) taken from this queue
	stats QueueStats
}

type agentRT struct {
	def     Agent
	state   AgentState
	reason  string
	since   time.Time
	loginAt time.Time
	mrds    map[string]*agentMRD
	// mrdList holds mrds in the order of State.mrdIDs, so hot loops need
	// no map lookups; rebuilt when an MRD is added.
	mrdList []*agentMRD
	tasks   []*task    // open tasks in creation order
	holds   []*request // HELD requests holding this agent (hold.go), by id
	used    int        // units taken by tasks and holds (capacity.go)
	dirty   bool
}

type agentMRD struct {
	agent     *agentRT
	mrd       *mrdRT
	want      bool
	state     MRDState
	since     time.Time
	lastReady time.Time
	idleSince time.Time
	lastOffer time.Time
	load      int
	capacity  int
	pools     []*pool     // pools of internal queues on this MRD am is eligible for, by (queue id, tier)
	slots     []availSlot // parallel to pools: am's key in each pool's avail
	avail     bool        // available at the last reindex
}

type request struct {
	id         string
	conv       *conv
	queue      *queueRT
	priority   int
	enqueuedAt time.Time
	seq        uint64
	ttl        time.Time
	excluded   []string // sorted
	state      RequestState
	task       *task
	also       []*task // further reservations, oldest first (multioffer.go)
	// preferred agents until preferredUntil (preferred.go).
	preferred      []string
	preferredUntil time.Time
	// Escalation (steps.go): step indexes queue.tiers, base is the
	// priority before the step's is added, stepAt the next step's start.
	step   int
	base   int
	stepAt time.Time
	// A transfer or conference request (RequestTransfer); kind is empty
	// for a customer's request. See participants.go.
	kind      TransferMode
	fromAgent string
	fromTask  string
	target    string
	note      string
	// A callback (hold.go): hold is the confirmation window (0: a normal
	// request), holdAttempts the holds that may expire (0 means 1),
	// holdExpired those that did; held and holdDeadline while HELD.
	hold         time.Duration
	holdAttempts int
	holdExpired  int
	confirmed    bool
	held         *agentMRD
	holdDeadline time.Time
}

type conv struct {
	id          string
	queue       *queueRT
	priority    int
	customer    json.RawMessage
	attrs       map[string]string
	createdAt   time.Time
	enqueuedAt  time.Time
	seq         uint64
	closed      bool
	closeReason CloseReason
	closedAt    time.Time
	answeredAt  time.Time
	req         *request
	requeues    int
	tasks       []*task // open tasks, creation order
	// customerLeft: CustomerLeft was applied (participants.go).
	customerLeft bool
	// weight is the conversation's capacity weight (capacity.go).
	weight int
	// customerID names the customer for last-agent routing (lastagent.go).
	customerID string
	// monitors are the supervisors in the conversation without a task
	// (SILENT_MONITOR, BARGE_IN), in join order.
	monitors []monitor
}

type task struct {
	id         string
	conv       *conv
	req        *request // while RESERVED
	agent      *agentRT
	am         *agentMRD
	queue      *queueRT
	state      TaskState
	reservedAt time.Time
	acceptedAt time.Time
	deadline   time.Time
	role       ParticipantRole
}

type deadlineKind uint8

const (
	deadlineRONA deadlineKind = iota
	deadlineWrapUp
	deadlineTTL
	deadlineHold
	deadlineStep
	deadlineHours
	deadlinePreferred
)

type deadline struct {
	at   int64
	kind deadlineKind
	id   string
}

func deadlineLess(a, b deadline) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	return a.id < b.id
}

type availItem struct {
	k1, k2, k3 int64
	id         string
	am         *agentMRD
}

func availLess(a, b availItem) bool {
	if a.k1 != b.k1 {
		return a.k1 < b.k1
	}
	if a.k2 != b.k2 {
		return a.k2 < b.k2
	}
	if a.k3 != b.k3 {
		return a.k3 < b.k3
	}
	return a.id < b.id
}

func requestLess(a, b *request) bool {
	if a.priority != b.priority {
		return a.priority > b.priority
	}
	if !a.enqueuedAt.Equal(b.enqueuedAt) {
		return a.enqueuedAt.Before(b.enqueuedAt)
	}
	return a.seq < b.seq
}

const btreeDegree = 16

// New returns an empty state with the built-in reason codes RONA and
// DISCONNECTED.
func New() *State {
	s := &State{
		mrds:      map[string]*mrdRT{},
		queues:    map[string]*queueRT{},
		agents:    map[string]*agentRT{},
		reasons:   map[string]ReasonCode{},
		convs:     map[string]*conv{},
		requests:  map[string]*request{},
		tasks:     map[string]*task{},
		deadlines: btree.NewG(btreeDegree, deadlineLess),
		overflow:  map[string]*[]*tier{},
	}
	s.reasons[RONAReasonCode] = ReasonCode{ID: RONAReasonCode, Name: "Ring on no answer", Type: ReasonTypeNotReady}
	s.reasons[DisconnectedReasonCode] = ReasonCode{ID: DisconnectedReasonCode, Name: "Disconnected", Type: ReasonTypeNotReady}
	return s
}

// Apply applies cmd at time now and returns the events it caused, in order.
// On error nothing changed and the error is an *Error with a stable code.
func (s *State) Apply(now time.Time, cmd Command) ([]Event, error) {
	s.now = now.Round(0).UTC()
	// Most commands cause a handful of events: one allocation, not a
	// growing slice.
	s.events = make([]Event, 0, 8)
	var err *Error
	switch c := cmd.(type) {
	case UpsertMRD:
		err = s.upsertMRD(c.MRD)
	case UpsertQueue:
		err = s.upsertQueue(c.Queue)
	case UpsertAgent:
		err = s.upsertAgent(c.Agent)
	case UpsertReasonCode:
		err = s.upsertReasonCode(c.ReasonCode)
	case SetAgentState:
		err = s.setAgentState(c)
	case SetMRDState:
		err = s.setMRDState(c)
	case CreateConversation:
		err = s.createConversation(c)
	case AcceptTask:
		err = s.acceptTask(c)
	case DeclineTask:
		err = s.declineTask(c)
	case CloseTask:
		err = s.closeTaskCmd(c)
	case CloseConversation:
		err = s.closeConversationCmd(c)
	case AbandonConversation:
		err = s.abandonConversation(c)
	case RequestTransfer:
		err = s.requestTransfer(c)
	case JoinConversation:
		err = s.joinConversation(c)
	case ChangeParticipantRole:
		err = s.changeParticipantRole(c)
	case LeaveConversation:
		err = s.leaveConversation(c)
	case CustomerLeft:
		err = s.customerLeft(c)
	case Tick:
		s.tick()
	case AgentDisconnected:
		err = s.agentDisconnected(c)
	case AssignWork:
		err = s.assignWork(c)
	case ConfirmHold:
		err = s.confirmHold(c)
	case SetRequestPriority:
		err = s.setRequestPriority(c)
	case nil:
		err = errf(CodeInvalidArgument, "no command")
	default:
		if d := deref(cmd); d != cmd {
			return s.Apply(now, d)
		}
		err = errf(CodeInvalidArgument, "unknown command %T", cmd)
	}
	if err != nil {
		s.events = nil
		return nil, err
	}
	s.applied = s.now
	s.hoursDue()
	s.match()
	ev := s.events
	s.events = nil
	s.attachPresence(ev)
	return ev, nil
}

func (s *State) emit(e Event) { s.events = append(s.events, e) }

// insertSorted adds id to the sorted slice ids.
func insertSorted(ids []string, id string) []string {
	i := sort.SearchStrings(ids, id)
	ids = append(ids, "")
	copy(ids[i+1:], ids[i:])
	ids[i] = id
	return ids
}

func containsSorted(ids []string, id string) bool {
	i := sort.SearchStrings(ids, id)
	return i < len(ids) && ids[i] == id
}

func (s *State) addDeadline(at time.Time, kind deadlineKind, id string) {
	s.deadlines.ReplaceOrInsert(deadline{at: at.UnixNano(), kind: kind, id: id})
}

func (s *State) removeDeadline(at time.Time, kind deadlineKind, id string) {
	s.deadlines.Delete(deadline{at: at.UnixNano(), kind: kind, id: id})
}

// NextDeadline returns the earliest pending deadline (RONA, wrap-up end,
// request TTL, hold end, next escalation step); the node sends a Tick at that time. ok is false when none.
func (s *State) NextDeadline() (at time.Time, ok bool) {
	d, ok := s.deadlines.Min()
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, d.at).UTC(), true
}

// capacityFor is the agent's capacity on m: its own figure or the MRD's.
func capacityFor(a *Agent, m *mrdRT) int {
	if c, ok := a.Capacity[m.def.ID]; ok {
		return c
	}
	return m.def.MaxRequests
}

// newTaskID returns the next free engine task id, task-N, skipping an id
// that a caller chose (AssignWork) and that is still open.
func (s *State) newTaskID() string {
	for {
		s.taskSeq++
		id := "task-" + strconv.FormatUint(s.taskSeq, 10)
		if _, taken := s.tasks[id]; !taken {
			return id
		}
	}
}
