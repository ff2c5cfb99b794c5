package presencesync

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/clock"
	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// Limits.
const (
	// MaxDecisionsPerAgent bounds the decisions kept per agent (oldest
	// dropped first); GET /v1/agents/{id}/presence-sync returns them. A
	// decision is about 200 bytes with its strings, and an agent makes
	// several per conversation with each partner, so the bound is what the
	// history costs after a busy day: 50 are about 10 KB an agent (100 MB
	// at 10,000 agents; 200, the bound before, were 400 MB).
	MaxDecisionsPerAgent = 50
	// MaxBodyBytes bounds every JSON body and websocket message.
	MaxBodyBytes = 16 << 10
	// MaxConnsPerPartner bounds telephony websockets per partner and CRM
	// event streams per (partner, agent).
	MaxConnsPerPartner = 64
	// HeartbeatInterval: the browser connector re-reports the CRM's last
	// presence this often (anti-entropy after a lost message).
	HeartbeatInterval = 15 * time.Second
)

// Decision is one sync decision, kept on the agent: who changed what, from
// which side, and what omniroute did about it.
type Decision struct {
	At      time.Time `json:"at"`
	Agent   string    `json:"agent"`
	Partner string    `json:"partner"`
	// Side is where the change came from: "partner" or "omniroute".
	Side Side `json:"side"`
	// Change describes it, e.g. "SET_AGENT_STATUS 0N5xx0000004D56" or
	// "omniroute NOT_READY/break".
	Change string `json:"change"`
	// Outcome: applied, in-sync, ignored, enqueued, applied-after-call,
	// work-override, rejected, partner-refused, failed, no-connection.
	Outcome string `json:"outcome"`
	// Sent is what was asked of the other side, if anything.
	Sent string `json:"sent,omitempty"`
}

// OutcomeNoConnection: the partner had to be told but has no connection
// for the agent; its status is forgotten and re-synced on connection.
const OutcomeNoConnection = "no-connection"

// Options configure New.
type Options struct {
	// Store keeps REST mapping changes (default: a MemStore, not durable).
	Store Store
	// Registry, when set, gets omniroute_presencesync_decisions_total.
	Registry prometheus.Registerer
	Logger   *slog.Logger
	// Clock stamps decisions and times the connectors' keepalives
	// (default clock.Real).
	Clock clock.Clock
}

// Service runs the presence sync of every configured partner against one
// node: it follows the node's events, talks to telephony partners over a
// websocket and REST, and to CRM browser connectors over REST + SSE.
type Service struct {
	clock clock.Clock
	node  *node.Node
	auth  *auth.Authenticator
	log   *slog.Logger
	store Store

	mu        sync.Mutex
	catalog   []config.PresenceStatusSpec
	reasons   map[string]routing.ReasonType
	partners  map[string]*partner
	decisions map[string]*decisionRing
	tel       map[string]map[*telConn]struct{}            // partner -> conns
	crm       map[string]map[string]map[*crmConn]struct{} // partner -> agent -> streams
	pending   map[string]pendingReq                       // telephony request id -> who
	nextID    uint64
	seen      map[string]seenOmni // agent -> newest snapshot applied (newest)

	views atomic.Uint64 // numbers the snapshots in the order the node took them

	counter *prometheus.CounterVec
	cancel  func()
	done    chan struct{}
}

type partner struct {
	spec config.PresencePartnerSpec
	core *core
}

type pendingReq struct{ partner, agent string }

// seenOmni is a snapshot of an agent and its number (Service.snapshot).
type seenOmni struct {
	seq uint64
	o   Omni
}

// New starts the sync. cfg is the configuration's presenceSync section;
// reasons are the declared reason codes (for REST mapping validation).
func New(ctx context.Context, n *node.Node, a *auth.Authenticator, cfg config.PresenceSync, reasons []config.ReasonCodeSpec, o Options) (*Service, error) {
	if o.Store == nil {
		o.Store = &MemStore{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.Clock = clock.Or(o.Clock)
	s := &Service{clock: o.Clock, node: n, auth: a, log: o.Logger, store: o.Store, catalog: cfg.Catalog(), reasons: map[string]routing.ReasonType{},
		partners: map[string]*partner{}, decisions: map[string]*decisionRing{}, tel: map[string]map[*telConn]struct{}{},
		crm: map[string]map[string]map[*crmConn]struct{}{}, pending: map[string]pendingReq{}, seen: map[string]seenOmni{}, done: make(chan struct{})}
	for _, r := range reasons {
		s.reasons[r.ID] = r.Type
	}
	for _, p := range cfg.Partners {
		s.partners[p.ID] = &partner{spec: p, core: newCore(p, s.catalog)}
	}
	stored, err := o.Store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("presencesync: load mappings: %w", err)
	}
	for id, p := range stored {
		if len(config.ValidatePresencePartner(p, s.catalog, s.reasons)) > 0 {
			s.log.Warn("presencesync: stored partner no longer valid; using the file's", "partner", id)
			continue
		}
		s.partners[id] = &partner{spec: p, core: newCore(p, s.catalog)}
	}
	s.counter = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "omniroute_presencesync_decisions_total",
		Help: "Presence sync decisions by partner, side the change came from, and outcome (seeds 001, 002)."},
		[]string{"partner", "side", "outcome"})
	if o.Registry != nil {
		if err := o.Registry.Register(s.counter); err != nil {
			return nil, fmt.Errorf("presencesync: metrics: %w", err)
		}
	}
	events, cancel := n.Subscribe()
	s.cancel = cancel
	go s.follow(events)
	return s, nil
}

