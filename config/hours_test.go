package config

import (
	"reflect"
	"testing"

	"github.com/omniroute/omniroute/routing"
)

func TestQueueHours(t *testing.T) {
	c, err := Parse([]byte(`mrds: [{id: chat}]
queues:
  - id: night
    mrd: chat
  - id: q
    mrd: chat
    hours:
      timeZone: Europe/Berlin
      weekly: [{day: monday, open: "09:00", close: "12:00"}, {day: monday, open: "13:00", close: "17:00"}]
      closures: ["2025-12-25"]
      closedAction: overflow
      closedOverflowQueue: night
`))
	if err != nil {
		t.Fatal(err)
	}
	want := &routing.BusinessHours{TimeZone: "Europe/Berlin", Weekly: []routing.OpenInterval{{Day: "monday", Open: "09:00", Close: "12:00"},
		{Day: "monday", Open: "13:00", Close: "17:00"}}, Closures: []string{"2025-12-25"}, ClosedAction: "overflow", ClosedOverflowQueue: "night"}
	q := c.Queues[1].Routing()
	if !reflect.DeepEqual(q.Hours, want) {
		t.Fatalf("hours %+v", q.Hours)
	}
	if back := QueueSpecFrom(q); !reflect.DeepEqual(back.Hours, want) {
		t.Fatalf("round trip %+v", back.Hours)
	}
	for _, bad := range []string{"{timeZone: Mars/Olympus}", "{}", `{timeZone: UTC, weekly: [{day: monday, open: "17:00", close: "09:00"}]}`,
		`{timeZone: UTC, closures: ["2025-02-30"]}`, "{timeZone: UTC, closedAction: later}", "{timeZone: UTC, closedAction: overflow, closedOverflowQueue: q}"} {
		c, err := Parse([]byte("mrds: [{id: chat}]\nqueues: [{id: q, mrd: chat, hours: " + bad + "}]\n"))
		if err == nil {
			err = c.Validate()
		}
		if err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
