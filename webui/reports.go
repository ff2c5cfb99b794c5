package webui

import (
	"encoding/csv"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/omniroute/omniroute/routing"
)

// Reports over the history (history.go):
//
//	GET /v1/reports/queues?from=T&to=T[&queue=ID][&format=csv]
//	GET /v1/reports/agents?from=T&to=T[&agent=ID][&format=csv]
//
// T is RFC 3339; from defaults to 24 hours before now, to to now; the
// range is at most Retention. The agents report reads intervals from
// before the history's memory window (AgentMemoryDays) from the store and
// answers 400 when they would be more than MaxStoredReportIntervals. JSON answers {"items":[QueueInterval...]} or
// {"items":[AgentInterval...]}; format=csv one row per interval with a
// header (text/csv, times RFC 3339 UTC, seconds with 3 decimals). Admins
// and supervisors (the agents of their teams only); agents get 403.

// collection is the /v1 collection shape, {"items":[...]}, as restapi's Items
// writes it: the reports are /v1 routes, served here because the history
// lives here.
type collection[T any] struct {
	Items []T `json:"items"`
}

func (u *UI) reportRange(r *http.Request) (from, to time.Time, err error) {
	q := r.URL.Query()
	to = u.o.Now()
	from = to.Add(-24 * time.Hour)
	if s := q.Get("from"); s != "" {
		if from, err = time.Parse(time.RFC3339, s); err != nil {
			return from, to, apiErr(http.StatusBadRequest, routing.CodeInvalidArgument, "from must be RFC 3339, not %q", s)
		}
	}
	if s := q.Get("to"); s != "" {
		if to, err = time.Parse(time.RFC3339, s); err != nil {
			return from, to, apiErr(http.StatusBadRequest, routing.CodeInvalidArgument, "to must be RFC 3339, not %q", s)
		}
	}
	if to.Before(from) || to.Sub(from) > Retention+Interval {
		return from, to, apiErr(http.StatusBadRequest, routing.CodeInvalidArgument, "from..to must be a range of at most 30 days")
	}
	return from, to, nil
}

func wantCSV(r *http.Request) (bool, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		return false, nil
	case "csv":
		return true, nil
	default:
		return false, apiErr(http.StatusBadRequest, routing.CodeInvalidArgument, "format must be json or csv, not %q", f)
	}
}

func secs(v float64) string  { return strconv.FormatFloat(v, 'f', 3, 64) }
func ratio(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
func count(v int64) string   { return strconv.FormatInt(v, 10) }

func (u *UI) reportQueues(w http.ResponseWriter, r *http.Request) error {
	if _, err := u.supervisor(r); err != nil {
		return err
	}
	from, to, err := u.reportRange(r)
	if err != nil {
		return err
	}
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	items := u.hist.QueueIntervals(r.URL.Query().Get("queue"), from, to)
	if !asCSV {
		if items == nil {
			items = []QueueInterval{}
		}
		writeJSON(w, http.StatusOK, collection[QueueInterval]{Items: items})
		return nil
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="omniroute-queues.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"start", "queue", "offered", "answered", "abandoned", "expired", "answered_within_threshold",
		"abandoned_within_threshold", "asa_seconds", "service_level", "abandon_rate", "handled", "aht_seconds"})
	for _, qi := range items {
		f := qi.Figures
		_ = cw.Write([]string{qi.Start.UTC().Format(time.RFC3339), qi.Queue, count(f.Offered), count(f.Answered),
			count(f.Abandoned), count(f.Expired), count(f.AnsweredWithinSL), count(f.AbandonedWithinSL),
			secs(f.ASASeconds), ratio(f.ServiceLevel), ratio(f.AbandonRate), count(f.Handled), secs(f.AHTSeconds)})
	}
	cw.Flush()
	return nil
}

// agentStates are the CSV columns of time in state.
var agentStates = []routing.AgentState{routing.AgentReady, routing.AgentNotReady}

func (u *UI) reportAgents(w http.ResponseWriter, r *http.Request) error {
	v, err := u.supervisor(r)
	if err != nil {
		return err
	}
	from, to, err := u.reportRange(r)
	if err != nil {
		return err
	}
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	teams := map[string][]string{}
	if err := u.node.View(r.Context(), func(st routing.View) {
		for _, id := range st.AgentIDs() {
			a, _ := st.Agent(id)
			teams[id] = a.Agent.Teams
		}
	}); err != nil {
		return err
	}
	only := r.URL.Query().Get("agent")
	keep := func(id string) bool { return v.Supervises(teams[id]) }
	var items []AgentInterval
	if only != "" {
		items, err = u.hist.AgentIntervalsOf(only, keep, from, to, u.o.Now())
	} else {
		items, err = u.hist.AgentIntervals(keep, from, to, u.o.Now())
	}
	if errors.Is(err, ErrTooManyStoredIntervals) {
		return apiErr(http.StatusBadRequest, routing.CodeInvalidArgument, "%s", strings.TrimPrefix(err.Error(), "webui: history: "))
	}
	if err != nil {
		return err
	}
	if !asCSV {
		if items == nil {
			items = []AgentInterval{}
		}
		writeJSON(w, http.StatusOK, collection[AgentInterval]{Items: items})
		return nil
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="omniroute-agents.csv"`)
	cw := csv.NewWriter(w)
	head := []string{"start", "agent"}
	for _, s := range agentStates {
		head = append(head, string(s)+"_seconds")
	}
	_ = cw.Write(append(head, "busy_seconds", "occupancy"))
	for _, ai := range items {
		row := []string{ai.Start.UTC().Format(time.RFC3339), ai.Agent}
		for _, s := range agentStates {
			row = append(row, secs(ai.Seconds[string(s)]))
		}
		_ = cw.Write(append(row, secs(ai.BusySeconds), ratio(ai.Occupancy)))
	}
	cw.Flush()
	return nil
}
