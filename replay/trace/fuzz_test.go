package trace

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzReader feeds arbitrary bytes after a valid header. The reader must not
// panic or loop, every error must be a *ParseError with a plausible line,
// and every call it returns must satisfy the invariants the decoder
// promises.
func FuzzReader(f *testing.F) {
	for _, seed := range []string{
		rowServed + "\r\n" + rowHang + "\r\n",
		rowMidnight + "\n" + rowWrapServe,
		row("priority", "7") + "\n" + row("date", "000229"),
		row("ser_exit", "47:59:59") + "\r\n\r\n\n",
		strings.Repeat("\t", 16) + "\n",
		strings.Repeat("z", MaxLineBytes+10) + "\n" + rowServed,
		"\r\r\n\x00\xff",
	} {
		f.Add([]byte(seed))
	}
	const maxClock = 60 * 3600 // 47:59:59 plus a day when unwrapped
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(io.MultiReader(strings.NewReader(header+"\r\n"), strings.NewReader(string(data))))
		// Each Read consumes at least one line, so this bound is generous.
		for range len(data) + 2 {
			c, err := r.Read()
			if err == io.EOF {
				return
			}
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Line < 2 || pe.Err == nil {
					t.Fatalf("error %v is not a *ParseError past the header", err)
				}
				continue
			}
			switch {
			case c.Priority < 0 || c.Priority > 2:
				t.Fatalf("priority %d", c.Priority)
			case c.CallID < 0 || c.QTime < 0 || c.SerTime < 0:
				t.Fatalf("negative id or duration: %+v", c)
			case c.Outcome != Agent && c.Outcome != Hang && c.Outcome != Phantom:
				t.Fatalf("outcome %q", c.Outcome)
			case c.VRULine == "" || c.Type == "" || c.Server == "" || c.CustomerID == "":
				t.Fatalf("empty name: %+v", c)
			case c.Date.Month < 1 || c.Date.Month > 12 || c.Date.Day < 1 || c.Date.Day > 31:
				t.Fatalf("date %+v", c.Date)
			}
			for _, x := range []int{c.VRUEntry, c.VRUExit, c.QStart, c.QExit, c.SerStart, c.SerExit, c.Arrival()} {
				if x < 0 || x > maxClock {
					t.Fatalf("clock time %d out of range: %+v", x, c)
				}
			}
			if c.VRUTime < -maxClock || c.VRUTime > maxClock {
				t.Fatalf("vru_time %d", c.VRUTime)
			}
			if !c.Queued() && (c.QStart != 0 || c.QExit != 0) {
				t.Fatalf("queue times without a queue segment: %+v", c)
			}
		}
		t.Fatal("reader did not reach EOF")
	})
}
