package restapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/routing"
)

// The customer side of conversations (DESIGN.md "Native API (v1)": POST
// /v1/conversations/{id}/messages "customer side"; seed 004 CIM messages):
//
//	POST /v1/conversations/{id}/messages      a CIM message {id?, header?, body{type,...}} -> 201 CustomerEventBody
//	POST /v1/conversations/{id}/customer-left -> 200 CustomerEventBody
//	GET  /v1/conversations/{id}/events[?after=<seq>]  text/event-stream
//
// Who may call: an admin token. omniroute does not yet issue customer
// tokens; the customer's channel (web chat, messaging connector) is a
// trusted back end that holds an admin token and speaks for the customer,
// as ExpertFlow's channel connectors do. A customer token scoped to one
// conversation is a later addition (the routes would accept it too).
//
// The event stream is Server-Sent Events: first the transcript after
// `after` (or the Last-Event-ID header; 0 = from the start), then every new
// entry as it becomes durable, without the agents-only entries (whispers):
//
//	id: <seq>
//	event: cimEvent
//	data: <CIM event JSON>
//
// with a ": keep-alive" comment every CustomerStreamKeepAlive. It ends when
// the client goes or the server shuts down.

// CustomerSide is what the customer routes need from the conversation
// layer; agentdesk.Server implements it (its transcript and its fan-out to
// the agents). Errors are *routing.Error: the code picks the HTTP status
// (customerStatus).
type CustomerSide interface {
	// CustomerMessage validates body (a CIM message), appends it as a
	// CUSTOMER_MESSAGE and returns its sequence and the stored CIM event.
	CustomerMessage(ctx context.Context, conversation string, body []byte) (seq uint64, event json.RawMessage, err error)
	// CustomerLeft applies routing.CustomerLeft and appends CUSTOMER_LEFT.
	CustomerLeft(ctx context.Context, conversation string) (seq uint64, event json.RawMessage, err error)
	// CustomerEvents replays then follows the transcript for the customer.
	CustomerEvents(ctx context.Context, conversation string, after uint64, send func(seq uint64, event json.RawMessage) error) error
}

// CustomerEventBody answers the customer's POSTs: the transcript sequence of
// the stored CIM event and the event itself (agentdesk.CimEvent).
type CustomerEventBody struct {
	Seq      uint64          `json:"seq"`
	CimEvent json.RawMessage `json:"cimEvent"`
}

// Limits of the customer routes.
const (
	// MaxCustomerMessageBytes bounds a customer message body (the stored
	// event must also fit agentdesk's MaxCimEventBytes, 16 KiB by default).
	MaxCustomerMessageBytes = 32 << 10
	// CustomerStreamKeepAlive is the comment interval of the event stream.
	CustomerStreamKeepAlive = 15 * time.Second
)

// customerStatus maps the conversation layer's codes to HTTP statuses.
func customerStatus(code string) int {
	switch code {
	case "PAYLOAD_TOO_LARGE":
		return http.StatusRequestEntityTooLarge
	case "TRANSCRIPT_FULL":
		return http.StatusUnprocessableEntity
	case "CONVERSATION_CLOSED", "CUSTOMER_LEFT":
		return http.StatusConflict
	case "REPLY_NOT_FOUND":
		return http.StatusUnprocessableEntity
	case "UNAVAILABLE":
		return http.StatusServiceUnavailable
	case "INVALID_PAYLOAD", "MISSING_FIELD", "INVALID_FIELD", "FIELD_TOO_LONG":
		return http.StatusBadRequest
	}
	return StatusFor(code)
}

// customerErr turns a CustomerSide error into an apiError.
func customerErr(err error) error {
	var re *routing.Error
	if errors.As(err, &re) {
		return &apiError{status: customerStatus(re.Code), code: re.Code, message: re.Message}
	}
	return err
}

func (s *api) customerSide() (CustomerSide, error) {
	if s.customers == nil {
		return nil, errorf(http.StatusServiceUnavailable, CodeUnavailable, "conversations are not served by this server")
	}
	return s.customers, nil
}

// postCustomerMessage is POST /v1/conversations/{id}/messages.
func (s *api) postCustomerMessage(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	cs, err := s.customerSide()
	if err != nil {
		return err
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "Content-Type must be application/json, not %q", ct)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxCustomerMessageBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "the body is over %d bytes", MaxCustomerMessageBytes)
	case err != nil:
		return errorf(http.StatusBadRequest, CodeInvalidJSON, "%v", err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	seq, ev, err := cs.CustomerMessage(ctx, r.PathValue("id"), body)
	if err != nil {
		return customerErr(err)
	}
	writeJSON(w, http.StatusCreated, CustomerEventBody{Seq: seq, CimEvent: ev})
	return nil
}

// postCustomerLeft is POST /v1/conversations/{id}/customer-left.
func (s *api) postCustomerLeft(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	cs, err := s.customerSide()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	seq, ev, err := cs.CustomerLeft(ctx, r.PathValue("id"))
	if err != nil {
		return customerErr(err)
	}
	writeJSON(w, http.StatusOK, CustomerEventBody{Seq: seq, CimEvent: ev})
	return nil
}

// customerEvents is GET /v1/conversations/{id}/events (Server-Sent Events).
func (s *api) customerEvents(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	cs, err := s.customerSide()
	if err != nil {
		return err
	}
	cursor := r.URL.Query().Get("after")
	if cursor == "" {
		cursor = r.Header.Get("Last-Event-ID")
	}
	var after uint64
	if cursor != "" {
		if after, err = strconv.ParseUint(cursor, 10, 64); err != nil {
			return errorf(http.StatusBadRequest, routing.CodeInvalidArgument, "after must be a transcript sequence (an unsigned integer), not %q", cursor)
		}
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return errorf(http.StatusInternalServerError, CodeInternal, "streaming is not supported")
	}
	id := r.PathValue("id")
	exists := false
	if err := s.view(r, func(st *routing.State) { _, exists = st.Conversation(id) }); err != nil {
		return err
	}
	if !exists {
		return &routing.Error{Code: routing.CodeConversationNotFound, Message: "conversation " + quote(id) + " does not exist"}
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, ": omniroute conversation events\n\n")
	flusher.Flush()

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	var mu sync.Mutex // one writer at a time: events and keep-alives
	write := func(format string, args ...any) error {
		mu.Lock()
		defer mu.Unlock()
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return err
		}
		flusher.Flush()
		return nil
	}
	go func() {
		t := time.NewTicker(CustomerStreamKeepAlive)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if write(": keep-alive\n\n") != nil {
					cancel()
					return
				}
			}
		}
	}()
	err = cs.CustomerEvents(ctx, id, after, func(seq uint64, ev json.RawMessage) error {
		return write("id: %d\nevent: cimEvent\ndata: %s\n\n", seq, ev)
	})
	if err != nil && ctx.Err() == nil {
		// Headers are gone: tell the client in the stream, then end it.
		_ = write("event: error\ndata: %s\n\n", mustJSON(ErrorBody{Error: ErrorDetail{Code: CodeUnavailable, Message: err.Error()}}))
	}
	return nil
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
