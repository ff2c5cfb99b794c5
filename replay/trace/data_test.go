package trace

import (
	"bytes"
	"os"
	"slices"
	"testing"
)

// dataPath is the real trace, relative to this package's directory.
const dataPath = "../../../shared/data/anonymous_bank_february_1999.tsv"

// readData returns the raw file, skipping the test when it is absent (the
// data lives outside the module).
func readData(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(dataPath)
	if os.IsNotExist(err) {
		tb.Skipf("%s not present", dataPath)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func loadCalls(tb testing.TB) []Call {
	tb.Helper()
	calls, err := ReadAll(bytes.NewReader(readData(tb)))
	if err != nil {
		tb.Fatal(err)
	}
	return calls
}

func TestRealFile(t *testing.T) {
	calls := loadCalls(t)
	// README: 33,344 calls; `wc -l` gives 33,345 lines with the header.
	if len(calls) != 33344 {
		t.Fatalf("%d calls, want 33344", len(calls))
	}
	outcomes := map[Outcome]int{}
	types := map[string]bool{}
	servers := map[string]bool{}
	negVRU, agentSer0 := 0, 0
	for i, c := range calls {
		outcomes[c.Outcome]++
		types[c.Type] = true
		servers[c.Server] = true
		if c.VRUTime < 0 {
			negVRU++
		}
		if c.Outcome == Agent && c.SerTime == 0 {
			agentSer0++
		}
		// Once midnight wraps are undone, every recorded duration equals
		// the difference of its clock times; this is what proves the
		// unwrapping right.
		if c.VRUExit-c.VRUEntry != c.VRUTime ||
			(c.Queued() && c.QExit-c.QStart != c.QTime) ||
			(c.HasService() && c.SerExit-c.SerStart != c.SerTime) {
			t.Errorf("row %d: durations disagree with clock times: %+v", i+2, c)
		}
		if c.Priority < 0 || c.Priority > 2 || c.Date.Year != 1999 || c.Date.Month != 2 {
			t.Errorf("row %d: %+v", i+2, c)
		}
	}
	want := map[Outcome]int{Agent: 27162, Hang: 5904, Phantom: 278}
	for o, n := range want {
		if outcomes[o] != n {
			t.Errorf("%s: %d rows, want %d", o, outcomes[o], n)
		}
	}
	if negVRU != 25 || agentSer0 != 85 {
		t.Errorf("quirks: %d negative vru_time (want 25), %d AGENT with ser_time 0 (want 85)", negVRU, agentSer0)
	}
	if len(types) != 6 || len(servers) != 25 || !servers[NoServer] {
		t.Errorf("%d types (want 6), %d server values (want 24 agents + NO_SERVER)", len(types), len(servers))
	}

	// The first data row.
	first := Call{
		VRULine: "AA0101", CallID: 34536, CustomerID: "0", Priority: 0, Type: "PS",
		Date:     Date{1999, 2, 1},
		VRUEntry: 7*3600 + 2*60 + 47, VRUExit: 7*3600 + 2*60 + 56, VRUTime: 9,
		Outcome:  Agent,
		SerStart: 7*3600 + 2*60 + 55, SerExit: 7*3600 + 5*60 + 41, SerTime: 166,
		Server: "DORIT",
	}
	if calls[0] != first {
		t.Errorf("first row\n got %+v\nwant %+v", calls[0], first)
	}
	if calls[0].Queued() || calls[0].Arrival() != first.SerStart {
		t.Errorf("first row: Queued %v Arrival %d", calls[0].Queued(), calls[0].Arrival())
	}
	// Row 5: a high-priority caller who hung up after 5 s in the queue.
	if c := calls[3]; c.CallID != 34539 || c.Outcome != Hang || c.CustomerID != "23317894" || c.Priority != 2 {
		t.Errorf("row 5: %+v", c)
	} else if p, ok := c.Patience(); !ok || p != 5 || c.Arrival() != 8*3600+9*60+22 {
		t.Errorf("row 5: patience %d %v, arrival %d", p, ok, c.Arrival())
	}
	// The call that queued at exactly midnight (file: q_start 0:00:00,
	// q_exit 0:00:27, q_time 27).
	i := slices.IndexFunc(calls, func(c Call) bool {
		return c.VRULine == "AA0102" && c.CallID == 31056 && c.Date == Date{1999, 2, 15}
	})
	if i < 0 {
		t.Fatal("AA0102 31056 on 1999-02-15 not found")
	}
	if c := calls[i]; !c.Queued() || c.QStart != 86400 || c.QExit != 86427 || c.Arrival() != 86400 || c.SerExit != 86400+93 {
		t.Errorf("midnight call: %+v", c)
	}
}

func TestRealDays(t *testing.T) {
	calls := loadCalls(t)
	days := Days(calls)
	if len(days) != 28 {
		t.Fatalf("%d days, want 28", len(days))
	}
	total := 0
	for i, d := range days {
		total += len(d.Calls)
		if i > 0 && days[i-1].Date.Compare(d.Date) >= 0 {
			t.Errorf("days out of order: %s then %s", days[i-1].Date, d.Date)
		}
		if !slices.IsSortedFunc(d.Calls, compareCalls) {
			t.Errorf("%s: calls not sorted", d.Date)
		}
		f := Recorded(d.Calls, 20)
		if f.Offered != f.Answered+f.Abandoned || f.Expired != 0 {
			t.Errorf("%s: %+v: offered != answered + abandoned", d.Date, f)
		}
		if f.ServiceLevel < 0 || f.ServiceLevel > 1 || f.Occupancy <= 0 || f.Occupancy > 1 || f.ASASeconds < 0 {
			t.Errorf("%s: out of range: %+v", d.Date, f)
		}
		hourly := 0
		for _, h := range Hours(d.Calls) {
			hourly += len(h.Calls)
			hf := Recorded(h.Calls, 20)
			if hf.Offered != hf.Answered+hf.Abandoned || hf.ServiceLevel < 0 || hf.ServiceLevel > 1 {
				t.Errorf("%s hour %d: %+v", d.Date, h.Hour, hf)
			}
		}
		if hourly != len(d.Calls) {
			t.Errorf("%s: hours hold %d calls, day %d", d.Date, hourly, len(d.Calls))
		}
	}
	if total != len(calls) {
		t.Errorf("days hold %d calls, want %d", total, len(calls))
	}

	// 1999-02-01, computed independently with awk over the raw file:
	//   awk -F'\t' '$6=="990201" && $13!="PHANTOM"{o++} $6=="990201" && $13=="AGENT"{...}'
	// offered 1551, answered 1354, abandoned 197, ASA 34.7710487445 s,
	// SL 842/1551, busy 221561 s over staffed 416993 s; 52 of the
	// abandons never queued:
	//   awk -F'\t' '$6=="990201" && $13=="HANG" && $10=="0:00:00" && $12==0{n++}'.
	feb1 := days[0]
	if feb1.Date != (Date{1999, 2, 1}) || len(feb1.Calls) != 1567 || feb1.Date.Weekday().String() != "Monday" {
		t.Fatalf("first day %s (%s) with %d rows", feb1.Date, feb1.Date.Weekday(), len(feb1.Calls))
	}
	f := Recorded(feb1.Calls, 20)
	want := Figures{Offered: 1551, Answered: 1354, Abandoned: 197, IVRAbandoned: 52,
		ASASeconds: 47080.0 / 1354, ServiceLevel: 842.0 / 1551, Occupancy: 221561.0 / 416993, AbandonRate: 197.0 / 1551}
	if f != want {
		t.Errorf("1999-02-01:\n got %+v\nwant %+v", f, want)
	}

	// Sorting must not depend on input order.
	rev := slices.Clone(calls)
	slices.Reverse(rev)
	days2 := Days(rev)
	for i := range days {
		if !slices.Equal(days[i].Calls, days2[i].Calls) {
			t.Errorf("%s: order depends on input order", days[i].Date)
		}
	}
}

func BenchmarkReadAll(b *testing.B) {
	data := readData(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		calls, err := ReadAll(bytes.NewReader(data))
		if err != nil || len(calls) != 33344 {
			b.Fatal(len(calls), err)
		}
	}
}
