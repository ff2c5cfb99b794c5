// Package clocktest is the one fake clock of the tree: a clock.Clock whose
// time moves only when a test calls Advance or Set, which fire the timers,
// AfterFunc callbacks and tickers that fall due, in the order of their
// instants. Tests use it instead of sleeping: arm (let the code under test
// start its timer; WaitArmed waits for that), Advance past the deadline,
// then assert.
//
// AfterFunc callbacks run on the goroutine that advances, one after the
// other, after the clock's lock is released (so a callback may read the
// clock or arm a new timer); a timer or ticker sends on a channel of
// capacity 1 and drops a tick its reader has not taken, as package time's
// do.
package clocktest

import (
	"sort"
	"sync"
	"time"

	"github.com/omniroute/omniroute/clock"
)

// Clock is the fake. Its zero value is not usable: call New.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []*waiter // armed, in no order
	seq     uint64
	changed chan struct{} // closed and replaced when waiters change
}

var _ clock.Clock = (*Clock)(nil)

// New returns a fake clock standing at t.
func New(t time.Time) *Clock { return &Clock{now: t, changed: make(chan struct{})} }

type waiter struct {
	c      *Clock
	at     time.Time
	seq    uint64 // arming order: ties fire first-armed first
	period time.Duration
	ch     chan time.Time
	f      func()
	armed  bool
}

// Now is the fake's current instant.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (d < 0 is treated as 0) and fires
// what falls due on the way, each at its own instant.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	to := c.now.Add(max(d, 0))
	c.mu.Unlock()
	c.advanceTo(to)
}

// Set moves the clock to t, firing what falls due; a t before Now only
// moves the reading back (nothing fires).
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	if !t.After(c.now) {
		c.now = t
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.advanceTo(t)
}

func (c *Clock) advanceTo(to time.Time) {
	for {
		c.mu.Lock()
		w := c.nextDue(to)
		if w == nil {
			if to.After(c.now) {
				c.now = to
			}
			c.mu.Unlock()
			return
		}
		if w.at.After(c.now) {
			c.now = w.at
		}
		f := w.fire()
		c.notify()
		c.mu.Unlock()
		if f != nil {
			f()
		}
	}
}

// nextDue is the earliest armed waiter due by to (under mu).
func (c *Clock) nextDue(to time.Time) *waiter {
	var best *waiter
	for _, w := range c.waiters {
		if w.at.After(to) {
			continue
		}
		if best == nil || w.at.Before(best.at) || (w.at.Equal(best.at) && w.seq < best.seq) {
			best = w
		}
	}
	return best
}

// fire delivers w (under mu) and returns its callback, if any.
func (w *waiter) fire() func() {
	c := w.c
	if w.period > 0 {
		w.at = w.at.Add(w.period)
		c.seq++
		w.seq = c.seq
	} else {
		c.remove(w)
	}
	if w.f != nil {
		return w.f
	}
	select {
	case w.ch <- c.now:
	default:
	}
	return nil
}

func (c *Clock) remove(w *waiter) {
	for i, x := range c.waiters {
		if x == w {
			c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
			break
		}
	}
	w.armed = false
}

func (c *Clock) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *Clock) arm(w *waiter, d time.Duration) {
	w.at = c.now.Add(max(d, 0))
	c.seq++
	w.seq = c.seq
	if !w.armed {
		w.armed = true
		c.waiters = append(c.waiters, w)
	}
	c.notify()
}

// Armed is the number of timers, callbacks and tickers waiting.
func (c *Clock) Armed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// Deadlines returns the instants of everything armed, earliest first.
func (c *Clock) Deadlines() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]time.Time, 0, len(c.waiters))
	for _, w := range c.waiters {
		out = append(out, w.at)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// WaitArmed blocks until at least n timers, callbacks or tickers are armed
// and reports true, or reports false once timeout (real time) has passed:
// how a test knows the code under test has started its timer before it
// advances past it.
func (c *Clock) WaitArmed(n int, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		ok, ch := len(c.waiters) >= n, c.changed
		c.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return false
		}
	}
}

// NewTimer is clock.Clock's.
func (c *Clock) NewTimer(d time.Duration) clock.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &waiter{c: c, ch: make(chan time.Time, 1)}
	c.arm(w, d)
	return timer{w}
}

// AfterFunc is clock.Clock's; f runs on the advancing goroutine.
func (c *Clock) AfterFunc(d time.Duration, f func()) clock.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &waiter{c: c, f: f}
	c.arm(w, d)
	return timer{w}
}

// NewTicker is clock.Clock's.
func (c *Clock) NewTicker(d time.Duration) clock.Ticker {
	if d <= 0 {
		panic("clocktest: non-positive interval for NewTicker")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &waiter{c: c, ch: make(chan time.Time, 1), period: d}
	c.arm(w, d)
	return ticker{w}
}

type timer struct{ w *waiter }

func (t timer) C() <-chan time.Time { return t.w.ch }

func (t timer) Stop() bool {
	c := t.w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	was := t.w.armed
	if was {
		c.remove(t.w)
		c.notify()
	}
	return was
}

func (t timer) Reset(d time.Duration) bool {
	c := t.w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	was := t.w.armed
	c.arm(t.w, d)
	return was
}

type ticker struct{ w *waiter }

func (t ticker) C() <-chan time.Time { return t.w.ch }

func (t ticker) Stop() { timer(t).Stop() }

func (t ticker) Reset(d time.Duration) {
	if d <= 0 {
		panic("clocktest: non-positive interval for Ticker.Reset")
	}
	c := t.w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	t.w.period = d
	c.arm(t.w, d)
}
