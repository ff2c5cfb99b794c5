package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/omniroute/omniroute/routing"
)

// The presenceSync section: two-way agent status sync with telephony
// partners (seed 001 "Two-Way Agent Status Syncing") and CRM connectors
// (seed 002 "Omnichannel"). Package presencesync runs it.
//
//	presenceSync:
//	  statuses:                      # the catalog (seed 001 userPresenceStatuses)
//	    - {statusId: "0", statusName: Offline, isOffline: true}      # "0" is reserved for Offline
//	    - {statusId: avail, statusName: Available, hasChannels: true}
//	    - {statusId: away, statusName: Away}
//	    - {statusId: busy, statusName: Busy}
//	  partners:
//	    - id: phone                  # a telephony connector (seed 001)
//	      kind: telephony
//	      token: phone-partner-token-0123   # bearer token of /presencesync/telephony
//	      mode: synchronized
//	      mapping:
//	        - {statusId: avail, agentState: READY, mrds: {voice: READY}}
//	        - {statusId: away, agentState: NOT_READY, reasonCode: break}
//	        - {statusId: busy, agentState: NOT_READY, reasonCode: busy, work: true}
//	    - id: crm                    # a CRM connector in an iframe (seed 002)
//	      kind: crm
//	      origins: ["https://crm.example.com"]
//	      mode: complementary        # or synchronized
//	      complementaryReasonCode: digital-nr   # omniroute NOT_READY reason when the CRM becomes Ready
//	      complementaryStatusId: away           # CRM status when omniroute becomes Ready
//	      workReasonCode: crm-work              # omniroute NOT_READY reason while the agent works in the CRM
//	      workStatusId: busy                    # CRM status while the agent works in omniroute
//	      mapping: [...]
//
// A status without a mapping entry maps to NOT_READY (no reason) when not
// routable, READY when routable; "0" maps to LOGOUT unless mapped.

// Presence sync modes (seed 002 CCDef "Omnichannel" setting).
const (
	// PresenceSynchronized: omniroute's agent state equals the partner presence.
	PresenceSynchronized = "synchronized"
	// PresenceComplementary: never both Ready; when one becomes Ready the
	// other becomes Not Ready; both may be Not Ready.
	PresenceComplementary = "complementary"
)

// Presence partner kinds.
const (
	PresenceTelephony = "telephony"
	PresenceCRM       = "crm"
)

// OfflineStatusID is the status id reserved for Offline (seed 001).
const OfflineStatusID = "0"

// Limits of the presenceSync section.
const (
	MaxPresenceStatuses = 256
	MaxPresencePartners = 64
	MaxPresenceOrigins  = 16
)

// PresenceSync is the presenceSync section.
type PresenceSync struct {
	// Statuses is the status catalog. "0" (Offline) is added when absent.
	Statuses []PresenceStatusSpec `json:"statuses" yaml:"statuses"`
	// Partners are the telephony and CRM partners whose presence is synced.
	Partners []PresencePartnerSpec `json:"partners" yaml:"partners"`
}

// PresenceStatusSpec is one catalog entry, seed 001 statusInfo.
type PresenceStatusSpec struct {
	StatusID      string `json:"statusId" yaml:"statusId"`
	StatusName    string `json:"statusName" yaml:"statusName"`
	StatusAPIName string `json:"statusApiName,omitempty" yaml:"statusApiName"`
	// HasChannels true: the status is routable by a channel; false: busy or offline.
	HasChannels bool `json:"hasChannels" yaml:"hasChannels"`
	// IsOffline true only for the Offline status "0".
	IsOffline bool `json:"isOffline" yaml:"isOffline"`
}

