package presencesync

import (
	"reflect"
	"testing"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/journal/natsjournal/natsjournaltest"
)

// TestStore runs the one Store acceptance suite against both
// implementations: memory and the JetStream KV bucket.
func TestStore(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		s := &MemStore{}
		testStore(t, func(*testing.T) Store { return s })
	})
	t.Run("jetstream", func(t *testing.T) {
		srv := natsjournaltest.Server(t)
		testStore(t, func(t *testing.T) Store {
			nc := natsjournaltest.Conn(t, srv)
			s, err := OpenKV(t.Context(), nc, 1)
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
}

// testStore is what every Store does. open returns a Store on the same
// partners each time it is called (the bucket opened again, the same
// MemStore): what one wrote, another reads.
func testStore(t *testing.T, open func(*testing.T) Store) {
	ctx := t.Context()
	a := open(t)
	load := func(t *testing.T) map[string]config.PresencePartnerSpec {
		t.Helper()
		m, err := open(t).Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if got := load(t); len(got) != 0 {
		t.Fatalf("new store holds %v", got)
	}
	crm := testPartner(config.PresenceComplementary)
	phone := config.PresencePartnerSpec{ID: "phone 1.*>", Kind: config.PresenceTelephony, Token: "phone-partner-token-0123",
		Mode: config.PresenceSynchronized, Mapping: crm.Mapping[:1]}
	for _, p := range []config.PresencePartnerSpec{crm, phone} {
		if err := a.Put(ctx, p); err != nil {
			t.Fatalf("Put %q: %v", p.ID, err)
		}
	}
	t.Run("every field comes back, by id", func(t *testing.T) {
		if got, want := load(t), map[string]config.PresencePartnerSpec{crm.ID: crm, phone.ID: phone}; !reflect.DeepEqual(got, want) {
			t.Fatalf("Load:\n%+v\nwant\n%+v", got, want)
		}
	})
	t.Run("the last Put wins", func(t *testing.T) {
		again := testPartner(config.PresenceSynchronized)
		again.Origins = []string{"https://crm.example.com"}
		if err := a.Put(ctx, again); err != nil {
			t.Fatal(err)
		}
		if got := load(t); len(got) != 2 || !reflect.DeepEqual(got[crm.ID], again) {
			t.Fatalf("after a second Put: %+v, want %+v", got[crm.ID], again)
		}
	})
}
