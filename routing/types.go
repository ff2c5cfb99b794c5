package routing

import (
	"encoding/json"
	"time"
)

// AgentState is an agent's global (parent) state, seed 004 "Change Agent States".
type AgentState string

// Agent states. LOGOUT is the zero state of a configured agent.
const (
	AgentLogout   AgentState = "LOGOUT"
	AgentNotReady AgentState = "NOT_READY"
	AgentReady    AgentState = "READY"
)

// MRDState is an agent's state on one media routing domain (ExpertFlow
// agentMrdStates[].state, PROTOCOLS.md).
type MRDState string

// MRD states; see DESIGN.md "Domain terms" for their rules.
const (
	// MRDNotReady: the agent takes no work on this MRD (also while logged out).
	MRDNotReady MRDState = "NOT_READY"
	// MRDReady: ready, no work on this MRD.
	MRDReady MRDState = "READY"
	// MRDActive: has work on this MRD and room for more.
	MRDActive MRDState = "ACTIVE"
	// MRDBusy: at capacity on this MRD.
	MRDBusy MRDState = "BUSY"
	// MRDPendingNotReady: asked to stop while working; no new work,
	// NOT_READY when the last task on this MRD closes.
	MRDPendingNotReady MRDState = "PENDING_NOT_READY"
	// MRDInterrupted: work on another, non-interruptible MRD holds this one.
	MRDInterrupted MRDState = "INTERRUPTED"
)

// TaskState is the state of one agent's work on one conversation
// (ExpertFlow task, Salesforce AgentWork).
type TaskState string

// Task states: RESERVED -> ACTIVE -> WRAP_UP -> CLOSED.
const (
	TaskReservedState TaskState = "RESERVED"
	TaskActiveState   TaskState = "ACTIVE"
	TaskWrapUpState   TaskState = "WRAP_UP"
	TaskClosedState   TaskState = "CLOSED"
)

// CloseReason says why a task or conversation closed (ExpertFlow close
// reasons, PROTOCOLS.md).
type CloseReason string

// Close reasons.
const (
	ReasonDone              CloseReason = "DONE"
	ReasonRONA              CloseReason = "RONA"
	ReasonDeclined          CloseReason = "DECLINED"
	ReasonTransferred       CloseReason = "TRANSFERRED"
	ReasonCancelled         CloseReason = "CANCELLED"
	ReasonAgentLogout       CloseReason = "AGENT_LOGOUT"
	ReasonForceClosed       CloseReason = "FORCE_CLOSED"
	ReasonNoAgentAvailable  CloseReason = "NO_AGENT_AVAILABLE"
	ReasonAbandoned         CloseReason = "ABANDONED"
	ReasonAccepted          CloseReason = "ACCEPTED"
	ReasonExpired           CloseReason = "EXPIRED"
	ReasonRequeuedAfterDrop CloseReason = "REROUTE"
	// ReasonEscalated: the request reached its next escalation step.
	ReasonEscalated CloseReason = "ESCALATED"
	// ReasonAged: the request's priority grew by aging (Queue.PriorityAging).
	ReasonAged CloseReason = "AGED"
	// ReasonPriorityChanged: SetRequestPriority changed it in place.
	ReasonPriorityChanged CloseReason = "PRIORITY_CHANGED"
)

// RequestState is the state of a request while it exists: QUEUED
// (waiting), OFFERED (a RESERVED task holds it) or HELD (a callback holding
// an agent's capacity, RequestHeldState in hold.go). A request that ends is
// removed (RequestRemoved carries the reason: ACCEPTED, EXPIRED, CANCELLED,
// ABANDONED or UNCONFIRMED).
type RequestState string

// Request states.
const (
	RequestQueuedState  RequestState = "QUEUED"
	RequestOfferedState RequestState = "OFFERED"
)

// Strategy picks one agent among the eligible, available agents of a queue.
type Strategy string

// Strategies. Every strategy breaks its ties by agent id.
const (
	// LongestIdle offers to the agent idle on the MRD the longest; agents
	// with work on the MRD come after every idle agent, least recently
	// offered first. The default.
	LongestIdle Strategy = "longest-idle"
	// MostAvailable offers to the agent with the most free capacity on the MRD.
	MostAvailable Strategy = "most-available"
	// LeastActive offers to the agent with the fewest tasks on the MRD.
	LeastActive Strategy = "least-active"
	// RoundRobin offers to the agent offered least recently on the MRD.
	RoundRobin Strategy = "round-robin"
	// BestSkill offers to the agent with the highest sum of levels in the
	// queue's skills, then longest idle.
	BestSkill Strategy = "best-skill"
)

