package presencesync

import (
	"maps"
	"slices"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/routing"
)

// Side says where a change came from.
type Side string

// Sides.
const (
	SidePartner   Side = "partner"
	SideOmniroute Side = "omniroute"
)

// Outcomes of a sync decision (Decision.Outcome, the metric's outcome label).
const (
	// OutcomeApplied: the other side was told to change.
	OutcomeApplied = "applied"
	// OutcomeInSync: the other side already agrees (this is also how an
	// echo of our own change ends: nothing is sent back).
	OutcomeInSync = "in-sync"
	// OutcomeIgnored: a partner change while the agent is on a call
	// (seed 001), without enqueueNextState.
	OutcomeIgnored = "ignored"
	// OutcomeEnqueued: kept until the call ends (enqueueNextState).
	OutcomeEnqueued = "enqueued"
	// OutcomeAppliedAfterCall: an enqueued change applied when the call ended.
	OutcomeAppliedAfterCall = "applied-after-call"
	// OutcomeWorkOverride: the agent has work on one side, so the other is
	// kept (or put back) Not Ready (seed 002: no work on a channel while
	// the other has work assigned).
	OutcomeWorkOverride = "work-override"
	// OutcomeStale: the partner reported a status older than omniroute's
	// latest request to it (the answer to an earlier request, or a
	// re-report of the status before the requests): ignored, so a late
	// answer never undoes a newer change.
	OutcomeStale = "stale"
	// OutcomeRejected: unknown status id or agent; nothing changed.
	OutcomeRejected = "rejected"
	// OutcomePartnerRefused: the partner answered success=false.
	OutcomePartnerRefused = "partner-refused"
	// OutcomeFailed: omniroute refused or failed the change.
	OutcomeFailed = "failed"
)

// Omni is omniroute's presence of one agent, the core's input.
type Omni struct {
	State  routing.AgentState `json:"state"`
	Reason string             `json:"reasonCode,omitempty"`
	// Work: the agent has an open task (reserved, active or wrap-up).
	Work bool `json:"work"`
	// OnCall: an ACTIVE task on a non-interruptible MRD (seed 001 "on a call").
	OnCall bool `json:"onCall"`
}

// OmniTarget is a change the core asks of omniroute.
type OmniTarget struct {
	State  routing.AgentState          `json:"state"`
	Reason string                      `json:"reasonCode,omitempty"`
	MRDs   map[string]routing.MRDState `json:"mrds,omitempty"`
}

// Action is one thing the core asks the driver to do: change omniroute
// (Omni set) or ask the partner to take status Partner.
type Action struct {
	Omni    *OmniTarget
	Partner string
	// EnqueueNextState: the agent is on a call; the partner should apply
	// Partner when it ends (seed 001 setAgentStatus enqueueNextState).
	EnqueueNextState bool
}

// core is the sync logic of one partner: pure (no I/O, no clock), driven by
// the Service and by the property test. Not safe for concurrent use.
type core struct {
	p       config.PresencePartnerSpec
	status  map[string]config.PresenceStatusSpec
	mapping map[string]config.PresenceMappingSpec
	agents  map[string]*agentSync
}

type agentSync struct {
	// known/status: the partner's status as far as omniroute knows.
	known  bool
	status string
	omni   Omni
	// queued: a telephony change kept until the call ends.
	queued string
	// pending are the statuses omniroute asked the partner for and whose
	// answer has not come yet, oldest first (at most maxPending). A report of a pending
	// status is the answer to omniroute's own request, not a change by the
	// agent (seed 002: the CRM answers requestSyncOmnichannel with
	// omnichannelResponse, the same message as for its own changes).
	pending []string
	// asked: status is what omniroute asked for, not a change the agent
	// made in the partner (a work status omniroute asked for is not work
	// in the partner).
	asked bool
}

// maxPending bounds agentSync.pending; the oldest is forgotten first.
const maxPending = 8

// asking records that omniroute asks the partner for status id.
func (a *agentSync) asking(id string) {
	a.pending = append(a.pending, id)
	if len(a.pending) > maxPending {
		a.pending = a.pending[len(a.pending)-maxPending:]
	}
	a.known, a.status, a.asked = true, id, true
}

