package replay

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/omniroute/omniroute/agentdesk/deskclient"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// LiveOptions configure RunLive.
type LiveOptions struct {
	// Server is the base URL of a running omniroute (http://host:port).
	Server string
	// AdminToken is an admin bearer token of that server: the replay
	// declares its MRD, queues and agents and mints the agents' tokens.
	AdminToken string
	// Speed is how many times faster than real time to play (> 0).
	Speed float64
	// Progress, when set, is called with finished and total arrivals.
	Progress func(done, total int)
	// HTTPClient defaults to a keep-alive client.
	HTTPClient *http.Client
	// Clock, when set, is the server's node clock (server.Options.Clock),
	// running at Speed: the replay starts it at its first action, so the
	// server stamps every instant and deadline in the replayed day's time
	// and its history describes the same instants as this run. Durations
	// are then declared unscaled, and each outcome gets the server's
	// instants (Outcome.Arrived, Ended). Nil: the server runs in real time
	// and durations are divided by Speed.
	Clock *node.Clock
}

// MaxLiveSpeed bounds Speed: beyond it the server's own latency (about a
// millisecond) would be more than a second of replayed time.
const MaxLiveSpeed = 2000

// RunLive plays setup against a running server over its real protocols:
// definitions over REST, every agent a Socket.IO connection (deskclient)
// that goes READY at its login, accepts each taskRequest with
// topicSubscription, holds the call for its service time and leaves with
// topicUnsubscription_; arrivals are POST /v1/conversations, abandons
// POST .../abandon. Waits are measured from the arrival's POST to the
// agent's taskRequest, times Speed, so the report compares with RunVirtual's.
func RunLive(ctx context.Context, setup *Setup, o LiveOptions) (*Run, error) {
	if !(o.Speed > 0) || o.Speed > MaxLiveSpeed {
		return nil, fmt.Errorf("replay: speed must be in (0, %d]", MaxLiveSpeed)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	}
	l := &live{o: o, setup: setup, ctx: ctx, convIdx: map[string]int{}, early: map[string]earlyOffer{},
		agents: map[string]*liveAgent{}, served: map[string]time.Time{},
		run:  &Run{Setup: setup, Outcomes: make([]Outcome, len(setup.Arrivals)), Busy: map[string][]Interval{}, Staffed: map[string][]Interval{}},
		done: make(chan struct{})}
	if err := l.declare(); err != nil {
		return nil, err
	}
	defer l.closeAgents()
	return l.play()
}

type earlyOffer struct {
	at    time.Time
	agent string
}

type liveAgent struct {
	id   string
	conn *deskclient.Conn
	// open holds the agent's tasks from taskRequest until revokeTask or
	// topicUnsubscription, so a logout never catches an accept in flight.
	open    map[string]bool
	leaving bool
	out     bool
}

type live struct {
	o     LiveOptions
	setup *Setup
	ctx   context.Context
	start time.Time     // real time of virtual offset base
	base  time.Duration // first virtual offset played

	mu         sync.Mutex
	convIdx    map[string]int        // conversation id -> arrival
	convID     []string              // arrival -> conversation id
	postedAt   []time.Time           // arrival -> POST time
	created    []chan struct{}       // arrival -> closed when its POST returned
	early      map[string]earlyOffer // taskRequest seen before the POST returned
	agents     map[string]*liveAgent
	served     map[string]time.Time // task -> service start
	finished   int
	run        *Run
	failure    error
	deskErrors []string
	done       chan struct{}
	wg         sync.WaitGroup
}

func (l *live) api(method, path string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(l.ctx, method, l.o.Server+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+l.o.AdminToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := l.o.HTTPClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(data, out)
	}
	return resp.StatusCode, nil
}

func seconds(d time.Duration, speed float64) float64 { return d.Seconds() / speed }

// serverSpeed is how much faster the server's clock runs than the
// declared durations need: Speed when the server runs in real time, 1 on
// a shared Clock.
func (l *live) serverSpeed() float64 {
	if l.o.Clock != nil {
		return 1
	}
	return l.o.Speed
}

