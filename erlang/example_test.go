package erlang_test

import (
	"fmt"

	"github.com/omniroute/omniroute/erlang"
)

// Ten agents, 160 calls an hour, 3-minute handle time: 8 Erlangs of
// offered load, the textbook case with P(wait) = 0.4092.
func ExampleC() {
	lambda := 160.0 / 3600 // calls per second
	mu := 1.0 / 180        // 180 s mean handle time
	m, err := erlang.C(10, lambda, mu)
	if err != nil {
		panic(err)
	}
	fmt.Printf("load %.1f Erlangs, P(wait) %.4f, ASA %.1f s, SL(20 s) %.3f, occupancy %.2f\n",
		m.Load, m.PWait, m.ASA, m.ServiceLevel(20), m.Occupancy)
	// Output:
	// load 8.0 Erlangs, P(wait) 0.4092, ASA 36.8 s, SL(20 s) 0.672, occupancy 0.80
}

// The same center with callers whose mean patience is two minutes. Some
// callers give up, which shortens the wait of the others.
func ExampleA() {
	m, err := erlang.A(10, 160.0/3600, 1.0/180, 1.0/120)
	if err != nil {
		panic(err)
	}
	fmt.Printf("P(wait) %.4f, P(abandon) %.4f, ASA %.1f s, mean wait %.1f s\n",
		m.PWait, m.PAbandon, m.ASA, m.MeanWait)
	fmt.Printf("P(served within 20 s) %.3f, occupancy %.3f\n", m.ServiceLevel(20), m.Occupancy)
	// Output:
	// P(wait) 0.2624, P(abandon) 0.0621, ASA 6.3 s, mean wait 7.5 s
	// P(served within 20 s) 0.830, occupancy 0.750
}

func ExampleMetrics_ServiceLevel() {
	m, err := erlang.C(10, 160.0/3600, 1.0/180)
	if err != nil {
		panic(err)
	}
	for _, t := range []float64{0, 20, 60} {
		fmt.Printf("answered within %2.0f s: %.3f\n", t, m.ServiceLevel(t))
	}
	// Output:
	// answered within  0 s: 0.591
	// answered within 20 s: 0.672
	// answered within 60 s: 0.790
}
