package conversation

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/google/uuid"
	"github.com/omniroute/omniroute/errcode"
	"github.com/omniroute/omniroute/routing"
	"github.com/omniroute/omniroute/transcript"
)

// The customer side: the customer is played over HTTP by restapi (POST
// /v1/conversations/{id}/messages, customer-left, GET .../events) and by
// webui's chat page; both call these.

// customerCheck resolves the conversation for the customer side
// (checkCustomer) and returns its customer object.
func (c *Conversations) customerCheck(ctx context.Context, conversation string, publish bool) (customer map[string]any, err error) {
	var rerr error
	var raw json.RawMessage
	if err := c.n.View(ctx, func(st routing.View) {
		cv, ok := st.Conversation(conversation)
		if rerr = checkCustomer(cv, ok, conversation, publish); rerr == nil {
			raw = c.opts.CustomerKeys.Show(cv.Customer)
		}
	}); err != nil {
		return nil, refusal(CodeUnavailable, "the routing engine did not answer")
	}
	if rerr != nil {
		return nil, rerr
	}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &customer)
	}
	return customer, nil
}

// CustomerSide is what a customer-facing surface needs from the
// conversation layer: the REST /v1 customer routes and the web UI's chat
// take it, and *Conversations implements it (its transcript and its
// fan-out to the agents). Errors are *routing.Error; each surface maps the
// code to its status (errcode.V1Status).
type CustomerSide interface {
	// CustomerMessage validates body (a CIM message), appends it as a
	// CUSTOMER_MESSAGE and returns its sequence and the stored CIM event.
	CustomerMessage(ctx context.Context, conversation string, body []byte) (seq uint64, event json.RawMessage, err error)
	// CustomerLeft applies routing.CustomerLeft and appends CUSTOMER_LEFT.
	CustomerLeft(ctx context.Context, conversation string) (seq uint64, event json.RawMessage, err error)
	// CustomerClosed is CustomerLeft for a customer who closes the chat:
	// a conversation still waiting is abandoned instead (abandoned true).
	CustomerClosed(ctx context.Context, conversation string) (abandoned bool, seq uint64, event json.RawMessage, err error)
	// CustomerEvents replays then follows the transcript for the customer.
	CustomerEvents(ctx context.Context, conversation string, after uint64, send func(seq uint64, event json.RawMessage) error) error
}

var _ CustomerSide = (*Conversations)(nil)

// CustomerEventBody answers a customer's POST (a message, leaving): the
// transcript sequence of the stored CIM event and the event itself
// (CimEvent JSON).
type CustomerEventBody struct {
	Seq      uint64          `json:"seq"`
	CimEvent json.RawMessage `json:"cimEvent"`
}

// CustomerMessage appends a CUSTOMER_MESSAGE with the CIM message body
// (DecodeCustomerMessage, at most MaxEventBytes) to the open conversation
// and returns its transcript sequence and the stored CIM event; the
// participants get it through Watch (a conversation still waiting for an
// agent keeps it for the agent's onTopicData). header.sender becomes {id
// CustomerID(conversation), type CUSTOMER, senderName the customer's
// firstName}. Errors (*routing.Error codes): FieldError codes,
// CONVERSATION_NOT_FOUND, CONVERSATION_CLOSED, CUSTOMER_LEFT,
// REPLY_NOT_FOUND, PAYLOAD_TOO_LARGE, TRANSCRIPT_FULL, UNAVAILABLE.
func (c *Conversations) CustomerMessage(ctx context.Context, conversation string, body []byte) (uint64, json.RawMessage, error) {
	req, ferr := DecodeCustomerMessage(body, c.opts.MaxEventBytes)
	if ferr != nil {
		return 0, nil, &routing.Error{Code: ferr.Code, Message: ferr.Field + ": " + ferr.Message}
	}
	req.Conversation = conversation
	customer, err := c.customerCheck(ctx, conversation, true)
	if err != nil {
		return 0, nil, err
	}
	name, _ := customer["firstName"].(string)
	id := CustomerID(conversation)
	p, err := c.prepare(ctx, req, EventEmitter{ID: id, Type: "CUSTOMER", SenderName: name},
		map[string]any{"id": id, "type": "CUSTOMER", "senderName": name, "additionalDetail": nil})
	if err != nil {
		var fe *errcode.FieldError
		if errors.As(err, &fe) {
			return 0, nil, &routing.Error{Code: fe.Code, Message: fe.Message}
		}
		return 0, nil, err
	}
	e, err := c.append(ctx, p)
	if err != nil {
		return 0, nil, err
	}
	return e.Seq, e.Data, nil
}

// CustomerLeft records that the customer left: routing.CustomerLeft first
// (a refusal changes nothing and records nothing: CONVERSATION_NOT_FOUND,
// INVALID_TRANSITION when closed or already left), then a CUSTOMER_LEFT CIM
// event (type NOTIFICATION, emitter CUSTOMER) that reaches the
// participants. Returns the event's sequence and JSON. If the append fails
// after the engine applied the command, the error is UNAVAILABLE and the
// customer has left all the same.
func (c *Conversations) CustomerLeft(ctx context.Context, conversation string) (uint64, json.RawMessage, error) {
	if _, err := c.submitCustomerLeft(ctx, conversation); err != nil {
		return 0, nil, err
	}
	return c.appendCustomerLeft(ctx, conversation)
}

