package server

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/omniroute/omniroute/erasure"
	"github.com/prometheus/client_golang/prometheus"
)

// storedTimeout bounds one scrape's reading of the streams' state.
const storedTimeout = 2 * time.Second

// storedCollector exports, for every JetStream stream of the server's
// account, the messages it has ever stored
// (omniroute_jetstream_messages_stored_total{stream}: the stream's last
// sequence, which only grows). With sync_always each stored message is
// one fsync, so the rate of this counter is what the disk is asked for:
// the journal (OMNIROUTE_JOURNAL, one message per batch), transcripts
// (OMNIROUTE_TRANSCRIPTS, one per conversation per drain of its events),
// the audit (OMNIROUTE_AUDIT), the KV buckets (KV_*). docs/BENCHMARKS.md
// "Issue 14" reads it per conversation with `omniroute loadtest`.
type storedCollector struct {
	js   jetstream.JetStream
	desc *prometheus.Desc
}

func newStoredCollector(nc *nats.Conn) (*storedCollector, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	return &storedCollector{js: js, desc: prometheus.NewDesc("omniroute_jetstream_messages_stored_total",
		"Messages a JetStream stream has stored since it was created (its last sequence); with sync_always, one fsync each.",
		[]string{"stream"}, nil)}, nil
}

func (c *storedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect lists the streams in the order the server gives (by name); a
// stream that cannot be read in storedTimeout is left out of this scrape.
func (c *storedCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), storedTimeout)
	defer cancel()
	l := c.js.ListStreams(ctx)
	for info := range l.Info() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(info.State.LastSeq), info.Config.Name)
	}
}

// registerKeyringMetrics exports the customer keyring's group commits
// (omniroute_customer_keys_commits_total: one fsync each) and the new keys
// they made durable (omniroute_customer_keys_written_total); the keyring
// is a file of its own beside JetStream, so its fsyncs are not in
// omniroute_jetstream_messages_stored_total.
func registerKeyringMetrics(reg prometheus.Registerer, k *erasure.Keyring) {
	if k == nil {
		return
	}
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "omniroute_customer_keys_commits_total",
			Help: "Appends of new customer keys to the keyring file (dataAtRest.customerKeys), one fsync each."},
			func() float64 { return float64(k.Stats().Commits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "omniroute_customer_keys_written_total",
			Help: "New customer keys those appends made durable."},
			func() float64 { return float64(k.Stats().Written) }))
}
