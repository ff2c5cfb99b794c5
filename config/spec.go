package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/omniroute/omniroute/routing"
)

// The spec types are the wire shape of omniroute's definitions: the config
// file's entries (YAML) and the native REST API's bodies (JSON, DESIGN.md
// "Native API (v1)") are the same types, so an object that loads from the
// file can be PUT over HTTP and read back unchanged. Durations are numbers of
// SECONDS (fractions allowed), because contact-center admins think in seconds.
//
// Validate checks what a spec can check alone (ids, names, enums, levels,
// durations); references to other objects are checked by Config.Validate
// (config file) or by the engine (REST API), which knows what exists.

// MRDSpec is a media routing domain (ExpertFlow MRD, PROTOCOLS.md):
//
//	{"id":"chat","name":"Chat","description":"web chat","interruptible":true,"maxRequests":3}
type MRDSpec struct {
	// ID is 1..routing.MaxIDLength bytes of UTF-8 without control characters.
	ID string `json:"id" yaml:"id"`
	// Name defaults to ID.
	Name string `json:"name" yaml:"name"`
	// Description is free text.
	Description string `json:"description,omitempty" yaml:"description"`
	// Interruptible false: work on this MRD puts the agent's other MRDs in
	// INTERRUPTED (voice).
	Interruptible bool `json:"interruptible" yaml:"interruptible"`
	// MaxRequests is the default per-agent capacity, 1..routing.MaxCapacity;
	// 0 means 1.
	MaxRequests int `json:"maxRequests" yaml:"maxRequests"`
}

// ReasonCodeSpec is a not-ready or logout reason (ExpertFlow reasonCode):
//
//	{"id":"lunch","name":"Lunch","type":"NOT_READY"}
type ReasonCodeSpec struct {
	ID   string `json:"id" yaml:"id"`
	Name string `json:"name" yaml:"name"`
	// Type is NOT_READY or LOGOUT: the agent state the reason goes with.
	Type routing.ReasonType `json:"type" yaml:"type"`
}

