package whatif

import (
	"testing"

	"github.com/omniroute/omniroute/routing"
)

// Business hours reach the replayed queue through the config file's queue
// spec, like every other policy.
func TestApplyHours(t *testing.T) {
	s, err := Parse([]byte(`
queues:
  - id: PE
    hours:
      timeZone: Asia/Jerusalem
      weekly: [{day: monday, open: "08:00", close: "12:00"}]
      closures: ["1999-02-02"]
      closedAction: queue
`))
	if err != nil {
		t.Fatal(err)
	}
	st := daySetup()
	if err := s.Apply("1999-02-01", st); err != nil {
		t.Fatal(err)
	}
	h := st.Queues[0].Hours
	if h == nil || h.TimeZone != "Asia/Jerusalem" || len(h.Weekly) != 1 || h.Weekly[0].Close != "12:00" ||
		h.ClosedAction != routing.ClosedQueue || len(h.Closures) != 1 {
		t.Fatalf("PE hours after the what-if: %+v", h)
	}
	if st.Queues[1].Hours != nil {
		t.Fatalf("PS got hours %+v", st.Queues[1].Hours)
	}
}
