package webui

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// Metrics are the histograms and gauges the history adds to /metrics,
// observed from the same events (one home for the counting rules):
//
//	omniroute_answer_seconds{queue}        wait of answered requests (first accept)
//	omniroute_abandon_seconds{queue}       wait of requests abandoned before an answer
//	omniroute_handle_seconds{queue}        accept to close of each task (talk + wrap-up)
//	omniroute_offer_latency_seconds{queue} request (re)queued to its offer (TaskReserved)
//	omniroute_agent_occupancy_ratio{agent} time with work / logged-in time, current 15 minutes
//
// plus the Go runtime and process collectors.
type Metrics struct {
	answer, abandon, handle, offer *prometheus.HistogramVec
	occupancy                      *prometheus.Desc
	hist                           *History
	now                            func() time.Time
	// queued: request -> when it became routable (queued or re-queued).
	queued map[string]time.Time
}

// waitBuckets span contact-center waits: 1 s to 1 h.
var waitBuckets = []float64{1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 3600}

func newMetrics(h *History, now func() time.Time) *Metrics {
	q := []string{"queue"}
	hv := func(name, help string, buckets []float64) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "omniroute_" + name, Help: help, Buckets: buckets}, q)
	}
	return &Metrics{hist: h, now: now, queued: map[string]time.Time{},
		answer:  hv("answer_seconds", "Wait of answered requests (first accept of a conversation), seconds.", waitBuckets),
		abandon: hv("abandon_seconds", "Wait of requests abandoned before an answer, seconds.", waitBuckets),
		handle:  hv("handle_seconds", "Accept to close of each task (talk plus wrap-up), seconds.", []float64{10, 30, 60, 120, 180, 300, 600, 900, 1800, 3600, 7200}),
		offer: hv("offer_latency_seconds", "Time from a request becoming routable (queued or re-queued) to its offer, seconds.",
			[]float64{0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600}),
		occupancy: prometheus.NewDesc("omniroute_agent_occupancy_ratio",
			"Time with an ACTIVE or WRAP_UP task over logged-in time, in the current 15-minute interval.", []string{"agent"}, nil),
	}
}

// observe runs on the board's goroutine for every event.
func (m *Metrics) observe(p node.Published, answeredBefore bool, handled func(task string) (queue string, d time.Duration, ok bool)) {
	switch e := p.Event.(type) {
	case routing.RequestQueued:
		m.queued[e.Request] = e.At
	case routing.RequestUpdated:
		m.queued[e.Request] = e.At
	case routing.TaskReserved:
		if at, ok := m.queued[e.Request]; ok {
			m.offer.WithLabelValues(e.Queue).Observe(e.At.Sub(at).Seconds())
			delete(m.queued, e.Request)
		}
	case routing.RequestRemoved:
		delete(m.queued, e.Request)
		if answeredBefore {
			return
		}
		switch e.Reason {
		case routing.ReasonAccepted:
			m.answer.WithLabelValues(e.Queue).Observe(e.WaitSeconds)
		case routing.ReasonAbandoned:
			m.abandon.WithLabelValues(e.Queue).Observe(e.WaitSeconds)
		}
	case routing.TaskClosed:
		if q, d, ok := handled(e.Task); ok {
			m.handle.WithLabelValues(q).Observe(d.Seconds())
		}
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.answer.Describe(ch)
	m.abandon.Describe(ch)
	m.handle.Describe(ch)
	m.offer.Describe(ch)
	ch <- m.occupancy
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.answer.Collect(ch)
	m.abandon.Collect(ch)
	m.handle.Collect(ch)
	m.offer.Collect(ch)
	for agent, v := range m.hist.Occupancy(m.now()) {
		ch <- prometheus.MustNewConstMetric(m.occupancy, prometheus.GaugeValue, v, agent)
	}
}

// Register adds the UI's metrics, and the Go runtime and process
// collectors, to reg (the registry /metrics serves).
func (u *UI) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{u.hist.metrics, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			if _, dup := err.(prometheus.AlreadyRegisteredError); !dup {
				return err
			}
		}
	}
	return nil
}
