// Package whatif applies a what-if scenario to the faithful replay of a
// contact centre (issue 16): more or fewer agents in some hours, other queue
// policies (strategy, escalation steps with overflow, priorities, RONA
// timeout, wrap-up, and whatever else the config file's queue spec holds),
// extra priority for a service type, offers that ring out. The scenario is
// a YAML file:
//
//	# overflow PE to PS after 30 s, two more agents 10:00-12:00
//	queues:
//	  - id: PE                # a queue of the replay (the bank: its service types)
//	    steps:                # any field of the config file's queue spec
//	      - afterSeconds: 30
//	        addQueues: [PS]
//	  - id: "*"               # every queue
//	    wrapUpSeconds: 20
//	staffing:
//	  - from: "10:00"         # clock time of each day, HH:MM
//	    to: "12:00"
//	    agents: 2             # negative: that many agents on duty take a break
//	    skills: [PS, PE]      # of the added agents; default every queue
//	    days: [1999-02-01]    # default every day
//	priorities:
//	  - queue: PE
//	    add: 1                # added to the request priority of its calls
//	rona:
//	  missRate: 0.05          # share of offers that ring out (seeded)
//	  returnSeconds: 60       # the agent is READY again this long after the RONA
//
// A queue entry starts from the replay's queue and changes only the fields
// it names, decoded by the config file's own queue spec (config.QueueSpec),
// so every routing policy the config file knows is available here, with the
// config file's validation. Unknown fields are errors.
package whatif

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/replay"
	"github.com/omniroute/omniroute/routing"
)

// Limits of a scenario file.
const (
	MaxFileBytes      = 1 << 20
	MaxStaffChanges   = 1000
	MaxAddedAgents    = 1000 // per staffing change
	MaxQueueChanges   = 1000
	MaxPriorityChange = 1000
)

// ErrScenario wraps every problem of a scenario file.
var ErrScenario = errors.New("what-if")

// StaffChange adds or removes agents between two clock times of a day.
type StaffChange struct {
	From   string   `yaml:"from"`
	To     string   `yaml:"to"`
	Agents int      `yaml:"agents"`
	Skills []string `yaml:"skills"`
	Days   []string `yaml:"days"`

	from, to time.Duration
}

// PriorityChange adds to the request priority of one queue's calls.
type PriorityChange struct {
	Queue string `yaml:"queue"`
	Add   int    `yaml:"add"`
}

// RONA makes agents let offers ring out.
type RONA struct {
	MissRate      float64 `yaml:"missRate"`
	ReturnSeconds float64 `yaml:"returnSeconds"`
}

// Scenario is a decoded what-if file.
type Scenario struct {
	// Queues are the queue changes as written (YAML nodes, decoded over
	// each day's queue when applied).
	Queues     []yaml.Node      `yaml:"queues"`
	Staffing   []StaffChange    `yaml:"staffing"`
	Priorities []PriorityChange `yaml:"priorities"`
	RONA       *RONA            `yaml:"rona"`
	// Seed of the RONA misses (default 1).
	Seed uint64 `yaml:"seed"`

	queueIDs []string
}

// Load reads a scenario file. Errors wrap ErrScenario.
func Load(path string) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrScenario, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrScenario, path, err)
	}
	s, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Parse decodes and checks a scenario. Errors wrap ErrScenario and name the