// QueueSpec is a routing queue on one MRD:
//
//	{"id":"chat-sales","name":"Chat sales","mrd":"chat","mode":"internal","strategy":"longest-idle",
//	 "skills":{"sales":30},"members":["alice"],"ronaTimeoutSeconds":20,"ttlSeconds":600,
//	 "serviceLevelSeconds":20,"wrapUpSeconds":0,"ronaAction":"NOT_READY"}
type QueueSpec struct {
	ID   string `json:"id" yaml:"id"`
	Name string `json:"name" yaml:"name"`
	// MRD is the id of the queue's media routing domain (required).
	MRD string `json:"mrd" yaml:"mrd"`
	// Mode is internal (default: the engine picks the agent) or external (a
	// partner router does, seed 000).
	Mode routing.QueueMode `json:"mode,omitempty" yaml:"mode"`
	// Strategy is longest-idle (default), most-available, least-active,
	// round-robin or best-skill.
	Strategy routing.Strategy `json:"strategy,omitempty" yaml:"strategy"`
	// Skills are the required skills: name -> minimum level 1..100.
	Skills map[string]int `json:"skills,omitempty" yaml:"skills"`
	// Members, when not empty, limits the queue to these agent ids.
	Members []string `json:"members,omitempty" yaml:"members"`
	// RONATimeoutSeconds is how long an offer waits for accept (0: 30 s).
	RONATimeoutSeconds float64 `json:"ronaTimeoutSeconds" yaml:"ronaTimeoutSeconds"`
	// TTLSeconds is how long a request may wait before it expires (0: never).
	TTLSeconds float64 `json:"ttlSeconds" yaml:"ttlSeconds"`
	// ServiceLevelSeconds is the answer time counted as within service level (0: 20 s).
	ServiceLevelSeconds float64 `json:"serviceLevelSeconds" yaml:"serviceLevelSeconds"`
	// WrapUpSeconds is the wrap-up time after an agent leaves (0: none).
	WrapUpSeconds float64 `json:"wrapUpSeconds" yaml:"wrapUpSeconds"`
	// RONAAction is applied to an agent who lets an offer time out:
	// NOT_READY (default, reason RONA) or NONE.
	RONAAction string `json:"ronaAction,omitempty" yaml:"ronaAction"`
	// LastAgentLeaves is what happens when the last agent leaves a
	// conversation whose customer is still there (seed 004 "Leave
	// Conversation"): close (default; empty means close) or requeue.
	LastAgentLeaves string `json:"lastAgentLeaves,omitempty" yaml:"lastAgentLeaves"`
	// Steps are escalation steps (routing.EscalationStep), by afterSeconds.
	Steps []StepSpec `json:"steps,omitempty" yaml:"steps"`
	// PriorityAgingSeconds, when > 0, adds one priority level for every
	// that many seconds a request waits, up to MaxPriority (0: no cap but
	// routing.MaxPriority). Internal queues only.
	PriorityAgingSeconds float64 `json:"priorityAgingSeconds,omitempty" yaml:"priorityAgingSeconds"`
	MaxPriority          int     `json:"maxPriority,omitempty" yaml:"maxPriority"`
	// Hours are the queue's business hours (routing.BusinessHours: IANA
	// timeZone, weekly [{day, open, close}] local HH:MM, closures
	// YYYY-MM-DD, closedAction reject|queue|overflow,
	// closedOverflowQueue); absent: always open.
	Hours *routing.BusinessHours `json:"hours,omitempty" yaml:"hours"`
	// CapacityWeight is the agent capacity units one conversation of the
	// queue takes (routing.Queue.CapacityWeight: chat 2, email 1, case 5),
	// 0..routing.MaxCapacityUnits; 0 means 1.
	CapacityWeight int `json:"capacityWeight,omitempty" yaml:"capacityWeight"`
	// OfferToAgents, when > 1, offers each request to up to that many
	// agents at once; the first accept wins, the others get revokeTask
	// ACCEPTED_ELSEWHERE (routing.Queue.OfferToAgents), 0..10. Internal
	// queues only.
	OfferToAgents int `json:"offerToAgents,omitempty" yaml:"offerToAgents"`
	// LastAgentSeconds, when > 0, prefers for a new conversation the agent
	// who last served the same customer in the queue at most that many
	// seconds ago (routing.Queue.LastAgent); the request waits
	// LastAgentTimeoutSeconds for that agent (0: 30 s), then the queue
	// serves it. LastAgentCustomers bounds the customers remembered
	// (0: routing.DefaultLastAgentCustomers, at most
	// routing.MaxLastAgentCustomers; the least recently served is
	// forgotten first).
	LastAgentSeconds        float64 `json:"lastAgentSeconds,omitempty" yaml:"lastAgentSeconds"`
	LastAgentTimeoutSeconds float64 `json:"lastAgentTimeoutSeconds,omitempty" yaml:"lastAgentTimeoutSeconds"`
	LastAgentCustomers      int     `json:"lastAgentCustomers,omitempty" yaml:"lastAgentCustomers"`
}

// StepSpec is one escalation step of a queue (Genesys bullseye ring,
// Amazon Connect routing step): from afterSeconds of waiting since the
// request first queued, skills (when given) replace the queue's minimums
// (an empty map: anyone on the MRD), addQueues' eligible agents may take it
// too (overflow; it keeps its place in its own queue), and priority adds to
// its priority (summed over the steps reached):
//
//	{"afterSeconds":30,"skills":{"sales":10},"addQueues":["chat-service"],"priority":5}
type StepSpec struct {
	// AfterSeconds is over the step before's, and over 0.
	AfterSeconds float64 `json:"afterSeconds" yaml:"afterSeconds"`
	// Skills: absent or null keeps the step before's; {} means any agent
	// (so not omitempty: {} must read back as {}).
	Skills map[string]int `json:"skills" yaml:"skills"`
	// AddQueues are internal queues on the same MRD.
	AddQueues []string `json:"addQueues,omitempty" yaml:"addQueues"`
	// Priority 0..routing.MaxPriority.
	Priority int `json:"priority,omitempty" yaml:"priority"`
}

