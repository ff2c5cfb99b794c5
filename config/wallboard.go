package config

import "sort"

// Wallboard is the wallboard section: when a queue's service level is "at
// risk" (package webui).
//
//	wallboard:
//	  serviceLevelTarget: 0.8   # default for every queue (0: 0.8)
//	  queues: {voice-support: 0.9}
type Wallboard struct {
	// ServiceLevelTarget is the share of requests (0..1) to answer within
	// the queue's threshold; a queue under it in the last 15 minutes is
	// shown at risk. 0: webui.DefaultServiceLevelTarget (0.8).
	ServiceLevelTarget float64 `yaml:"serviceLevelTarget"`
	// Queues overrides the target per queue id.
	Queues map[string]float64 `yaml:"queues"`
}

func (w Wallboard) validate(p *problems) {
	if w.ServiceLevelTarget < 0 || w.ServiceLevelTarget > 1 {
		p.addf("wallboard.serviceLevelTarget", "%g is not in 0..1", w.ServiceLevelTarget)
	}
	ids := make([]string, 0, len(w.Queues))
	for id := range w.Queues {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if v := w.Queues[id]; v <= 0 || v > 1 {
			p.addf("wallboard.queues."+id, "%g is not in (0, 1]", v)
		}
	}
}