// entry that is wrong.
func Parse(data []byte) (s *Scenario, err error) {
	defer func() {
		if r := recover(); r != nil { // third-party decoder on untrusted bytes
			s, err = nil, fmt.Errorf("%w: yaml decoder failed: %v", ErrScenario, r)
		}
	}()
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%w: file over %d bytes", ErrScenario, MaxFileBytes)
	}
	s = &Scenario{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(s); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %v", ErrScenario, err)
	}
	if len(s.Queues) > MaxQueueChanges || len(s.Staffing) > MaxStaffChanges || len(s.Priorities) > MaxPriorityChange {
		return nil, fmt.Errorf("%w: more than %d queue, %d staffing or %d priority changes", ErrScenario, MaxQueueChanges, MaxStaffChanges, MaxPriorityChange)
	}
	for i := range s.Queues {
		var id struct {
			ID string `yaml:"id"`
		}
		if err := s.Queues[i].Decode(&id); err != nil || id.ID == "" {
			return nil, fmt.Errorf("%w: queues[%d]: needs an id (a queue of the replay, or \"*\")", ErrScenario, i)
		}
		// Decode once over an empty spec to catch unknown fields and
		// bad values early.
		if _, err := decodeQueue(&s.Queues[i], config.QueueSpec{ID: id.ID, MRD: replay.BankMRD.ID}); err != nil {
			return nil, fmt.Errorf("%w: queues[%d] (%s): %v", ErrScenario, i, id.ID, err)
		}
		s.queueIDs = append(s.queueIDs, id.ID)
	}
	for i := range s.Staffing {
		c := &s.Staffing[i]
		var err1, err2 error
		c.from, err1 = clock(c.From)
		c.to, err2 = clock(c.To)
		switch {
		case err1 != nil || err2 != nil:
			return nil, fmt.Errorf("%w: staffing[%d]: %v", ErrScenario, i, errors.Join(err1, err2))
		case c.to <= c.from:
			return nil, fmt.Errorf("%w: staffing[%d]: to %s is not after from %s", ErrScenario, i, c.To, c.From)
		case c.Agents == 0 || c.Agents > MaxAddedAgents || c.Agents < -MaxAddedAgents:
			return nil, fmt.Errorf("%w: staffing[%d]: agents %d: want a non-zero change of at most %d", ErrScenario, i, c.Agents, MaxAddedAgents)
		}
		for _, d := range c.Days {
			if _, err := time.Parse("2006-01-02", d); err != nil {
				return nil, fmt.Errorf("%w: staffing[%d]: day %q is not YYYY-MM-DD", ErrScenario, i, d)
			}
		}
	}
	for i, p := range s.Priorities {
		if p.Queue == "" || p.Add < -routing.MaxPriority || p.Add > routing.MaxPriority {
			return nil, fmt.Errorf("%w: priorities[%d]: needs a queue and add in [-%d, %d]", ErrScenario, i, routing.MaxPriority, routing.MaxPriority)
		}
	}
	if r := s.RONA; r != nil && (!(r.MissRate >= 0 && r.MissRate < 1) || config.CheckSeconds("returnSeconds", r.ReturnSeconds) != nil) {
		return nil, fmt.Errorf("%w: rona: missRate must be in [0, 1) and returnSeconds in 0..one year", ErrScenario)
	}
	if s.Seed == 0 {
		s.Seed = 1
	}
	return s, nil
}

