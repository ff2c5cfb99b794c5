package loadtest

import "testing"

// TestParseRuntimeMetrics: the three counters are read from Prometheus
// text; one missing (a server without the Go collector) gives no figures.
func TestParseRuntimeMetrics(t *testing.T) {
	text := "# HELP go_memstats_mallocs_total Total number of heap objects allocated.\n" +
		"# TYPE go_memstats_mallocs_total counter\ngo_memstats_mallocs_total 1.2345e+06\n" +
		"go_memstats_alloc_bytes_total 9.87e+08\ngo_gc_duration_seconds{quantile=\"0.5\"} 0.0001\n" +
		"go_gc_duration_seconds_sum 0.25\ngo_gc_duration_seconds_count 42\n"
	f := parseRuntimeMetrics(text)
	if !f.ok || f.mallocs != 1234500 || f.allocBytes != 9.87e8 || f.gcCycles != 42 {
		t.Fatalf("got %+v", f)
	}
	if f := parseRuntimeMetrics("go_memstats_mallocs_total 5\ngo_gc_duration_seconds_count 1\n"); f.ok {
		t.Fatalf("incomplete metrics read as %+v", f)
	}
	if f := parseRuntimeMetrics("go_memstats_mallocs_total x\ngo_memstats_alloc_bytes_total 1\ngo_gc_duration_seconds_count 1\n"); f.ok {
		t.Fatalf("bad number read as %+v", f)
	}
}

// TestOfferHistogram: the server's offer-latency buckets and node counters
// are read, two scrapes subtract, and quantiles interpolate inside the
// bucket that holds them.
func TestOfferHistogram(t *testing.T) {
	scrape := func(b1, b2, b5, inf, cmds, entries string) runtimeFigures {
		return parseRuntimeMetrics("# TYPE omniroute_agentdesk_offer_latency_seconds histogram\n" +
			`omniroute_agentdesk_offer_latency_seconds_bucket{le="0.005"} ` + b5 + "\n" +
			`omniroute_agentdesk_offer_latency_seconds_bucket{le="0.001"} ` + b1 + "\n" +
			`omniroute_agentdesk_offer_latency_seconds_bucket{le="0.002"} ` + b2 + "\n" +
			`omniroute_agentdesk_offer_latency_seconds_bucket{le="+Inf"} ` + inf + "\n" +
			"omniroute_agentdesk_offer_latency_seconds_sum 1\nomniroute_agentdesk_offer_latency_seconds_count " + inf + "\n" +
			"omniroute_node_commands_total " + cmds + "\nomniroute_node_journal_entries_total " + entries + "\n")
	}
	m0 := scrape("10", "10", "10", "10", "100", "50")
	m1 := scrape("10", "60", "109", "110", "400", "150")
	if !m0.offersOK || !m1.offersOK || !m1.nodeOK {
		t.Fatalf("not read: %+v", m1)
	}
	d := m1.offers.minus(m0.offers)
	if d.count() != 100 {
		t.Fatalf("count %v, want 100", d.count())
	}
	// 50 of 100 in (1, 2] ms: the median is at the top of that bucket;
	// the 99th is the 49th of 49 in (2, 5] ms.
	if got := d.quantile(0.5); got < 0.00199 || got > 0.00201 {
		t.Fatalf("p50 %v, want 0.002", got)
	}
	if got := d.quantile(0.99); got < 0.00499 || got > 0.00501 {
		t.Fatalf("p99 %v, want 0.005", got)
	}
	if got := d.quantile(0.25); got < 0.00149 || got > 0.00151 {
		t.Fatalf("p25 %v, want 0.0015", got)
	}
	if (histogram{}).quantile(0.5) != 0 {
		t.Fatal("empty histogram")
	}
	if f := parseRuntimeMetrics("go_memstats_mallocs_total 1\n"); f.offersOK || f.nodeOK {
		t.Fatalf("absent series read as %+v", f)
	}
}

// TestStoredPerConversation: the per-stream stored counters are read from
// two scrapes; streams that did not grow are left out, the rest come by
// name with their rise per conversation.
func TestStoredPerConversation(t *testing.T) {
	scrape := func(journal, transcripts, audit, keys string) runtimeFigures {
		return parseRuntimeMetrics("# TYPE omniroute_jetstream_messages_stored_total counter\n" +
			`omniroute_jetstream_messages_stored_total{stream="OMNIROUTE_TRANSCRIPTS"} ` + transcripts + "\n" +
			`omniroute_jetstream_messages_stored_total{stream="OMNIROUTE_AUDIT"} ` + audit + "\n" +
			`omniroute_jetstream_messages_stored_total{stream="OMNIROUTE_JOURNAL"} ` + journal + "\n" +
			"omniroute_customer_keys_commits_total " + keys + "\n")
	}
	m0, m1 := scrape("100", "7", "3", "10"), scrape("260", "207", "3", "60")
	got := storedPer(m0.stored, m1.stored, 100)
	want := []StreamStored{{"OMNIROUTE_JOURNAL", 1.6}, {"OMNIROUTE_TRANSCRIPTS", 2}, {"customer-keys", 0.5}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if f := parseRuntimeMetrics("go_memstats_mallocs_total 1\n"); f.stored != nil {
		t.Fatalf("absent series read as %+v", f.stored)
	}
}