// Close stops following the node and closes the partners' connections.
func (s *Service) Close() {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cs := range s.tel {
		for c := range cs {
			c.ws.Close()
		}
	}
	for _, as := range s.crm {
		for _, cs := range as {
			for c := range cs {
				c.close()
			}
		}
	}
}

func (s *Service) follow(events <-chan node.Published) {
	defer close(s.done)
	for p := range events {
		agent := ""
		switch e := p.Event.(type) {
		case routing.AgentStateChanged:
			agent = e.Agent
		case routing.TaskReserved:
			agent = e.Agent
		case routing.TaskRevoked:
			agent = e.Agent
		case routing.TaskActivated:
			agent = e.Agent
		case routing.TaskWrapUp:
			agent = e.Agent
		case routing.TaskClosed:
			agent = e.Agent
		}
		if agent != "" {
			s.omniChanged(agent, fmt.Sprintf("omniroute %s", p.Event.EventName()))
		}
	}
}

// snapshot reads omniroute's presence of the agent. seq orders the
// snapshots: the node runs reads one at a time on its writer goroutine, so
// a snapshot with a greater seq saw the same state as one with a smaller
// seq, or a later one.
func (s *Service) snapshot(ctx context.Context, agent string) (o Omni, seq uint64, ok bool, err error) {
	err = s.node.View(ctx, func(st routing.View) {
		seq = s.views.Add(1)
		a, found := st.Agent(agent)
		if !found {
			return
		}
		ok = true
		o.State, o.Reason = a.State, a.ReasonCode
		tasks, _ := st.Tasks(agent)
		for _, t := range tasks {
			if t.State == routing.TaskClosedState {
				continue
			}
			o.Work = true
			if m, _ := st.MRD(t.MRD); t.State == routing.TaskActiveState && !m.Interruptible {
				o.OnCall = true
			}
		}
	})
	return o, seq, ok, err
}

// newest records snapshot o (numbered seq) of the agent and returns the
// newest snapshot the service has of it, o or a later one. A snapshot is
// taken before s.mu, so a later one (a partner report's) may have been
// applied in between; applying the older one after it would take the
// cores back to an earlier state (a call that has ended, or not yet
// begun). Called with s.mu held.
func (s *Service) newest(agent string, o Omni, seq uint64) Omni {
	if cur, ok := s.seen[agent]; ok && cur.seq > seq {
		return cur.o
	}
	s.seen[agent] = seenOmni{seq: seq, o: o}
	return o
}

func (s *Service) omniChanged(agent, change string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o, seq, ok, err := s.snapshot(ctx, agent)
	if err != nil || !ok {
		return
	}
	s.omniApply(ctx, agent, change, o, seq)
}

// omniApply runs every partner's decision on snapshot o (numbered seq), or
// on a newer one of the agent that a partner report has applied since.
func (s *Service) omniApply(ctx context.Context, agent, change string, o Omni, seq uint64) {
	s.mu.Lock()
	ids := slices.Sorted(maps.Keys(s.partners))
	s.mu.Unlock()
	for _, id := range ids {
		s.mu.Lock()
		p := s.partners[id]
		cur := s.newest(agent, o, seq)
		out, acts := p.core.OmniChanged(agent, cur)
		s.mu.Unlock()
		s.run(ctx, p, agent, SideOmniroute, fmt.Sprintf("%s: %s/%s work=%v onCall=%v", change, cur.State, cur.Reason, cur.Work, cur.OnCall), out, acts)
	}
}

// partnerReport handles a partner's status for an agent; it returns the
// decision's outcome.
func (s *Service) partnerReport(ctx context.Context, partnerID, agent, statusID string, enqueue, telephony bool, change string) (string, error) {
	o, seq, ok, err := s.snapshot(ctx, agent)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	p := s.partners[partnerID]
	if p == nil || !ok {
		s.mu.Unlock()
		return OutcomeRejected, nil
	}
	// Bring the core up to date first: the subscription may lag (and the
	// subscription's snapshot may be newer than this one).
	p.core.agent(agent).omni = s.newest(agent, o, seq)
	out, acts := p.core.PartnerReport(agent, statusID, enqueue, telephony)
	s.mu.Unlock()
	return s.run(ctx, p, agent, SidePartner, change, out, acts), nil
}

