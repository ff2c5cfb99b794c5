package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestGMSServices(t *testing.T) {
	c, err := Load(filepath.Join("..", "examples", "omniroute.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.GMSServices) != 1 || c.GMSServices[0].Name != "chat-delay" || c.GMSServices[0].Options["_wait_for_agent"] != "true" {
		t.Fatalf("gmsServices %+v", c.GMSServices)
	}
	bad := *c
	bad.GMSServices = append(bad.GMSServices, c.GMSServices[0])
	bad.GMSServices = append(bad.GMSServices, bad.GMSServices[0])
	bad.GMSServices[1].Options = map[string]string{"_target": "nowhere@S.Q", "_bogus": "x"}
	bad.GMSServices[1].DefaultQueue = "nope"
	err = bad.Validate()
	for _, want := range []string{"duplicate id", `queue "nowhere"`, `defaultQueue "nope"`, `unknown option "_bogus"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
}
