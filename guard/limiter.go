package guard

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys bounds the keys (addresses, users) a Limiter or Backoff
// remembers. When full, idle keys are forgotten first; if none is idle a new
// key is refused (fail closed), so a flood from many addresses costs bounded
// memory.
const DefaultMaxKeys = 100_000

// Limiter is a token bucket per key (golang.org/x/time/rate): each key may
// make Burst requests at once and Rate per second after that. The zero
// value is not usable; use NewLimiter. Safe for concurrent use.
type Limiter struct {
	rate  rate.Limit
	burst int
	now   func() time.Time
	max   int

	mu   sync.Mutex
	keys map[string]*rate.Limiter
}

// NewLimiter allows burst events at once per key and perSecond after that;
// now is the clock (nil: time.Now).
func NewLimiter(perSecond float64, burst int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: rate.Limit(perSecond), burst: burst, now: now, max: DefaultMaxKeys, keys: map[string]*rate.Limiter{}}
}

// Allow takes one token of key's bucket, reporting whether there was one;
// when not, retryAfter is how long until there will be.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.keys[key]
	if b == nil {
		if len(l.keys) >= l.max && !l.forgetIdle(now) {
			return false, time.Second
		}
		b = rate.NewLimiter(l.rate, l.burst)
		l.keys[key] = b
	}
	r := b.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// forgetIdle drops the keys whose bucket is full again (nobody is being
// held back by them); it reports whether any was dropped. l.mu is held.
func (l *Limiter) forgetIdle(now time.Time) bool {
	n := len(l.keys)
	for k, b := range l.keys {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.keys, k)
		}
	}
	return len(l.keys) < n
}

// Backoff slows down repeated failures per key (a username, an address):
// the first Free failures cost nothing; each one after that closes the key
// for Base, doubling per failure up to Max. A success clears the key. Safe
// for concurrent use.
type Backoff struct {
	free      int
	base, max time.Duration
	now       func() time.Time
	maxKeys   int

	mu   sync.Mutex
	keys map[string]*failures
}

type failures struct {
	n     int
	until time.Time
	last  time.Time
}

// NewBackoff returns a Backoff; now is the clock (nil: time.Now).
func NewBackoff(free int, base, max time.Duration, now func() time.Time) *Backoff {
	if now == nil {
		now = time.Now
	}
	return &Backoff{free: free, base: base, max: max, now: now, maxKeys: DefaultMaxKeys, keys: map[string]*failures{}}
}

// Wait reports how long key is still closed (0: open).
func (b *Backoff) Wait(key string) time.Duration {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if f := b.keys[key]; f != nil && now.Before(f.until) {
		return f.until.Sub(now)
	}
	return 0
}

// Fail records a failure of key.
func (b *Backoff) Fail(key string) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.keys[key]
	if f == nil {
		if len(b.keys) >= b.maxKeys {
			b.forgetOld(now)
		}
		f = &failures{}
		b.keys[key] = f
	}
	// Failures spread out beyond Max count afresh: a user who mistyped
	// yesterday starts clean.
	if !f.last.IsZero() && now.Sub(f.last) > 2*b.max {
		f.n = 0
	}
	f.n++
	f.last = now
	if over := f.n - b.free; over > 0 {
		d := b.base << min(over-1, 30)
		if d <= 0 || d > b.max {
			d = b.max
		}
		f.until = now.Add(d)
	}
}

// Succeed clears key.
func (b *Backoff) Succeed(key string) {
	b.mu.Lock()
	delete(b.keys, key)
	b.mu.Unlock()
}

// forgetOld drops keys whose window has passed; if none, one arbitrary key
// (memory stays bounded). b.mu is held.
func (b *Backoff) forgetOld(now time.Time) {
	for k, f := range b.keys {
		if now.After(f.until) {
			delete(b.keys, k)
		}
	}
	if len(b.keys) >= b.maxKeys {
		for k := range b.keys {
			delete(b.keys, k)
			break
		}
	}
}
