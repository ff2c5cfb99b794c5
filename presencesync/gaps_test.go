package presencesync

import (
	"testing"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/routing"
)

// omniActions returns the omniroute changes among acts.
func omniActions(acts []Action) []OmniTarget {
	var out []OmniTarget
	for _, a := range acts {
		if a.Omni != nil {
			out = append(out, *a.Omni)
		}
	}
	return out
}

// TestOwnRequestAnswered (issue 9 item 11): omniroute's work sets the CRM
// to the work status; the CRM's omnichannelResponse with that status is
// the answer to omniroute's request, not a CRM change, so the agent stays
// READY and takes more work; when the work ends the CRM is asked back to
// the state the agent chose.
func TestOwnRequestAnswered(t *testing.T) {
	for _, work := range []bool{false, true} { // the work status as a plain or a work mapping
		p := testPartner(config.PresenceSynchronized)
		p.Mapping[len(p.Mapping)-1].Work = work
		c := newCore(p, testCatalog)
		c.OmniChanged("a", Omni{State: routing.AgentReady})
		c.PartnerReport("a", stAvail, false, false)
		_, acts := c.OmniChanged("a", Omni{State: routing.AgentReady, Work: true})
		if len(acts) != 1 || acts[0].Partner != stOnWork {
			t.Fatalf("work=%v: work asks %+v", work, acts)
		}
		out, acts := c.PartnerReport("a", stOnWork, false, false)
		if len(omniActions(acts)) != 0 || out != OutcomeInSync {
			t.Fatalf("work=%v: the answer to omniroute's request changed omniroute: %s %+v", work, out, acts)
		}
		// More omniroute events while the chat goes on change nothing.
		if out, acts := c.OmniChanged("a", Omni{State: routing.AgentReady, Work: true}); len(acts) != 0 {
			t.Fatalf("work=%v: %s %+v", work, out, acts)
		}
		// The chat ends: the CRM goes back to Available.
		_, acts = c.OmniChanged("a", Omni{State: routing.AgentReady})
		if len(acts) != 1 || acts[0].Partner != stAvail {
			t.Fatalf("work=%v: after the work %+v", work, acts)
		}
	}
}

// TestLateAnswerDoesNotUndo (issue 9 item 12): omniroute NOT_READY/busy,
// then NOT_READY/break; the CRM's answer to the first request arrives
// after the second was sent: it must not put omniroute back on busy.
func TestLateAnswerDoesNotUndo(t *testing.T) {
	c := newCore(testPartner(config.PresenceSynchronized), testCatalog)
	c.OmniChanged("a", Omni{State: routing.AgentReady})
	c.PartnerReport("a", stAvail, false, false)
	c.OmniChanged("a", Omni{State: routing.AgentNotReady, Reason: "busy"})
	c.OmniChanged("a", Omni{State: routing.AgentNotReady, Reason: "break"})
	out, acts := c.PartnerReport("a", stBusy, false, false) // late answer
	if len(omniActions(acts)) != 0 || out != "stale" {
		t.Fatalf("late answer: %s %+v", out, acts)
	}
	if len(acts) != 1 || acts[0].Partner != stAway {
		t.Fatalf("the newer request is not asked again: %+v", acts)
	}
	if out, acts := c.PartnerReport("a", stAway, false, false); len(omniActions(acts)) != 0 || out != OutcomeInSync {
		t.Fatalf("answer to the newer request: %s %+v", out, acts)
	}
	// Then a real CRM change is followed again.
	if _, acts := c.PartnerReport("a", stBusy, false, false); len(omniActions(acts)) != 1 || omniActions(acts)[0].Reason != "busy" {
		t.Fatalf("CRM change after the answers: %+v", acts)
	}
}

// TestNotReadyMapping (issue 9 item 13): Synchronized mode follows the
// mapping between Not Ready statuses: CRM case -> away moves omniroute from
// case's reason to away's; from NOT_READY/break, away -> case moves
// omniroute to case's (work) reason.
func TestNotReadyMapping(t *testing.T) {
	c := newCore(testPartner(config.PresenceSynchronized), testCatalog)
	c.OmniChanged("a", Omni{State: routing.AgentReady})
	c.PartnerReport("a", stAvail, false, false)
	_, acts := c.PartnerReport("a", stCRMWork, false, false)
	if o := omniActions(acts); len(o) != 1 || o[0].State != routing.AgentNotReady || o[0].Reason != "crm-work" {
		t.Fatalf("case: %+v", acts)
	}
	c.OmniChanged("a", Omni{State: routing.AgentNotReady, Reason: "crm-work"})
	_, acts = c.PartnerReport("a", stAway, false, false)
	if o := omniActions(acts); len(o) != 1 || o[0].Reason != "break" {
		t.Fatalf("case -> away: %+v", acts)
	}
	c.OmniChanged("a", Omni{State: routing.AgentNotReady, Reason: "break"})
	_, acts = c.PartnerReport("a", stCRMWork, false, false)
	if o := omniActions(acts); len(o) != 1 || o[0].Reason != "crm-work" {
		t.Fatalf("away -> case: %+v", acts)
	}
	c.OmniChanged("a", Omni{State: routing.AgentNotReady, Reason: "crm-work"})
	_, acts = c.PartnerReport("a", stBusy, false, false)
	if o := omniActions(acts); len(o) != 1 || o[0].Reason != "busy" {
		t.Fatalf("case -> busy: %+v", acts)
	}
}