// AgentSpec is an agent or supervisor:
//
//	{"id":"alice","name":"Alice","role":"agent","teams":["team-a"],"skills":{"sales":50},"capacity":{"chat":2}}
//
// Username, Password and PasswordHash exist only in the config file (JSON
// tag "-"): credentials are not journaled and never travel over the REST API,
// where sending them is an unknown-field error.
type AgentSpec struct {
	ID   string `json:"id" yaml:"id"`
	Name string `json:"name" yaml:"name"`
	// Role is agent (default) or supervisor.
	Role routing.Role `json:"role,omitempty" yaml:"role"`
	// Teams the agent belongs to (supervisors: the teams they supervise).
	Teams []string `json:"teams,omitempty" yaml:"teams"`
	// Skills: name -> level 1..100.
	Skills map[string]int `json:"skills,omitempty" yaml:"skills"`
	// Capacity: MRD id -> maximum concurrent tasks 0..100; an MRD not listed
	// takes the MRD's maxRequests.
	Capacity map[string]int `json:"capacity,omitempty" yaml:"capacity"`
	// CapacityUnits bounds the summed capacity weight of the agent's work
	// over every MRD (routing.Agent.CapacityUnits),
	// 0..routing.MaxCapacityUnits; 0: counts only.
	CapacityUnits int `json:"capacityUnits,omitempty" yaml:"capacityUnits"`
	// Username is the login name for POST /agent-manager/agent/login; unique.
	Username string `json:"-" yaml:"username"`
	// PasswordHash is a bcrypt hash (cost 4..MaxBcryptCost).
	PasswordHash string `json:"-" yaml:"passwordHash"`
	// Password is a plain password, hashed by Parse (which then clears it and
	// adds a warning): for demos only.
	Password string `json:"-" yaml:"password"`
}

// Routing converts to the engine's type.
func (m MRDSpec) Routing() routing.MRD {
	return routing.MRD{ID: m.ID, Name: m.Name, Description: m.Description, Interruptible: m.Interruptible, MaxRequests: m.MaxRequests}
}

// MRDSpecFrom converts from the engine's type.
func MRDSpecFrom(m routing.MRD) MRDSpec {
	return MRDSpec{ID: m.ID, Name: m.Name, Description: m.Description, Interruptible: m.Interruptible, MaxRequests: m.MaxRequests}
}

// Routing converts to the engine's type.
func (r ReasonCodeSpec) Routing() routing.ReasonCode {
	return routing.ReasonCode{ID: r.ID, Name: r.Name, Type: r.Type}
}

// ReasonCodeSpecFrom converts from the engine's type.
func ReasonCodeSpecFrom(r routing.ReasonCode) ReasonCodeSpec {
	return ReasonCodeSpec{ID: r.ID, Name: r.Name, Type: r.Type}
}

// Routing converts to the engine's type, seconds to time.Duration (rounded
// to the nanosecond). Call Validate first: an out-of-range duration does not
// convert meaningfully.
func (q QueueSpec) Routing() routing.Queue {
	return routing.Queue{
		ID: q.ID, Name: q.Name, MRD: q.MRD, Mode: q.Mode, Strategy: q.Strategy,
		Skills: maps.Clone(q.Skills), Members: slices.Clone(q.Members),
		RONATimeout: Seconds(q.RONATimeoutSeconds), TTL: Seconds(q.TTLSeconds),
		ServiceLevelThreshold: Seconds(q.ServiceLevelSeconds), WrapUp: Seconds(q.WrapUpSeconds),
		RONAAction: q.RONAAction, LastAgentLeaves: q.LastAgentLeaves, Steps: routingSteps(q.Steps),
		PriorityAging: Seconds(q.PriorityAgingSeconds), MaxPriority: q.MaxPriority, Hours: q.Hours.Clone(),
		CapacityWeight: q.CapacityWeight, OfferToAgents: q.OfferToAgents,
		LastAgent: Seconds(q.LastAgentSeconds), LastAgentTimeout: Seconds(q.LastAgentTimeoutSeconds),
		LastAgentCustomers: q.LastAgentCustomers,
	}
}