// QueueMode says who chooses the agent for a queue's requests.
type QueueMode string

// Queue modes.
const (
	// Internal: the engine chooses (the default).
	Internal QueueMode = "internal"
	// External: a partner router chooses (seed 000); the engine never offers.
	External QueueMode = "external"
)

// Role is an agent's role.
type Role string

// Roles.
const (
	RoleAgent      Role = "agent"
	RoleSupervisor Role = "supervisor"
)

// ReasonType says which agent state a reason code goes with.
type ReasonType string

// Reason code types (ExpertFlow reasonCode.type).
const (
	ReasonTypeNotReady ReasonType = "NOT_READY"
	ReasonTypeLogout   ReasonType = "LOGOUT"
)

// RONA reason code id applied by the default RONA action.
const RONAReasonCode = "RONA"

// MRD is a media routing domain: chat, voice, email... (ExpertFlow MRD).
type MRD struct {
	// ID is the stable identifier, 1..MaxIDLength bytes.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Description is free text.
	Description string `json:"description,omitempty"`
	// Interruptible false means work on this MRD puts the agent's other
	// MRDs in INTERRUPTED (voice is typically not interruptible).
	Interruptible bool `json:"interruptible"`
	// MaxRequests is the default per-agent capacity on this MRD (1..MaxCapacity).
	MaxRequests int `json:"maxRequests"`
}

// Queue is a routing queue on one MRD.
type Queue struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// MRD is the id of the queue's media routing domain.
	MRD string `json:"mrd"`
	// Mode is internal (default) or external.
	Mode QueueMode `json:"mode,omitempty"`
	// Strategy defaults to longest-idle.
	Strategy Strategy `json:"strategy,omitempty"`
	// Skills are the required skills: name -> minimum level 1..100.
	Skills map[string]int `json:"skills,omitempty"`
	// Members, when not empty, limits the queue to these agent ids.
	Members []string `json:"members,omitempty"`
	// RONATimeout is how long an offer waits for accept (0: DefaultRONATimeout).
	RONATimeout time.Duration `json:"ronaTimeout,omitempty"`
	// TTL is how long a request may wait before it expires (0: never).
	TTL time.Duration `json:"ttl,omitempty"`
	// ServiceLevelThreshold is the answer time counted as within service
	// level (0: DefaultServiceLevelThreshold).
	ServiceLevelThreshold time.Duration `json:"serviceLevelThreshold,omitempty"`
	// WrapUp is the wrap-up time after an agent closes a task (0: none).
	WrapUp time.Duration `json:"wrapUp,omitempty"`
	// RONAAction is applied to an agent who lets an offer time out:
	// "NOT_READY" (default: agent NOT_READY with reason RONA) or "NONE".
	RONAAction string `json:"ronaAction,omitempty"`
	// LastAgentLeaves is what happens when the last agent leaves a
	// conversation whose customer is still present (seed 004 "Leave
	// Conversation"): LastAgentClose ("close", the default when empty) or
	// LastAgentRequeue ("requeue"). See participants.go.
	LastAgentLeaves string `json:"lastAgentLeaves,omitempty"`
	// Steps are the queue's escalation steps (steps.go), ordered by After
	// (strictly increasing, each > 0; at most MaxSteps). Internal queues only.
	Steps []EscalationStep `json:"steps,omitempty"`
	// PriorityAging, when > 0, adds one priority level to a waiting
	// request for every PriorityAging it has waited since it first queued
	// (steps.go), up to MaxPriority (0: the engine's MaxPriority); a
	// request whose own priority is at or above the cap does not age. A
	// level change is a Tick deadline, like a step.
	PriorityAging time.Duration `json:"priorityAging,omitempty"`
	MaxPriority   int           `json:"maxPriority,omitempty"`
	// Hours are the queue's business hours (hours.go); nil: always open.
	Hours *BusinessHours `json:"hours,omitempty"`
	// CapacityWeight is how many of an agent's CapacityUnits one of the
	// queue's conversations takes (Salesforce Omni-Channel "units of
	// capacity": chat 2, email 1, case 5), 0..MaxCapacityUnits; 0 means 1.
	// A conversation may set its own (CreateConversation.CapacityWeight).
	// See capacity.go.
	CapacityWeight int `json:"capacityWeight,omitempty"`
	// OfferToAgents, when > 1, offers each request to up to that many
	// agents at once; the first accept wins (multioffer.go). 0 or 1: one
	// agent. 0..MaxOfferToAgents; internal queues only.
	OfferToAgents int `json:"offerToAgents,omitempty"`
	// LastAgent, when > 0, prefers for a new conversation the agent who
	// last served the same customer (CreateConversation.CustomerID) in
	// this queue, if that was at most LastAgent ago (lastagent.go),
	// 0..MaxDuration. LastAgentTimeout is how long the request waits for
	// that agent before the queue serves it (0: DefaultPreferredTimeout).
	// LastAgentCustomers bounds the customers remembered
	// (0: DefaultLastAgentCustomers, at most MaxLastAgentCustomers); the
	// least recently served is forgotten first.
	LastAgent          time.Duration `json:"lastAgent,omitempty"`
	LastAgentTimeout   time.Duration `json:"lastAgentTimeout,omitempty"`
	LastAgentCustomers int           `json:"lastAgentCustomers,omitempty"`
}

