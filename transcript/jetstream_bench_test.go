package transcript_test

import (
	"bytes"
	"context"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/omniroute/omniroute/journal/natsjournal/natsjournaltest"
)

// processCPU is this process's user+system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkJetStreamBatch compares two ways of storing a batch of three
// transcript messages in an fsync'd (sync_always) R1 file stream of the
// embedded server, client and server in this process:
//
//   - async: what JetStream.AppendBatch does, three PublishMsgAsync and
//     three acknowledgements (three stored messages, three fsyncs);
//   - atomic: JetStream atomic batch publish (Nats-Batch-Id,
//     Nats-Batch-Sequence, Nats-Batch-Commit on the last, one
//     acknowledgement; stream AllowAtomicPublish), which nats-server
//     v2.15 commits with one fsync of the stream, but stages in a file
//     store of its own per batch.
//
// cpu-µs/op is the process's CPU time per batch, which a loaded machine
// changes far less than ns/op. Run: go test -run X -bench JetStreamBatch
// -benchtime 2000x ./transcript/. Measured here, atomic costs about five
// times the CPU of async, so AppendBatch stays async.
func BenchmarkJetStreamBatch(b *testing.B) {
	nc := natsjournaltest.Connect(b)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	data := []byte(`{"type":"NOTIFICATION","header":{"sender":{"id":"omniroute","type":"SYSTEM"}},"body":{"type":"AGENT_SUBSCRIBED"}}`)
	const per = 3
	for _, atomic := range []bool{false, true} {
		name := map[bool]string{false: "async", true: "atomic"}[atomic]
		b.Run(name, func(b *testing.B) {
			stream := "B" + name
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{stream + ".*"},
				Storage: jetstream.FileStorage, AllowAtomicPublish: atomic}); err != nil {
				b.Fatal(err)
			}
			msg := func(i int) *nats.Msg {
				m := nats.NewMsg(stream + ".c" + strconv.Itoa(i%50))
				m.Data = data
				return m
			}
			c0 := processCPU()
			n := 0
			for b.Loop() {
				n++
				if !atomic {
					var fs [per]jetstream.PubAckFuture
					for i := range per {
						if fs[i], err = js.PublishMsgAsync(msg(n)); err != nil {
							b.Fatal(err)
						}
					}
					for _, f := range fs {
						select {
						case <-f.Ok():
						case err := <-f.Err():
							b.Fatal(err)
						}
					}
					continue
				}
				id := "b" + strconv.Itoa(n)
				for i := 1; i <= per; i++ {
					m := msg(n)
					m.Header.Set("Nats-Batch-Id", id)
					m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i))
					if i < per {
						if err := nc.PublishMsg(m); err != nil {
							b.Fatal(err)
						}
						continue
					}
					m.Header.Set("Nats-Batch-Commit", "1")
					r, err := nc.RequestMsg(m, 10*time.Second)
					if err != nil {
						b.Fatal(err)
					}
					if !bytes.Contains(r.Data, []byte(`"batch":"`+id+`"`)) {
						b.Fatalf("commit answered %s", r.Data)
					}
				}
			}
			b.ReportMetric(float64(processCPU()-c0)/1e3/float64(n), "cpu-µs/op")
		})
	}
}