// decodeQueue decodes n over base: the fields n names replace base's.
func decodeQueue(n *yaml.Node, base config.QueueSpec) (config.QueueSpec, error) {
	b, err := yaml.Marshal(n)
	if err != nil {
		return base, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	spec := base
	if err := dec.Decode(&spec); err != nil {
		return base, err
	}
	spec.ID = base.ID // "*" stands for each queue
	if err := spec.Validate(); err != nil {
		return base, err
	}
	return spec, nil
}

// clock parses HH:MM (or H:MM, up to 48:00) into an offset from midnight.
func clock(s string) (time.Duration, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 48 || mm < 0 || mm > 59 || len(m) != 2 {
		return 0, fmt.Errorf("time %q is not HH:MM", s)
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, nil
}

// Apply changes one day's setup (the faithful replay's) as the scenario
// says. date is the day, YYYY-MM-DD. Errors: a queue the replay does not
// have, an invalid queue after the change, an engine-refused setup later.
func (s *Scenario) Apply(date string, setup *replay.Setup) error {
	have := map[string]int{}
	for i, q := range setup.Queues {
		have[q.ID] = i
	}
	for k, n := range s.Queues {
		id := s.queueIDs[k]
		targets := []int{}
		if id == "*" {
			for i := range setup.Queues {
				targets = append(targets, i)
			}
		} else if i, ok := have[id]; ok {
			targets = append(targets, i)
		} // a service type absent that day changes nothing
		for _, i := range targets {
			spec, err := decodeQueue(&n, config.QueueSpecFrom(setup.Queues[i]))
			if err != nil {
				return fmt.Errorf("%w: queue %s: %v", ErrScenario, setup.Queues[i].ID, err)
			}
			q := spec.Routing()
			// A step may name a queue the day does not have (a type
			// with no calls): the engine ignores it until it exists.
			setup.Queues[i] = q
		}
	}
	for _, p := range s.Priorities {
		for i := range setup.Arrivals {
			if setup.Arrivals[i].Queue == p.Queue {
				setup.Arrivals[i].Priority = max(setup.Arrivals[i].Priority+p.Add, 0)
			}
		}
	}
	for k, c := range s.Staffing {
		if len(c.Days) > 0 && !slices.Contains(c.Days, date) {
			continue
		}
		if c.Agents > 0 {
			skills := map[string]int{}
			for _, q := range setup.Queues {
				if len(c.Skills) == 0 || slices.Contains(c.Skills, q.ID) {
					skills[q.ID] = 1
				}
			}
			for j := range c.Agents {
				setup.Shifts = append(setup.Shifts, replay.Shift{Agent: fmt.Sprintf("what-if-%d-%d", k+1, j+1),
					Skills: skills, Login: c.from, Logout: c.to})
			}
			continue
		}
		// Remove: the first agents by name on duty at from take a
		// break until to.
		left := -c.Agents
		order := make([]int, len(setup.Shifts))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return strings.Compare(setup.Shifts[a].Agent, setup.Shifts[b].Agent) })
		for _, i := range order {
			if left == 0 {
				break
			}
			sh := &setup.Shifts[i]
			if onDuty(*sh, c.from) {
				*sh = withBreak(*sh, replay.Interval{From: c.from, To: c.to})
				left--
			}
		}
	}
	if r := s.RONA; r != nil && r.MissRate > 0 {
		setup.Misses = &replay.Misses{Rate: r.MissRate, Return: config.Seconds(r.ReturnSeconds), Seed: s.Seed ^ dateHash(date)}
	}
	return nil
}

func dateHash(date string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(date))
	return h.Sum64()
}

// onDuty reports whether the shift is on duty at t.
func onDuty(sh replay.Shift, t time.Duration) bool {
	if t < sh.Login || t >= sh.Logout {
		return false
	}
	for _, off := range sh.Off {
		if t >= off.From && t < off.To {
			return false
		}
	}
	return true
}

// withBreak returns the shift with iv taken out of its on-duty time.
func withBreak(sh replay.Shift, iv replay.Interval) replay.Shift {
	var on []replay.Interval
	from := sh.Login
	for _, off := range append(slices.Clone(sh.Off), replay.Interval{From: sh.Logout, To: sh.Logout}) {
		for _, part := range minus(replay.Interval{From: from, To: off.From}, iv) {
			if part.To > part.From {
				on = append(on, part)
			}
		}
		from = off.To
	}
	out := sh
	out.Off = nil
	if len(on) == 0 {
		out.Logout = out.Login
		return out
	}
	out.Login, out.Logout = on[0].From, on[len(on)-1].To
	for i := 1; i < len(on); i++ {
		out.Off = append(out.Off, replay.Interval{From: on[i-1].To, To: on[i].From})
	}
	return out
}

// minus returns a without b (zero, one or two intervals).
func minus(a, b replay.Interval) []replay.Interval {
	if b.To <= a.From || b.From >= a.To {
		return []replay.Interval{a}
	}
	var out []replay.Interval
	if b.From > a.From {
		out = append(out, replay.Interval{From: a.From, To: b.From})
	}
	if b.To < a.To {
		out = append(out, replay.Interval{From: b.To, To: a.To})
	}
	return out
}
