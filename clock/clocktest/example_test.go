package clocktest_test

import (
	"fmt"
	"time"

	"github.com/omniroute/omniroute/clock/clocktest"
)

// A retry after 30 seconds, tested without waiting 30 seconds.
func Example() {
	c := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c.AfterFunc(30*time.Second, func() { fmt.Println("retry at", c.Now().Format("15:04:05")) })
	c.Advance(29 * time.Second)
	fmt.Println("armed:", c.Armed())
	c.Advance(time.Second)
	fmt.Println("armed:", c.Armed())
	// Output:
	// armed: 1
	// retry at 00:00:30
	// armed: 0
}
