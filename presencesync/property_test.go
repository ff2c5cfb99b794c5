package presencesync

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/routing"
)

// simMsg is one message on the partner link: a report to omniroute or a
// status request to the partner. Each direction is FIFO (a websocket, an
// SSE stream); a message may be lost (a dropped connection).
type simMsg struct {
	at       int
	toServer bool
	status   string
}

type sim struct {
	t       *testing.T
	r       *rand.Rand
	c       *core
	omni    Omni
	partner string
	msgs    []simMsg
	events  []int // pending omni events (delivery times), never lost
	now     int
	lossPct int
	lastUp  int // last delivery time to server
	lastDn  int // last delivery time to partner
	actions int
	lost    int
	trace   []string
}

func (s *sim) logf(f string, a ...any) {
	s.trace = append(s.trace, fmt.Sprintf("t=%d ", s.now)+fmt.Sprintf(f, a...))
}

func (s *sim) send(toServer bool, status string) {
	if s.r.IntN(100) < s.lossPct {
		s.lost++
		s.logf("lost %v %s", toServer, status)
		return
	}
	at := s.now + s.r.IntN(5)
	if toServer {
		at = max(at, s.lastUp)
		s.lastUp = at
	} else {
		at = max(at, s.lastDn)
		s.lastDn = at
	}
	s.msgs = append(s.msgs, simMsg{at: at, toServer: toServer, status: status})
}

func (s *sim) omniEvent() { s.events = append(s.events, s.now+s.r.IntN(3)) }

func (s *sim) exec(acts []Action) {
	for _, a := range acts {
		s.actions++
		if a.Omni != nil {
			s.logf("server sets omniroute %s/%s", a.Omni.State, a.Omni.Reason)
			s.omni.State, s.omni.Reason = a.Omni.State, a.Omni.Reason
			if a.Omni.State == routing.AgentLogout {
				s.omni.Work = false
			}
			s.omniEvent()
		} else {
			s.logf("server asks partner %s", a.Partner)
			s.send(false, a.Partner)
		}
	}
}

// deliver processes everything due at or before now, in time order.
func (s *sim) deliver(all bool) {
	for {
		best, bestEv := -1, -1
		for i, m := range s.msgs {
			if (all || m.at <= s.now) && (best < 0 || m.at < s.msgs[best].at) {
				best = i
			}
		}
		for i, at := range s.events {
			if (all || at <= s.now) && (bestEv < 0 || at < s.events[bestEv]) {
				bestEv = i
			}
		}
		switch {
		case best < 0 && bestEv < 0:
			return
		case bestEv >= 0 && (best < 0 || s.events[bestEv] <= s.msgs[best].at):
			s.events = append(s.events[:bestEv], s.events[bestEv+1:]...)
			out, acts := s.c.OmniChanged("a", s.omni)
			s.logf("omni event %+v -> %s", s.omni, out)
			s.exec(acts)
		default:
			m := s.msgs[best]
			s.msgs = append(s.msgs[:best], s.msgs[best+1:]...)
			if m.toServer {
				out, acts := s.c.PartnerReport("a", m.status, false, false)
				s.logf("report %s -> %s", m.status, out)
				s.exec(acts)
			} else {
				s.partner = m.status
				s.logf("partner applies %s", m.status)
				s.send(true, m.status) // the CRM's presence listener echoes it
			}
		}
	}
}

func (s *sim) userStep() {
	ids := slices.Sorted(maps.Keys(s.c.status))
	switch s.r.IntN(5) {
	case 0, 1:
		s.partner = ids[s.r.IntN(len(ids))]
		s.logf("partner user -> %s", s.partner)
		s.send(true, s.partner)
	case 2, 3:
		switch s.r.IntN(4) {
		case 0:
			s.omni.State, s.omni.Reason = routing.AgentReady, ""
		case 1:
			s.omni.State, s.omni.Reason = routing.AgentNotReady, "break"
		case 2:
			s.omni.State, s.omni.Reason = routing.AgentNotReady, "lunch"
		case 3:
			s.omni.State, s.omni.Reason, s.omni.Work = routing.AgentLogout, "", false
		}
		s.logf("omni user -> %s/%s", s.omni.State, s.omni.Reason)
		s.omniEvent()
	case 4:
		if s.omni.State != routing.AgentLogout {
			s.omni.Work = !s.omni.Work
			s.logf("omni work %v", s.omni.Work)
			s.omniEvent()
		}
	}
}

