package routing

import (
	"testing"
	"time"
)

// TestLocalInstant pins the rule for local times on daylight-saving nights:
// a skipped time takes effect at the jump, a repeated one the first time.
func TestLocalInstant(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	ny, _ := time.LoadLocation("America/New_York")
	for _, c := range []struct {
		loc        *time.Location
		y          int
		m          time.Month
		d, min     int
		want, name string
	}{
		{berlin, 2025, 3, 30, 150, "2025-03-30T01:00:00Z", "berlin skipped 02:30"},
		{berlin, 2025, 3, 30, 60, "2025-03-30T00:00:00Z", "berlin 01:00 before jump"},
		{berlin, 2025, 10, 26, 150, "2025-10-26T00:30:00Z", "berlin repeated 02:30 first"},
		{berlin, 2025, 10, 26, 1440, "2025-10-26T23:00:00Z", "berlin 24:00"},
		{ny, 2025, 3, 9, 150, "2025-03-09T07:00:00Z", "ny skipped 02:30"},
		{ny, 2025, 11, 2, 90, "2025-11-02T05:30:00Z", "ny repeated 01:30 first"},
		{ny, 2025, 11, 2, 150, "2025-11-02T07:30:00Z", "ny 02:30 after fall back"},
	} {
		got := localInstant(c.y, c.m, c.d, c.min, c.loc).UTC().Format(time.RFC3339)
		if got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// TestQueueHoursSnapshot: the pending transition survives a snapshot, and
// QueueHours reports open/next consistently.
func TestQueueHoursSnapshot(t *testing.T) {
	s := New()
	at := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC) // Monday 10:00 CET
	must := func(cmd Command) {
		t.Helper()
		if _, err := s.Apply(at, cmd); err != nil {
			t.Fatal(err)
		}
	}
	must(UpsertMRD{MRD: MRD{ID: "chat", MaxRequests: 1}})
	must(UpsertQueue{Queue: Queue{ID: "q", MRD: "chat", Hours: &BusinessHours{TimeZone: "Europe/Berlin",
		Weekly: []OpenInterval{{Day: "monday", Open: "09:00", Close: "17:00"}}, ClosedAction: ClosedQueue}}})
	st, _ := s.QueueHours("q", at)
	if !st.Open || !st.NextClose.Equal(time.Date(2025, 1, 6, 16, 0, 0, 0, time.UTC)) {
		t.Fatalf("Monday 10:00 CET: %+v", st)
	}
	st, _ = s.QueueHours("q", at.Add(8*time.Hour))
	if st.Open || !st.NextOpen.Equal(time.Date(2025, 1, 13, 8, 0, 0, 0, time.UTC)) {
		t.Fatalf("Monday 18:00 CET: %+v", st)
	}
	b, err := s.MarshalSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	r, err := UnmarshalSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if r.Digest() != s.Digest() {
		t.Fatal("digest differs after restore")
	}
	got, _ := r.NextDeadline()
	if want, ok := s.NextDeadline(); !got.Equal(want) || !ok {
		t.Fatalf("next deadline %s after restore, want %s", got, want)
	}
}