// EscalationStep relaxes who may take a request once it has waited long
// enough: Genesys bullseye rings, Amazon Connect routing steps, Salesforce
// Omni-Channel "drop skills after". A request is at the latest step whose
// After has passed since it first queued (step 0: the queue's own
// definition). Shape in JSON: {"after":30000000000,"skills":{"sales":1},
// "addQueues":["q2"],"priority":5} (after in nanoseconds; the config file and
// REST API take afterSeconds).
type EscalationStep struct {
	// After is the wait since the request first queued at which the step
	// starts, 0 < After <= MaxDuration.
	After time.Duration `json:"after"`
	// Skills, when not nil, replace the queue's required skills from this
	// step on: name -> minimum level 1..100; an empty map means any agent
	// with capacity on the MRD (the queue's members still apply). nil keeps
	// the skills of the step before.
	Skills map[string]int `json:"skills"`
	// AddQueues are queues (internal, same MRD, not the queue itself; at
	// most MaxAddQueues) whose eligible agents may take the request too,
	// after the queue's own eligible agents: overflow that keeps the
	// request's place in its own queue. A queue that does not exist yet is
	// ignored until it does.
	AddQueues []string `json:"addQueues,omitempty"`
	// Priority is added to the request's priority from this step on
	// (0..MaxPriority): a request at step i has its own priority plus the
	// Priority of steps 1..i, capped at MaxPriority.
	Priority int `json:"priority,omitempty"`
}

// Agent is a configured agent or supervisor.
type Agent struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Role defaults to agent.
	Role Role `json:"role,omitempty"`
	// Teams the agent belongs to (supervisors: the teams they supervise).
	Teams []string `json:"teams,omitempty"`
	// Skills: name -> level 1..100.
	Skills map[string]int `json:"skills,omitempty"`
	// Capacity: MRD id -> maximum concurrent tasks; an MRD not listed takes
	// the MRD's MaxRequests; 0 means the agent takes no work on that MRD.
	Capacity map[string]int `json:"capacity,omitempty"`
	// CapacityUnits bounds the summed CapacityWeight of the agent's work
	// over every MRD (Salesforce presence configuration capacity),
	// 0..MaxCapacityUnits; 0: no bound by weight, only the counts above.
	// See capacity.go.
	CapacityUnits int `json:"capacityUnits,omitempty"`
}

// ReasonCode is a not-ready or logout reason.
type ReasonCode struct {
	ID   string     `json:"id"`
	Name string     `json:"name"`
	Type ReasonType `json:"type"`
}

// Defaults applied where a queue leaves a duration at zero.
const (
	DefaultRONATimeout           = 30 * time.Second
	DefaultServiceLevelThreshold = 20 * time.Second
)

// Limits. Every input is bounded; a command over a limit is refused with
// CodeLimitExceeded or CodeInvalidArgument and changes nothing.
const (
	MaxIDLength        = 128
	MaxNameLength      = 256
	MaxAgents          = 100_000
	MaxQueues          = 10_000
	MaxMRDs            = 64
	MaxReasonCodes     = 1_000
	MaxSkillsPerEntity = 200
	MaxMembersPerQueue = 100_000
	MaxTeamsPerAgent   = 64
	MaxCapacity        = 100
	// MaxCapacityUnits bounds Agent.CapacityUnits and the capacity
	// weights of queues and conversations.
	MaxCapacityUnits     = 1000
	MaxSkillLevel        = 100
	MaxPriority          = 1_000_000
	MaxWaitingRequests   = 1_000_000
	MaxOpenConversations = 2_000_000
	MaxAttributes        = 64
	MaxAttributeBytes    = 4 << 10
	MaxCustomerBytes     = 16 << 10
	// RetainedClosedConversations is how many closed conversations stay
	// readable (oldest forgotten first).
	RetainedClosedConversations = 10_000
	// MaxSteps bounds a queue's escalation steps; MaxAddQueues the queues
	// one step may add.
	MaxSteps     = 16
	MaxAddQueues = 16
	// MaxDuration bounds every configured duration (one year).
	MaxDuration = 365 * 24 * time.Hour
)

