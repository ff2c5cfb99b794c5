package gms_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/omniroute/omniroute/gms"
)

// FuzzDecodeForm: the decoders never panic, and what they accept is within
// the named limits.
func FuzzDecodeForm(f *testing.F) {
	bd := "----WebKitFormBoundary0WnE36LruxJ4S5nu"
	f.Add("multipart/form-data; boundary="+bd, multipart(bd, "_customer_number", "4082652649", "usr_reason", "billing question"))
	f.Add("multipart/form-data; boundary="+bd, "--"+bd+"--")
	f.Add("multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"a\"; filename=\"b\"\r\n\r\nc\r\n--x--")
	f.Add("application/x-www-form-urlencoded", "a=1&b=%20c&&d")
	f.Add("application/json", `{"a":"1","b":2,"c":true}`)
	f.Add("application/json", `{"a":null}`)
	f.Add("", "")
	f.Add("text/plain", "x")
	f.Fuzz(func(t *testing.T, ct, body string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		form, err := gms.DecodeForm(r)
		if err != nil {
			return
		}
		if len(form) > gms.MaxFields {
			t.Fatalf("%d fields", len(form))
		}
		for k, v := range form {
			if k == "" || len(k) > gms.MaxFieldNameBytes || len(v) > gms.MaxFieldValueBytes || !utf8.ValidString(k) || !utf8.ValidString(v) {
				t.Fatalf("field %q=%q accepted", k, v)
			}
		}
	})
}

// FuzzServiceSpec: Validate never panics on any target string.
func FuzzServiceSpec(f *testing.F) {
	f.Add("chat-support@StatServer.Q")
	f.Add("?:English=20&Loans=2@StatServer.GA")
	f.Add("a@b.ZZ,")
	f.Fuzz(func(t *testing.T, target string) {
		_ = gms.ServiceSpec{Name: "x", Options: map[string]string{"_target": target}}.Validate()
	})
}
