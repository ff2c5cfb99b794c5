// Package loadtest drives an omniroute server the way a contact center
// does: N agent desks connected over the real Socket.IO protocol
// (agentdesk/deskclient, websocket), READY on chat, and conversations
// created through the REST API (POST /v1/conversations) at a steady rate.
// Each desk accepts its offer (topicSubscription) and leaves at once
// (topicUnsubscription_), so capacity stays free. It measures the offer
// latency (from just before the POST to the desk having read the
// taskRequest), offers that never came, sockets the server closed, and,
// for a local server given by pid, the server's RSS and CPU.
//
// Setup goes through the REST API as an admin: the queue Options.Queue on
// MRD chat (skill "loadtest" at least 1, longest-idle) and agents
// <prefix>00000... with skill loadtest 50 and chat capacity 1, each given a
// token by POST /v1/agents/{id}/token. Re-running against the same server
// reuses them.
package loadtest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omniroute/omniroute/agentdesk"
	"github.com/omniroute/omniroute/agentdesk/deskclient"
)

// Options of a run. Zero values select the defaults.
type Options struct {
	// Server is the base URL (default http://127.0.0.1:8080).
	Server string
	// AdminToken is a configured admin token (default "dev-admin-token",
	// the example config's).
	AdminToken string
	// Agents desks connect (default 1,000); Rate conversations per second
	// are created (default 50) for Duration (default 30 s).
	Agents   int
	Rate     float64
	Duration time.Duration
	// Queue and AgentPrefix name what the setup creates (defaults
	// "loadtest-chat" and "lt").
	Queue, AgentPrefix string
	// SourceIPs are the loopback addresses desks dial from, in turn (desk
	// i from SourceIPs[i % len]; default: 127.0.0.1 up to 28,000 desks,
	// then one more address per 28,000, so no address needs more than
	// 28,000 ephemeral ports).
	SourceIPs []net.IP
	// ServerPID, when set, is the local server process whose RSS and CPU
	// are read from /proc.
	ServerPID int
	// Idle, when set, is a pause with every desk connected and no traffic
	// before the conversations start; the server's CPU over it is reported.
	Idle time.Duration
	// FsyncDir, when set, is a directory on the server's data disk: while
	// the conversations run, a probe there writes and fsyncs 512 bytes
	// every 20 ms and the fsync latencies are reported. The journal
	// fsyncs before an offer goes out, so this disk's fsync tail is a
	// floor under the offer latency's.
	FsyncDir string
	// Progress, when set, gets one line per phase.
	Progress io.Writer
}

// Report is what a run measured. Latencies are in milliseconds.
type Report struct {
	Agents, Connected int
	ConnectSeconds    float64
	Conversations     int
	Offers            int
	Lost              int // conversations whose offer never reached a desk
	Dropped           int // desks the server disconnected
	P50, P99, Max     float64
	// CreateP50, CreateP99 and CreateMax (ms) time POST /v1/conversations
	// from the request's start to its 201: the server's acknowledgement,
	// which comes once the command is journaled (fsync'd) and applied, so
	// the offer can go out no earlier. The offer latency less this is the
	// way from the routing node to the desk.
	CreateP50, CreateP99, CreateMax float64
	// Server figures, when ServerPID was given: RSS before the desks
	// connected and with all connected (KiB), per connection (KiB), CPU
	// over the Idle pause (percent of one core) and per conversation (ms).
	RSSBaseKiB, RSSConnectedKiB, RSSPerConnKiB float64
	// RSSIdleKiB and RSSIdlePerConnKiB are the same after the Idle pause
	// (zero without one): the steady state, once the garbage of the
	// connect burst is collected and returned.
	RSSIdleKiB, RSSIdlePerConnKiB        float64
	IdleCPUPercent, CPUPerConversationMs float64
	// From the server's /metrics (Go runtime collector), over the
	// conversations: heap allocations (objects and KiB) per conversation
	// and GC cycles. Zero when /metrics does not have them. Unlike CPU
	// time, these do not depend on how loaded the machine is.
	AllocsPerConversation, AllocKiBPerConversation float64
	GCCycles                                       int
	// Fsync latency of the probe in FsyncDir (ms) and the number of
	// fsyncs it made.
	FsyncP50, FsyncP99, FsyncMax float64
	Fsyncs                       int
	// From the server's /metrics, over the conversations: the offer
	// latency the server measured itself (ServerP50, ServerP99 in ms,
	// interpolated in the buckets of
	// omniroute_agentdesk_offer_latency_seconds; from the command's
	// arrival at the routing node to the taskRequest written to the
	// socket, so without this process's own delays) and the offers it
	// counted; and the routing node's commands per journal entry (group
	// commit: one fsync per entry). Zero when /metrics does not have them.
	ServerP50, ServerP99 float64
	ServerOffers         int
	CommandsPerEntry     float64
	// Stored is, for each store that wrote over the conversations, its
	// fsync'd writes per conversation, by name: every JetStream stream
	// (omniroute_jetstream_messages_stored_total; with sync_always one
	// fsync per stored message) and the customer keyring, "customer-keys"
	// (omniroute_customer_keys_commits_total). Nil when /metrics does not
	// have the series.
	Stored []StreamStored
	// Load1Start and Load1End are the machine's 1-minute load average
	// (/proc/loadavg) when the conversations started and ended: wall-clock
	// figures mean little without it.
	Load1Start, Load1End float64
}

