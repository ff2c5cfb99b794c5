package gms_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/omniroute/omniroute/gms"
	"github.com/omniroute/omniroute/routing"
)

// Every refusal is 4xx (or 503) with {"message","exception"} and changes
// nothing in the engine.
func TestRefusals(t *testing.T) {
	secured := chatDelay()
	secured.Name, secured.Username, secured.Password = "secured", "gms", "secret"
	e := newEnv(t, chatDelay(), secured)
	id := e.create(seedUser, "comet")
	const bd = "xYz"
	mp := "multipart/form-data; boundary=" + bd
	cases := []struct {
		name, method, path, ct, body string
		hdr                          []string
		status                       int
		exc                          string
	}{
		{"unknown service", "POST", "/genesys/1/service/callback/nope", mp, multipart(bd, "a", "b"), []string{"gms_user", "u"}, 404, "ServiceNotFoundException"},
		{"no gms_user", "POST", "/genesys/1/service/callback/chat-delay", mp, multipart(bd, "a", "b"), nil, 400, "BadRequestException"},
		{"long gms_user", "POST", "/genesys/1/service/callback/chat-delay", mp, "", []string{"gms_user", strings.Repeat("u", 300)}, 400, "BadRequestException"},
		{"bad multipart", "POST", "/genesys/1/service/callback/chat-delay", mp, "--xYz\r\nbroken", []string{"gms_user", "u"}, 400, "BadRequestException"},
		{"no boundary", "POST", "/genesys/1/service/callback/chat-delay", "multipart/form-data", "x", []string{"gms_user", "u"}, 400, "BadRequestException"},
		{"file part", "POST", "/genesys/1/service/callback/chat-delay", mp,
			"--xYz\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nx\r\n--xYz--\r\n", []string{"gms_user", "u"}, 400, "BadRequestException"},
		{"duplicate field", "POST", "/genesys/1/service/callback/chat-delay", "application/x-www-form-urlencoded", "a=1&a=2", []string{"gms_user", "u"}, 400, "BadRequestException"},
		{"oversize field", "POST", "/genesys/1/service/callback/chat-delay", mp, multipart(bd, "usr_x", strings.Repeat("x", gms.MaxFieldValueBytes+1)), []string{"gms_user", "u"}, 400, "BadRequestException"},
		{"oversize name", "POST", "/genesys/1/service/callback/chat-delay", "application/x-www-form-urlencoded", strings.Repeat("n", gms.MaxFieldNameBytes+1) + "=1", []string{"gms_user", "u"}, 400, "BadRequestException"},
		{"too many fields", "POST", "/genesys/1/service/callback/chat-delay", "application/x-www-form-urlencoded", manyFields(gms.MaxFields + 1), []string{"gms_user", "u"}, 400, "BadRequestException"},
		{"body too large", "POST", "/genesys/1/service/callback/chat-delay", "application/x-www-form-urlencoded", "a=" + strings.Repeat("x", gms.MaxBodyBytes), []string{"gms_user", "u"}, 413, "PayloadTooLargeException"},
		{"media type", "POST", "/genesys/1/service/callback/chat-delay", "text/plain", "hello", []string{"gms_user", "u"}, 415, "UnsupportedMediaTypeException"},
		{"json array", "POST", "/genesys/1/service/callback/chat-delay", "application/json", `[1]`, []string{"gms_user", "u"}, 400, "BadRequestException"},
		{"json nested", "POST", "/genesys/1/service/callback/chat-delay", "application/json", `{"a":{}}`, []string{"gms_user", "u"}, 400, "BadRequestException"},
		{"bad utf8", "POST", "/genesys/1/service/callback/chat-delay", "application/x-www-form-urlencoded", "a=%ff", []string{"gms_user", "u"}, 400, "BadRequestException"},
		{"basic auth missing", "POST", "/genesys/1/service/callback/secured", mp, multipart(bd, "a", "b"), []string{"gms_user", "u"}, 401, "UnauthorizedException"},
		{"unknown id", "POST", "/genesys/1/service/1-nope/connect", "", "", []string{"gms_user", seedUser}, 404, "CallbackNotFoundException"},
		{"unknown op", "POST", "/genesys/1/service/" + id + "/nope", "", "", []string{"gms_user", seedUser}, 404, "CallbackNotFoundException"},
		{"wrong service in GET", "GET", "/genesys/1/service/callback/secured/" + id, "", "", []string{"gms_user", seedUser}, 404, "CallbackNotFoundException"},
		{"GET on connect", "GET", "/genesys/1/service/" + id + "/connect", "", "", []string{"gms_user", seedUser}, 405, "MethodNotAllowedException"},
		{"PUT on callback", "PUT", "/genesys/1/service/callback/chat-delay/" + id, "", "", []string{"gms_user", seedUser}, 405, "MethodNotAllowedException"},
		{"empty notification", "POST", "/genesys/1/service/" + id + "/agent-notification", "", "", []string{"gms_user", seedUser}, 400, "BadRequestException"},
		{"elsewhere", "GET", "/genesys/2/x", "", "", nil, 404, "CallbackNotFoundException"},
		{"admin no token", "PUT", "/genesys/1/admin/services/x", "application/json", `{}`, nil, 401, "UnauthorizedException"},
		{"admin bad target", "PUT", "/genesys/1/admin/services/x", "application/json", `{"options":{"_target":"Billing@StatServer.ZZ"}}`,
			[]string{"Authorization", "Bearer " + adminToken}, 400, "BadRequestException"},
		{"admin no target", "PUT", "/genesys/1/admin/services/x", "application/json", `{"options":{"_media_type":"chat"}}`,
			[]string{"Authorization", "Bearer " + adminToken}, 400, "BadRequestException"},
		{"admin unknown option", "PUT", "/genesys/1/admin/services/x", "application/json", `{"options":{"_target":"q@S.Q","_bogus":"1"}}`,
			[]string{"Authorization", "Bearer " + adminToken}, 400, "BadRequestException"},
		{"admin unknown field", "PUT", "/genesys/1/admin/services/x", "application/json", `{"bogus":1}`,
			[]string{"Authorization", "Bearer " + adminToken}, 400, "BadRequestException"},
		{"admin name mismatch", "PUT", "/genesys/1/admin/services/x", "application/json", `{"name":"y","options":{"_target":"q@S.Q"}}`,
			[]string{"Authorization", "Bearer " + adminToken}, 400, "BadRequestException"},
		{"admin not json", "PUT", "/genesys/1/admin/services/x", "text/plain", `{}`,
			[]string{"Authorization", "Bearer " + adminToken}, 415, "UnsupportedMediaTypeException"},
		{"admin unknown service", "GET", "/genesys/1/admin/services/x", "", "", []string{"Authorization", "Bearer " + adminToken}, 404, "ServiceNotFoundException"},
	}
	for _, c := range cases {
		before := e.digest()
		r := e.do(c.method, c.path, c.ct, c.body, c.hdr...)
		if r.status != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, r.status, c.status, r.body)
			continue
		}
		m := r.json(t)
		if m["exception"] != c.exc || m["message"] == "" {
			t.Errorf("%s: body %s", c.name, r.body)
		}
		if e.digest() != before {
			t.Errorf("%s: the engine changed", c.name)
		}
	}
	if r := e.do("POST", "/genesys/1/service/callback/secured", mp, multipart(bd, "a", "b"), "gms_user", "u"); r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("401 without WWW-Authenticate")
	}
}

