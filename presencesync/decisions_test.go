package presencesync

import (
	"testing"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/routing"
)

func TestSynchronizedNoEcho(t *testing.T) {
	c := newCore(testPartner(config.PresenceSynchronized), testCatalog)
	c.OmniChanged("a", Omni{State: routing.AgentReady})
	// partner -> omniroute: Away maps to NOT_READY(break).
	out, acts := c.PartnerReport("a", stAway, false, false)
	if out != OutcomeApplied || len(acts) != 1 || acts[0].Omni == nil || acts[0].Omni.Reason != "break" {
		t.Fatalf("%s %+v", out, acts)
	}
	// The node's event for that change comes back: nothing is sent back.
	if out, acts := c.OmniChanged("a", Omni{State: routing.AgentNotReady, Reason: "break"}); out != OutcomeInSync || len(acts) != 0 {
		t.Fatalf("echo: %s %+v", out, acts)
	}
	// omniroute -> partner: READY asks Available; the partner's echo is in sync.
	out, acts = c.OmniChanged("a", Omni{State: routing.AgentReady})
	if out != OutcomeApplied || len(acts) != 1 || acts[0].Partner != stAvail {
		t.Fatalf("%s %+v", out, acts)
	}
	if out, acts := c.PartnerReport("a", stAvail, false, false); out != OutcomeInSync || len(acts) != 0 {
		t.Fatalf("echo: %s %+v", out, acts)
	}
	if out, _ := c.PartnerReport("a", "nope", false, false); out != OutcomeRejected {
		t.Fatal(out)
	}
	// Offline "0" -> LOGOUT.
	if _, acts := c.PartnerReport("a", "0", false, false); len(acts) != 1 || acts[0].Omni.State != routing.AgentLogout {
		t.Fatalf("%+v", acts)
	}
}

func TestComplementary(t *testing.T) {
	c := newCore(testPartner(config.PresenceComplementary), testCatalog)
	c.PartnerReport("a", stAvail, false, false)
	// omniroute Ready -> partner Not Ready (complementaryStatusId).
	if _, acts := c.OmniChanged("a", Omni{State: routing.AgentReady}); len(acts) != 1 || acts[0].Partner != stAway {
		t.Fatalf("%+v", acts)
	}
	// partner Ready -> omniroute Not Ready with the configured reason.
	_, acts := c.PartnerReport("a", stAvail, false, false)
	if len(acts) != 1 || acts[0].Omni.State != routing.AgentNotReady || acts[0].Omni.Reason != "digital" {
		t.Fatalf("%+v", acts)
	}
	// Both Not Ready is fine: nothing happens.
	c.OmniChanged("a", Omni{State: routing.AgentNotReady, Reason: "digital"})
	if out, acts := c.PartnerReport("a", stBusy, false, false); out != OutcomeInSync || len(acts) != 0 {
		t.Fatalf("%s %+v", out, acts)
	}
}

func TestWorkBothModes(t *testing.T) {
	for _, mode := range []string{config.PresenceSynchronized, config.PresenceComplementary} {
		c := newCore(testPartner(mode), testCatalog)
		c.PartnerReport("a", stAway, false, false)
		c.OmniChanged("a", Omni{State: routing.AgentReady})
		// Work in the CRM: omniroute Not Ready with the work reason.
		out, acts := c.PartnerReport("a", stCRMWork, false, false)
		if out != OutcomeApplied || len(acts) != 1 || acts[0].Omni.Reason != "crm-work" {
			t.Fatalf("%s: %s %+v", mode, out, acts)
		}
		// Work in omniroute: the CRM is asked for workStatusId.
		c = newCore(testPartner(mode), testCatalog)
		c.OmniChanged("a", Omni{State: routing.AgentNotReady, Reason: "break"})
		c.PartnerReport("a", stAvail, false, false) // complementary: omniroute stays Not Ready
		c.OmniChanged("a", Omni{State: routing.AgentNotReady, Reason: "break", Work: true})
		if c.agents["a"].status != stOnWork {
			t.Fatalf("%s: partner %s", mode, c.agents["a"].status)
		}
	}
}

func TestOnCall(t *testing.T) {
	p := testPartner(config.PresenceSynchronized)
	p.Kind = config.PresenceTelephony
	c := newCore(p, testCatalog)
	c.PartnerReport("a", stAvail, false, true)
	c.OmniChanged("a", Omni{State: routing.AgentReady, Work: true, OnCall: true})
	if out, acts := c.PartnerReport("a", stAway, false, true); out != OutcomeIgnored || len(acts) != 0 {
		t.Fatalf("%s %+v", out, acts)
	}
	if out, _ := c.PartnerReport("a", stAway, true, true); out != OutcomeEnqueued {
		t.Fatal(out)
	}
	out, acts := c.OmniChanged("a", Omni{State: routing.AgentReady})
	if out != OutcomeAppliedAfterCall || len(acts) != 1 || acts[0].Omni.Reason != "break" {
		t.Fatalf("%s %+v", out, acts)
	}
}