func (o *Options) defaults() {
	if o.Server == "" {
		o.Server = "http://127.0.0.1:8080"
	}
	o.Server = strings.TrimRight(o.Server, "/")
	if o.AdminToken == "" {
		o.AdminToken = "dev-admin-token"
	}
	if o.Agents <= 0 {
		o.Agents = 1000
	}
	if o.Rate <= 0 {
		o.Rate = 50
	}
	if o.Duration <= 0 {
		o.Duration = 30 * time.Second
	}
	if o.Queue == "" {
		o.Queue = "loadtest-chat"
	}
	if o.AgentPrefix == "" {
		o.AgentPrefix = "lt"
	}
	if len(o.SourceIPs) == 0 {
		for i := 0; i*perSourceIP < o.Agents; i++ {
			o.SourceIPs = append(o.SourceIPs, net.IPv4(127, 0, 0, byte(1+i)))
		}
	}
}

// connectSettle is the pause between the last desk connected and the
// RSS reading.
const connectSettle = 5 * time.Second

// perSourceIP is how many desks dial from one source address: under the
// default ephemeral port range (32768-60999, 28,232 ports).
const perSourceIP = 28_000

type run struct {
	o      Options
	http   *http.Client
	mu     sync.Mutex
	offers map[string]*offer // conversation id -> timing
	lat    []time.Duration
	create []time.Duration // POST /v1/conversations round trips
	posted atomic.Int64
	got    atomic.Int64
	closed atomic.Int64
	done   atomic.Bool
}

type offer struct {
	start, arrived time.Time
}

