package config

import (
	"strings"
	"testing"
)

func TestGMSPush(t *testing.T) {
	c, err := Parse([]byte("gmsPush: {customHttpUrl: 'https://push.example.com/gms', customHttpHeaders: {authorization: 'Bearer x'}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if g := c.GMSPush; g.CustomHTTPURL != "https://push.example.com/gms" || g.Header().Get("Authorization") != "Bearer x" {
		t.Fatalf("%+v", g)
	}
	c, err = Parse([]byte("agents: []\n"))
	if err != nil || c.GMSPush.CustomHTTPURL != "" || c.GMSPush.Header() != nil {
		t.Fatalf("%v %+v", err, c.GMSPush)
	}
	for _, bad := range []string{
		"gmsPush: {customHttpUrl: 'ftp://x/y'}",
		"gmsPush: {customHttpUrl: 'push.example.com'}",
		"gmsPush: {customHttpHeaders: {A: b}}",
		"gmsPush: {customHttpUrl: 'http://x', customHttpHeaders: {'bad name': b}}",
		"gmsPush: {customHttpUrl: 'http://x', customHttpHeaders: {A: \"b\\r\\nX: y\"}}",
		"gmsPush: {unknown: 1}",
	} {
		if _, err := Parse([]byte(bad)); err == nil || !strings.Contains(err.Error(), "gmsPush") && !strings.Contains(err.Error(), "unknown") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