func routingSteps(steps []StepSpec) []routing.EscalationStep {
	if steps == nil {
		return nil
	}
	out := make([]routing.EscalationStep, len(steps))
	for i, st := range steps {
		out[i] = routing.EscalationStep{After: Seconds(st.AfterSeconds), Skills: maps.Clone(st.Skills),
			AddQueues: slices.Clone(st.AddQueues), Priority: st.Priority}
	}
	return out
}

func stepSpecs(steps []routing.EscalationStep) []StepSpec {
	if steps == nil {
		return nil
	}
	out := make([]StepSpec, len(steps))
	for i, st := range steps {
		out[i] = StepSpec{AfterSeconds: st.After.Seconds(), Skills: maps.Clone(st.Skills),
			AddQueues: slices.Clone(st.AddQueues), Priority: st.Priority}
	}
	return out
}

// QueueSpecFrom converts from the engine's type, durations to seconds.
func QueueSpecFrom(q routing.Queue) QueueSpec {
	return QueueSpec{
		ID: q.ID, Name: q.Name, MRD: q.MRD, Mode: q.Mode, Strategy: q.Strategy,
		Skills: maps.Clone(q.Skills), Members: slices.Clone(q.Members),
		RONATimeoutSeconds: q.RONATimeout.Seconds(), TTLSeconds: q.TTL.Seconds(),
		ServiceLevelSeconds: q.ServiceLevelThreshold.Seconds(), WrapUpSeconds: q.WrapUp.Seconds(),
		RONAAction: q.RONAAction, LastAgentLeaves: q.LastAgentLeaves, Steps: stepSpecs(q.Steps),
		PriorityAgingSeconds: q.PriorityAging.Seconds(), MaxPriority: q.MaxPriority, Hours: q.Hours.Clone(),
		CapacityWeight: q.CapacityWeight, OfferToAgents: q.OfferToAgents,
		LastAgentSeconds: q.LastAgent.Seconds(), LastAgentTimeoutSeconds: q.LastAgentTimeout.Seconds(),
		LastAgentCustomers: q.LastAgentCustomers,
	}
}

// Routing converts to the engine's type (credentials stay behind).
func (a AgentSpec) Routing() routing.Agent {
	return routing.Agent{ID: a.ID, Name: a.Name, Role: a.Role, Teams: slices.Clone(a.Teams),
		Skills: maps.Clone(a.Skills), Capacity: maps.Clone(a.Capacity), CapacityUnits: a.CapacityUnits}
}

// AgentSpecFrom converts from the engine's type; the credentials are empty.
func AgentSpecFrom(a routing.Agent) AgentSpec {
	return AgentSpec{ID: a.ID, Name: a.Name, Role: a.Role, Teams: slices.Clone(a.Teams),
		Skills: maps.Clone(a.Skills), Capacity: maps.Clone(a.Capacity), CapacityUnits: a.CapacityUnits}
}

// Seconds converts a number of seconds to a time.Duration, rounded to the
// nanosecond. Out-of-range input (NaN, infinities, beyond ±292 years) gives
// an unspecified value: validate with CheckSeconds first.
func Seconds(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}

// CheckSeconds returns an error unless s is a finite number of seconds in
// 0..routing.MaxDuration (one year). field names the value in the message.
func CheckSeconds(field string, s float64) error {
	if math.IsNaN(s) || s < 0 || s > routing.MaxDuration.Seconds() {
		return fmt.Errorf("%s %s is outside 0..%s seconds", field, fmtSeconds(s), fmtSeconds(routing.MaxDuration.Seconds()))
	}
	return nil
}

// fmtSeconds prints seconds as an admin typed them: 31536000, not 3.1536e+07.
func fmtSeconds(s float64) string { return strconv.FormatFloat(s, 'f', -1, 64) }

// Validate checks the MRD alone: id, name, description, maxRequests.
func (m MRDSpec) Validate() error {
	return errors.Join(
		checkID("id", m.ID),
		checkText("name", m.Name),
		checkText("description", m.Description),
		checkRange("maxRequests", m.MaxRequests, 0, routing.MaxCapacity),
	)
}

// Validate checks the reason code alone: id, name, type.
func (r ReasonCodeSpec) Validate() error {
	var errType error
	if r.Type != routing.ReasonTypeNotReady && r.Type != routing.ReasonTypeLogout {
		errType = fmt.Errorf("type must be NOT_READY or LOGOUT, not %q", r.Type)
	}
	return errors.Join(checkID("id", r.ID), checkText("name", r.Name), errType)
}

