package gms

import (
	"math"
	"time"

	"github.com/omniroute/omniroute/routing"
	"github.com/omniroute/omniroute/routing/waittime"
)

// ewmaWeight is the weight of the newest observation in the per-queue
// running means (mean service time, mean patience).
const ewmaWeight = 0.05

// maxTrackedTasks bounds the task -> queue map the service-time mean needs.
const maxTrackedTasks = 1_000_000

// queueStats is what the follower learns about one queue from the events:
// the inputs of waittime.Snapshot the engine's state does not hold.
type queueStats struct {
	meanService, meanPatience float64 // seconds; 0 unknown
	lesWait                   time.Duration
	hist                      waittime.History
}

type taskInfo struct {
	queue     string
	activated time.Time
}

func ewma(old, x float64) float64 {
	if old == 0 {
		return x
	}
	return old + ewmaWeight*(x-old)
}

func (s *Server) queue(id string) *queueStats {
	q := s.stats[id]
	if q == nil {
		q = &queueStats{}
		s.stats[id] = q
	}
	return q
}

// observe feeds the wait statistics from one event (under s.mu): service
// times (TaskActivated to TaskWrapUp or TaskClosed), the last wait to
// reach an agent (RequestRemoved ACCEPTED) and the patience of those who
// left (RequestRemoved ABANDONED, a lower bound of their patience).
func (s *Server) observe(ev routing.Event) {
	switch e := ev.(type) {
	case routing.TaskReserved:
		if len(s.tasks) < maxTrackedTasks {
			s.tasks[e.Task] = taskInfo{queue: e.Queue}
		}
	case routing.TaskActivated:
		if t, ok := s.tasks[e.Task]; ok {
			t.activated = e.At
			s.tasks[e.Task] = t
		}
	case routing.TaskRevoked:
		delete(s.tasks, e.Task)
	case routing.TaskWrapUp:
		s.endTask(e.Task, e.At)
	case routing.TaskClosed:
		s.endTask(e.Task, e.At)
	case routing.RequestRemoved:
		w := time.Duration(e.WaitSeconds * float64(time.Second))
		switch e.Reason {
		case routing.ReasonAccepted:
			s.queue(e.Queue).lesWait = w
		case routing.ReasonAbandoned:
			q := s.queue(e.Queue)
			q.meanPatience = ewma(q.meanPatience, e.WaitSeconds)
		}
	}
}

func (s *Server) endTask(id string, at time.Time) {
	t, ok := s.tasks[id]
	delete(s.tasks, id)
	if !ok || t.activated.IsZero() || at.Before(t.activated) {
		return
	}
	q := s.queue(t.queue)
	q.meanService = ewma(q.meanService, at.Sub(t.activated).Seconds())
}

// position is check-queue-position's answer (seed 003).
type position struct {
	Position int `json:"_position"`
	// ETA is whole seconds, or "n/a" when unknown.
	ETA             any    `json:"_eta"`
	TotalWaiting    int    `json:"_total_waiting"`
	ThresholdPassed bool   `json:"_agent_ready_threshold_passed"`
	ThresholdReason string `json:"_agent_ready_threshold_passed_reason"`
}

// estimate completes snap (waittime.Request: what the engine knows) with
// what this server learnt from the events, and returns the announced wait
// (waittime.Blend), the uncorrected model estimate (for the History) and
// whether the wait is known.
func (s *Server) estimate(queue string, snap waittime.Snapshot) (eta, model time.Duration, known bool) {
	q := s.queue(queue)
	snap.LESWait = q.lesWait
	snap.MeanService = time.Duration(q.meanService * float64(time.Second))
	snap.MeanPatience = time.Duration(q.meanPatience * float64(time.Second))
	snap.Correction = q.hist.Correction()
	model, ok := waittime.QLmServed(snap)
	eta = waittime.Blend(snap)
	return eta, model, ok || eta > 0
}

// etaSeconds rounds an estimate up to whole seconds.
func etaSeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }
