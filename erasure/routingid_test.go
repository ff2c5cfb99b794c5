package erasure_test

import (
	"path/filepath"
	"testing"

	"github.com/omniroute/omniroute/erasure"
)

// TestRoutingID: with a keyring the engine's customer id is a stable
// pseudonym (the same customer, the same id; another customer, another;
// never the plaintext); without one it is the id as given.
func TestRoutingID(t *testing.T) {
	k, err := erasure.Open(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	a, b, c := k.RoutingID("cust-7"), k.RoutingID("cust-7"), k.RoutingID("cust-8")
	if a == "" || a != b || a == c || a == "cust-7" {
		t.Fatalf("RoutingID: %q %q %q", a, b, c)
	}
	var none *erasure.Keyring
	if got := none.RoutingID("cust-7"); got != "cust-7" {
		t.Fatalf("without a keyring: %q", got)
	}
	if k.RoutingID("") != "" {
		t.Fatal("an empty id must stay empty")
	}
}
