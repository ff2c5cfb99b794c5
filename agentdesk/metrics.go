package agentdesk

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// OfferLatencyBuckets are the upper bounds (seconds) of
// omniroute_agentdesk_offer_latency_seconds: fine below 10 ms, where the
// one-node target (p99 under 5 ms) lies, coarse above.
var OfferLatencyBuckets = []float64{0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01,
	0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5}

// metrics are the desk server's own figures.
type metrics struct {
	offerLatency prometheus.Histogram // nil: not registered
}

// newMetrics registers the desk server's figures in reg (nil: none);
// graces is Server.Graces, read at each scrape.
func newMetrics(reg prometheus.Registerer, graces func() int) (*metrics, error) {
	m := &metrics{}
	if reg == nil {
		return m, nil
	}
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "omniroute_agentdesk_disconnect_graces",
		Help: "Agents whose last socket closed and whose disconnect grace (agentDesk.disconnectGraceSeconds) runs: they keep their state and offers until it ends or they reconnect.",
	}, func() float64 { return float64(graces()) })
	if err := reg.Register(g); err != nil {
		return nil, err
	}
	m.offerLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "omniroute_agentdesk_offer_latency_seconds",
		Help:    "From a command's arrival at the routing node to the taskRequest it caused being written to the agent's socket (once per socket), seconds. Includes the journal's fsync and the desk server's queues; excludes the network and the client.",
		Buckets: OfferLatencyBuckets,
	})
	if err := reg.Register(m.offerLatency); err != nil {
		return nil, err
	}
	return m, nil
}

// offerWritten returns the written callback of a taskRequest caused by a
// command that arrived at arrived (nil when there is nothing to observe).
func (m *metrics) offerWritten(arrived time.Time) func() {
	if m.offerLatency == nil || arrived.IsZero() {
		return nil
	}
	h := m.offerLatency
	return func() { h.Observe(time.Since(arrived).Seconds()) }
}
