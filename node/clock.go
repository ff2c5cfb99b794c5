package node

import (
	"sync"
	"time"
)

// Clock is a scaled clock for live replays: it reads a replayed day's time
// that advances Speed times faster than wall time, so every instant the
// node stamps (enqueue, offer, accept, close) and every deadline (RONA,
// TTL, wrap-up, escalation steps) is in the replayed day. A nil *Clock is
// real time (time.Now, waits unscaled); that is what omniroute serve runs.
//
// Before Start the clock stands still at its origin, so whatever is
// declared before the replay begins is stamped at the day's start; Start
// moves the origin forward (never back: the node's clock is monotonic) and
// lets it run.
type Clock struct {
	speed float64
	wall  func() time.Time

	mu      sync.Mutex
	origin  time.Time // virtual instant at started
	started time.Time // wall instant; zero: standing still at origin
}

// NewClock returns a clock standing at origin that runs speed times faster
// than wall time once started. speed must be > 0 (1: real pace); wall is
// the wall clock (nil: time.Now).
func NewClock(origin time.Time, speed float64, wall func() time.Time) *Clock {
	if !(speed > 0) {
		speed = 1
	}
	if wall == nil {
		wall = time.Now
	}
	return &Clock{speed: speed, wall: wall, origin: origin.Round(0).UTC()}
}

// Speed is how many times faster than wall time the clock runs (1 for nil).
func (c *Clock) Speed() float64 {
	if c == nil {
		return 1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.speed
}

// Now is the clock's current instant.
func (c *Clock) Now() time.Time {
	if c == nil {
		return time.Now()
	}
	return c.TimeAt(c.wall())
}

// Start lets the clock run from at (or from its current reading if that is
// later) at this wall instant, and returns the instant it reads now.
func (c *Clock) Start(at time.Time) time.Time {
	w := c.wall()
	now := c.TimeAt(w)
	c.mu.Lock()
	defer c.mu.Unlock()
	if at.After(now) {
		now = at.Round(0).UTC()
	}
	c.origin, c.started = now, w
	return now
}

// Wall is the wall-clock duration of the clock duration d: d / Speed.
func (c *Clock) Wall(d time.Duration) time.Duration {
	if c == nil {
		return d
	}
	return time.Duration(float64(d) / c.Speed())
}

// WallOf is the wall instant at which the clock reads t. Before Start it
// counts from the wall instant of the call.
func (c *Clock) WallOf(t time.Time) time.Time {
	if c == nil {
		return t
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	start := c.started
	if start.IsZero() {
		start = c.wall()
	}
	return start.Add(time.Duration(float64(t.Sub(c.origin)) / c.speed))
}

// TimeAt is what the clock reads at the wall instant w (its origin before
// Start).
func (c *Clock) TimeAt(w time.Time) time.Time {
	if c == nil {
		return w
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started.IsZero() {
		return c.origin
	}
	return c.origin.Add(time.Duration(float64(w.Sub(c.started)) * c.speed))
}

// SetSpeed changes the pace from the current reading on (a running clock
// stays running; one standing still stays at its origin). The demo sets 1
// after its replay, so the replayed day stays the last hours of history
// instead of receding a thousand hours per hour. A timer armed before the
// change fires late or early by the ratio; the node re-arms at its next
// command.
func (c *Clock) SetSpeed(speed float64) {
	if !(speed > 0) {
		speed = 1
	}
	w := c.wall()
	now := c.TimeAt(w)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started.IsZero() {
		c.origin, c.started = now, w
	}
	c.speed = speed
}
