package gms_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/gms"
)

// withServices is the example file with its gmsServices replaced by specs.
func withServices(t *testing.T, file string, specs []gms.ServiceSpec) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "gmsServices" {
			if err := m.Content[i+1].Encode(specs); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGMSServices: the config file's gmsServices section is decoded into
// ServiceSpecs and validated by config.Parse (package gms registers it).
func TestGMSServices(t *testing.T) {
	file := filepath.Join("..", "examples", "omniroute.yaml")
	c, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	specs := gms.Services(c)
	if len(specs) != 1 || specs[0].Name != "chat-delay" || specs[0].Options["_wait_for_agent"] != "true" {
		t.Fatalf("gmsServices %+v", specs)
	}
	bad := append([]gms.ServiceSpec(nil), specs[0])
	bad = append(bad, bad[0])
	bad = append(bad, bad[0])
	bad[1].Options = map[string]string{"_target": "nowhere@S.Q", "_bogus": "x"}
	bad[1].DefaultQueue = "nope"
	_, err = config.Parse(withServices(t, file, bad))
	for _, want := range []string{"duplicate id", `queue "nowhere"`, `defaultQueue "nope"`, `unknown option "_bogus"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
}

// TestGMSServicesStrict: an unknown key in a gmsServices entry is refused
// with its line, like any other key of the file.
func TestGMSServicesStrict(t *testing.T) {
	_, err := config.Parse([]byte("queues: [{id: q, mrd: chat}]\nmrds: [{id: chat}]\ngmsServices:\n  - name: x\n    colour: red\n"))
	if err == nil || !strings.Contains(err.Error(), "line 5: field colour not found") {
		t.Fatalf("err %v", err)
	}
}
