package routingtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/omniroute/omniroute/routing"
	"golang.org/x/tools/txtar"
)

// Epoch is the time of offset 0s in a scenario.
var Epoch = time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)

// Step is one command line of a scenario.
type Step struct {
	// Line is the 1-based line number inside the commands section.
	Line int
	// Offset is the time of the command after Epoch.
	Offset time.Duration
	// Cmd is the decoded command.
	Cmd routing.Command
}

// At is the absolute time of the step.
func (st Step) At() time.Time { return Epoch.Add(st.Offset) }

// Scenario is a parsed golden file.
type Scenario struct {
	archive *txtar.Archive
	// Comment is the archive comment: what the scenario proves.
	Comment string
	// Steps are the commands in order.
	Steps []Step
	// Events is the expected events section, as written in the file.
	Events string
}

// durationFields are the JSON members the runner accepts as Go duration strings.
var durationFields = map[string]bool{"ronaTimeout": true, "ttl": true, "defaultTTL": true, "serviceLevelThreshold": true, "wrapUp": true, "pushTimeout": true, "hold": true, "after": true, "priorityAging": true, "preferredTimeout": true, "lastAgent": true, "lastAgentTimeout": true}

// ParseScenario parses a txtar golden file (see the package doc).
func ParseScenario(data []byte) (*Scenario, error) {
	ar := txtar.Parse(data)
	sc := &Scenario{archive: ar, Comment: string(ar.Comment)}
	var cmds []byte
	seen := map[string]bool{}
	for _, f := range ar.Files {
		if seen[f.Name] {
			return nil, fmt.Errorf("section %q appears twice", f.Name)
		}
		seen[f.Name] = true
		switch f.Name {
		case "commands":
			cmds = f.Data
		case "events":
			sc.Events = string(f.Data)
		default:
			return nil, fmt.Errorf("unknown section %q (want commands and events)", f.Name)
		}
	}
	if !seen["commands"] {
		return nil, errors.New("no -- commands -- section")
	}
	var last time.Duration
	for i, line := range strings.Split(string(cmds), "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		off, rest, ok := strings.Cut(line, " ")
		if !ok {
			return nil, fmt.Errorf("commands line %d: want <offset> <CommandName> <json>", n)
		}
		d, err := time.ParseDuration(off)
		if err != nil {
			return nil, fmt.Errorf("commands line %d: offset: %v", n, err)
		}
		if d < last {
			return nil, fmt.Errorf("commands line %d: offset %s goes back before %s", n, d, last)
		}
		last = d
		name, body, _ := strings.Cut(strings.TrimSpace(rest), " ")
		body = strings.TrimSpace(body)
		if body == "" {
			body = "{}"
		}
		js, err := expandDurations([]byte(body))
		if err != nil {
			return nil, fmt.Errorf("commands line %d: %v", n, err)
		}
		cmd, err := routing.DecodeCommand(name, js)
		if err != nil {
			return nil, fmt.Errorf("commands line %d: %v", n, err)
		}
		sc.Steps = append(sc.Steps, Step{Line: n, Offset: d, Cmd: cmd})
	}
	return sc, nil
}

// expandDurations replaces duration strings in the members named in
// durationFields by their nanoseconds. Other values are kept as they are.
func expandDurations(body []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("json: %v", err)
	}
	if dec.More() {
		return nil, errors.New("json: trailing data")
	}
	changed := false
	var walk func(v any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && durationFields[k] {
					d, err := time.ParseDuration(s)
					if err != nil {
						return fmt.Errorf("%s: %v", k, err)
					}
					x[k] = json.Number(fmt.Sprint(int64(d)))
					changed = true
					continue
				}
				if err := walk(e); err != nil {
					return err
				}
			}
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(v); err != nil {
		return nil, err
	}
	if !changed {
		return body, nil
	}
	return json.Marshal(v)
}

// FormatEvent renders one event line: "<EventName> <json>", without the
// "at" member when it equals at.
func FormatEvent(ev routing.Event, at time.Time) (string, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return "", err
	}
	ts, err := json.Marshal(at.UTC())
	if err != nil {
		return "", err
	}
	suffix := append(append([]byte(`,"at":`), ts...), '}')
	if bytes.HasSuffix(b, suffix) {
		b = append(b[:len(b)-len(suffix)], '}')
	}
	return ev.EventName() + " " + string(b), nil
}

// Result is what RunScenario produced.
type Result struct {
	// Events is the events section the commands produced.
	Events string
	// State is the state after the last command.
	State *routing.State
}