// Run sets up, connects, drives and reports. It returns an error when the
// setup fails; misses (lost offers, dropped sockets) are in the Report.
func Run(ctx context.Context, o Options) (Report, error) {
	o.defaults()
	r := &run{o: o, offers: map[string]*offer{},
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	rep := Report{Agents: o.Agents}
	r.say("setup: queue %s and %d agents on %s", o.Queue, o.Agents, o.Server)
	tokens, err := r.setup(ctx)
	if err != nil {
		return rep, err
	}
	if o.ServerPID > 0 {
		rep.RSSBaseKiB = rssKiB(o.ServerPID)
	}
	r.say("connecting %d desks from %d source address(es)", o.Agents, len(o.SourceIPs))
	t0 := time.Now()
	conns, err := r.connect(ctx, tokens)
	defer func() {
		r.done.Store(true)
		for _, c := range conns {
			if c != nil {
				_ = c.Close()
			}
		}
	}()
	if err != nil {
		return rep, err
	}
	rep.Connected = len(conns)
	rep.ConnectSeconds = time.Since(t0).Seconds()
	if o.ServerPID > 0 {
		// Let the server settle after the connect burst; 5 s, as
		// socketio/internal/peerbench waits before it reads the Node
		// peer's RSS, so the two figures compare.
		time.Sleep(connectSettle)
		rep.RSSConnectedKiB = rssKiB(o.ServerPID)
		rep.RSSPerConnKiB = (rep.RSSConnectedKiB - rep.RSSBaseKiB) / float64(len(conns))
	}
	if o.Idle > 0 {
		r.say("idle for %v", o.Idle)
		c0 := cpuSeconds(o.ServerPID)
		time.Sleep(o.Idle)
		if o.ServerPID > 0 {
			rep.IdleCPUPercent = 100 * (cpuSeconds(o.ServerPID) - c0) / o.Idle.Seconds()
			rep.RSSIdleKiB = rssKiB(o.ServerPID)
			rep.RSSIdlePerConnKiB = (rep.RSSIdleKiB - rep.RSSBaseKiB) / float64(len(conns))
		}
	}
	n := int(o.Rate * o.Duration.Seconds())
	r.say("creating %d conversations at %.0f/s", n, o.Rate)
	rep.Load1Start = load1()
	m0 := r.runtimeMetrics(ctx)
	var probe *fsyncProbe
	if o.FsyncDir != "" {
		if probe, err = startFsyncProbe(o.FsyncDir); err != nil {
			return rep, err
		}
	}
	c0 := cpuSeconds(o.ServerPID)
	if err := r.drive(ctx, n); err != nil {
		if probe != nil {
			probe.stop()
		}
		return rep, err
	}
	// Wait for the offers still in flight.
	deadline := time.Now().Add(30 * time.Second)
	for r.got.Load() < r.posted.Load() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if o.ServerPID > 0 && n > 0 {
		rep.CPUPerConversationMs = 1000 * (cpuSeconds(o.ServerPID) - c0) / float64(n)
	}
	if probe != nil {
		rep.FsyncP50, rep.FsyncP99, rep.FsyncMax, rep.Fsyncs = probe.stop()
	}
	rep.Load1End = load1()
	m1 := r.runtimeMetrics(ctx)
	if m0.ok && m1.ok && n > 0 {
		rep.AllocsPerConversation = (m1.mallocs - m0.mallocs) / float64(n)
		rep.AllocKiBPerConversation = (m1.allocBytes - m0.allocBytes) / 1024 / float64(n)
		rep.GCCycles = int(m1.gcCycles - m0.gcCycles)
	}
	if m0.offersOK && m1.offersOK {
		d := m1.offers.minus(m0.offers)
		rep.ServerOffers = int(d.count())
		rep.ServerP50, rep.ServerP99 = 1000*d.quantile(0.50), 1000*d.quantile(0.99)
	}
	if m0.stored != nil && m1.stored != nil && n > 0 {
		rep.Stored = storedPer(m0.stored, m1.stored, n)
	}
	if m0.nodeOK && m1.nodeOK && m1.entries > m0.entries {
		rep.CommandsPerEntry = (m1.commands - m0.commands) / (m1.entries - m0.entries)
	}
	rep.Conversations = int(r.posted.Load())
	rep.Offers = int(r.got.Load())
	rep.Lost = rep.Conversations - rep.Offers
	rep.Dropped = int(r.closed.Load())
	r.mu.Lock()
	lat, create := slices.Clone(r.lat), slices.Clone(r.create)
	r.mu.Unlock()
	rep.P50, rep.P99, rep.Max = percentiles(lat)
	rep.CreateP50, rep.CreateP99, rep.CreateMax = percentiles(create)
	return rep, nil
}

// StreamStored is one store's share of Report.Stored.
type StreamStored struct {
	Stream          string  // the JetStream stream, or "customer-keys"
	PerConversation float64 // fsync'd writes per conversation
}

// storedPer returns the streams whose count rose from m0 to m1, each
// with its rise divided by n, by stream name.
func storedPer(m0, m1 map[string]float64, n int) []StreamStored {
	var out []StreamStored
	for _, name := range slices.Sorted(maps.Keys(m1)) {
		if d := m1[name] - m0[name]; d > 0 {
			out = append(out, StreamStored{Stream: name, PerConversation: d / float64(n)})
		}
	}
	return out
}

// percentiles returns the p50, p99 and max of d in milliseconds (nearest
// rank; zeros when d is empty). It sorts d.
func percentiles(d []time.Duration) (p50, p99, most float64) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	slices.Sort(d)
	pct := func(p float64) float64 {
		i := int(p*float64(len(d))+0.999999) - 1
		return float64(d[min(max(0, i), len(d)-1)]) / 1e6
	}
	return pct(0.50), pct(0.99), float64(d[len(d)-1]) / 1e6
}