// declare puts the setup's MRD, queues and agents on the server; durations
// are divided by Speed when the server runs in real time.
func (l *live) declare() error {
	// Replay agents answer at once; the RONA timeout only guards against a
	// lost event: a minute of wall time.
	rona := min(time.Duration(float64(time.Minute)*l.o.Speed/l.serverSpeed()), routing.MaxDuration)
	m := l.setup.MRD
	if _, err := l.api("PUT", "/v1/mrds/"+url.PathEscape(m.ID), map[string]any{"id": m.ID, "name": m.Name,
		"interruptible": m.Interruptible, "maxRequests": max(m.MaxRequests, 1)}, nil); err != nil {
		return err
	}
	for _, q := range l.setup.Queues {
		spec := map[string]any{"id": q.ID, "name": q.Name, "mrd": q.MRD, "strategy": q.Strategy, "skills": q.Skills,
			"ronaTimeoutSeconds": rona.Seconds()}
		if q.TTL > 0 {
			spec["ttlSeconds"] = seconds(q.TTL, l.serverSpeed())
		}
		if _, err := l.api("PUT", "/v1/queues/"+url.PathEscape(q.ID), spec, nil); err != nil {
			return err
		}
	}
	for _, s := range l.setup.Shifts {
		if _, err := l.api("PUT", "/v1/agents/"+url.PathEscape(s.Agent), map[string]any{"id": s.Agent, "name": s.Agent, "skills": s.Skills}, nil); err != nil {
			return err
		}
	}
	return nil
}

type action struct {
	at   time.Duration
	kind simKind
	idx  int
}

func (l *live) play() (*Run, error) {
	var acts []action
	for i, a := range l.setup.Arrivals {
		acts = append(acts, action{a.At, kindArrival, i})
		if a.Abandons {
			acts = append(acts, action{a.At + a.Patience, kindAbandon, i})
		}
	}
	for i, s := range l.setup.Shifts {
		acts = append(acts, action{s.Login, kindLogin, i}, action{s.Logout, kindLogout, i})
	}
	slices.SortStableFunc(acts, func(a, b action) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.kind, b.kind)
	})
	if len(acts) == 0 {
		return l.run, nil
	}
	l.convID = make([]string, len(l.setup.Arrivals))
	l.postedAt = make([]time.Time, len(l.setup.Arrivals))
	l.created = make([]chan struct{}, len(l.setup.Arrivals))
	for i := range l.created {
		l.created[i] = make(chan struct{})
	}
	l.base = acts[0].at
	l.start = time.Now()
	if c := l.o.Clock; c != nil {
		// The server's clock jumps to the first action and runs from here;
		// a clock already past it (a second replay) moves the run later.
		at := c.Start(l.setup.Epoch.Add(l.base))
		l.base = at.Sub(l.setup.Epoch)
		l.start = c.WallOf(at)
	}
	for _, a := range acts {
		wait := time.Until(l.real(a.at))
		if wait > 0 {
			select {
			case <-time.After(wait):
			case <-l.ctx.Done():
				return nil, l.ctx.Err()
			}
		}
		if err := l.failed(); err != nil {
			return nil, err
		}
		switch a.kind {
		case kindLogin:
			if err := l.login(a.idx); err != nil {
				return nil, err
			}
		case kindLogout:
			l.logout(l.setup.Shifts[a.idx].Agent, false)
		case kindArrival:
			l.wg.Add(1)
			go l.arrive(a.idx)
		case kindAbandon:
			l.wg.Add(1)
			go l.abandon(a.idx)
		}
	}
	l.wg.Wait()
	return l.finish()
}

// real maps a virtual offset to wall time; virtual maps back.
func (l *live) real(v time.Duration) time.Time {
	return l.start.Add(time.Duration(float64(v-l.base) / l.o.Speed))
}

func (l *live) virtual(t time.Time) time.Duration {
	if c := l.o.Clock; c != nil {
		return c.TimeAt(t).Sub(l.setup.Epoch)
	}
	return l.base + time.Duration(float64(t.Sub(l.start))*l.o.Speed)
}

func (l *live) fail(err error) {
	l.mu.Lock()
	if l.failure == nil {
		l.failure = err
	}
	l.mu.Unlock()
}

func (l *live) failed() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failure
}

func (l *live) login(i int) error {
	s := l.setup.Shifts[i]
	var tok struct {
		Token string `json:"token"`
	}
	if _, err := l.api("POST", "/v1/agents/"+url.PathEscape(s.Agent)+"/token", nil, &tok); err != nil {
		return err
	}
	la := &liveAgent{id: s.Agent, open: map[string]bool{}}
	conn, err := deskclient.Dial(l.ctx, l.o.Server, "", map[string]any{"agent": s.Agent, "fcm": "", "token": tok.Token},
		deskclient.WithHandler("taskRequest", func(p json.RawMessage) { l.onTaskRequest(la, p) }),
		deskclient.WithHandler("onTopicData", func(p json.RawMessage) { l.onTopicData(la, p) }),
		deskclient.WithHandler("topicUnsubscription", func(p json.RawMessage) { l.onLeft(la, p) }),
		deskclient.WithHandler("revokeTask", func(p json.RawMessage) { l.onLeft(la, p) }),
		deskclient.WithHandler("errors", func(p json.RawMessage) { l.onError(la, p) }))
	if err != nil {
		return fmt.Errorf("replay: agent %s: %w", s.Agent, err)
	}
	la.conn = conn
	l.mu.Lock()
	l.agents[s.Agent] = la
	l.run.Staffed[s.Agent] = append(l.run.Staffed[s.Agent], Interval{From: l.virtual(time.Now())})
	l.mu.Unlock()
	return conn.Emit("changeAgentState", map[string]any{"agentId": s.Agent, "action": "agentState",
		"state": map[string]any{"name": "READY", "reasonCode": nil}})
}

