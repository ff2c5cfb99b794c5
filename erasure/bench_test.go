package erasure_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroute/omniroute/erasure"
)

// BenchmarkNewCustomers: writers goroutines seal new customers (one key
// fsync each, on the disk of the test's temp dir) for a second while
// another shows a known customer every 200 us, as a desk's offer does.
// Reports the p50/p99 of a new customer's Seal and of Show, in us, and
// new keys per second. Run with -benchtime=1x.
func BenchmarkNewCustomers(b *testing.B) {
	for _, writers := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			k, err := erasure.Open(filepath.Join(b.TempDir(), "keys"))
			if err != nil {
				b.Fatal(err)
			}
			defer k.Close()
			known, err := k.SealCustomer(json.RawMessage(`{"id":"known"}`), "")
			if err != nil {
				b.Fatal(err)
			}
			for range b.N {
				stop := make(chan struct{})
				var mu sync.Mutex
				var seals []time.Duration
				var wg sync.WaitGroup
				for w := range writers {
					wg.Go(func() {
						for i := 0; ; i++ {
							select {
							case <-stop:
								return
							default:
							}
							t0 := time.Now()
							if _, err := k.SealCustomer(json.RawMessage(fmt.Sprintf(`{"id":"w%d-%d-%d"}`, w, i, time.Now().UnixNano())), ""); err != nil {
								b.Error(err)
								return
							}
							d := time.Since(t0)
							mu.Lock()
							seals = append(seals, d)
							mu.Unlock()
						}
					})
				}
				var shows []time.Duration
				end := time.Now().Add(time.Second)
				for time.Now().Before(end) {
					t0 := time.Now()
					k.Show(known)
					shows = append(shows, time.Since(t0))
					time.Sleep(200 * time.Microsecond)
				}
				close(stop)
				wg.Wait()
				pct := func(d []time.Duration, p float64) float64 {
					slices.Sort(d)
					return float64(d[int(p*float64(len(d)-1))].Microseconds())
				}
				b.ReportMetric(pct(seals, 0.5), "seal-p50-us")
				b.ReportMetric(pct(seals, 0.99), "seal-p99-us")
				b.ReportMetric(pct(shows, 0.5), "show-p50-us")
				b.ReportMetric(pct(shows, 0.99), "show-p99-us")
				b.ReportMetric(float64(len(seals)), "newkeys/s")
			}
		})
	}
}

// knownCustomer opens a keyring whose customer "known" has a durable key
// and returns it with the customer's ref and object.
func knownCustomer(b *testing.B) (*erasure.Keyring, string, []byte) {
	k, err := erasure.Open(filepath.Join(b.TempDir(), "keys"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { k.Close() })
	ref, err := k.Ref("known")
	if err != nil {
		b.Fatal(err)
	}
	plain := []byte(`{"id":"known","name":"Ann Example","email":"ann@example.com"}`)
	if _, err := k.Seal(ref, plain); err != nil {
		b.Fatal(err)
	}
	return k, ref, plain
}

// BenchmarkSealKnown seals and shows a customer object of a customer who
// already has a key, as every conversation's create, its transcript
// records and its desk offers do (no fsync: the key is durable).
//
//	go test ./erasure -run '^$' -bench 'BenchmarkSealKnown|BenchmarkShowKnown' -benchmem
func BenchmarkSealKnown(b *testing.B) {
	k, ref, plain := knownCustomer(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Seal(ref, plain); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkShowKnown reads back a sealed customer object (Show), as a
// desk's taskRequest and onTopicData do.
func BenchmarkShowKnown(b *testing.B) {
	k, ref, plain := knownCustomer(b)
	sealed, err := k.Seal(ref, plain)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if v := k.Show(sealed); !strings.HasPrefix(string(v), `{"id":"known"`) {
			b.Fatalf("Show = %s", v)
		}
	}
}
