package config

import (
	"strings"
	"testing"
	"time"
)

func TestExternalRouting(t *testing.T) {
	c, err := Parse([]byte("externalRouting: {topic: MyTopic, retentionHours: 24, maxReplay: 500}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if e := c.ExternalRouting; e.Topic != "MyTopic" || e.Retention() != 24*time.Hour || e.MaxReplay != 500 {
		t.Fatalf("%+v", e)
	}
	c, err = Parse([]byte("agents: []\n"))
	if err != nil || c.ExternalRouting.Retention() != 0 || c.ExternalRouting.Topic != "" {
		t.Fatalf("%v %+v", err, c.ExternalRouting)
	}
	for _, bad := range []string{
		"externalRouting: {topic: '/topic/x'}",
		"externalRouting: {topic: 1abc}",
		"externalRouting: {retentionHours: -1}",
		"externalRouting: {retentionHours: 100000}",
		"externalRouting: {maxReplay: -5}",
		"externalRouting: {maxReplay: 2000000}",
		"externalRouting: {unknown: 1}",
	} {
		if _, err := Parse([]byte(bad)); err == nil || !strings.Contains(err.Error(), "xternalRouting") && !strings.Contains(err.Error(), "unknown") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