// check is the mode's rule at rest, plus convergence (omniroute knows the
// partner's real status).
func (s *sim) check() error {
	c := s.c
	a := c.agents["a"]
	switch {
	case a == nil || !a.known || a.status != s.partner:
		return fmt.Errorf("not converged: partner is %q, omniroute believes %+v", s.partner, a)
	case c.isWork(s.partner):
		if s.omni.State == routing.AgentReady {
			return fmt.Errorf("partner has work (%s) but omniroute is READY", s.partner)
		}
	case s.omni.Work:
		if c.routable(s.partner) {
			return fmt.Errorf("omniroute has work but partner is routable (%s)", s.partner)
		}
	case c.complementary():
		if s.omni.State == routing.AgentReady && c.routable(s.partner) {
			return fmt.Errorf("complementary: both Ready (partner %s)", s.partner)
		}
	default:
		if !c.compatible(s.omni, s.partner) {
			return fmt.Errorf("synchronized: omniroute %s/%s vs partner %s", s.omni.State, s.omni.Reason, s.partner)
		}
	}
	return nil
}

func runSim(t *testing.T, mode string, seed uint64) error {
	s := &sim{t: t, r: rand.New(rand.NewPCG(seed, 0x5eed)), c: newCore(testPartner(mode), testCatalog),
		omni: Omni{State: routing.AgentLogout}, partner: config.OfflineStatusID}
	if seed%2 == 1 {
		s.lossPct = 15
	}
	s.c.PartnerReport("a", s.partner, false, false)
	steps := 50 + s.r.IntN(150)
	for range steps {
		s.now++
		if s.r.IntN(3) == 0 {
			s.userStep()
		}
		s.deliver(false)
	}
	// Rest: no more user changes, no more losses; the partner re-reports
	// its status periodically (the connector's heartbeat) until quiet.
	s.lossPct = 0
	s.deliver(true)
	if s.lost == 0 { // nothing lost: converged without any heartbeat
		if err := s.check(); err != nil {
			n := len(s.trace)
			return fmt.Errorf("without heartbeat: %w\nlast steps:\n%v", err, s.trace[max(0, n-25):])
		}
	}
	for round := 0; ; round++ {
		if round == 30 {
			return fmt.Errorf("no convergence after 30 heartbeats")
		}
		s.deliver(true)
		before := s.actions
		s.now += 10
		s.send(true, s.partner)
		s.deliver(true)
		if s.actions == before {
			break
		}
	}
	if err := s.check(); err != nil {
		n := len(s.trace)
		return fmt.Errorf("%w\nlast steps:\n%v", err, s.trace[max(0, n-25):])
	}
	return nil
}

// TestPropertyConvergence drives random interleavings of changes on both
// sides, with delays and lost messages, then lets the system rest and
// checks convergence and the mode's rule. Rerun one case with
// PRESENCESYNC_SEED=<seed>.
func TestPropertyConvergence(t *testing.T) {
	seeds := make([]uint64, 0, 400)
	if v := os.Getenv("PRESENCESYNC_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, n)
	} else {
		for i := range uint64(400) {
			seeds = append(seeds, 1000+i)
		}
	}
	for _, mode := range []string{config.PresenceSynchronized, config.PresenceComplementary} {
		for _, seed := range seeds {
			if err := runSim(t, mode, seed); err != nil {
				t.Fatalf("mode %s: failing seed %d (PRESENCESYNC_SEED=%d): %v", mode, seed, seed, err)
			}
		}
	}
}
