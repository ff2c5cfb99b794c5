package presencesync

import (
	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/routing"
)

// testCatalog is seed 001's userPresenceStatuses example plus a CRM work
// status and an "on work" status.
var testCatalog = []config.PresenceStatusSpec{
	{StatusID: "0", StatusName: "Offline", IsOffline: true},
	{StatusID: "0N5xx0000004CSO", StatusName: "Available", HasChannels: true},
	{StatusID: "0N5xx0000004D56", StatusName: "Away"},
	{StatusID: "0N5xx0000004D3U", StatusName: "Busy"},
	{StatusID: "crm-work", StatusName: "On a CRM case"},
	{StatusID: "on-work", StatusName: "On omniroute work"},
}

const (
	stAvail   = "0N5xx0000004CSO"
	stAway    = "0N5xx0000004D56"
	stBusy    = "0N5xx0000004D3U"
	stCRMWork = "crm-work"
	stOnWork  = "on-work"
)

func testPartner(mode string) config.PresencePartnerSpec {
	return config.PresencePartnerSpec{
		ID: "crm", Kind: config.PresenceCRM, Origins: []string{"http://localhost:1"}, Mode: mode,
		ComplementaryReasonCode: "digital", ComplementaryStatusID: stAway,
		WorkReasonCode: "crm-work", WorkStatusID: stOnWork,
		Mapping: []config.PresenceMappingSpec{
			{StatusID: stAvail, AgentState: routing.AgentReady},
			{StatusID: stAway, AgentState: routing.AgentNotReady, ReasonCode: "break"},
			{StatusID: stBusy, AgentState: routing.AgentNotReady, ReasonCode: "busy"},
			{StatusID: stCRMWork, AgentState: routing.AgentNotReady, ReasonCode: "crm-work", Work: true},
			{StatusID: stOnWork, AgentState: routing.AgentNotReady, ReasonCode: "busy"},
		},
	}
}