// PresencePartnerSpec is one partner of the presence sync. Its mapping can
// be replaced at run time over REST (PUT /v1/presence-sync/partners/{id});
// the replacement is durable (package presencesync) and wins over the file.
type PresencePartnerSpec struct {
	ID string `json:"id" yaml:"id"`
	// Kind is "telephony" (seed 001, websocket + REST with Token) or "crm"
	// (seed 002, browser connector checked against Origins).
	Kind string `json:"kind" yaml:"kind"`
	// Token is the telephony partner's bearer token (16..1024 bytes).
	Token string `json:"token,omitempty" yaml:"token"`
	// Origins are the CRM page origins (scheme://host[:port]) the browser
	// connector accepts postMessage from and posts to.
	Origins []string `json:"origins,omitempty" yaml:"origins"`
	// Mode is "synchronized" (default) or "complementary".
	Mode string `json:"mode" yaml:"mode"`
	// ComplementaryReasonCode: NOT_READY reason omniroute takes when the
	// partner becomes Ready (complementary mode; required there).
	ComplementaryReasonCode string `json:"complementaryReasonCode,omitempty" yaml:"complementaryReasonCode"`
	// ComplementaryStatusID: a non-routable status the partner is asked to
	// take when omniroute becomes Ready (complementary mode; required there).
	ComplementaryStatusID string `json:"complementaryStatusId,omitempty" yaml:"complementaryStatusId"`
	// WorkReasonCode: NOT_READY reason omniroute takes while the agent has
	// work in the partner (a mapping entry with work: true). Default: the
	// entry's own reason code.
	WorkReasonCode string `json:"workReasonCode,omitempty" yaml:"workReasonCode"`
	// WorkStatusID: a non-routable status the partner is asked to take
	// while the agent has work in omniroute. Empty: omniroute work is not
	// signalled to this partner.
	WorkStatusID string `json:"workStatusId,omitempty" yaml:"workStatusId"`
	// Mapping: partner status <-> omniroute agent state, reason, MRD states.
	Mapping []PresenceMappingSpec `json:"mapping" yaml:"mapping"`
}

// PresenceMappingSpec maps one partner status to omniroute's presence. The
// first entry for an agent state (and reason) is the one used from
// omniroute to the partner.
type PresenceMappingSpec struct {
	StatusID   string             `json:"statusId" yaml:"statusId"`
	AgentState routing.AgentState `json:"agentState" yaml:"agentState"`
	// ReasonCode goes with NOT_READY and LOGOUT (optional).
	ReasonCode string `json:"reasonCode,omitempty" yaml:"reasonCode"`
	// MRDs: MRD states applied with READY (e.g. voice READY, chat NOT_READY).
	MRDs map[string]routing.MRDState `json:"mrds,omitempty" yaml:"mrds"`
	// Work true: the partner status means "has work in the partner"
	// (the agent becomes NOT_READY in omniroute in both modes).
	Work bool `json:"work,omitempty" yaml:"work"`
}

// Catalog returns the statuses with "0" Offline added when absent.
func (ps PresenceSync) Catalog() []PresenceStatusSpec {
	out := slices.Clone(ps.Statuses)
	if !slices.ContainsFunc(out, func(s PresenceStatusSpec) bool { return s.StatusID == OfflineStatusID }) {
		out = append([]PresenceStatusSpec{{StatusID: OfflineStatusID, StatusName: "Offline", IsOffline: true}}, out...)
	}
	return out
}

