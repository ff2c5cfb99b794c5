package node_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omniroute/omniroute/journal/natsjournal"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// BenchmarkDurableCommands measures commands per second through the node
// with the embedded JetStream journal, fsync on every append (SyncAlways).
// Many concurrent submitters let group commit put many commands in one
// append. Each command is a CreateConversation into a queue nobody serves.
func BenchmarkDurableCommands(b *testing.B) {
	for _, writers := range []int{1, 64, 512} {
		b.Run(fmt.Sprint("writers=", writers), func(b *testing.B) {
			srv, err := natsjournal.StartEmbedded(natsjournal.EmbeddedOptions{DataDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Shutdown()
			nc, err := srv.Conn()
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			j, err := natsjournal.Open(context.Background(), nc, natsjournal.Options{})
			if err != nil {
				b.Fatal(err)
			}
			n := open(b, j, node.Config{SnapshotEvery: -1})
			defer n.Close()
			submit(b, n, routing.UpsertMRD{MRD: routing.MRD{ID: "chat"}}, routing.UpsertQueue{Queue: routing.Queue{ID: "q", MRD: "chat"}})
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			entries0 := n.Stats().Entries
			for range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						id := fmt.Sprint("c", i)
						if _, err := n.Submit(context.Background(), routing.CreateConversation{ID: id, RequestID: "r" + id, Queue: "q"}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			st := n.Stats()
			b.ReportMetric(float64(b.N)/el.Seconds(), "cmds/s")
			if e := st.Entries - entries0; e > 0 {
				b.ReportMetric(float64(b.N)/float64(e), "cmds/append")
			}
		})
	}
}
