package waittime

import (
	"math"
	"time"

	"github.com/omniroute/omniroute/routing"
)

// This file reads the engine's state into a Snapshot, so every surface
// (REST queue stats, GMS check-queue-position, the web UI's wallboard and
// customer chat) estimates with the same inputs and the same Blend. It is
// as pure as the rest of the package: the state and the instant come in.

// DefaultMeanService is the mean handle time Arrival assumes while a queue
// has no accepted task in progress to measure: five minutes
// (DefaultMeanServiceSeconds, untyped, in seconds).
const (
	DefaultMeanServiceSeconds = 300
	DefaultMeanService        = DefaultMeanServiceSeconds * time.Second
)

// Place is where a waiting request stands, as the engine knows it.
type Place struct {
	// Found is false when the request is not waiting or offered.
	Found bool
	// Held: an agent is held for it (GMS chat-delay, seed 003).
	Held bool
	// Position is its 1-based place in its queue; Waiting how many wait
	// there in all.
	Position, Waiting int
}

// Request returns the place of request reqID in queue and the Snapshot of
// its wait at now: Position, Agents (agents logged in with capacity on the
// queue's MRD who are its members, if it names any, and have its skills),
// and HOLWait (the queue's longest current wait, when someone waits ahead).
// What the engine does not keep (mean service, patience, the last wait,
// the queue's record) the caller adds from what it has learnt from the
// events. It costs one pass over the agents: O(agents).
func Request(st routing.View, reqID, queue string, now time.Time) (Place, Snapshot) {
	var p Place
	var s Snapshot
	req, ok := st.Request(reqID)
	if !ok {
		return p, s
	}
	p.Found = true
	p.Held = req.HeldAgent != ""
	p.Position, p.Waiting, _ = st.Position(reqID)
	s.Position = max(p.Position, 1)
	q, ok := st.Queue(queue)
	if !ok {
		return p, s
	}
	if qs, ok := st.QueueStats(queue, now); ok && p.Position > 1 {
		s.HOLWait = time.Duration(qs.LongestWaitSeconds * float64(time.Second))
	}
	members := map[string]bool{}
	for _, m := range q.Members {
		members[m] = true
	}
	for _, id := range st.AgentIDs() {
		if len(members) > 0 && !members[id] {
			continue
		}
		a, ok := st.Agent(id)
		if !ok || a.State == routing.AgentLogout {
			continue
		}
		skilled := true
		for sk, min := range q.Skills {
			if a.Agent.Skills[sk] < min {
				skilled = false
				break
			}
		}
		if !skilled {
			continue
		}
		for _, m := range a.MRDs {
			if m.MRD.ID == q.MRD && m.Capacity > 0 {
				s.Agents++
				break
			}
		}
	}
	return p, s
}

// Arrival is the estimated wait of a request entering queue stats.Queue at
// now, what REST's queue stats (ewtSeconds) and the web UI announce, in
// seconds rounded to the millisecond:
//
//	0 when nothing waits and an eligible agent is available; otherwise
//	Blend at Position waiting+1, with Agents the agents available on the
//	queue now plus the agents holding tasks from it (at least 1) and
//	MeanService the mean age (now - acceptedAt) of the queue's accepted
//	tasks still open, or DefaultMeanService when there are none.
//
// The engine keeps no handle times of closed tasks, so the mean service
// time is measured on work in progress: for exponential handle times its
// mean age equals the mean handle time. It costs one pass over every
// agent's open tasks.
func Arrival(st routing.View, stats routing.QueueStats, now time.Time) float64 {
	if stats.Waiting == 0 && stats.ReadyAgents > 0 {
		return 0
	}
	busy := 0
	var ages time.Duration
	accepted := 0
	for _, id := range st.AgentIDs() {
		tasks, _ := st.Tasks(id)
		holds := false
		for _, t := range tasks {
			if t.Queue != stats.Queue {
				continue
			}
			holds = true
			if !t.AcceptedAt.IsZero() && now.After(t.AcceptedAt) {
				ages += now.Sub(t.AcceptedAt)
				accepted++
			}
		}
		if holds {
			busy++
		}
	}
	s := Snapshot{Position: stats.Waiting + 1, Agents: max(1, busy+stats.ReadyAgents), MeanService: DefaultMeanService}
	if accepted > 0 {
		s.MeanService = ages / time.Duration(accepted)
	}
	return math.Round(Blend(s).Seconds()*1000) / 1000
}
