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
	"github.com/omniroute/omniroute/conversation"
	"github.com/omniroute/omniroute/errcode"
	"github.com/omniroute/omniroute/routing"
)

// The customer side of conversations (DESIGN.md "Native API (v1)": POST
// /v1/conversations/{id}/messages "customer side"; seed 004 CIM messages):
//
//	POST /v1/conversations/{id}/messages      a CIM message {id?, header?, body{type,...}} -> 201 CustomerEventBody
//	POST /v1/conversations/{id}/customer-left -> 200 CustomerEventBody
//	GET  /v1/conversations/{id}/events[?after=<seq>]  text/event-stream
//
// Who may call: an admin token, or the token of a customer channel
// (auth.channels: a web-chat back end, a messaging connector, which speaks
// for the customer as ExpertFlow's channel connectors do) for the
// conversations that channel created (attribute omniroute.channel); any
// other conversation is 404 to it (channelMay).
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

// Limits of the customer routes.
const (
	// MaxCustomerMessageBytes bounds a customer message body (the stored
	// event must also fit conversation's MaxEventBytes, 16 KiB by default).
	MaxCustomerMessageBytes = 32 << 10
	// CustomerStreamKeepAlive is the comment interval of the event stream.
	CustomerStreamKeepAlive = 15 * time.Second
)

// customerStatus maps the conversation layer's codes to HTTP statuses
// (errcode's /v1 table).
func customerStatus(code string) int { return errcode.V1Status(code) }

// customerErr turns a conversation.CustomerSide error into an apiError.
func customerErr(err error) error {
	var re *routing.Error
	if errors.As(err, &re) {
		return &apiError{status: customerStatus(re.Code), code: re.Code, message: re.Message}
	}
	return err
}

func (s *api) customerSide() (conversation.CustomerSide, error) {
	if s.customers == nil {
		return nil, errorf(http.StatusServiceUnavailable, CodeUnavailable, "conversations are not served by this server")
	}
	return s.customers, nil
}

// postCustomerMessage is POST /v1/conversations/{id}/messages.
func (s *api) postCustomerMessage(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	cs, err := s.customerSide()
	if err != nil {
		return err
	}
	if err := s.channelMay(r, p, r.PathValue("id")); err != nil {
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
	writeJSON(w, http.StatusCreated, conversation.CustomerEventBody{Seq: seq, CimEvent: ev})
	return nil
}

// postCustomerLeft is POST /v1/conversations/{id}/customer-left.
func (s *api) postCustomerLeft(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	cs, err := s.customerSide()
	if err != nil {
		return err
	}
	if err := s.channelMay(r, p, r.PathValue("id")); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	seq, ev, err := cs.CustomerLeft(ctx, r.PathValue("id"))
	if err != nil {
		return customerErr(err)
	}
	writeJSON(w, http.StatusOK, conversation.CustomerEventBody{Seq: seq, CimEvent: ev})
	return nil
}

// customerEvents is GET /v1/conversations/{id}/events (Server-Sent Events).
func (s *api) customerEvents(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	cs, err := s.customerSide()
	if err != nil {
		return err
	}
	if err := s.channelMay(r, p, r.PathValue("id")); err != nil {
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
	if err := s.view(r, func(st routing.View) { _, exists = st.Conversation(id) }); err != nil {
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
		t := s.clock.NewTicker(CustomerStreamKeepAlive)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C():
				if write(": keep-alive\n\n") != nil {
					cancel()
					return
				}
			}
		}
	}()
	err = cs.CustomerEvents(ctx, id, after, func(seq uint64, ev json.RawMessage) error {
		return write("%s", conversation.SSEFrame(seq, ev))
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
