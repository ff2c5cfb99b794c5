package extrouting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// SFError is one entry of Salesforce's REST error list.
type SFError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields"`
}

// AgentWorkCreate is the body of POST .../sobjects/AgentWork.
type AgentWorkCreate struct {
	ServiceChannelID        string
	WorkItemID              string
	UserID                  string
	PendingServiceRoutingID string
}

var agentWorkFields = []string{"ServiceChannelId", "WorkItemId", "UserId", "PendingServiceRoutingId"}

// DecodeAgentWorkCreate decodes and checks an AgentWork create body: a
// JSON object with the four string fields of agentWorkFields (an
// "attributes" key, as Salesforce clients send, is ignored). It returns the
// Salesforce errors of a refusal: JSON_PARSER_ERROR (not one JSON object),
// INVALID_FIELD (unknown field, or not a string), REQUIRED_FIELD_MISSING
// (empty or absent; fields lists them), STRING_TOO_LONG (over
// routing.MaxIDLength bytes or not UTF-8).
func DecodeAgentWorkCreate(body []byte) (AgentWorkCreate, []SFError) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(&m); err != nil || m == nil {
		return AgentWorkCreate{}, []SFError{{Message: "The request body is not a JSON object", ErrorCode: "JSON_PARSER_ERROR", Fields: []string{}}}
	}
	if _, err := dec.Token(); err != io.EOF {
		return AgentWorkCreate{}, []SFError{{Message: "Trailing data after the JSON object", ErrorCode: "JSON_PARSER_ERROR", Fields: []string{}}}
	}
	vals := map[string]string{}
	var errs []SFError
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k == "attributes" {
			continue
		}
		if !slices.Contains(agentWorkFields, k) {
			errs = append(errs, SFError{Message: fmt.Sprintf("No such column '%s' on sobject of type AgentWork", trunc(k)), ErrorCode: "INVALID_FIELD", Fields: []string{}})
			continue
		}
		var s string
		if json.Unmarshal(m[k], &s) != nil {
			errs = append(errs, SFError{Message: k + " must be a string", ErrorCode: "INVALID_FIELD", Fields: []string{k}})
			continue
		}
		if len(s) > routing.MaxIDLength || !utf8.ValidString(s) {
			errs = append(errs, SFError{Message: fmt.Sprintf("%s: data value too large or not UTF-8 (max %d bytes)", k, routing.MaxIDLength), ErrorCode: "STRING_TOO_LONG", Fields: []string{k}})
			continue
		}
		vals[k] = s
	}
	var missing []string
	for _, f := range agentWorkFields {
		if _, bad := m[f]; vals[f] == "" && !(bad && hasErrFor(errs, f)) {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		errs = append(errs, SFError{Message: "Required fields are missing: [" + strings.Join(missing, ", ") + "]", ErrorCode: "REQUIRED_FIELD_MISSING", Fields: missing})
	}
	if len(errs) > 0 {
		return AgentWorkCreate{}, errs
	}
	return AgentWorkCreate{ServiceChannelID: vals["ServiceChannelId"], WorkItemID: vals["WorkItemId"],
		UserID: vals["UserId"], PendingServiceRoutingID: vals["PendingServiceRoutingId"]}, nil
}

func hasErrFor(errs []SFError, f string) bool {
	for _, e := range errs {
		if slices.Contains(e.Fields, f) {
			return true
		}
	}
	return false
}

func trunc(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.ToValidUTF8(s, "?")
}

// sfError is how the Salesforce REST resources answer one error code.
type sfError struct {
	code   string
	fields []string
}

