package errcode

import "fmt"

// FieldError is a request refused for one of its fields, or for the whole
// payload, by a decoder of any protocol (the agent desk's events, CIM
// messages and events, the customer's messages). Code is InvalidPayload,
// MissingField, InvalidField, FieldTooLong or PayloadTooLarge; Field is the
// JSON path of the offending field ("state.name",
// "cimEvent.data.body.type"), empty for the whole payload; Limit is the
// limit the field broke (bytes, or items for lists), 0 when none is
// involved; Event names the desk event that carried it (empty outside the
// desk). The desk receives it as an errors event and a refused Ack with
// the same code, field and limit; REST as its code's status.
type FieldError struct {
	Event   string
	Code    string
	Field   string
	Message string
	Limit   int
}

// Error returns "[<event>: ]<code>: [<field>: ]<message>".
func (e *FieldError) Error() string {
	s := e.Code + ": "
	if e.Event != "" {
		s = e.Event + ": " + s
	}
	if e.Field != "" {
		s += e.Field + ": "
	}
	return s + e.Message
}

// Fieldf returns a FieldError of code for field with a formatted message.
func Fieldf(code, field, format string, args ...any) *FieldError {
	return &FieldError{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}
