package gms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of one request body. A body over any of them is refused with 413
// (MaxBodyBytes) or 400 (the others), and nothing changes.
const (
	// MaxBodyBytes bounds a request body, whatever its encoding (64 KiB).
	MaxBodyBytes = 64 << 10
	// MaxFields bounds the fields of one form (the engine keeps at most
	// routing.MaxAttributes attributes per conversation).
	MaxFields = 64
	// MaxFieldNameBytes bounds a field's name.
	MaxFieldNameBytes = 128
	// MaxFieldValueBytes bounds a field's value (4 KiB, the engine's
	// routing.MaxAttributeBytes for name and value together).
	MaxFieldValueBytes = 4 << 10
	// maxPartHeaderBytes bounds the MIME headers of one multipart part.
	maxPartHeaderBytes = 2 << 10
)

// Form is a decoded request body: field name -> value. Every name appears
// once; names and values are valid UTF-8 within the limits above.
type Form map[string]string

// formError is a refusal of the body (status 400, 413 or 415).
type formError struct {
	status int
	msg    string
}

func (e *formError) Error() string { return e.msg }

func badForm(format string, args ...any) error {
	return &formError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// DecodeForm reads r's body as GMS clients send it (seed 003):
// multipart/form-data (the GMS tester and the mobile SDKs),
// application/x-www-form-urlencoded (curl -d), or application/json (an
// object whose values are strings, numbers or booleans, kept as their
// JSON text). An empty body, with or without a Content-Type, is an empty
// form. Errors (a *formError): 415 for another Content-Type, 413 over
// MaxBodyBytes, 400 for a malformed body, a file part, a duplicate field,
// an empty or oversize name or value, invalid UTF-8, or more than MaxFields.
func DecodeForm(r *http.Request) (Form, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, badForm("reading the body: %v", err)
	}
	if len(body) > MaxBodyBytes {
		return nil, &formError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("the body is over %d bytes", MaxBodyBytes)}
	}
	return decodeBody(r.Header.Get("Content-Type"), body)
}

func decodeBody(contentType string, body []byte) (Form, error) {
	if strings.TrimSpace(contentType) == "" {
		if len(bytes.TrimSpace(body)) == 0 {
			return Form{}, nil
		}
		return nil, &formError{status: http.StatusUnsupportedMediaType, msg: "a body needs a Content-Type: multipart/form-data, application/x-www-form-urlencoded or application/json"}
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, &formError{status: http.StatusUnsupportedMediaType, msg: fmt.Sprintf("malformed Content-Type %q", contentType)}
	}
	switch mt {
	case "multipart/form-data":
		return decodeMultipart(params["boundary"], body)
	case "application/x-www-form-urlencoded":
		return decodeURLEncoded(body)
	case "application/json":
		return decodeJSON(body)
	}
	return nil, &formError{status: http.StatusUnsupportedMediaType, msg: fmt.Sprintf("unsupported Content-Type %q", mt)}
}

func (f Form) add(name, value string) error {
	switch {
	case name == "":
		return badForm("a field has an empty name")
	case len(name) > MaxFieldNameBytes:
		return badForm("a field name is over %d bytes", MaxFieldNameBytes)
	case !utf8.ValidString(name) || !utf8.ValidString(value):
		return badForm("field %q is not valid UTF-8", clip(name))
	case len(value) > MaxFieldValueBytes:
		return badForm("field %q is over %d bytes", name, MaxFieldValueBytes)
	}
	if _, dup := f[name]; dup {
		return badForm("field %q appears twice", name)
	}
	if len(f) >= MaxFields {
		return badForm("more than %d fields", MaxFields)
	}
	f[name] = value
	return nil
}

func decodeMultipart(boundary string, body []byte) (Form, error) {
	if boundary == "" || len(boundary) > 70 {
		return nil, badForm("multipart/form-data without a valid boundary")
	}
	f := Form{}
	if len(bytes.TrimSpace(body)) == 0 {
		return f, nil
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		p, err := mr.NextRawPart()
		// Only a bare io.EOF is the closing boundary: the reader wraps the
		// io.EOF of a body that ends without one ("multipart: NextPart:
		// EOF"), which is a malformed body, not an empty form.
		if err == io.EOF { //nolint:errorlint // the reader's end-of-form sentinel, unwrapped on purpose
			return f, nil
		}
		if err != nil {
			return nil, badForm("malformed multipart body: %v", err)
		}
		hdr := 0
		for k, vs := range p.Header {
			hdr += len(k)
			for _, v := range vs {
				hdr += len(v)
			}
		}
		if hdr > maxPartHeaderBytes {
			return nil, badForm("a part's headers are over %d bytes", maxPartHeaderBytes)
		}
		cd := p.Header.Get("Content-Disposition")
		disp, dp, err := mime.ParseMediaType(cd)
		if err != nil || disp != "form-data" {
			return nil, badForm("a part has no form-data Content-Disposition")
		}
		if _, file := dp["filename"]; file {
			return nil, badForm("field %q is a file; files are not accepted", clip(dp["name"]))
		}
		v, err := io.ReadAll(io.LimitReader(p, MaxFieldValueBytes+1))
		if err != nil {
			return nil, badForm("malformed multipart body: %v", err)
		}
		if len(v) > MaxFieldValueBytes {
			return nil, badForm("field %q is over %d bytes", clip(dp["name"]), MaxFieldValueBytes)
		}
		if err := f.add(dp["name"], string(v)); err != nil {
			return nil, err
		}
	}
}

func decodeURLEncoded(body []byte) (Form, error) {
	f := Form{}
	s := string(body)
	for s != "" {
		var kv string
		kv, s, _ = strings.Cut(s, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		name, err1 := url.QueryUnescape(k)
		value, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, badForm("malformed urlencoded body")
		}
		if err := f.add(name, value); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func decodeJSON(body []byte) (Form, error) {
	f := Form{}
	if len(bytes.TrimSpace(body)) == 0 {
		return f, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, badForm("the body must be a JSON object of strings, numbers or booleans: %v", err)
	}
	if dec.More() {
		return nil, badForm("trailing data after the JSON object")
	}
	if len(m) > MaxFields {
		return nil, badForm("more than %d fields", MaxFields)
	}
	for k, v := range m {
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case json.Number:
			s = x.String()
		case bool:
			s = strconv.FormatBool(x)
		default:
			return nil, badForm("field %q must be a string, number or boolean", clip(k))
		}
		if err := f.add(k, s); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// clip shortens a name for an error message.
func clip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	return s
}