// sfErrors is the Salesforce REST table: a routing refusal of AssignWork
// becomes a Salesforce StatusCode and the AgentWork field it concerns
// (seed 000). The message keeps the routing code ("NOT_ELIGIBLE: agent ...
// is NOT_READY"), so partners can tell the causes apart.
var sfErrors = map[string]sfError{
	routing.CodeRequestNotFound:   {"INVALID_CROSS_REFERENCE_KEY", []string{"PendingServiceRoutingId"}},
	routing.CodeNotExternal:       {"INVALID_CROSS_REFERENCE_KEY", []string{"PendingServiceRoutingId"}},
	routing.CodeAgentNotFound:     {"INVALID_CROSS_REFERENCE_KEY", []string{"UserId"}},
	routing.CodeNotEligible:       {"INVALID_CROSS_REFERENCE_KEY", []string{"UserId"}},
	routing.CodeInvalidTransition: {"INVALID_OPERATION", nil},
	routing.CodeAlreadyExists:     {"DUPLICATE_VALUE", nil},
	routing.CodeLimitExceeded:     {"LIMIT_EXCEEDED", nil},
	routing.CodeInvalidArgument:   {"INVALID_FIELD", nil},
}

// SalesforceError is the Salesforce REST answer to an error code: HTTP 400
// (Salesforce answers every refused DML with 400), the StatusCode and the
// fields of sfErrors, or the code itself and no fields for any other.
func SalesforceError(code string) (status int, statusCode string, fields []string) {
	if e, ok := sfErrors[code]; ok {
		return http.StatusBadRequest, e.code, append([]string{}, e.fields...)
	}
	return http.StatusBadRequest, code, []string{}
}

var restPath = regexp.MustCompile(`^/services/data/v(\d{2,3}\.\d)/sobjects/(AgentWork|PendingServiceRouting)(?:/([^/]+))?/?$`)

var cometdPath = regexp.MustCompile(`^/cometd/\d{2,3}\.\d(?:/.*)?$`)

// Handler serves /cometd/{apiVersion}[/...] and /services/data/v{version}/sobjects/...
// Mount it at "/cometd/" and "/services/data/".
func (a *Adapter) Handler() http.Handler {
	bx := a.bx.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/cometd/") {
			if !cometdPath.MatchString(r.URL.Path) {
				http.NotFound(w, r)
				return
			}
			bx.ServeHTTP(w, r)
			return
		}
		a.serveREST(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string, fields ...string) {
	if fields == nil {
		fields = []string{}
	}
	writeJSON(w, status, []SFError{{Message: msg, ErrorCode: code, Fields: fields}})
}