// CustomerClosed is the customer closing the chat window (the web UI's
// leave): one routing.CustomerLeft, in which the engine abandons a
// conversation that waits for an agent (seed 004: the customer never got
// one, or lost the one it had) and closes it; abandoned is then true and
// nothing is written to the transcript. Otherwise it goes on as
// CustomerLeft (the CUSTOMER_LEFT CIM event). The engine decides as the
// command runs, so no earlier read can be stale. Errors: as CustomerLeft.
func (c *Conversations) CustomerClosed(ctx context.Context, conversation string) (abandoned bool, seq uint64, event json.RawMessage, err error) {
	events, err := c.submitCustomerLeft(ctx, conversation)
	if err != nil {
		return false, 0, nil, err
	}
	for _, ev := range events {
		if e, ok := ev.(routing.ConversationClosed); ok && e.Conversation == conversation && e.Reason == routing.ReasonAbandoned {
			return true, 0, nil, nil
		}
	}
	seq, event, err = c.appendCustomerLeft(ctx, conversation)
	return false, seq, event, err
}

func (c *Conversations) submitCustomerLeft(ctx context.Context, conversation string) ([]routing.Event, error) {
	events, err := c.n.Submit(ctx, routing.CustomerLeft{Conversation: conversation})
	if err != nil {
		var re *routing.Error
		if errors.As(err, &re) {
			return nil, re
		}
		return nil, refusal(CodeUnavailable, "the routing engine did not answer")
	}
	return events, nil
}

// appendCustomerLeft appends the CUSTOMER_LEFT CIM event of conversation.
func (c *Conversations) appendCustomerLeft(ctx context.Context, conversation string) (uint64, json.RawMessage, error) {
	id := CustomerID(conversation)
	ev := CimEvent{ID: uuid.NewString(), Name: CimCustomerLeft, Type: "NOTIFICATION", Timestamp: c.opts.Now().UTC(),
		ConversationID: conversation, RoomID: conversation, EventEmitter: EventEmitter{ID: id, Type: "CUSTOMER"},
		Data: json.RawMessage(`{"reason":"CUSTOMER_LEFT"}`)}
	out, _ := json.Marshal(ev)
	e, err := c.append(ctx, prepared{rec: transcript.Record{Conversation: conversation, ID: ev.ID, Data: out}})
	if err != nil {
		return 0, nil, err
	}
	return e.Seq, e.Data, nil
}

// CustomerEvents replays the conversation's transcript after sequence
// after (0: from the start), the entries the customer sees (CustomerSees),
// calling send for each, then follows new entries live until ctx ends,
// Close is called, or send fails (its error is returned; the others return
// nil). Errors before the first send: CONVERSATION_NOT_FOUND, UNAVAILABLE.
func (c *Conversations) CustomerEvents(ctx context.Context, conversation string, after uint64, send func(seq uint64, event json.RawMessage) error) error {
	if _, err := c.customerCheck(ctx, conversation, false); err != nil {
		return err
	}
	last := after
	// deliver sends e unless it was sent already or is for the agents only.
	deliver := func(e transcript.Entry) error {
		if e.Seq <= last {
			return nil
		}
		last = e.Seq
		if !CustomerSees(e) {
			return nil
		}
		return send(e.Seq, e.Data)
	}
	for {
		// Watch before reading, so nothing appended between the two is
		// missed; duplicates are dropped by sequence.
		live, cancel := c.cim.Watch(conversation, 0)
		entries, err := c.cim.Read(ctx, conversation, last, 0)
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			return refusal(CodeUnavailable, "the transcript store did not answer")
		}
		for _, e := range entries {
			if err := deliver(e); err != nil {
				cancel()
				return err
			}
		}
		cut := false
		for !cut {
			select {
			case <-ctx.Done():
				cancel()
				return nil
			case <-c.quit:
				cancel()
				return nil
			case e, ok := <-live:
				if !ok {
					cut = true // too slow: read what was missed, watch again
					break
				}
				if err := deliver(e); err != nil {
					cancel()
					return err
				}
			}
		}
		cancel()
	}
}

// SSEFrame is one entry of the customer's event stream (Server-Sent
// Events), as restapi's GET /v1/conversations/{id}/events and webui's chat
// stream write it:
//
//	id: <seq>
//	event: cimEvent
//	data: <CIM event JSON>
//
// The id is the resume cursor (Last-Event-ID, ?after=).
func SSEFrame(seq uint64, event json.RawMessage) []byte {
	b := make([]byte, 0, len(event)+48)
	b = append(b, "id: "...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, "\nevent: cimEvent\ndata: "...)
	b = append(b, event...)
	return append(b, "\n\n"...)
}