// Validate checks the queue alone: id, name, mrd given, mode, strategy,
// skills, members, durations, ronaAction. Whether the MRD exists is for the
// caller (Config.Validate, or the engine's MRD_NOT_FOUND).
func (q QueueSpec) Validate() error {
	errs := []error{checkID("id", q.ID), checkText("name", q.Name)}
	if q.MRD == "" {
		errs = append(errs, errors.New("mrd is required"))
	} else {
		errs = append(errs, checkID("mrd", q.MRD))
	}
	switch q.Mode {
	case "", routing.Internal, routing.External:
	default:
		errs = append(errs, fmt.Errorf("mode must be internal or external, not %q", q.Mode))
	}
	switch q.Strategy {
	case "", routing.LongestIdle, routing.MostAvailable, routing.LeastActive, routing.RoundRobin, routing.BestSkill:
	default:
		errs = append(errs, fmt.Errorf("unknown strategy %q (longest-idle, most-available, least-active, round-robin, best-skill)", q.Strategy))
	}
	errs = append(errs, checkSkills(q.Skills))
	if len(q.Members) > routing.MaxMembersPerQueue {
		errs = append(errs, fmt.Errorf("more than %d members", routing.MaxMembersPerQueue))
	} else {
		for i, m := range q.Members {
			errs = append(errs, checkID(fmt.Sprintf("members[%d]", i), m))
		}
	}
	errs = append(errs,
		CheckSeconds("ronaTimeoutSeconds", q.RONATimeoutSeconds),
		CheckSeconds("ttlSeconds", q.TTLSeconds),
		CheckSeconds("serviceLevelSeconds", q.ServiceLevelSeconds),
		CheckSeconds("wrapUpSeconds", q.WrapUpSeconds))
	switch q.RONAAction {
	case "", "NOT_READY", "NONE":
	default:
		errs = append(errs, fmt.Errorf("ronaAction must be NOT_READY or NONE, not %q", q.RONAAction))
	}
	switch q.LastAgentLeaves {
	case "", routing.LastAgentClose, routing.LastAgentRequeue:
	default:
		errs = append(errs, fmt.Errorf("lastAgentLeaves must be close or requeue, not %q", q.LastAgentLeaves))
	}
	errs = append(errs, checkSteps(q), CheckSeconds("priorityAgingSeconds", q.PriorityAgingSeconds),
		checkRange("maxPriority", q.MaxPriority, 0, routing.MaxPriority),
		checkRange("capacityWeight", q.CapacityWeight, 0, routing.MaxCapacityUnits),
		checkRange("offerToAgents", q.OfferToAgents, 0, routing.MaxOfferToAgents),
		CheckSeconds("lastAgentSeconds", q.LastAgentSeconds), CheckSeconds("lastAgentTimeoutSeconds", q.LastAgentTimeoutSeconds),
		checkRange("lastAgentCustomers", q.LastAgentCustomers, 0, routing.MaxLastAgentCustomers))
	if q.OfferToAgents > 1 && q.Mode == routing.External {
		errs = append(errs, errors.New("offerToAgents needs an internal queue"))
	}
	if q.Hours != nil {
		if err := routing.CheckBusinessHours(q.ID, *q.Hours); err != nil {
			errs = append(errs, fmt.Errorf("hours: %w", err))
		}
	}
	if q.PriorityAgingSeconds > 0 && q.Mode == routing.External {
		errs = append(errs, errors.New("priorityAgingSeconds needs an internal queue"))
	}
	return errors.Join(errs...)
}