// run executes a decision's actions and records it.
func (s *Service) run(ctx context.Context, p *partner, agent string, side Side, change, outcome string, acts []Action) string {
	var sent []string
	for _, a := range acts {
		if a.Omni != nil {
			sent = append(sent, fmt.Sprintf("omniroute %s/%s", a.Omni.State, a.Omni.Reason))
			if err := s.applyOmni(ctx, agent, *a.Omni); err != nil {
				s.log.Warn("presencesync: omniroute refused", "agent", agent, "partner", p.spec.ID, "err", err)
				outcome = OutcomeFailed
			}
			continue
		}
		sent = append(sent, "partner "+a.Partner)
		if !s.sendPartner(p, agent, a) {
			s.mu.Lock()
			p.core.Forget(agent)
			s.mu.Unlock()
			outcome = OutcomeNoConnection
		}
	}
	d := Decision{At: s.clock.Now().UTC(), Agent: agent, Partner: p.spec.ID, Side: side, Change: change, Outcome: outcome}
	if len(sent) > 0 {
		d.Sent = fmt.Sprint(sent)
	}
	s.record(d)
	return outcome
}

func (s *Service) record(d Decision) {
	s.counter.WithLabelValues(d.Partner, string(d.Side), d.Outcome).Inc()
	s.mu.Lock()
	r := s.decisions[d.Agent]
	if r == nil {
		r = &decisionRing{}
		s.decisions[d.Agent] = r
	}
	r.add(d)
	s.mu.Unlock()
}

func (s *Service) applyOmni(ctx context.Context, agent string, t OmniTarget) error {
	if _, err := s.node.Submit(ctx, routing.SetAgentState{Agent: agent, State: t.State, ReasonCode: t.Reason}); err != nil {
		return err
	}
	if t.State != routing.AgentReady {
		return nil
	}
	var errs []error
	for _, mrd := range slices.Sorted(maps.Keys(t.MRDs)) {
		if _, err := s.node.Submit(ctx, routing.SetMRDState{Agent: agent, MRD: mrd, State: t.MRDs[mrd]}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sendPartner delivers a status request; false when nobody is connected.
func (s *Service) sendPartner(p *partner, agent string, a Action) bool {
	info := s.statusInfo(a.Partner)
	if p.spec.Kind == config.PresenceTelephony {
		s.mu.Lock()
		s.nextID++
		id := fmt.Sprintf("s%d", s.nextID)
		s.pending[id] = pendingReq{partner: p.spec.ID, agent: agent}
		conns := sortedConns(s.tel[p.spec.ID])
		s.mu.Unlock()
		msg := TelephonySetAgentStatus{Type: "setAgentStatus", ID: id, Agent: agent, AgentStatus: a.Partner, StatusInfo: info, EnqueueNextState: a.EnqueueNextState}
		sentAny := false
		for _, c := range conns {
			if c.send(msg) == nil {
				sentAny = true
			}
		}
		if !sentAny {
			s.mu.Lock()
			delete(s.pending, id)
			s.mu.Unlock()
		}
		return sentAny
	}
	s.mu.Lock()
	var conns []*crmConn
	for c := range s.crm[p.spec.ID][agent] {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	ids := []string{a.Partner}
	if m, ok := p.core.mapping[a.Partner]; ok {
		ids = append(ids, slices.Sorted(maps.Keys(m.MRDs))...)
	}
	sentAny := false
	for _, c := range conns {
		if c.push("requestSyncOmnichannel", map[string]any{"statusId": joinIDs(ids)}) {
			sentAny = true
		}
	}
	return sentAny
}

func (s *Service) statusInfo(id string) AgentStatusInfo {
	for _, st := range s.catalog {
		if st.StatusID == id {
			return AgentStatusInfo{StatusID: id, StatusAPIName: st.StatusAPIName, StatusName: st.StatusName}
		}
	}
	return AgentStatusInfo{StatusID: id}
}

// Decisions returns the agent's recorded decisions, oldest first.
func (s *Service) Decisions(agent string) []Decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.decisions[agent].list()
}

// decisionRing holds an agent's last MaxDecisionsPerAgent decisions: it
// grows to the bound, then overwrites the oldest, so a decision past the
// bound costs no copy of the others.
type decisionRing struct {
	d    []Decision
	next int // where the next decision goes once d is full
}

func (r *decisionRing) add(d Decision) {
	if len(r.d) < MaxDecisionsPerAgent {
		r.d = append(r.d, d)
		return
	}
	r.d[r.next] = d
	r.next = (r.next + 1) % len(r.d)
}

// list returns the decisions oldest first (nil for a nil ring).
func (r *decisionRing) list() []Decision {
	if r == nil || len(r.d) == 0 {
		return nil
	}
	return append(slices.Clone(r.d[r.next:]), r.d[:r.next]...)
}

func tokenEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func joinIDs(ids []string) string {
	out := ""
	for i, id := range ids {
		if i > 0 {
			out += ";"
		}
		out += id
	}
	return out
}