type taskRef struct {
	ConversationID string `json:"conversationId"`
	TaskID         string `json:"taskId"`
}

func (l *live) onTaskRequest(la *liveAgent, p json.RawMessage) {
	var t taskRef
	if json.Unmarshal(p, &t) != nil {
		return
	}
	now := time.Now()
	l.mu.Lock()
	la.open[t.TaskID] = true
	if i, ok := l.convIdx[t.ConversationID]; ok {
		l.offered(i, now, la.id)
	} else {
		l.early[t.ConversationID] = earlyOffer{at: now, agent: la.id}
	}
	l.mu.Unlock()
	la.conn.Emit("topicSubscription", map[string]any{"conversationId": t.ConversationID, "agentId": la.id, "taskId": t.TaskID,
		"topicParticipant": map[string]any{"type": "AGENT", "role": "PRIMARY", "participant": map[string]any{"id": la.id}}})
}

// offered records the answer of arrival i (l.mu held).
func (l *live) offered(i int, at time.Time, agent string) {
	if l.run.Outcomes[i].Result != Pending {
		return
	}
	wait := time.Duration(float64(at.Sub(l.postedAt[i])) * l.o.Speed)
	l.run.Outcomes[i] = Outcome{Result: Answered, Wait: max(wait, 0), Agent: agent}
	l.finishedOne()
}

func (l *live) finishedOne() {
	l.finished++
	if l.o.Progress != nil {
		l.o.Progress(l.finished, len(l.setup.Arrivals))
	}
}

// onError keeps the first desk errors for the final report: an agent's
// refused action is not fatal (an abandon can race an accept) but is worth
// seeing when calls do not end.
func (l *live) onError(la *liveAgent, p json.RawMessage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.deskErrors) < 5 {
		l.deskErrors = append(l.deskErrors, la.id+": "+string(p))
	}
}

func (l *live) onTopicData(la *liveAgent, p json.RawMessage) {
	var t taskRef
	if json.Unmarshal(p, &t) != nil {
		return
	}
	l.mu.Lock()
	i, ok := l.convIdx[t.ConversationID]
	l.served[t.TaskID] = time.Now()
	l.mu.Unlock()
	service := l.setup.Arrivals[i].Service
	if !ok {
		service = 0
	}
	time.AfterFunc(time.Duration(float64(service)/l.o.Speed), func() {
		la.conn.Emit("topicUnsubscription_", map[string]any{"conversationId": t.ConversationID, "agentId": la.id, "taskId": t.TaskID})
	})
}

func (l *live) onLeft(la *liveAgent, p json.RawMessage) {
	var t taskRef
	if json.Unmarshal(p, &t) != nil {
		return
	}
	now := time.Now()
	l.mu.Lock()
	if from, ok := l.served[t.TaskID]; ok {
		delete(l.served, t.TaskID)
		l.run.Busy[la.id] = append(l.run.Busy[la.id], Interval{From: l.virtual(from), To: l.virtual(now)})
	}
	delete(la.open, t.TaskID)
	leave := la.leaving && len(la.open) == 0
	l.mu.Unlock()
	if leave {
		l.logout(la.id, true)
	}
}

// logout ends a shift: NOT_READY while calls remain, LOGOUT after the last.
func (l *live) logout(agent string, final bool) {
	l.mu.Lock()
	la := l.agents[agent]
	if la == nil || la.out {
		l.mu.Unlock()
		return
	}
	if len(la.open) > 0 && !final {
		la.leaving = true
		l.mu.Unlock()
		la.conn.Emit("changeAgentState", map[string]any{"agentId": agent, "action": "agentState", "state": map[string]any{"name": "NOT_READY", "reasonCode": nil}})
		return
	}
	la.out = true
	st := l.run.Staffed[agent]
	if n := len(st); n > 0 {
		st[n-1].To = l.virtual(time.Now())
	}
	l.mu.Unlock()
	la.conn.Emit("changeAgentState", map[string]any{"agentId": agent, "action": "agentState", "state": map[string]any{"name": "LOGOUT", "reasonCode": nil}})
}

