package config

import (
	"strings"
	"testing"
)

func TestPartners(t *testing.T) {
	c, err := Parse([]byte("partners:\n  - {id: p1, token: partner-token-0123456789}\n  - {id: p2, token: partner-token-abcdefghij, webhookUrl: \"https://x.example/h\", webhookSecret: secret-0123456789ab}\n"))
	if err != nil || len(c.Partners) != 2 || c.Partners[1].WebhookURL != "https://x.example/h" {
		t.Fatalf("%v %+v", err, c)
	}
	for _, bad := range []string{
		"partners: [{id: p1, token: short}]",
		"partners: [{id: '', token: partner-token-0123456789}]",
		"partners: [{id: p1, token: partner-token-0123456789}, {id: p1, token: partner-token-0123456789}]",
		"partners: [{id: p1, token: partner-token-0123456789, webhookUrl: 'ftp://x'}]",
		"partners: [{id: p1, token: partner-token-0123456789, webhookUrl: 'https://x'}]",
	} {
		if _, err := Parse([]byte(bad)); err == nil || !strings.Contains(err.Error(), "partners[") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