// RunScenario applies the scenario's commands to a new state and returns the
// events section they produce. It fails at the first command after which an
// invariant does not hold, a refused command changed the digest or returned
// events, or a snapshot round trip changed the digest.
func RunScenario(sc *Scenario) (*Result, error) {
	s := routing.New()
	chk := NewChecker(s)
	var out strings.Builder
	for _, st := range sc.Steps {
		at := st.At()
		before := s.Digest()
		evs, err := s.Apply(at, st.Cmd)
		fmt.Fprintf(&out, "> %s\n", st.Cmd.CommandName())
		if err != nil {
			var re *routing.Error
			if !errors.As(err, &re) {
				return nil, fmt.Errorf("commands line %d: error %v is not a *routing.Error", st.Line, err)
			}
			if len(evs) != 0 {
				return nil, fmt.Errorf("commands line %d: refused with %s but returned %d events", st.Line, re.Code, len(evs))
			}
			if after := s.Digest(); after != before {
				return nil, fmt.Errorf("commands line %d: refused with %s but the state changed", st.Line, re.Code)
			}
			fmt.Fprintf(&out, "error %s\n", re.Code)
		} else {
			for _, ev := range evs {
				line, ferr := FormatEvent(ev, at)
				if ferr != nil {
					return nil, fmt.Errorf("commands line %d: %v", st.Line, ferr)
				}
				out.WriteString(line + "\n")
			}
		}
		if cerr := chk.Check(s, evs); cerr != nil {
			return nil, fmt.Errorf("commands line %d (%s at %s): invariant: %v", st.Line, st.Cmd.CommandName(), st.Offset, cerr)
		}
		if rerr := CheckSnapshotRoundTrip(s); rerr != nil {
			return nil, fmt.Errorf("commands line %d: %v", st.Line, rerr)
		}
	}
	return &Result{Events: out.String(), State: s}, nil
}

// CheckSnapshotRoundTrip checks that UnmarshalSnapshot(MarshalSnapshot())
// rebuilds a state with the same digest.
func CheckSnapshotRoundTrip(s *routing.State) error {
	data, err := s.MarshalSnapshot()
	if err != nil {
		return fmt.Errorf("snapshot: %v", err)
	}
	r, err := routing.UnmarshalSnapshot(data)
	if err != nil {
		return fmt.Errorf("snapshot restore: %v", err)
	}
	if err := CompareStates(s, r); err != nil {
		return fmt.Errorf("snapshot round trip: %v", err)
	}
	return nil
}

// CompareStates checks that two states are the same: equal digests and
// equal read views (the digest covers what a snapshot stores; the views also
// show what a restore rebuilds: loads, the MRD of tasks, waiting order).
func CompareStates(s, r *routing.State) error {
	if a, b := s.Digest(), r.Digest(); a != b {
		return fmt.Errorf("digests differ: %s, %s", a, b)
	}
	if a, b := s.AgentIDs(), r.AgentIDs(); !slices.Equal(a, b) {
		return fmt.Errorf("agents differ: %v, %v", a, b)
	}
	for _, id := range s.AgentIDs() {
		a, _ := s.Agent(id)
		b, _ := r.Agent(id)
		if !sameJSON(a, b) {
			return fmt.Errorf("agent %s differs:\n%+v\n%+v", id, a, b)
		}
		ta, _ := s.Tasks(id)
		tb, _ := r.Tasks(id)
		if !sameJSON(ta, tb) {
			return fmt.Errorf("the tasks of %s differ:\n%+v\n%+v", id, ta, tb)
		}
	}
	if a, b := s.Requests(), r.Requests(); !sameJSON(a, b) {
		return fmt.Errorf("the requests differ:\n%+v\n%+v", a, b)
	}
	for _, q := range s.Queues() {
		a, _ := s.WaitingRequests(q.ID)
		b, _ := r.WaitingRequests(q.ID)
		if !sameJSON(a, b) {
			return fmt.Errorf("the waiting order of %s differs", q.ID)
		}
	}
	if a, b := s.OpenConversations(), r.OpenConversations(); !reflect.DeepEqual(a, b) {
		return fmt.Errorf("the open conversations differ")
	}
	for _, id := range s.OpenConversations() {
		a, _ := s.Conversation(id)
		b, _ := r.Conversation(id)
		if !sameJSON(a, b) {
			return fmt.Errorf("conversation %s differs:\n%+v\n%+v", id, a, b)
		}
	}
	return nil
}

// sameJSON compares two read views by their JSON (nil and empty maps and
// slices are the same to a reader).
func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// Format returns the scenario's archive with its events section replaced by
// events (what -update writes). The comment and commands are kept verbatim.
func (sc *Scenario) Format(events string) []byte {
	ar := &txtar.Archive{Comment: sc.archive.Comment}
	for _, f := range sc.archive.Files {
		if f.Name != "events" {
			ar.Files = append(ar.Files, f)
		}
	}
	ar.Files = append(ar.Files, txtar.File{Name: "events", Data: []byte(events)})
	return txtar.Format(ar)
}
