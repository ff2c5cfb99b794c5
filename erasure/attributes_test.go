package erasure_test

import (
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/omniroute/omniroute/erasure"
	"github.com/omniroute/omniroute/routing"
)

// TestSealAttributes: the attributes personal selects are sealed (no
// plaintext left), the others kept; ShowAttributes gives the original map
// back; after Erase the sealed attributes are left out of what is shown and
// the others still show; a value too large once sealed is refused with
// LIMIT_EXCEEDED; a nil Keyring changes nothing.
func TestSealAttributes(t *testing.T) {
	k, err := erasure.Open(filepath.Join(t.TempDir(), "customer-keys"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	attrs := map[string]string{"_customer_number": "4082652649", "usr_iban": "DE89370400440532013000", "gms_service": "chat"}
	personal := func(key string) bool { return key != "gms_service" }
	sealed, err := k.SealAttributes(attrs, "4082652649", personal)
	if err != nil {
		t.Fatal(err)
	}
	for key, v := range sealed {
		if strings.Contains(v, "4082652649") || strings.Contains(v, "DE89370400440532013000") {
			t.Errorf("sealed attribute %s = %q holds plaintext", key, v)
		}
	}
	if sealed["gms_service"] != "chat" {
		t.Errorf("gms_service = %q, want chat (not personal)", sealed["gms_service"])
	}
	if got := k.ShowAttributes(sealed); !maps.Equal(got, attrs) {
		t.Fatalf("ShowAttributes = %v, want %v", got, attrs)
	}
	if ok, err := k.Erase("4082652649"); !ok || err != nil {
		t.Fatalf("Erase = %v %v", ok, err)
	}
	if got := k.ShowAttributes(sealed); !maps.Equal(got, map[string]string{"gms_service": "chat"}) {
		t.Fatalf("after Erase ShowAttributes = %v", got)
	}
	big := map[string]string{"usr_note": strings.Repeat("x", routing.MaxAttributeBytes-20)}
	var re *routing.Error
	if _, err := k.SealAttributes(big, "someone", personal); !errors.As(err, &re) || re.Code != routing.CodeLimitExceeded {
		t.Fatalf("a value too large once sealed: %v, want LIMIT_EXCEEDED", err)
	}
	var none *erasure.Keyring
	if got, err := none.SealAttributes(attrs, "4082652649", personal); err != nil || !maps.Equal(got, attrs) {
		t.Fatalf("nil keyring: %v %v", got, err)
	}
	if got := none.ShowAttributes(sealed); !maps.Equal(got, sealed) {
		t.Fatal("nil keyring ShowAttributes changed the map")
	}
}
