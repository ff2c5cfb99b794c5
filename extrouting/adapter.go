package extrouting

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/omniroute/omniroute/bayeux"
	"github.com/omniroute/omniroute/clock"
	"github.com/omniroute/omniroute/natsstore"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// DefaultTopic is the PushTopic name partners subscribe to by default
// (channel "/topic/PendingServiceRoutingTopic").
const DefaultTopic = "PendingServiceRoutingTopic"

// Limits.
const (
	// MaxBodyBytes bounds a REST request body.
	MaxBodyBytes = 64 << 10
	// MaxFinishedAgentWorks bounds the finished AgentWork records kept
	// readable (oldest forgotten first).
	MaxFinishedAgentWorks = 10000
)

// Partner is one external router allowed in (config.PartnerSpec).
type Partner struct {
	ID    string
	Token string
}

// Options configure New.
type Options struct {
	// Partners and their bearer tokens; none means nobody gets in.
	Partners []Partner
	// Admin, when set, says whether a bearer token that is no partner's is
	// an admin's (a configured admin token, or an OpenID token with an
	// admin role) and until when it is valid (zero: no expiry). Admins may
	// then handshake on /cometd/{version} to watch the PSR stream; the
	// session ends when the token expires (bayeux.Expiring). Nil: partner
	// tokens only.
	Admin func(token string) (expiry time.Time, ok bool)
	// Topic is the configured PushTopic name (default DefaultTopic).
	Topic string
	// Stream names the JetStream stream (default DefaultStream).
	Stream string
	// Retention is how long events stay replayable (default DefaultRetention).
	Retention time.Duration
	// MaxReplay bounds one replay backlog (default DefaultMaxReplay).
	MaxReplay int
	// Replicas of the event stream (0 means 1; cluster mode uses 3).
	Replicas int
	// ConnectTimeout is the CometD long-poll hold (default bayeux's 30 s).
	ConnectTimeout time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Clock times the retries of storing PSR events and the CometD
	// server's held connects and session expiries (default clock.Real).
	Clock clock.Clock
}

// Adapter maintains the PSR and AgentWork records from node events,
// publishes PSR events and serves the partner endpoints. Create with New,
// stop with Close.
type Adapter struct {
	n     *node.Node
	opts  Options
	log   *slog.Logger
	elog  *eventLog
	bx    *bayeux.Server
	ctx   context.Context
	stop  context.CancelFunc
	done  chan struct{}
	unsub func()

	mu        sync.Mutex
	psrs      map[string]*PendingServiceRouting // by PSR id
	byRequest map[string]*PendingServiceRouting
	hidden    map[string]bool // PSR ids of direct transfers (never published as created)
	works     map[string]*AgentWork
	finished  []string // finished AgentWork ids, oldest first
	sessions  map[string]string
	queues    map[string]queueInfo
	topics    map[string]string // topic name -> the partner that added it ("" for the configured one)
}

type queueInfo struct {
	external bool
	mrd      string
	rona     time.Duration
}

