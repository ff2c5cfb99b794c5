package gms

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/omniroute/omniroute/erasure"
)

// TestSealedStore: with customer keys, a record's number, chat form and
// notifications are stored sealed (none of their values in the stored
// bytes) and Load gives the record back as it was put; once the customer
// (the _customer_number) is erased, Load gives the record without them,
// its routing fields intact. A record with no customer fields is stored as
// given.
func TestSealedStore(t *testing.T) {
	keys, err := erasure.Open(filepath.Join(t.TempDir(), "customer-keys"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keys.Close() })
	mem := &MemStore{}
	st := sealStore(mem, keys)
	ctx := t.Context()
	r := Record{ID: "1-cb", Service: "chat-delay", Owner: "ab", Queue: "q", State: StateQueued,
		CreatedAt: time.Unix(1_700_000_000, 0).UTC(), CustomerNumber: "4085550141",
		Chat:     Form{"firstName": "Erika", "email": "erika@example.com"},
		ToDevice: []map[string]any{{"_message": "agent Alice will chat with Erika"}},
		ToAgent:  []AgentNote{{Message: "my IBAN is DE44500105175407324931", Tag: "t"}}}
	if err := st.Put(ctx, r); err != nil {
		t.Fatal(err)
	}
	raw := mem.m[r.ID]
	for _, f := range []string{"4085550141", "Erika", "erika@example.com", "DE44500105175407324931"} {
		if bytes.Contains(raw, []byte(f)) {
			t.Errorf("stored record holds %q: %s", f, raw)
		}
	}
	recs, err := st.Load(ctx)
	if err != nil || len(recs) != 1 || !reflect.DeepEqual(recs[0], r) {
		t.Fatalf("Load = %+v %v, want %+v", recs, err, r)
	}
	if ok, err := keys.Erase("4085550141"); !ok || err != nil {
		t.Fatalf("Erase = %v %v", ok, err)
	}
	recs, err = st.Load(ctx)
	want := r
	want.CustomerNumber, want.Chat, want.ToDevice, want.ToAgent = "", nil, nil, nil
	if err != nil || len(recs) != 1 || !reflect.DeepEqual(recs[0], want) {
		t.Fatalf("after Erase Load = %+v %v, want %+v", recs, err, want)
	}
	bare := Record{ID: "2-cb", Service: "chat-delay", Owner: "ab", State: StateQueued}
	if err := st.Put(ctx, bare); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(mem.m[bare.ID], []byte("omnirouteSealed")) {
		t.Errorf("a record without customer fields was sealed: %s", mem.m[bare.ID])
	}
}
