package waittime_test

import (
	"fmt"
	"time"

	"github.com/omniroute/omniroute/routing/waittime"
)

// Example estimates the wait of the 41st customer in line at a queue with
// 100 agents, 1-minute calls and 1-minute mean patience.
func Example() {
	s := waittime.Snapshot{Position: 41, Agents: 100, HOLWait: 25 * time.Second, LESWait: 22 * time.Second,
		MeanService: time.Minute, MeanPatience: time.Minute}
	ql, _ := waittime.QLm(s)
	fmt.Println("QLm  ", ql.Round(time.Second))
	fmt.Println("HOL  ", waittime.HOL(s))
	var h waittime.History // one per queue: fed as customers reach agents
	s.Correction = h.Correction()
	fmt.Println("Blend", waittime.Blend(s).Round(time.Second))
	// Output:
	// QLm   21s
	// HOL   25s
	// Blend 21s
}