// ValidatePresencePartner checks one partner against a catalog and the
// declared reason codes (id -> type); REST uses it for a mapping change.
func ValidatePresencePartner(pt PresencePartnerSpec, catalog []PresenceStatusSpec, reasons map[string]routing.ReasonType) []string {
	var out []string
	add := func(f string, a ...any) { out = append(out, fmt.Sprintf(f, a...)) }
	status := map[string]PresenceStatusSpec{}
	for _, s := range catalog {
		status[s.StatusID] = s
	}
	if pt.ID == "" || len(pt.ID) > routing.MaxIDLength {
		add("id must have 1..%d bytes", routing.MaxIDLength)
	}
	switch pt.Kind {
	case PresenceTelephony:
		if len(pt.Token) < MinPartnerTokenBytes || len(pt.Token) > MaxTokenBytes {
			add("token must have %d..%d characters", MinPartnerTokenBytes, MaxTokenBytes)
		}
	case PresenceCRM:
		if len(pt.Origins) == 0 || len(pt.Origins) > MaxPresenceOrigins {
			add("origins must list 1..%d origins", MaxPresenceOrigins)
		}
		for _, o := range pt.Origins {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || strings.HasSuffix(o, "/") {
				add("origin %q is not scheme://host[:port]", o)
			}
		}
	default:
		add("kind %q is not telephony or crm", pt.Kind)
	}
	nrReason := func(what, id string) {
		if id == "" {
			return
		}
		if t, ok := reasons[id]; !ok || t != routing.ReasonTypeNotReady {
			add("%s %q is not a declared NOT_READY reason code", what, id)
		}
	}
	nonRoutable := func(what, id string) {
		if id == "" {
			return
		}
		if s, ok := status[id]; !ok || s.HasChannels {
			add("%s %q is not a non-routable status of the catalog", what, id)
		}
	}
	switch pt.Mode {
	case PresenceSynchronized, "":
	case PresenceComplementary:
		if pt.ComplementaryReasonCode == "" || pt.ComplementaryStatusID == "" {
			add("complementary mode needs complementaryReasonCode and complementaryStatusId")
		}
	default:
		add("mode %q is not synchronized or complementary", pt.Mode)
	}
	nrReason("complementaryReasonCode", pt.ComplementaryReasonCode)
	nrReason("workReasonCode", pt.WorkReasonCode)
	nonRoutable("complementaryStatusId", pt.ComplementaryStatusID)
	nonRoutable("workStatusId", pt.WorkStatusID)
	for _, m := range pt.Mapping {
		if m.Work && (m.StatusID == pt.WorkStatusID || m.StatusID == pt.ComplementaryStatusID) {
			add("status %q is a work status (work: true); workStatusId and complementaryStatusId must not be", m.StatusID)
		}
	}
	if len(pt.Mapping) > MaxPresenceStatuses {
		add("mapping has more than %d entries", MaxPresenceStatuses)
	}
	seen := map[string]bool{}
	for i, m := range pt.Mapping {
		s, ok := status[m.StatusID]
		if !ok {
			add("mapping[%d]: status %q is not in the catalog", i, m.StatusID)
		}
		if seen[m.StatusID] {
			add("mapping[%d]: status %q mapped twice", i, m.StatusID)
		}
		seen[m.StatusID] = true
		switch m.AgentState {
		case routing.AgentReady:
			if m.ReasonCode != "" || m.Work {
				add("mapping[%d]: READY takes no reasonCode and no work", i)
			}
			if ok && !s.HasChannels {
				add("mapping[%d]: READY needs a routable status (hasChannels)", i)
			}
		case routing.AgentNotReady:
			nrReason(fmt.Sprintf("mapping[%d]: reasonCode", i), m.ReasonCode)
			if ok && s.HasChannels {
				add("mapping[%d]: a routable status must map to READY", i)
			}
		case routing.AgentLogout:
			if t, ok := reasons[m.ReasonCode]; m.ReasonCode != "" && (!ok || t != routing.ReasonTypeLogout) {
				add("mapping[%d]: reasonCode %q is not a declared LOGOUT reason code", i, m.ReasonCode)
			}
		default:
			add("mapping[%d]: agentState %q is not READY, NOT_READY or LOGOUT", i, m.AgentState)
		}
		for mrd, st := range m.MRDs {
			if st != routing.MRDReady && st != routing.MRDNotReady {
				add("mapping[%d]: mrds.%s: %q is not READY or NOT_READY", i, mrd, st)
			}
		}
	}
	return out
}

func (c *Config) validatePresenceSync(p *problems, _ map[string]bool) {
	ps := c.PresenceSync
	if len(ps.Statuses) > MaxPresenceStatuses {
		p.addf("presenceSync.statuses", "%d entries, more than the limit of %d", len(ps.Statuses), MaxPresenceStatuses)
	}
	if len(ps.Partners) > MaxPresencePartners {
		p.addf("presenceSync.partners", "%d entries, more than the limit of %d", len(ps.Partners), MaxPresencePartners)
	}
	ids := map[string]bool{}
	for i, s := range ps.Statuses {
		w := fmt.Sprintf("presenceSync.statuses[%d] (statusId %q)", i, s.StatusID)
		if s.StatusID == "" || len(s.StatusID) > routing.MaxIDLength || strings.Contains(s.StatusID, ";") {
			p.addf(w, "statusId must have 1..%d bytes and no ';'", routing.MaxIDLength)
		}
		if s.StatusName == "" || len(s.StatusName) > routing.MaxNameLength {
			p.addf(w, "statusName must have 1..%d bytes", routing.MaxNameLength)
		}
		dup(p, w, ids, s.StatusID)
		if (s.StatusID == OfflineStatusID) != s.IsOffline {
			p.addf(w, "statusId \"0\" is reserved for Offline: it and only it has isOffline: true")
		}
		if s.IsOffline && s.HasChannels {
			p.addf(w, "an offline status has no channels")
		}
	}
	reasons := map[string]routing.ReasonType{}
	for _, r := range c.ReasonCodes {
		reasons[r.ID] = r.Type
	}
	catalog := ps.Catalog()
	pids := map[string]bool{}
	for i, pt := range ps.Partners {
		w := fmt.Sprintf("presenceSync.partners[%d] (id %q)", i, pt.ID)
		dup(p, w, pids, pt.ID)
		for _, msg := range ValidatePresencePartner(pt, catalog, reasons) {
			p.addf(w, "%s", msg)
		}
	}
}