// answer tells a report of id that is the answer to omniroute's own
// request (or older) from a change by the agent in the partner. It returns
// (outcome, true) when the report is handled: the answer to the latest
// request confirms the status (in sync); the answer to an earlier one is
// stale, and the latest is asked again. Any other status is a change by the agent and drops the pending
// requests (an answer that never comes is then forgotten).
func (a *agentSync) answer(id string) (string, []Action, bool) {
	i := slices.Index(a.pending, id)
	if i < 0 {
		a.pending, a.asked = nil, false
		return "", nil, false
	}
	if j := slices.Index(a.pending[i+1:], id); j >= 0 { // asked twice: the latest counts
		i += 1 + j
	}
	a.pending = a.pending[i+1:]
	if len(a.pending) == 0 {
		a.known, a.status, a.asked = true, id, true
		return OutcomeInSync, nil, true
	}
	// The partner is behind omniroute's latest request (its answer is
	// late, or the request was lost): ask for it again rather than follow.
	latest := a.pending[len(a.pending)-1]
	a.asking(latest)
	return OutcomeStale, []Action{{Partner: latest, EnqueueNextState: a.omni.OnCall}}, true
}

func newCore(p config.PresencePartnerSpec, catalog []config.PresenceStatusSpec) *core {
	c := &core{p: p, status: map[string]config.PresenceStatusSpec{}, mapping: map[string]config.PresenceMappingSpec{}, agents: map[string]*agentSync{}}
	for _, s := range catalog {
		c.status[s.StatusID] = s
	}
	for _, m := range p.Mapping {
		c.mapping[m.StatusID] = m
	}
	return c
}

func (c *core) agent(id string) *agentSync {
	a := c.agents[id]
	if a == nil {
		a = &agentSync{omni: Omni{State: routing.AgentLogout}}
		c.agents[id] = a
	}
	return a
}

func (c *core) complementary() bool { return c.p.Mode == config.PresenceComplementary }

func (c *core) routable(id string) bool { return c.status[id].HasChannels }

func (c *core) isWork(id string) bool { return c.mapping[id].Work }

// toOmni maps a partner status to omniroute's presence.
func (c *core) toOmni(id string) OmniTarget {
	if m, ok := c.mapping[id]; ok {
		return OmniTarget{State: m.AgentState, Reason: m.ReasonCode, MRDs: maps.Clone(m.MRDs)}
	}
	s := c.status[id]
	switch {
	case s.IsOffline || id == config.OfflineStatusID:
		return OmniTarget{State: routing.AgentLogout}
	case s.HasChannels:
		return OmniTarget{State: routing.AgentReady}
	}
	return OmniTarget{State: routing.AgentNotReady}
}

// toPartner maps omniroute's presence to a partner status: the first
// mapping entry with the same state and reason, else the first with the
// same state (not a work status), else a catalog default.
func (c *core) toPartner(o Omni) string {
	var sameState string
	for _, m := range c.p.Mapping {
		if m.AgentState != o.State || m.Work {
			continue
		}
		if m.ReasonCode == o.Reason {
			return m.StatusID
		}
		if sameState == "" {
			sameState = m.StatusID
		}
	}
	if sameState != "" {
		return sameState
	}
	switch o.State {
	case routing.AgentLogout:
		return config.OfflineStatusID
	case routing.AgentReady:
		for _, s := range c.sortedStatuses() {
			if s.HasChannels {
				return s.StatusID
			}
		}
	default:
		for _, s := range c.sortedStatuses() {
			if !s.HasChannels && !s.IsOffline && !c.isWork(s.StatusID) {
				return s.StatusID
			}
		}
	}
	return ""
}

func (c *core) sortedStatuses() []config.PresenceStatusSpec {
	// The catalog order is the configuration's; keep it deterministic.
	out := make([]config.PresenceStatusSpec, 0, len(c.status))
	for _, id := range slices.Sorted(maps.Keys(c.status)) {
		out = append(out, c.status[id])
	}
	return out
}

// compatible: in Synchronized mode, omniroute's presence o agrees with
// partner status id: the state id maps to, with the same reason code; a
// status whose mapping names no reason agrees with the reasons that map
// back to it. So Not Ready statuses follow the mapping among themselves
// (away -> NOT_READY/break, case -> NOT_READY/case).
func (c *core) compatible(o Omni, id string) bool {
	t := c.toOmni(id)
	if t.State != o.State {
		return false
	}
	if t.Reason == o.Reason {
		return true
	}
	// id is o's best partner status when the mapping names no reason for
	// id, or none for o (a reason the partner cannot show).
	return c.toPartner(o) == id && (t.Reason == "" || !c.mapsReason(o))
}

// mapsReason: some mapping entry (work ones too) names o's state and reason.
func (c *core) mapsReason(o Omni) bool {
	for _, m := range c.p.Mapping {
		if m.AgentState == o.State && m.ReasonCode == o.Reason {
			return true
		}
	}
	return false
}

func (c *core) workReason(id string) string {
	if c.p.WorkReasonCode != "" {
		return c.p.WorkReasonCode
	}
	return c.mapping[id].ReasonCode
}

