package restapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/routing"
)

// kind describes one definition type for the generic upsert and read
// routes: PUT and GET {base}/{id}, GET {base}. Bodies and responses are the
// config package's spec types, the same objects the config file holds.
type kind[S any] struct {
	name      string // for messages
	notFound  string // the engine's not-found code
	bodyLimit int64
	getID     func(*S) *string
	validate  func(S) error
	command   func(S) routing.Command
	get       func(routing.View, string) (S, bool)
	list      func(routing.View) []S
	// show, when set, is what GET of one item answers (the stored spec
	// with runtime facts at now).
	show func(st routing.View, v S, now time.Time) any
}

var mrdKind = kind[config.MRDSpec]{
	name: "mrd", notFound: routing.CodeMRDNotFound, bodyLimit: MaxBodyBytes,
	getID:    func(m *config.MRDSpec) *string { return &m.ID },
	validate: config.MRDSpec.Validate,
	command:  func(m config.MRDSpec) routing.Command { return routing.UpsertMRD{MRD: m.Routing()} },
	get: func(st routing.View, id string) (config.MRDSpec, bool) {
		m, ok := st.MRD(id)
		return config.MRDSpecFrom(m), ok
	},
	list: func(st routing.View) []config.MRDSpec { return mapSlice(st.MRDs(), config.MRDSpecFrom) },
}

var queueKind = kind[config.QueueSpec]{
	name: "queue", notFound: routing.CodeQueueNotFound, bodyLimit: MaxQueueBodyBytes,
	getID:    func(q *config.QueueSpec) *string { return &q.ID },
	validate: config.QueueSpec.Validate,
	command:  func(q config.QueueSpec) routing.Command { return routing.UpsertQueue{Queue: q.Routing()} },
	get: func(st routing.View, id string) (config.QueueSpec, bool) {
		q, ok := st.Queue(id)
		return config.QueueSpecFrom(q), ok
	},
	list: func(st routing.View) []config.QueueSpec { return mapSlice(st.Queues(), config.QueueSpecFrom) },
	show: func(st routing.View, q config.QueueSpec, now time.Time) any {
		if q.Hours == nil {
			return q
		}
		hs, _ := st.QueueHours(q.ID, now)
		return queueShown{QueueSpec: q, HoursStatus: &hs}
	},
}

// queueShown is GET /v1/queues/{id} of a queue with business hours: the
// spec plus open (now), nextOpen (while closed) and nextClose (while open),
// RFC 3339 UTC.
type queueShown struct {
	config.QueueSpec
	*routing.HoursStatus
}

var agentKind = kind[config.AgentSpec]{
	name: "agent", notFound: routing.CodeAgentNotFound, bodyLimit: MaxBodyBytes,
	getID:    func(a *config.AgentSpec) *string { return &a.ID },
	validate: config.AgentSpec.Validate,
	command:  func(a config.AgentSpec) routing.Command { return routing.UpsertAgent{Agent: a.Routing()} },
	get: func(st routing.View, id string) (config.AgentSpec, bool) {
		a, ok := st.Agent(id)
		return config.AgentSpecFrom(a.Agent), ok
	},
	list: func(st routing.View) []config.AgentSpec {
		ids := st.AgentIDs()
		out := make([]config.AgentSpec, 0, len(ids))
		for _, id := range ids {
			a, _ := st.Agent(id)
			out = append(out, config.AgentSpecFrom(a.Agent))
		}
		return out
	},
}

var reasonKind = kind[config.ReasonCodeSpec]{
	name: "reason code", notFound: routing.CodeReasonCodeNotFound, bodyLimit: MaxBodyBytes,
	getID:    func(r *config.ReasonCodeSpec) *string { return &r.ID },
	validate: config.ReasonCodeSpec.Validate,
	command: func(r config.ReasonCodeSpec) routing.Command {
		return routing.UpsertReasonCode{ReasonCode: r.Routing()}
	},
	get: func(st routing.View, id string) (config.ReasonCodeSpec, bool) {
		r, ok := st.ReasonCode(id)
		return config.ReasonCodeSpecFrom(r), ok
	},
	list: func(st routing.View) []config.ReasonCodeSpec {
		return mapSlice(st.ReasonCodes(), config.ReasonCodeSpecFrom)
	},
}

func mapSlice[A, B any](in []A, f func(A) B) []B {
	out := make([]B, 0, len(in))
	for _, a := range in {
		out = append(out, f(a))
	}
	return out
}

// definitionRoutes returns PUT/GET base/{id} and GET base for k. Reads are
// open to any authenticated caller (desks need the MRDs and reason codes);
// writes need an admin token.
func definitionRoutes[S any](s *api, base string, k kind[S]) []route {
	return []route{
		{"PUT " + base + "/{id}", adminOnly, func(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
			return upsert(s, w, r, k)
		}},
		{"GET " + base + "/{id}", authenticated, func(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
			id := r.PathValue("id")
			var (
				v  S
				ok bool
			)
			var shown any
			if err := s.view(r, func(st routing.View) {
				if v, ok = k.get(st, id); ok && k.show != nil {
					shown = k.show(st, v, s.now())
				}
			}); err != nil {
				return err
			}
			if !ok {
				return &routing.Error{Code: k.notFound, Message: k.name + " " + quote(id) + " does not exist"}
			}
			if shown != nil {
				writeJSON(w, http.StatusOK, shown)
				return nil
			}
			writeJSON(w, http.StatusOK, v)
			return nil
		}},
		{"GET " + base, authenticated, func(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
			var items []S
			if err := s.view(r, func(st routing.View) { items = k.list(st) }); err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, Items[S]{Items: items})
			return nil
		}},
	}
}

// upsert is the idempotent PUT: the path id wins (a different id in the
// body is 400), the spec is validated, the upsert applied, and the object as
// the engine stored it (defaults filled in) is returned with 200.
func upsert[S any](s *api, w http.ResponseWriter, r *http.Request, k kind[S]) error {
	id := r.PathValue("id")
	var spec S
	if err := decodeBody(w, r, k.bodyLimit, &spec, false); err != nil {
		return err
	}
	if p := k.getID(&spec); *p != "" && *p != id {
		return errorf(http.StatusBadRequest, routing.CodeInvalidArgument, "the body's id %s differs from the path's %s", quote(*p), quote(id))
	} else {
		*p = id
	}
	if err := k.validate(spec); err != nil {
		return errorf(http.StatusBadRequest, routing.CodeInvalidArgument, "%s %s: %s", k.name, quote(id), oneLine(err))
	}
	var stored S
	var ok bool
	if _, err := s.submitThen(r, k.command(spec), func(st routing.View) { stored, ok = k.get(st, id) }); err != nil {
		return err
	}
	if !ok { // cannot happen: definitions are never deleted
		stored = spec
	}
	writeJSON(w, http.StatusOK, stored)
	return nil
}

// oneLine joins a multi-error (errors.Join) into one line for a message.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