// checkSteps checks what a queue's steps can check alone; the engine
// checks the added queues' MRD and mode.
func checkSteps(q QueueSpec) error {
	if len(q.Steps) == 0 {
		return nil
	}
	if q.Mode == routing.External {
		return errors.New("steps need an internal queue")
	}
	if len(q.Steps) > routing.MaxSteps {
		return fmt.Errorf("more than %d steps", routing.MaxSteps)
	}
	var errs []error
	prev := 0.0
	for i, st := range q.Steps {
		field := fmt.Sprintf("steps[%d]", i)
		if err := CheckSeconds(field+".afterSeconds", st.AfterSeconds); err != nil {
			errs = append(errs, err)
		} else if st.AfterSeconds <= prev {
			errs = append(errs, fmt.Errorf("%s.afterSeconds %s must be over %s", field, fmtSeconds(st.AfterSeconds), fmtSeconds(prev)))
		} else {
			prev = st.AfterSeconds
		}
		if err := checkSkills(st.Skills); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", field, err))
		}
		if len(st.AddQueues) > routing.MaxAddQueues {
			errs = append(errs, fmt.Errorf("%s adds more than %d queues", field, routing.MaxAddQueues))
			continue
		}
		seen := map[string]bool{}
		for j, id := range st.AddQueues {
			errs = append(errs, checkID(fmt.Sprintf("%s.addQueues[%d]", field, j), id))
			if id == q.ID {
				errs = append(errs, fmt.Errorf("%s adds the queue itself", field))
			}
			if seen[id] {
				errs = append(errs, fmt.Errorf("%s adds %q twice", field, id))
			}
			seen[id] = true
		}
		errs = append(errs, checkRange(field+".priority", st.Priority, 0, routing.MaxPriority))
	}
	return errors.Join(errs...)
}

// Validate checks the agent alone: id, name, role, teams, skills, capacity
// values. Whether the capacity's MRDs exist, and the credentials, are for the
// caller (Config.Validate, or the engine's MRD_NOT_FOUND).
func (a AgentSpec) Validate() error {
	errs := []error{checkID("id", a.ID), checkText("name", a.Name)}
	switch a.Role {
	case "", routing.RoleAgent, routing.RoleSupervisor:
	default:
		errs = append(errs, fmt.Errorf("role must be agent or supervisor, not %q", a.Role))
	}
	if len(a.Teams) > routing.MaxTeamsPerAgent {
		errs = append(errs, fmt.Errorf("more than %d teams", routing.MaxTeamsPerAgent))
	} else {
		for i, t := range a.Teams {
			errs = append(errs, checkID(fmt.Sprintf("teams[%d]", i), t))
		}
	}
	errs = append(errs, checkSkills(a.Skills), checkRange("capacityUnits", a.CapacityUnits, 0, routing.MaxCapacityUnits))
	if len(a.Capacity) > routing.MaxMRDs {
		errs = append(errs, fmt.Errorf("capacity names more than %d MRDs", routing.MaxMRDs))
	} else {
		for _, m := range slices.Sorted(maps.Keys(a.Capacity)) {
			errs = append(errs, checkID("capacity mrd", m),
				checkRange(fmt.Sprintf("capacity[%q]", m), a.Capacity[m], 0, routing.MaxCapacity))
		}
	}
	return errors.Join(errs...)
}

// checkID mirrors the engine's id rule so that the config file fails at
// load, naming the object, rather than at the first upsert.
func checkID(field, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%s is empty", field)
	case len(id) > routing.MaxIDLength:
		return fmt.Errorf("%s is longer than %d bytes", field, routing.MaxIDLength)
	case !utf8.ValidString(id):
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s %q has a control character", field, id)
		}
	}
	return nil
}

func checkText(field, s string) error {
	switch {
	case len(s) > routing.MaxNameLength:
		return fmt.Errorf("%s is longer than %d bytes", field, routing.MaxNameLength)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	return nil
}

func checkRange(field string, v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("%s %d is outside %d..%d", field, v, lo, hi)
	}
	return nil
}

func checkSkills(skills map[string]int) error {
	if len(skills) > routing.MaxSkillsPerEntity {
		return fmt.Errorf("more than %d skills", routing.MaxSkillsPerEntity)
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(skills)) {
		if err := checkID("skill name", name); err != nil {
			errs = append(errs, err)
			continue
		}
		if l := skills[name]; l < 1 || l > routing.MaxSkillLevel {
			errs = append(errs, fmt.Errorf("skill %q level %d is outside 1..%d", name, l, routing.MaxSkillLevel))
		}
	}
	return errors.Join(errs...)
}
