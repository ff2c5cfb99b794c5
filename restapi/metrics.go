package restapi

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// ScrapeTimeout bounds the node View of one /metrics scrape.
const ScrapeTimeout = 5 * time.Second

// collector reads the routing state through node.View at scrape time, so
// the metrics are exactly what the engine holds and nothing is updated on
// the hot path. Queue counters (offered, answered...) are the engine's
// counters since the state began, which survive restarts through the
// snapshot and journal, hence exposed as counters.
type collector struct {
	node *node.Node
	now  func() time.Time

	up                                                    *prometheus.Desc
	qWaiting, qLongest, qSL, qAvail                       *prometheus.Desc
	qOffered, qAnswered, qAbandoned, qExpired, qCancelled *prometheus.Desc
	agents, waiting, convs, tasks                         *prometheus.Desc
	commands, rejected, entries, appendSec, lastAppendSec *prometheus.Desc
	snapshots, dropped, lastSeq                           *prometheus.Desc
}

func newCollector(n *node.Node, now func() time.Time) *collector {
	q := []string{"queue"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc("omniroute_"+name, help, labels, nil)
	}
	return &collector{node: n, now: now,
		up:            d("state_up", "1 when the routing node answered the scrape's read, else 0 (state metrics are then missing).", nil),
		qWaiting:      d("queue_waiting_requests", "Requests waiting in the queue.", q),
		qLongest:      d("queue_longest_wait_seconds", "Age of the oldest waiting request, seconds.", q),
		qSL:           d("queue_service_level_ratio", "Answered within threshold / (answered + abandoned after threshold); 1 when none.", q),
		qAvail:        d("queue_available_agents", "Eligible agents available for the queue now.", q),
		qOffered:      d("queue_requests_offered_total", "Requests that entered the queue.", q),
		qAnswered:     d("queue_requests_answered_total", "Requests accepted by an agent.", q),
		qAbandoned:    d("queue_requests_abandoned_total", "Requests abandoned by the customer.", q),
		qExpired:      d("queue_requests_expired_total", "Requests whose TTL passed.", q),
		qCancelled:    d("queue_requests_cancelled_total", "Requests cancelled (conversation closed while waiting).", q),
		agents:        d("agents", "Agents by global state.", []string{"state"}),
		waiting:       d("requests_waiting", "Requests waiting in every queue.", nil),
		convs:         d("conversations_open", "Open conversations.", nil),
		tasks:         d("tasks_open", "Open tasks (reserved, active, wrap-up).", nil),
		commands:      d("node_commands_total", "Commands applied and journaled.", nil),
		rejected:      d("node_commands_rejected_total", "Commands refused by the engine.", nil),
		entries:       d("node_journal_entries_total", "Journal entries appended (one per batch).", nil),
		appendSec:     d("node_journal_append_seconds_total", "Seconds spent in journal appends.", nil),
		lastAppendSec: d("node_journal_last_append_seconds", "Duration of the last journal append, seconds.", nil),
		snapshots:     d("node_snapshots_total", "Snapshots saved.", nil),
		dropped:       d("node_dropped_subscribers_total", "Event subscribers cut off for being too slow.", nil),
		lastSeq:       d("node_journal_last_seq", "Sequence number of the last journal entry.", nil),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.qWaiting, c.qLongest, c.qSL, c.qAvail, c.qOffered, c.qAnswered,
		c.qAbandoned, c.qExpired, c.qCancelled, c.agents, c.waiting, c.convs, c.tasks, c.commands, c.rejected,
		c.entries, c.appendSec, c.lastAppendSec, c.snapshots, c.dropped, c.lastSeq} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.node.Stats()
	send := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		m, err := prometheus.NewConstMetric(d, t, v, labels...)
		if err != nil { // a label the exposition format refuses: report, never panic
			m = prometheus.NewInvalidMetric(d, err)
		}
		ch <- m
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) { send(d, prometheus.CounterValue, v, labels...) }
	gauge := func(d *prometheus.Desc, v float64, labels ...string) { send(d, prometheus.GaugeValue, v, labels...) }
	counter(c.commands, float64(st.Commands))
	counter(c.rejected, float64(st.Rejected))
	counter(c.entries, float64(st.Entries))
	counter(c.appendSec, st.AppendSeconds)
	gauge(c.lastAppendSec, st.LastAppendSeconds)
	counter(c.snapshots, float64(st.Snapshots))
	counter(c.dropped, float64(st.DroppedSubscribers))
	gauge(c.lastSeq, float64(st.LastSeq))

	// The View fills its own variables: on a timeout it may still run later.
	type snapshot struct {
		queues                        []routing.QueueStats
		byState                       map[routing.AgentState]int
		waiting, openConvs, openTasks int
	}
	var s snapshot
	now := c.now()
	ctx, cancel := context.WithTimeout(context.Background(), ScrapeTimeout)
	defer cancel()
	err := c.node.View(ctx, func(state routing.View) {
		for _, q := range state.Queues() {
			if qs, ok := state.QueueStats(q.ID, now); ok {
				s.queues = append(s.queues, qs)
			}
		}
		s.byState, s.waiting, s.openConvs, s.openTasks = state.Counts()
	})
	if err != nil {
		gauge(c.up, 0)
		return
	}
	gauge(c.up, 1)
	for _, q := range s.queues {
		gauge(c.qWaiting, float64(q.Waiting), q.Queue)
		gauge(c.qLongest, q.LongestWaitSeconds, q.Queue)
		gauge(c.qSL, q.ServiceLevel, q.Queue)
		gauge(c.qAvail, float64(q.ReadyAgents), q.Queue)
		counter(c.qOffered, float64(q.Offered), q.Queue)
		counter(c.qAnswered, float64(q.Answered), q.Queue)
		counter(c.qAbandoned, float64(q.Abandoned), q.Queue)
		counter(c.qExpired, float64(q.Expired), q.Queue)
		counter(c.qCancelled, float64(q.Cancelled), q.Queue)
	}
	for _, state := range []routing.AgentState{routing.AgentLogout, routing.AgentNotReady, routing.AgentReady} {
		gauge(c.agents, float64(s.byState[state]), string(state))
	}
	gauge(c.waiting, float64(s.waiting))
	gauge(c.convs, float64(s.openConvs))
	gauge(c.tasks, float64(s.openTasks))
}