func (r *run) say(format string, args ...any) {
	if r.o.Progress != nil {
		fmt.Fprintf(r.o.Progress, format+"\n", args...)
	}
}

// call does one admin REST call; want is the expected status.
func (r *run) call(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.o.Server+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.o.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != want && !(want == http.StatusOK && resp.StatusCode == http.StatusCreated) {
		return fmt.Errorf("loadtest: %s %s: HTTP %d %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (r *run) agentID(i int) string { return fmt.Sprintf("%s%05d", r.o.AgentPrefix, i) }

// setup creates the queue and the agents and returns each agent's token.
func (r *run) setup(ctx context.Context) ([]string, error) {
	q := map[string]any{"id": r.o.Queue, "name": "Load test", "mrd": "chat", "skills": map[string]int{"loadtest": 1},
		"ronaTimeoutSeconds": 60, "ttlSeconds": 600, "serviceLevelSeconds": 20}
	if err := r.call(ctx, "PUT", "/v1/queues/"+r.o.Queue, q, http.StatusOK, nil); err != nil {
		return nil, err
	}
	tokens := make([]string, r.o.Agents)
	err := parallel(ctx, r.o.Agents, 16, func(i int) error {
		id := r.agentID(i)
		a := map[string]any{"id": id, "name": "Load " + id, "skills": map[string]int{"loadtest": 50}, "capacity": map[string]int{"chat": 1}}
		if err := r.call(ctx, "PUT", "/v1/agents/"+id, a, http.StatusOK, nil); err != nil {
			return err
		}
		var tok struct{ Token string }
		if err := r.call(ctx, "POST", "/v1/agents/"+id+"/token", nil, http.StatusOK, &tok); err != nil {
			return err
		}
		tokens[i] = tok.Token
		return nil
	})
	return tokens, err
}

// parallel runs f(0..n-1) on w workers; the first error stops it.
func parallel(ctx context.Context, n, w int, f func(i int) error) error {
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// connect dials every desk and makes it READY.
func (r *run) connect(ctx context.Context, tokens []string) ([]*deskclient.Conn, error) {
	conns := make([]*deskclient.Conn, len(tokens))
	err := parallel(ctx, len(tokens), 32, func(i int) error {
		id := r.agentID(i)
		slot := new(atomic.Pointer[deskclient.Conn])
		dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		c, err := deskclient.Dial(dctx, r.o.Server, "", map[string]any{"agent": id, "fcm": "", "token": tokens[i]},
			deskclient.WithLocalIP(r.o.SourceIPs[i%len(r.o.SourceIPs)]),
			deskclient.WithHandler(agentdesk.EventTaskRequest, func(p json.RawMessage) { r.onOffer(slot.Load(), p) }))
		if err != nil {
			return fmt.Errorf("loadtest: desk %s: %w", id, err)
		}
		slot.Store(c)
		conns[i] = c
		go func() {
			<-c.Done()
			if !r.done.Load() {
				r.closed.Add(1)
			}
		}()
		ready := map[string]any{"agentId": id, "action": "agentState", "state": map[string]any{"name": "READY"}}
		_, err = c.EmitWithAck(dctx, agentdesk.EventChangeAgentState, ready)
		return err
	})
	return conns, err
}

// onOffer runs on a desk's reader goroutine.
func (r *run) onOffer(c *deskclient.Conn, p json.RawMessage) {
	now := time.Now()
	var tr struct {
		ConversationID string `json:"conversationId"`
		TaskID         string `json:"taskId"`
	}
	if json.Unmarshal(p, &tr) != nil || c == nil {
		return
	}
	r.mu.Lock()
	o := r.offers[tr.ConversationID]
	first := o == nil || o.arrived.IsZero()
	switch {
	case o == nil: // the offer overtook the POST's answer
		r.offers[tr.ConversationID] = &offer{arrived: now}
	case first:
		o.arrived = now
		r.lat = append(r.lat, now.Sub(o.start))
		delete(r.offers, tr.ConversationID)
	}
	r.mu.Unlock()
	if first {
		r.got.Add(1)
	}
	ref := map[string]any{"conversationId": tr.ConversationID, "taskId": tr.TaskID}
	_ = c.Emit(agentdesk.EventTopicSubscription, ref)
	_ = c.Emit(agentdesk.EventTopicUnsubscriptionRequest, ref)
}

// drive creates n conversations paced at Rate; POSTs run concurrently so
// a slow answer does not hold back the next conversation.
func (r *run) drive(ctx context.Context, n int) error {
	interval := time.Duration(float64(time.Second) / r.o.Rate)
	t0 := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	sem := make(chan struct{}, 64)
	for i := range n {
		if d := time.Until(t0.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			start := time.Now()
			var created struct{ ID string }
			body := map[string]any{"queue": r.o.Queue, "customer": map[string]any{"name": "Load " + strconv.Itoa(i)}}
			if err := r.call(ctx, "POST", "/v1/conversations", body, http.StatusCreated, &created); err != nil {
				if failed.Add(1) == 1 {
					firstErr.Store(err)
				}
				return
			}
			r.posted.Add(1)
			r.mu.Lock()
			r.create = append(r.create, time.Since(start))
			if o := r.offers[created.ID]; o != nil && !o.arrived.IsZero() {
				r.lat = append(r.lat, o.arrived.Sub(start))
				delete(r.offers, created.ID)
			} else {
				r.offers[created.ID] = &offer{start: start}
			}
			r.mu.Unlock()
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("loadtest: %d conversation POSTs failed, first: %v", f, firstErr.Load())
	}
	return nil
}

// runtimeFigures are the server's counters read from /metrics: the Go
// runtime's (ok: all three seen), the offer-latency histogram (offersOK)
// and the routing node's commands and journal entries (nodeOK).
type runtimeFigures struct {
	mallocs, allocBytes, gcCycles float64
	ok                            bool
	offers                        histogram
	offersOK                      bool
	commands, entries             float64
	nodeOK                        bool
	stored                        map[string]float64 // stream -> messages stored; nil when absent
}

// histogram is a Prometheus histogram's cumulative buckets, by rising
// upper bound (the +Inf bucket last).
type histogram []bucket

type bucket struct{ le, count float64 }

// minus is h's counts less those of an earlier scrape (same buckets).
func (h histogram) minus(earlier histogram) histogram {
	out := slices.Clone(h)
	for i := range out {
		if i < len(earlier) && earlier[i].le == out[i].le {
			out[i].count -= earlier[i].count
		}
	}
	return out
}

func (h histogram) count() float64 {
	if len(h) == 0 {
		return 0
	}
	return h[len(h)-1].count
}

// quantile estimates the q-quantile by linear interpolation inside the
// bucket that holds it (Prometheus's histogram_quantile); past the last
// finite bound it answers that bound. 0 when empty.
func (h histogram) quantile(q float64) float64 {
	total := h.count()
	if total <= 0 {
		return 0
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for _, b := range h {
		if b.count >= rank {
			if math.IsInf(b.le, 1) {
				return lower
			}
			if b.count == below {
				return b.le
			}
			return lower + (b.le-lower)*(rank-below)/(b.count-below)
		}
		lower, below = b.le, b.count
	}
	return lower
}

// runtimeMetrics reads go_memstats_mallocs_total,
// go_memstats_alloc_bytes_total and go_gc_duration_seconds_count from the
// server's /metrics (Prometheus text format). ok is false when any is
// missing or the request fails: the figures are then left out.
func (r *run) runtimeMetrics(ctx context.Context) runtimeFigures {
	req, err := http.NewRequestWithContext(ctx, "GET", r.o.Server+"/metrics", nil)
	if err != nil {
		return runtimeFigures{}
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return runtimeFigures{}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return runtimeFigures{}
	}
	return parseRuntimeMetrics(string(b))
}

// offerBucket is the server's offer-latency histogram's bucket series.
const offerBucket = "omniroute_agentdesk_offer_latency_seconds_bucket"

// storedSeries is the server's per-stream stored-message counter, and
// keyCommits its customer keyring's commits (one fsync each).
const (
	storedSeries = "omniroute_jetstream_messages_stored_total"
	keyCommits   = "omniroute_customer_keys_commits_total"
)

func parseRuntimeMetrics(text string) runtimeFigures {
	var f runtimeFigures
	seen, nodeSeen := 0, 0
	for _, line := range strings.Split(text, "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if le, ok := strings.CutPrefix(name, offerBucket+`{le="`); ok {
			bound, err1 := strconv.ParseFloat(strings.TrimSuffix(le, `"}`), 64)
			v, err2 := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err1 == nil && err2 == nil {
				f.offers = append(f.offers, bucket{le: bound, count: v})
			}
			continue
		}
		if stream, ok := strings.CutPrefix(name, storedSeries+`{stream="`); ok {
			if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
				if f.stored == nil {
					f.stored = map[string]float64{}
				}
				f.stored[strings.TrimSuffix(stream, `"}`)] = v
			}
			continue
		}
		if name == keyCommits {
			if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
				if f.stored == nil {
					f.stored = map[string]float64{}
				}
				f.stored["customer-keys"] = v
			}
			continue
		}
		var dst *float64
		switch name {
		case "omniroute_node_commands_total":
			if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
				f.commands, nodeSeen = v, nodeSeen+1
			}
			continue
		case "omniroute_node_journal_entries_total":
			if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
				f.entries, nodeSeen = v, nodeSeen+1
			}
			continue
		case "go_memstats_mallocs_total":
			dst = &f.mallocs
		case "go_memstats_alloc_bytes_total":
			dst = &f.allocBytes
		case "go_gc_duration_seconds_count":
			dst = &f.gcCycles
		default:
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return runtimeFigures{}
		}
		*dst = v
		seen++
	}
	f.ok = seen == 3
	f.nodeOK = nodeSeen == 2
	slices.SortFunc(f.offers, func(a, b bucket) int { return cmp.Compare(a.le, b.le) })
	f.offersOK = len(f.offers) > 0 && math.IsInf(f.offers[len(f.offers)-1].le, 1)
	return f
}

// fsyncProbe writes and fsyncs a small record in a temporary file every
// fsyncEvery and keeps the fsync durations.
type fsyncProbe struct {
	f    *os.File
	quit chan struct{}
	done chan []time.Duration
}

const fsyncEvery = 20 * time.Millisecond

func startFsyncProbe(dir string) (*fsyncProbe, error) {
	f, err := os.CreateTemp(dir, "omniroute-loadtest-fsync-*")
	if err != nil {
		return nil, fmt.Errorf("loadtest: fsync probe: %w", err)
	}
	p := &fsyncProbe{f: f, quit: make(chan struct{}), done: make(chan []time.Duration, 1)}
	go func() {
		rec := make([]byte, 512)
		var d []time.Duration
		t := time.NewTicker(fsyncEvery)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				p.done <- d
				return
			case <-t.C:
			}
			if _, err := f.Write(rec); err != nil {
				continue
			}
			t0 := time.Now()
			if f.Sync() == nil {
				d = append(d, time.Since(t0))
			}
		}
	}()
	return p, nil
}

// stop ends the probe, removes its file and returns p50, p99 and max in
// milliseconds and the number of fsyncs.
func (p *fsyncProbe) stop() (p50, p99, maxMs float64, n int) {
	close(p.quit)
	d := <-p.done
	name := p.f.Name()
	_ = p.f.Close()
	_ = os.Remove(name)
	if len(d) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(d)
	pct := func(q float64) float64 {
		i := int(q*float64(len(d))+0.999999) - 1
		return float64(d[max(0, min(i, len(d)-1))]) / 1e6
	}
	return pct(0.50), pct(0.99), float64(d[len(d)-1]) / 1e6, len(d)
}

// load1 is the 1-minute load average (0 when unreadable).
func load1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b) + " 0")[0], 64)
	return f
}

// rssKiB reads VmRSS of pid.
func rssKiB(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return f
		}
	}
	return 0
}

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

// cpuSeconds is utime+stime of pid (0 when pid is 0 or unreadable).
func cpuSeconds(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the parenthesized command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / clockTicks
}