func (a *Adapter) serveREST(w http.ResponseWriter, r *http.Request) {
	partner := a.partner(r)
	if partner == "" {
		writeErr(w, http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
		return
	}
	m := restPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		writeErr(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	version, typ, id := m[1], m[2], m[3]
	switch {
	case r.Method == http.MethodGet && id != "":
		a.getRecord(w, version, typ, id)
	case r.Method == http.MethodPost && id == "" && typ == "AgentWork":
		a.createAgentWork(w, r, partner)
	case id == "" && typ == "AgentWork":
		w.Header().Set("Allow", "POST")
		writeErr(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", fmt.Sprintf("HTTP Method '%s' not allowed. Allowed are POST", r.Method))
	case id != "":
		w.Header().Set("Allow", "GET")
		writeErr(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", fmt.Sprintf("HTTP Method '%s' not allowed. Allowed are GET", r.Method))
	default:
		writeErr(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
	}
}

type sfAttributes struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

func (a *Adapter) getRecord(w http.ResponseWriter, version, typ, id string) {
	attrs := sfAttributes{Type: typ, URL: "/services/data/v" + version + "/sobjects/" + typ + "/" + id}
	a.mu.Lock()
	var body any
	switch typ {
	case "AgentWork":
		if aw := a.works[id]; aw != nil {
			body = struct {
				Attributes sfAttributes `json:"attributes"`
				AgentWork
			}{attrs, *aw}
		}
	case "PendingServiceRouting":
		if p := a.psrs[id]; p != nil {
			body = struct {
				Attributes sfAttributes `json:"attributes"`
				PendingServiceRouting
			}{attrs, *p}
		}
	}
	a.mu.Unlock()
	if body == nil {
		writeErr(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// createAgentWork checks the body against the PSR, then submits
// routing.AssignWork with a new AgentWork id as the task id.
func (a *Adapter) createAgentWork(w http.ResponseWriter, r *http.Request, partner string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "cannot read the request body")
		return
	}
	if len(body) > MaxBodyBytes {
		writeErr(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", fmt.Sprintf("request body over %d bytes", MaxBodyBytes))
		return
	}
	in, errs := DecodeAgentWorkCreate(body)
	if errs != nil {
		writeJSON(w, http.StatusBadRequest, errs)
		return
	}
	aw, err := a.assign(r.Context(), in.PendingServiceRoutingID, in.UserID, &in.WorkItemID, &in.ServiceChannelID)
	var rerr *routing.Error
	var mismatch *fieldMismatch
	switch {
	case errors.Is(err, errNoPSR):
		writeErr(w, http.StatusBadRequest, "INVALID_CROSS_REFERENCE_KEY",
			"PendingServiceRoutingId: no pending service routing "+trunc(in.PendingServiceRoutingID), "PendingServiceRoutingId")
		return
	case errors.As(err, &mismatch):
		writeErr(w, http.StatusBadRequest, "FIELD_INTEGRITY_EXCEPTION",
			mismatch.field+" does not match the PendingServiceRouting's "+mismatch.field, mismatch.field)
		return
	case errors.As(err, &rerr):
		status, code, fields := SalesforceError(rerr.Code)
		writeErr(w, status, code, rerr.Error(), fields...)
		return
	case errors.Is(err, node.ErrClosed), errors.Is(err, node.ErrJournal):
		writeErr(w, http.StatusServiceUnavailable, "SERVER_UNAVAILABLE", "routing is unavailable")
		return
	case err != nil:
		writeErr(w, http.StatusServiceUnavailable, "SERVER_UNAVAILABLE", "routing did not answer in time")
		return
	}
	id := aw.ID
	request := aw.WorkItemID
	a.log.Debug("extrouting: AgentWork created", "partner", partner, "id", id, "conversation", request, "agent", in.UserID)
	writeJSON(w, http.StatusCreated, struct {
		ID      string    `json:"id"`
		Success bool      `json:"success"`
		Errors  []SFError `json:"errors"`
	}{id, true, []SFError{}})
}

// errNoPSR: no live, partner-routable PendingServiceRouting has the id.
var errNoPSR = errors.New("no such pending service routing")

// fieldMismatch: a field of the AgentWork create differs from the PSR's.
type fieldMismatch struct{ field string }

func (e *fieldMismatch) Error() string {
	return e.field + " does not match the PendingServiceRouting's " + e.field
}

// assign creates an AgentWork for the PSR psrID and the agent user: it
// checks workItem and channel (when not nil) against the PSR, then submits
// routing.AssignWork with a new AgentWork id as the task id and returns the
// Assigned record. Errors: errNoPSR (unknown id or a direct transfer's
// hidden PSR), *fieldMismatch (WorkItemId or ServiceChannelId), a
// *routing.Error from AssignWork, node.ErrClosed / node.ErrJournal, a
// context error (no answer within 10 s). Shared by the Salesforce-shaped
// and the native /v1 create.
func (a *Adapter) assign(ctx context.Context, psrID, user string, workItem, channel *string) (*AgentWork, error) {
	a.mu.Lock()
	psr := a.psrs[psrID]
	var request, conv, mrd string
	hidden := false
	if psr != nil {
		request, conv, mrd, hidden = psr.request, psr.WorkItemID, psr.ServiceChannelID, a.hidden[psr.ID]
	}
	a.mu.Unlock()
	switch {
	case psr == nil || hidden:
		return nil, errNoPSR
	case workItem != nil && *workItem != conv:
		return nil, &fieldMismatch{"WorkItemId"}
	case channel != nil && *channel != mrd:
		return nil, &fieldMismatch{"ServiceChannelId"}
	}
	id := NewAgentWorkID()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := a.n.Submit(ctx, routing.AssignWork{Request: request, Agent: user, Task: id}); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	w := a.works[id]
	if w == nil {
		w = &AgentWork{ID: id, UserID: user, WorkItemID: conv, PendingServiceRoutingID: psrID,
			ServiceChannelID: mrd, Status: StatusAssigned, RequestDateTime: SFTime(a.opts.Clock.Now())}
		a.works[id] = w
	}
	cp := *w
	return &cp, nil
}