// New opens the event stream on nc, rebuilds the records of live external
// requests and tasks from the node's state and starts following the node.
// It does not own n or nc. Errors: a JetStream error, the node closed.
func New(ctx context.Context, n *node.Node, nc natsstore.Conn, o Options) (*Adapter, error) {
	if o.Topic == "" {
		o.Topic = DefaultTopic
	}
	if !validTopic(o.Topic) {
		return nil, fmt.Errorf("extrouting: invalid topic name %q", o.Topic)
	}
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.MaxReplay <= 0 {
		o.MaxReplay = DefaultMaxReplay
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.Clock = clock.Or(o.Clock)
	el, err := openEventLog(ctx, nc, o.Stream, o.Retention, o.Replicas)
	if err != nil {
		return nil, err
	}
	a := &Adapter{n: n, opts: o, log: o.Logger, elog: el, done: make(chan struct{}),
		psrs: map[string]*PendingServiceRouting{}, byRequest: map[string]*PendingServiceRouting{},
		hidden: map[string]bool{}, works: map[string]*AgentWork{}, sessions: map[string]string{},
		queues: map[string]queueInfo{}, topics: map[string]string{o.Topic: ""}}
	a.ctx, a.stop = context.WithCancel(context.Background())
	a.bx = bayeux.NewServer(bayeux.Options{
		Authorizer: bayeux.AuthorizerFuncs{HandshakeFunc: a.handshake, SubscribeFunc: a.subscribe},
		Replayer:   bayeux.ReplayerFunc(a.replay),
		Logger:     o.Logger, ConnectTimeout: o.ConnectTimeout,
		MaxQueuedMessages: o.MaxReplay + bayeux.DefaultMaxQueuedMessages,
		Clock:             o.Clock,
	})
	events, unsub := n.Subscribe()
	a.unsub = unsub
	if err := a.rebuild(ctx); err != nil {
		unsub()
		a.bx.Close()
		return nil, err
	}
	go a.follow(events)
	return a, nil
}

// Close stops following the node and ends every CometD session.
func (a *Adapter) Close() {
	a.stop()
	a.mu.Lock()
	unsub := a.unsub
	a.mu.Unlock()
	unsub()
	<-a.done
	a.bx.Close()
}

// rebuild loads the records of live requests and tasks of external queues.
func (a *Adapter) rebuild(ctx context.Context) error {
	return a.n.View(ctx, func(s routing.View) {
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, q := range s.Queues() {
			a.queues[q.ID] = infoOf(q)
		}
		for _, id := range s.AgentIDs() {
			if st, ok := s.Agent(id); ok && st.State != routing.AgentLogout && !st.LoginAt.IsZero() {
				a.sessions[id] = SessionID(id, st.LoginAt)
			}
		}
		for _, r := range s.Requests() {
			q := a.queues[r.Queue]
			if !q.external || a.byRequest[r.ID] != nil {
				continue
			}
			p := a.newPSR(r.ID, r.Conversation, r.Queue, r.Priority, r.Mode != "", r.TargetAgent, r.EnqueuedAt, 0)
			p.CapacityWeight = float64(max(r.CapacityWeight, 1))
			if r.TargetAgent == "" && len(r.PreferredAgents) > 0 {
				p.PreferredUserID = NullString(r.PreferredAgents[0])
			}
			p.IsPushed = r.State == routing.RequestOfferedState
			p.IsPushAttempted = p.IsPushed
			a.store(p, r.TargetAgent != "")
		}
		for _, ag := range s.AgentIDs() {
			tasks, _ := s.Tasks(ag)
			for _, t := range tasks {
				if !a.queues[t.Queue].external || a.works[t.ID] != nil {
					continue
				}
				w := &AgentWork{ID: t.ID, UserID: t.Agent, WorkItemID: t.Conversation, ServiceChannelID: t.MRD,
					Status: StatusAssigned, RequestDateTime: SFTime(t.ReservedAt)}
				if p := a.byRequest[t.Request]; p != nil {
					w.PendingServiceRoutingID = p.ID
				}
				switch t.State {
				case routing.TaskActiveState:
					w.Status, w.AcceptDateTime = StatusOpened, SFTime(t.AcceptedAt)
				case routing.TaskWrapUpState:
					w.Status, w.AcceptDateTime = StatusClosed, SFTime(t.AcceptedAt)
				}
				a.works[w.ID] = w
			}
		}
	})
}

func infoOf(q routing.Queue) queueInfo {
	rona := q.RONATimeout
	if rona <= 0 {
		rona = routing.DefaultRONATimeout
	}
	return queueInfo{external: q.Mode == routing.External, mrd: q.MRD, rona: rona}
}

// newPSR builds the PSR record of a request. CapacityWeight is the
// conversation's capacity weight (routing/capacity.go, set by the callers;
// 1 by default). CapacityPercentage stays null: Salesforce fills one of the
// two, and the engine counts capacity in units, not percentages.
func (a *Adapter) newPSR(request, conv, queue string, prio int, transfer bool, target string, at time.Time, serial uint64) *PendingServiceRouting {
	q := a.queues[queue]
	return &PendingServiceRouting{ID: PSRID(request), WorkItemID: conv, QueueID: queue, ServiceChannelID: q.mrd,
		IsTransfer: transfer, RoutingModel: RoutingModelExternal, RoutingType: "QueueBased", RoutingPriority: prio,
		CapacityWeight: 1, IsReadyForRouting: true, PushTimeout: int(q.rona / time.Second),
		PreferredUserID: NullString(target), CreatedDate: SFTime(at), Serial: int64(serial), request: request}
}

func (a *Adapter) store(p *PendingServiceRouting, hidden bool) {
	a.psrs[p.ID] = p
	a.byRequest[p.request] = p
	if hidden {
		a.hidden[p.ID] = true
	}
}

// follow applies node events until Close; a dropped subscription is
// renewed (events missed meanwhile are not published: logged).
func (a *Adapter) follow(events <-chan node.Published) {
	defer close(a.done)
	for {
		for p := range events {
			a.apply(p)
		}
		select {
		case <-a.ctx.Done():
			return
		case <-a.n.Done():
			return
		default:
		}
		a.log.Error("extrouting: node subscription dropped; resubscribing (PSR events may have been missed)")
		var unsub func()
		events, unsub = a.n.Subscribe()
		a.mu.Lock()
		a.unsub = unsub
		a.mu.Unlock()
		if a.ctx.Err() != nil {
			unsub()
			return
		}
		if err := a.rebuild(a.ctx); err != nil {
			a.log.Error("extrouting: rebuild", "err", err)
		}
	}
}

// queue returns the queue's info, loading it when unknown.
func (a *Adapter) queue(id string) queueInfo {
	a.mu.Lock()
	q, ok := a.queues[id]
	a.mu.Unlock()
	if ok {
		return q
	}
	if err := a.n.View(a.ctx, func(s routing.View) {
		if def, ok := s.Queue(id); ok {
			q = infoOf(def)
		}
	}); err != nil {
		// Closing, or the node stopped: not known, so not remembered as
		// an ordinary queue either.
		return q
	}
	a.mu.Lock()
	a.queues[id] = q
	a.mu.Unlock()
	return q
}

// session returns the agent's desk session id, from the login seen or the
// state.
func (a *Adapter) session(agent string) string {
	a.mu.Lock()
	sid := a.sessions[agent]
	a.mu.Unlock()
	if sid != "" {
		return sid
	}
	_ = a.n.View(a.ctx, func(s routing.View) {
		if st, ok := s.Agent(agent); ok && !st.LoginAt.IsZero() {
			sid = SessionID(agent, st.LoginAt)
		}
	})
	return sid
}

type emission struct {
	typ string
	at  time.Time
	obj any
	// origin is the journal entry and command the event came from
	// ("seq.cmd"). In cluster mode every node derives the same events and
	// appends them; the stream keeps one of each (Nats-Msg-Id = origin plus
	// the event's digest), so partners and the webhook consumers see every
	// PSR event once.
	origin string
}

// apply updates the records for one event and publishes the PSR event.
func (a *Adapter) apply(p node.Published) {
	var out *emission
	switch e := p.Event.(type) {
	case routing.AgentStateChanged:
		if e.Previous == routing.AgentLogout && e.State != routing.AgentLogout {
			a.mu.Lock()
			a.sessions[e.Agent] = SessionID(e.Agent, e.At)
			a.mu.Unlock()
		}
	case routing.DefinitionChanged:
		if e.Kind == "queue" {
			a.mu.Lock()
			delete(a.queues, e.ID)
			a.mu.Unlock()
		}
	case routing.RequestQueued:
		if !a.queue(e.Queue).external {
			return
		}
		a.mu.Lock()
		if a.byRequest[e.Request] == nil {
			psr := a.newPSR(e.Request, e.Conversation, e.Queue, e.Priority, e.IsTransfer, e.TargetAgent, e.At, p.Seq)
			psr.CapacityWeight = float64(max(e.CapacityWeight, 1))
			if e.TargetAgent == "" && len(e.PreferredAgents) > 0 {
				// The conversation's first preferred agent (routing/preferred.go).
				psr.PreferredUserID = NullString(e.PreferredAgents[0])
			}
			a.store(psr, e.TargetAgent != "")
			if e.TargetAgent == "" {
				out = &emission{typ: "created", at: e.At, obj: psr.projection()}
			}
		}
		a.mu.Unlock()
	case routing.RequestUpdated:
		a.mu.Lock()
		psr := a.byRequest[e.Request]
		a.mu.Unlock()
		if psr == nil {
			return
		}
		sid := ""
		if e.LastAgent != "" {
			sid = a.session(e.LastAgent)
		}
		a.mu.Lock()
		psr.IsPushed = false
		if sid != "" {
			psr.LastDeclinedAgentSession = NullString(sid)
		}
		if !a.hidden[psr.ID] {
			out = &emission{typ: "updated", at: e.At, obj: psr.projection()}
		}
		a.mu.Unlock()
	case routing.RequestRemoved:
		a.mu.Lock()
		if psr := a.byRequest[e.Request]; psr != nil {
			delete(a.byRequest, e.Request)
			delete(a.psrs, psr.ID)
			delete(a.hidden, psr.ID)
			out = &emission{typ: "deleted", at: e.At, obj: struct {
				ID string `json:"Id"`
			}{psr.ID}}
		}
		a.mu.Unlock()
	case routing.TaskReserved:
		q := a.queue(e.Queue)
		if !q.external {
			return
		}
		a.mu.Lock()
		psr := a.byRequest[e.Request]
		w := a.works[e.Task]
		if w == nil {
			w = &AgentWork{ID: e.Task, UserID: e.Agent, WorkItemID: e.Conversation, ServiceChannelID: e.MRD}
			a.works[w.ID] = w
		}
		w.Status, w.RequestDateTime = StatusAssigned, SFTime(e.At)
		if psr != nil {
			w.PendingServiceRoutingID = psr.ID
			psr.IsPushed, psr.IsPushAttempted = true, true
			if !a.hidden[psr.ID] {
				out = &emission{typ: "updated", at: e.At, obj: psr.projection()}
			}
		}
		a.mu.Unlock()
	case routing.TaskActivated:
		a.updateWork(e.Task, func(w *AgentWork) { w.Status, w.AcceptDateTime = StatusOpened, SFTime(e.At) })
	case routing.TaskWrapUp:
		a.updateWork(e.Task, func(w *AgentWork) { w.Status, w.CloseDateTime = StatusClosed, SFTime(e.At) })
	case routing.TaskRevoked:
		a.updateWork(e.Task, func(w *AgentWork) { finish(w, e.Reason, e.At) })
	case routing.TaskClosed:
		a.updateWork(e.Task, func(w *AgentWork) { finish(w, e.Reason, e.At) })
		a.mu.Lock()
		if a.works[e.Task] != nil {
			a.finished = append(a.finished, e.Task)
			for len(a.finished) > MaxFinishedAgentWorks {
				delete(a.works, a.finished[0])
				a.finished = a.finished[1:]
			}
		}
		a.mu.Unlock()
	}
	if out != nil {
		out.origin = fmt.Sprintf("%d.%d", p.Seq, p.Cmd)
		a.emit(out)
	}
}

// finish sets the status a task's end gives its AgentWork. A work already
// Closed (wrap-up) stays Closed.
func finish(w *AgentWork, reason routing.CloseReason, at time.Time) {
	switch reason {
	case routing.ReasonDeclined:
		w.Status, w.DeclineDateTime = StatusDeclined, SFTime(at)
	case routing.ReasonRONA:
		w.Status, w.DeclineDateTime = StatusDeclinedOnPushTimeout, SFTime(at)
	case routing.ReasonCancelled, routing.ReasonAbandoned, routing.ReasonExpired:
		if w.Status == StatusAssigned {
			w.Status = StatusCanceled
		} else if w.Status != StatusClosed {
			w.Status = StatusClosed
		}
	case routing.ReasonTransferred:
		w.Status = StatusTransferred
	case routing.ReasonAgentLogout, routing.ReasonRequeuedAfterDrop:
		if w.Status == StatusAssigned {
			w.Status = StatusUnavailable
		} else if w.Status != StatusClosed {
			w.Status = StatusClosed
		}
	default:
		w.Status = StatusClosed
	}
	if w.Status == StatusClosed && time.Time(w.CloseDateTime).IsZero() {
		w.CloseDateTime = SFTime(at)
	}
}

func (a *Adapter) updateWork(id string, fn func(*AgentWork)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w := a.works[id]; w != nil {
		fn(w)
	}
}

// emit appends the event to the stream (retrying with backoff while the
// adapter runs) and publishes it on every topic channel.
func (a *Adapter) emit(e *emission) {
	sobj, err := json.Marshal(e.obj)
	if err != nil {
		a.log.Error("extrouting: encode event", "err", err)
		return
	}
	data, _ := json.Marshal(storedEvent{Type: e.typ, CreatedDate: e.at.UTC().Format(eventTimeLayout), SObject: sobj})
	var seq uint64
	for attempt, wait := 0, 100*time.Millisecond; ; attempt++ {
		ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
		seq, err = a.elog.append(ctx, data, e.origin)
		cancel()
		if err == nil {
			break
		}
		if attempt >= 5 || a.ctx.Err() != nil {
			a.log.Error("extrouting: PSR event not stored; partners will not see it", "type", e.typ, "err", err)
			return
		}
		_ = clock.Sleep(a.ctx, a.opts.Clock, wait)
		wait *= 2
	}
	msg := render(seq, data)
	a.mu.Lock()
	names := make([]string, 0, len(a.topics))
	for n := range a.topics {
		names = append(names, n)
	}
	a.mu.Unlock()
	for _, n := range names {
		if _, err := a.bx.Publish("/topic/"+n, msg, bayeux.WithSeq(int64(seq))); err != nil {
			a.log.Error("extrouting: publish", "topic", n, "err", err)
		}
	}
}

// render turns a stored event into the Streaming API data object
// {"event":{"type","createdDate","replayId"},"sobject":{...}}.
func render(seq uint64, stored []byte) json.RawMessage {
	var s storedEvent
	if err := json.Unmarshal(stored, &s); err != nil {
		return nil
	}
	type event struct {
		Type        string `json:"type"`
		CreatedDate string `json:"createdDate"`
		ReplayID    uint64 `json:"replayId"`
	}
	out, _ := json.Marshal(struct {
		Event   event           `json:"event"`
		SObject json.RawMessage `json:"sobject"`
	}{event{s.Type, s.CreatedDate, seq}, s.SObject})
	return out
}

var topicName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,79}$`)

func validTopic(name string) bool { return topicName.MatchString(name) }

// bearer returns the request's bearer token ("Bearer" or jsforce's older
// "OAuth" scheme), or "".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(h, "OAuth ") // jsforce's older header
	}
	if !ok {
		return ""
	}
	return tok
}

// partner returns the partner id of the request's bearer token, or "".
func (a *Adapter) partner(r *http.Request) string {
	tok := bearer(r)
	if tok == "" {
		return ""
	}
	found := ""
	for _, p := range a.opts.Partners {
		if subtle.ConstantTimeCompare([]byte(p.Token), []byte(tok)) == 1 {
			found = p.ID
		}
	}
	return found
}

// AdminIdentity is the CometD session identity of an admin (Options.Admin);
// a partner's session has its partner id (a string).
type AdminIdentity struct {
	// Until is when the admin's token expires (zero: never).
	Until time.Time
}

// Expiry makes the session end with the token (bayeux.Expiring).
func (a AdminIdentity) Expiry() time.Time { return a.Until }

// handshake lets in a partner (identity: its id) or, with Options.Admin, an
// admin (identity: AdminIdentity, ended at its token's expiry).
func (a *Adapter) handshake(r *http.Request, m *bayeux.Message) (any, error) {
	var id any
	if p := a.partner(r); p != "" {
		id = p
	} else if a.opts.Admin != nil {
		if tok := bearer(r); tok != "" {
			if exp, ok := a.opts.Admin(tok); ok && (exp.IsZero() || time.Now().Before(exp)) {
				id = AdminIdentity{Until: exp}
			}
		}
	}
	if id == nil {
		return nil, &bayeux.Error{Code: 401, Message: "Authentication invalid"}
	}
	// The Salesforce replay extension sends ext {"replay": true}; jsforce
	// may send the channel map already in the handshake.
	if raw, ok := m.Ext["replay"]; ok && string(raw) != "true" && string(raw) != "false" {
		if _, err := DecodeReplayExt(raw); err != nil {
			return nil, &bayeux.Error{Code: 400, Message: err.Error()}
		}
	}
	return id, nil
}

func (a *Adapter) subscribe(_ *bayeux.Client, channel string) error {
	name, ok := strings.CutPrefix(channel, "/topic/")
	if !ok || !validTopic(name) {
		return &bayeux.Error{Code: 403, Message: "Unknown channel " + channel}
	}
	// Only the configured PushTopic exists: a misspelt topic would
	// otherwise subscribe successfully and never see an event.
	if name != a.opts.Topic {
		return &bayeux.Error{Code: 403, Message: fmt.Sprintf("Unknown channel %s: the PushTopic of this server is /topic/%s (externalRouting.topic)", channel, a.opts.Topic)}
	}
	return nil
}

// replay serves ext.replay from the stream.
func (a *Adapter) replay(_ *bayeux.Client, channel string, id int64) ([]bayeux.Delivery, error) {
	if id == bayeux.ReplayNewOnly {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(a.ctx, 30*time.Second)
	defer cancel()
	first, last, err := a.elog.bounds(ctx)
	if err != nil {
		return nil, err
	}
	from := first
	if id != bayeux.ReplayAllRetained {
		if id < 0 || uint64(id) > last || uint64(id)+1 < first {
			return nil, &bayeux.Error{Code: 400, Message: fmt.Sprintf("The replayId {%d} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.", id)}
		}
		from = uint64(id) + 1
	}
	entries, err := a.elog.read(ctx, from, last, a.opts.MaxReplay)
	if err != nil {
		return nil, err
	}
	out := make([]bayeux.Delivery, 0, len(entries))
	for _, e := range entries {
		if d := render(e.Seq, e.Data); d != nil {
			out = append(out, bayeux.Delivery{Channel: channel, Data: d, Seq: int64(e.Seq)})
		}
	}
	return out, nil
}

// DecodeReplayExt decodes a Salesforce replay extension value: a JSON
// object mapping channel names to replay ids (-1, -2 or n >= 0). Errors:
// not an object, a non-integer id, an id below -2, an empty channel.
func DecodeReplayExt(raw json.RawMessage) (map[string]int64, error) {
	var m map[string]json.Number
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, errors.New("ext.replay must map channels to replay ids")
	}
	if dec.More() {
		return nil, errors.New("ext.replay: trailing data")
	}
	out := make(map[string]int64, len(m))
	for ch, n := range m {
		id, err := n.Int64()
		if err != nil || ch == "" || id < -2 {
			return nil, fmt.Errorf("ext.replay: invalid replay id %q for channel %q", n.String(), ch)
		}
		out[ch] = id
	}
	return out, nil
}