// A target that selects no queue, with no default queue, is refused.
func TestNoQueue(t *testing.T) {
	spec := chatDelay()
	spec.Options["_target"] = "nowhere@StatServer.Q"
	e := newEnv(t, spec)
	before := e.digest()
	r := e.do("POST", "/genesys/1/service/callback/chat-delay", "", "", "gms_user", "u")
	if r.status != 400 || e.digest() != before {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

// Targets: Q names the queue, a skill expression picks a matching queue,
// others fall to defaultQueue; basic auth admits the right credentials;
// the admin API lists and replaces services.
func TestTargetsAndAdmin(t *testing.T) {
	e := newEnv(t)
	admin := []string{"Authorization", "Bearer " + adminToken}
	put := func(name, body string) {
		t.Helper()
		if r := e.do("PUT", "/genesys/1/admin/services/"+name, "application/json", body, admin...); r.status != 200 {
			t.Fatalf("put %s: %d %s", name, r.status, r.body)
		}
	}
	put("skill", `{"options":{"_target":"?:English>=10@StatServer.GA"},"username":"u","password":"p"}`)
	put("group", `{"options":{"_target":"Billing@StatServer.GA"},"defaultQueue":"chat-support"}`)
	queueOf := func(svc string, hdr ...string) string {
		t.Helper()
		r := e.do("POST", "/genesys/1/service/callback/"+svc, "application/x-www-form-urlencoded", "_customer_number=4082652649", append([]string{"gms_user", "u"}, hdr...)...)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", svc, r.status, r.body)
		}
		id := r.json(t)["_id"].(string)
		var q string
		_ = e.node.View(t.Context(), func(s routing.View) { c, _ := s.Conversation(id); q = c.Queue })
		return q
	}
	if q := queueOf("skill", "Authorization", "Basic dTpw"); q != "chat-english" {
		t.Errorf("skill target queue %s", q)
	}
	if q := queueOf("group"); q != "chat-support" {
		t.Errorf("group target queue %s", q)
	}
	r := e.do("GET", "/genesys/1/admin/services", "", "", admin...)
	if r.status != 200 || !strings.Contains(string(r.body), `"skill"`) || !strings.Contains(string(r.body), `"********"`) {
		t.Fatalf("list %s", r.body)
	}
	if r := e.do("DELETE", "/genesys/1/admin/services/group", "", "", admin...); r.status != http.StatusNoContent {
		t.Fatalf("delete %d", r.status)
	}
	if r := e.do("POST", "/genesys/1/service/callback/group", "", "", "gms_user", "u"); r.status != 404 {
		t.Fatalf("deleted service %d", r.status)
	}
}

func manyFields(n int) string {
	parts := make([]string, n)
	for i := range n {
		parts[i] = "f" + strconv.Itoa(i) + "=1"
	}
	return strings.Join(parts, "&")
}