// ConversationState is a conversation's state: OPEN until it closes.
type ConversationState string

// Conversation states.
const (
	ConversationOpenState   ConversationState = "OPEN"
	ConversationClosedState ConversationState = "CLOSED"
)

// Conversation is the read view of one customer interaction on one MRD.
type Conversation struct {
	ID         string            `json:"id"`
	Queue      string            `json:"queue"`
	MRD        string            `json:"mrd"`
	Priority   int               `json:"priority"`
	Customer   json.RawMessage   `json:"customer,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	CreatedAt  time.Time         `json:"createdAt"`
	// State is OPEN or CLOSED.
	State ConversationState `json:"state"`
	// CloseReason is set once State is CLOSED.
	CloseReason  CloseReason   `json:"closeReason,omitempty"`
	ClosedAt     time.Time     `json:"closedAt,omitzero"`
	Request      *Request      `json:"request,omitempty"`
	Participants []Participant `json:"participants"`
	// AnsweredAt is when the first agent accepted (zero if never).
	AnsweredAt time.Time `json:"answeredAt,omitzero"`
	// CustomerLeft is true once CustomerLeft was applied: the customer is
	// no longer present, so the last agent leaving always closes.
	CustomerLeft bool `json:"customerLeft,omitempty"`
	// CapacityWeight is the units each of its tasks takes (capacity.go).
	CapacityWeight int `json:"capacityWeight"`
	// CustomerID is the customer's id for last-agent routing
	// (CreateConversation.CustomerID); empty when none was given.
	CustomerID string `json:"customerId,omitempty"`
}

// Participant is an agent in a conversation.
type Participant struct {
	Agent string `json:"agent"`
	// Task is the agent's ACTIVE task; empty for a supervisor who joined
	// with JoinConversation (SILENT_MONITOR, BARGE_IN), who holds no
	// routing capacity.
	Task string `json:"task"`
	// Role: PRIMARY, CONFERENCE, SILENT_MONITOR, WHISPER, BARGE_IN.
	Role ParticipantRole `json:"role"`
}

// Request is the read view of a conversation's need for an agent.
type Request struct {
	ID           string `json:"id"`
	Conversation string `json:"conversation"`
	Queue        string `json:"queue"`
	Priority     int    `json:"priority"`
	// CapacityWeight is the conversation's capacity weight; omitted (0)
	// when it is 1 (capacity.go).
	CapacityWeight int          `json:"capacityWeight,omitempty"`
	EnqueuedAt     time.Time    `json:"enqueuedAt"`
	State          RequestState `json:"state"`
	Excluded       []string     `json:"excluded,omitempty"`
	TTLDeadline    time.Time    `json:"ttlDeadline,omitzero"`
	// OfferedTask is the reserved task while State is OFFERED.
	OfferedTask string `json:"offeredTask,omitempty"`
	// AlsoOffered are the request's further RESERVED tasks, oldest first
	// (Queue.OfferToAgents, multioffer.go).
	AlsoOffered []string `json:"alsoOffered,omitempty"`
	// PreferredAgents are offered the request first, in order, until
	// PreferredUntil (preferred.go); empty once the window ended.
	PreferredAgents []string  `json:"preferredAgents,omitempty"`
	PreferredUntil  time.Time `json:"preferredUntil,omitzero"`
	// Mode is set on a request made by RequestTransfer: "transfer" or
	// "conference"; empty for a customer's request.
	Mode TransferMode `json:"mode,omitempty"`
	// RequestedBy and FromTask name the requesting agent and its task (a
	// transfer or conference request only).
	RequestedBy string `json:"requestedBy,omitempty"`
	FromTask    string `json:"fromTask,omitempty"`
	// TargetAgent, when set, is the only agent the request is offered to
	// (seed 004 mode "agent").
	TargetAgent string `json:"targetAgent,omitempty"`
	// Note is the requester's note for the next agent.
	Note string `json:"note,omitempty"`
	// HeldAgent and HoldDeadline are set while State is HELD: the agent
	// whose capacity the callback holds, until HoldDeadline (hold.go).
	HeldAgent    string    `json:"heldAgent,omitempty"`
	HoldDeadline time.Time `json:"holdDeadline,omitzero"`
	// Confirmed: ConfirmHold was applied to this callback; it is offered,
	// never held again.
	Confirmed bool `json:"confirmed,omitempty"`
	// Step is the queue escalation step the request is at (0: the queue's
	// own definition; i: Queue.Steps[i-1]); StepDeadline is when the next
	// step starts or its priority next ages (zero: neither). Priority
	// includes the steps' and the aging.
	Step         int       `json:"step,omitempty"`
	StepDeadline time.Time `json:"stepDeadline,omitzero"`
	// BasePriority is the priority the request was given (at creation or
	// by SetRequestPriority), before its steps' and its aging.
	BasePriority int `json:"basePriority"`
}

// Task is the read view of one agent's work on one conversation.
type Task struct {
	ID           string    `json:"id"`
	Conversation string    `json:"conversation"`
	Request      string    `json:"request"`
	Agent        string    `json:"agent"`
	Queue        string    `json:"queue"`
	MRD          string    `json:"mrd"`
	State        TaskState `json:"state"`
	ReservedAt   time.Time `json:"reservedAt"`
	AcceptedAt   time.Time `json:"acceptedAt,omitzero"`
	// Deadline is the RONA deadline while RESERVED, the wrap-up end while
	// WRAP_UP, zero otherwise.
	Deadline time.Time `json:"deadline,omitzero"`
}

// AgentStatus is the read view of an agent's presence.
type AgentStatus struct {
	Agent      Agent            `json:"agent"`
	State      AgentState       `json:"state"`
	ReasonCode string           `json:"reasonCode,omitempty"`
	StateSince time.Time        `json:"stateChangeTime"`
	LoginAt    time.Time        `json:"agentLoginTime,omitzero"`
	MRDs       []AgentMRDStatus `json:"agentMrdStates"`
	// UsedUnits is the summed CapacityWeight of the agent's tasks and
	// holds (capacity.go); reported while the agent has CapacityUnits.
	UsedUnits int `json:"usedUnits,omitempty"`
}

// AgentMRDStatus is an agent's state on one MRD.
type AgentMRDStatus struct {
	MRD       MRD       `json:"mrd"`
	State     MRDState  `json:"state"`
	Since     time.Time `json:"stateChangeTime"`
	LastReady time.Time `json:"lastReadyStateChangeTime,omitzero"`
	Load      int       `json:"load"`
	Capacity  int       `json:"capacity"`
	// MinWeight is the smallest capacity weight of the MRD's internal
	// queues (capacity.go): with fewer free units the MRD is BUSY.
	MinWeight int `json:"minWeight,omitempty"`
}

// QueueStats are a queue's counters since the state began, plus its waiting
// requests now. Times in seconds.
type QueueStats struct {
	Queue   string `json:"queue"`
	Waiting int    `json:"waiting"`
	// Offered counts requests (re)entering the queue for the first time.
	Offered   int64 `json:"offered"`
	Answered  int64 `json:"answered"`
	Abandoned int64 `json:"abandoned"`
	Expired   int64 `json:"expired"`
	Cancelled int64 `json:"cancelled"`
	// AnsweredWithinSL counts answers within the service-level threshold.
	AnsweredWithinSL int64 `json:"answeredWithinThreshold"`
	// AbandonedWithinSL counts abandons before the threshold.
	AbandonedWithinSL int64 `json:"abandonedWithinThreshold"`
	// TotalWaitAnswered is the sum of answered requests' waits, seconds.
	TotalWaitAnswered float64 `json:"totalAnsweredWaitSeconds"`
	// LongestWaitSeconds is the longest current wait.
	LongestWaitSeconds float64 `json:"longestWaitSeconds"`
	// ServiceLevel is AnsweredWithinSL / (Answered + Abandoned - AbandonedWithinSL), 1 when none.
	ServiceLevel float64 `json:"serviceLevel"`
	// ThresholdSeconds is the queue's service-level threshold.
	ThresholdSeconds float64 `json:"serviceLevelThresholdSeconds"`
	// ReadyAgents counts eligible agents available now.
	ReadyAgents int `json:"availableAgents"`
}
