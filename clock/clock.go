// Package clock is the time source the adapters are given instead of
// reading the wall clock (after Tailscale's tstime.Clock): the instant now,
// timers, callbacks after a delay and tickers. Real is the wall clock;
// clocktest.Clock is a fake whose time moves only when a test advances it,
// and advancing it fires the timers, callbacks and tickers that fall due, so
// a test of a retry, a grace period or a periodic report says how much time
// passes instead of sleeping for it.
//
// The routing engine reads no clock at all (its instants come in the
// commands); this package is for the adapters and the node around it.
package clock

import (
	"context"
	"time"
)

// Clock tells the time and waits on it.
type Clock interface {
	// Now is the current instant.
	Now() time.Time
	// NewTimer returns a timer that sends the instant on its channel
	// once d has passed (like time.NewTimer).
	NewTimer(d time.Duration) Timer
	// AfterFunc calls f in its own goroutine once d has passed (like
	// time.AfterFunc); Stop cancels it.
	AfterFunc(d time.Duration, f func()) Timer
	// NewTicker returns a ticker that sends every d (like time.NewTicker;
	// d must be > 0).
	NewTicker(d time.Duration) Ticker
}

// Timer is a time.Timer behind an interface.
type Timer interface {
	// C is the channel the timer sends on (nil for AfterFunc timers).
	C() <-chan time.Time
	// Stop cancels the timer; it reports whether it was still armed.
	Stop() bool
	// Reset re-arms the timer for d from now; it reports whether it was
	// still armed.
	Reset(d time.Duration) bool
}

// Ticker is a time.Ticker behind an interface.
type Ticker interface {
	C() <-chan time.Time
	Stop()
	Reset(d time.Duration)
}

// Real is the wall clock (package time).
var Real Clock = wall{}

// Or returns c, or Real when c is nil: what an adapter's zero Options get.
func Or(c Clock) Clock {
	if c == nil {
		return Real
	}
	return c
}

// Sleep waits d on c; it returns ctx.Err() if ctx ends first.
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type wall struct{}

func (wall) Now() time.Time                 { return time.Now() }
func (wall) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }
func (wall) AfterFunc(d time.Duration, f func()) Timer {
	return realTimer{time.AfterFunc(d, f)}
}
func (wall) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time   { return r.t.C }
func (r realTicker) Stop()                 { r.t.Stop() }
func (r realTicker) Reset(d time.Duration) { r.t.Reset(d) }