// PartnerReport handles the partner's status (a change by the agent or the
// partner, an echo of our own request, or a periodic re-report): it returns
// the outcome and what omniroute (or, for a work conflict, the partner)
// must do. telephonyRequest marks a seed 001 SET_AGENT_STATUS, which is a
// request that an ongoing call makes ignored (or enqueued).
func (c *core) PartnerReport(agent, id string, enqueue, telephonyRequest bool) (string, []Action) {
	if _, ok := c.status[id]; !ok {
		return OutcomeRejected, nil
	}
	a := c.agent(agent)
	if !telephonyRequest {
		if out, acts, done := a.answer(id); done {
			return out, acts
		}
	}
	if a.omni.OnCall {
		if telephonyRequest && !enqueue {
			return OutcomeIgnored, nil
		}
		if !telephonyRequest {
			a.known, a.status = true, id
		}
		a.queued = id
		return OutcomeEnqueued, nil
	}
	return c.report(a, id)
}

func (c *core) report(a *agentSync, id string) (string, []Action) {
	a.known, a.status = true, id
	var t *OmniTarget
	switch {
	case c.isWork(id):
		// Work in the partner: omniroute Not Ready with the work reason
		// (a Not Ready agent takes the work reason too; a logged-out one
		// stays out).
		w := c.workReason(id)
		if a.omni.State == routing.AgentReady || (a.omni.State == routing.AgentNotReady && a.omni.Reason != w) {
			t = &OmniTarget{State: routing.AgentNotReady, Reason: w}
		}
	case a.omni.Work && c.p.WorkStatusID != "" && c.routable(id):
		a.asking(c.p.WorkStatusID)
		return OutcomeWorkOverride, []Action{{Partner: c.p.WorkStatusID}}
	case c.complementary():
		if c.routable(id) && a.omni.State == routing.AgentReady {
			t = &OmniTarget{State: routing.AgentNotReady, Reason: c.p.ComplementaryReasonCode}
		}
	default:
		x := c.toOmni(id)
		if !c.compatible(a.omni, id) {
			t = &x
		}
	}
	if t == nil {
		return OutcomeInSync, nil
	}
	a.omni.State, a.omni.Reason = t.State, t.Reason
	return OutcomeApplied, []Action{{Omni: t}}
}

// OmniChanged handles omniroute's current presence of the agent (after any
// change, whoever made it): it returns the outcome and what the partner
// (or, for partner work, omniroute) must do. A change the core itself
// asked for finds the partner compatible: nothing goes back (no echo).
func (c *core) OmniChanged(agent string, o Omni) (string, []Action) {
	a := c.agent(agent)
	a.omni = o
	if a.queued != "" && !o.OnCall {
		id := a.queued
		a.queued = ""
		out, acts := c.report(a, id)
		if out == OutcomeApplied {
			out = OutcomeAppliedAfterCall
		}
		return out, acts
	}
	if a.known && !a.asked && c.isWork(a.status) {
		if o.State == routing.AgentReady {
			t := &OmniTarget{State: routing.AgentNotReady, Reason: c.workReason(a.status)}
			a.omni.State, a.omni.Reason = t.State, t.Reason
			return OutcomeWorkOverride, []Action{{Omni: t}}
		}
		return OutcomeInSync, nil
	}
	want := ""
	outcome := OutcomeApplied
	switch {
	case o.Work:
		if c.p.WorkStatusID != "" && (!a.known || c.routable(a.status)) {
			want, outcome = c.p.WorkStatusID, OutcomeWorkOverride
		}
	case c.complementary():
		if o.State == routing.AgentReady && (!a.known || c.routable(a.status)) {
			want = c.p.ComplementaryStatusID
		}
	default:
		if !a.known || !c.compatible(o, a.status) {
			want = c.toPartner(o)
		}
	}
	if want == "" || (a.known && want == a.status) {
		return OutcomeInSync, nil
	}
	a.asking(want)
	return outcome, []Action{{Partner: want, EnqueueNextState: o.OnCall}}
}

// PartnerAnswer handles the partner's answer to a status request: on
// success=false the partner's status is unknown until its next report.
func (c *core) PartnerAnswer(agent string, success bool) string {
	if success {
		return OutcomeApplied
	}
	a := c.agent(agent)
	a.known, a.pending, a.asked = false, nil, false
	return OutcomePartnerRefused
}

// Forget marks the partner's status of the agent unknown (the connector
// went away); the next connection re-syncs from omniroute.
func (c *core) Forget(agent string) {
	a := c.agent(agent)
	a.known, a.pending, a.asked = false, nil, false
}