func (l *live) arrive(i int) {
	defer l.wg.Done()
	defer close(l.created[i])
	a := l.setup.Arrivals[i]
	posted := time.Now()
	var created struct {
		ID string `json:"id"`
	}
	_, err := l.api("POST", "/v1/conversations", map[string]any{"queue": a.Queue, "priority": a.Priority,
		"attributes": map[string]string{"replayArrival": strconv.Itoa(i)}}, &created)
	if err != nil {
		l.fail(fmt.Errorf("replay: arrival %d: %w", i, err))
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.convIdx[created.ID] = i
	l.convID[i] = created.ID
	l.postedAt[i] = posted
	if e, ok := l.early[created.ID]; ok {
		delete(l.early, created.ID)
		l.offered(i, e.at, e.agent)
	}
}

func (l *live) abandon(i int) {
	defer l.wg.Done()
	// A patience shorter than the POST's round trip: abandon right after.
	select {
	case <-l.created[i]:
	case <-l.ctx.Done():
		return
	}
	l.mu.Lock()
	id := l.convID[i]
	answered := l.run.Outcomes[i].Result != Pending
	l.mu.Unlock()
	if id == "" || answered {
		return // the POST failed (reported by arrive) or already answered
	}
	code, err := l.api("POST", "/v1/conversations/"+url.PathEscape(id)+"/abandon", nil, nil)
	if code == http.StatusConflict {
		return // answered meanwhile
	}
	if err != nil {
		l.fail(fmt.Errorf("replay: abandon %d: %w", i, err))
		return
	}
	l.mu.Lock()
	if l.run.Outcomes[i].Result == Pending {
		l.finishedOne()
	}
	l.run.Outcomes[i] = Outcome{Result: Abandoned, Wait: time.Duration(float64(time.Since(l.postedAt[i])) * l.o.Speed)}
	l.mu.Unlock()
}

// finish waits for the calls still in service and the ones still waiting
// to end (answered, or expired by the queue TTL), then reads the expired
// ones from the server.
func (l *live) finish() (*Run, error) {
	deadline := time.Now().Add(time.Duration(float64(DefaultBankTTL)/l.o.Speed) + 30*time.Second)
	for {
		if err := l.failed(); err != nil {
			return nil, err
		}
		l.mu.Lock()
		var pending []int
		for i, o := range l.run.Outcomes {
			if o.Result == Pending {
				pending = append(pending, i)
			}
		}
		busy := len(l.served)
		l.mu.Unlock()
		for _, i := range pending {
			var cv struct {
				State       string `json:"state"`
				CloseReason string `json:"closeReason"`
			}
			if _, err := l.api("GET", "/v1/conversations/"+url.PathEscape(l.convID[i]), nil, &cv); err != nil {
				return nil, err
			}
			if cv.State == "CLOSED" && cv.CloseReason == "NO_AGENT_AVAILABLE" {
				l.mu.Lock()
				if l.run.Outcomes[i].Result == Pending {
					l.run.Outcomes[i] = Outcome{Result: Expired, Wait: time.Duration(float64(time.Since(l.postedAt[i])) * l.o.Speed)}
					l.finishedOne()
				}
				l.mu.Unlock()
			}
		}
		if len(pending) == 0 && busy == 0 {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("replay: %d calls still waiting and %d in service after the queue TTL (desk errors: %q)", len(pending), busy, l.deskErrors)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-l.ctx.Done():
			return nil, l.ctx.Err()
		}
	}
	for _, s := range l.setup.Shifts {
		l.logout(s.Agent, true)
	}
	if l.o.Clock != nil {
		if err := l.instants(); err != nil {
			return nil, err
		}
	}
	return l.run, nil
}

// instants reads every call's conversation back for the server's instants
// of its arrival and end, so the run's intervals split calls at the same
// boundaries as the server's history. The waits stay the replay's own.
func (l *live) instants() error {
	for i, id := range l.convID {
		if id == "" {
			continue
		}
		var cv routing.Conversation
		if _, err := l.api("GET", "/v1/conversations/"+url.PathEscape(id), nil, &cv); err != nil {
			return err
		}
		o := &l.run.Outcomes[i]
		o.Arrived = cv.CreatedAt
		switch {
		case o.Result == Answered && !cv.AnsweredAt.IsZero():
			o.Ended = cv.AnsweredAt
		case o.Result == Abandoned || o.Result == Expired:
			o.Ended = cv.ClosedAt
		}
	}
	return nil
}

func (l *live) closeAgents() {
	l.mu.Lock()
	agents := make([]*liveAgent, 0, len(l.agents))
	for _, a := range l.agents {
		agents = append(agents, a)
	}
	l.mu.Unlock()
	for _, a := range agents {
		a.conn.Close()
	}
}
