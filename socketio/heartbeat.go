package socketio

import (
	"container/heap"
	"sync"
	"time"

	"github.com/omniroute/omniroute/clock"
)

// The heartbeat runs every session's timers (ping due, pong overdue,
// namespace connect overdue) on one goroutine per Server: a min-heap of
// deadlines and one timer (of the Server's clock) set to the earliest. Rescheduling never
// removes an entry: each entry carries the session's timer generation at the
// time it was pushed, and an entry whose generation is stale is skipped when
// it comes due. So a session holds at most a few entries and no goroutine.

type timerKind uint8

const (
	timerPing    timerKind = iota // send a ping, then expect a pong
	timerPong                     // the pong is overdue: close "ping timeout"
	timerConnect                  // no namespace joined in time: close
	timerForget                   // a lingering closed session goes
)

type timerEntry struct {
	at   int64 // unix nanoseconds
	s    *session
	gen  uint32
	kind timerKind
}

type timerHeap []timerEntry

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timerEntry)) }
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = timerEntry{}
	*h = old[:len(old)-1]
	return e
}

type heartbeat struct {
	clk  clock.Clock
	mu   sync.Mutex
	h    timerHeap
	wake chan struct{} // a new earliest deadline
	quit chan struct{}
	done chan struct{}
}

func newHeartbeat(clk clock.Clock) *heartbeat {
	hb := &heartbeat{clk: clk, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go hb.run()
	return hb
}

// schedule adds a timer for s, after from now; it fires unless s.gen
// moved on meanwhile.
func (hb *heartbeat) schedule(s *session, gen uint32, kind timerKind, after time.Duration) {
	hb.scheduleAt(s, gen, kind, hb.clk.Now().Add(after).UnixNano())
}

// scheduleAt adds a timer for s due at at (unix nanoseconds).
func (hb *heartbeat) scheduleAt(s *session, gen uint32, kind timerKind, at int64) {
	e := timerEntry{at: at, s: s, gen: gen, kind: kind}
	hb.mu.Lock()
	heap.Push(&hb.h, e)
	first := hb.h[0].at == e.at && hb.h[0].s == s
	hb.mu.Unlock()
	if first {
		select {
		case hb.wake <- struct{}{}:
		default:
		}
	}
}

func (hb *heartbeat) stop() {
	close(hb.quit)
	<-hb.done
}

func (hb *heartbeat) run() {
	defer close(hb.done)
	t := hb.clk.NewTimer(time.Hour)
	defer t.Stop()
	var due []timerEntry
	for {
		hb.mu.Lock()
		now := hb.clk.Now().UnixNano()
		due = due[:0]
		for len(hb.h) > 0 && hb.h[0].at <= now {
			due = append(due, heap.Pop(&hb.h).(timerEntry))
		}
		wait := time.Hour
		if len(hb.h) > 0 {
			wait = time.Duration(hb.h[0].at - now)
		}
		hb.mu.Unlock()
		for _, e := range due {
			e.s.timerFired(e.gen, e.kind, e.at)
		}
		clear(due)
		t.Reset(wait)
		select {
		case <-t.C():
		case <-hb.wake:
			if !t.Stop() {
				select {
				case <-t.C():
				default:
				}
			}
		case <-hb.quit:
			return
		}
	}
}
