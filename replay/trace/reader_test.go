package trace

import (
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

const header = "vru+line\tcall_id\tcustomer_id\tpriority\ttype\tdate\tvru_entry\tvru_exit\tvru_time\tq_start\tq_exit\tq_time\toutcome\tser_start\tser_exit\tser_time\tserver"

// Rows copied from the real file.
const (
	rowServed    = "AA0101\t34536\t0\t0\tPS\t990201\t7:02:47\t7:02:56\t9\t0:00:00\t0:00:00\t0\tAGENT\t7:02:55\t7:05:41\t166\tDORIT"
	rowHang      = "AA0101\t34539\t23317894\t2\tPS\t990201\t8:09:16\t8:09:22\t6\t8:09:22\t8:09:27\t5\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER"
	rowMidnight  = "AA0102\t31056\t15696776\t2\tPS\t990215\t23:59:54\t23:59:54\t0\t0:00:00\t0:00:27\t27\tAGENT\t0:00:26\t0:01:33\t67\tAVNI"
	rowWrapServe = "AA0104\t22869\t24309866\t2\tPS\t990208\t23:51:29\t23:51:34\t5\t23:51:34\t23:52:21\t47\tAGENT\t23:52:20\t0:00:55\t515\tAVNI"
)

// row builds a data line from rowServed with one column replaced.
func row(column, value string) string {
	f := strings.Split(rowServed, "\t")
	for i, name := range columns {
		if name == column {
			f[i] = value
		}
	}
	return strings.Join(f, "\t")
}

func readAllString(t *testing.T, s string) ([]Call, error) {
	t.Helper()
	return ReadAll(strings.NewReader(s))
}

func TestLineEnds(t *testing.T) {
	for name, input := range map[string]string{
		"CRLF":               header + "\r\n" + rowServed + "\r\n" + rowHang + "\r\n",
		"LF":                 header + "\n" + rowServed + "\n" + rowHang + "\n",
		"no final newline":   header + "\r\n" + rowServed + "\r\n" + rowHang,
		"blank lines":        header + "\r\n\r\n" + rowServed + "\n\n" + rowHang + "\r\n\r\n",
		"byte order mark":    "\xef\xbb\xbf" + header + "\r\n" + rowServed + "\r\n" + rowHang + "\r\n",
		"mixed line endings": header + "\n" + rowServed + "\r\n" + rowHang + "\n",
	} {
		calls, err := readAllString(t, input)
		if err != nil || len(calls) != 2 || calls[0].CallID != 34536 || calls[1].CallID != 34539 || calls[1].Server != NoServer {
			t.Errorf("%s: %v %+v", name, err, calls)
		}
	}
}

func TestMidnightWrap(t *testing.T) {
	calls, err := readAllString(t, header+"\n"+rowMidnight+"\n"+rowWrapServe+"\n")
	if err != nil {
		t.Fatal(err)
	}
	m := calls[0]
	if m.VRUEntry != 86394 || m.QStart != 86400 || m.QExit != 86427 || m.SerStart != 86426 || m.SerExit != 86493 || !m.Queued() || m.Arrival() != 86400 {
		t.Errorf("midnight queue entry: %+v", m)
	}
	w := calls[1]
	if w.QStart != 23*3600+51*60+34 || w.SerStart != 23*3600+52*60+20 || w.SerExit != 86400+55 || w.SerExit-w.SerStart != w.SerTime {
		t.Errorf("service across midnight: %+v", w)
	}
	// Hours past 23 are taken as written.
	calls, err = readAllString(t, header+"\n"+row("ser_exit", "24:00:10")+"\n")
	if err != nil || calls[0].SerExit != 86410 {
		t.Errorf("hour 24: %v %+v", err, calls)
	}
}

func TestCallMethods(t *testing.T) {
	calls, err := readAllString(t, header+"\n"+rowServed+"\n"+rowHang+"\n"+
		"AA0101\t34585\t0\t0\tPS\t990201\t17:16:03\t17:17:16\t73\t0:00:00\t0:00:00\t0\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER\n"+
		"AA0101\t35183\t0\t0\tNW\t990210\t15:14:51\t15:15:09\t18\t0:00:00\t0:00:00\t0\tAGENT\t0:00:00\t0:00:00\t0\tMICHAL\n")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := calls[0].Patience(); ok {
		t.Error("served call has no patience")
	}
	if p, ok := calls[1].Patience(); !ok || p != 5 {
		t.Errorf("HANG patience %d %v, want 5", p, ok)
	}
	// HANG in the IVR: no queue patience, arrives at vru_exit.
	if _, ok := calls[2].Patience(); ok || calls[2].Queued() || calls[2].Arrival() != 17*3600+17*60+16 {
		t.Errorf("HANG that never queued: %+v", calls[2])
	}
	// AGENT row without any service segment arrives at vru_exit.
	if c := calls[3]; c.HasService() || c.Queued() || c.Arrival() != 15*3600+15*60+9 {
		t.Errorf("AGENT without service: %+v arrival %d", c, c.Arrival())
	}
}

func TestHeaderErrors(t *testing.T) {
	for name, input := range map[string]string{
		"empty":          "",
		"only newline":   "\r\n",
		"renamed column": strings.Replace(header, "q_time", "qtime", 1) + "\n" + rowServed + "\n",
		"missing column": strings.Replace(header, "\tserver", "", 1) + "\n" + rowServed + "\n",
		"extra column":   header + "\textra\n" + rowServed + "\n",
		"swapped":        strings.Replace(header, "q_start\tq_exit", "q_exit\tq_start", 1) + "\n",
		"data first":     rowServed + "\n",
		"huge header":    strings.Repeat("x", 3*MaxLineBytes) + "\n" + rowServed + "\n",
	} {
		r := NewReader(strings.NewReader(input))
		_, err := r.Read()
		var pe *ParseError
		if !errors.Is(err, ErrHeader) || !errors.As(err, &pe) || pe.Line != 1 {
			t.Errorf("%s: error %v, want ErrHeader on line 1", name, err)
		}
		if _, err2 := r.Read(); err2 != err {
			t.Errorf("%s: header error not sticky: %v", name, err2)
		}
	}
}

func TestRowErrors(t *testing.T) {
	for _, tc := range []struct {
		line   string
		column string
		want   error
	}{
		{rowServed + "\textra", "", ErrFieldCount},
		{strings.Replace(rowServed, "\tDORIT", "", 1), "", ErrFieldCount},
		{row("call_id", "x1"), "call_id", ErrSyntax},
		{row("call_id", "-5"), "call_id", ErrRange},
		{row("call_id", "99999999999999999999999"), "call_id", ErrSyntax},
		{row("customer_id", ""), "customer_id", ErrSyntax},
		{row("priority", "3"), "priority", ErrRange},
		{row("priority", ""), "priority", ErrSyntax},
		{row("type", ""), "type", ErrSyntax},
		{row("date", "990230"), "date", ErrRange},
		{row("date", "991301"), "date", ErrRange},
		{row("date", "99021"), "date", ErrSyntax},
		{row("vru_entry", "7:2:47"), "vru_entry", ErrSyntax},
		{row("vru_entry", "7:60:00"), "vru_entry", ErrRange},
		{row("q_exit", "48:00:00"), "q_exit", ErrRange},
		{row("ser_start", "7:02:5x"), "ser_start", ErrSyntax},
		{row("ser_exit", "1:07:02:55"), "ser_exit", ErrSyntax},
		{row("q_time", "-1"), "q_time", ErrRange},
		{row("ser_time", "1.5"), "ser_time", ErrSyntax},
		{row("vru_time", "-999999"), "vru_time", ErrRange},
		{row("outcome", "AGENTS"), "outcome", ErrOutcome},
		{row("outcome", "agent"), "outcome", ErrOutcome},
		{row("server", ""), "server", ErrSyntax},
	} {
		// The bad row sits between two good ones: reading must go on.
		r := NewReader(strings.NewReader(header + "\r\n" + rowHang + "\r\n" + tc.line + "\r\n" + rowServed + "\r\n"))
		if _, err := r.Read(); err != nil {
			t.Fatal(err)
		}
		_, err := r.Read()
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Line != 3 || pe.Column != tc.column || !errors.Is(err, tc.want) {
			t.Errorf("%q: error %v, want line 3 column %q %v", tc.line, err, tc.column, tc.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), "trace: line 3") {
			t.Errorf("message %q", err)
		}
		if c, err := r.Read(); err != nil || c.CallID != 34536 {
			t.Errorf("%q: row after the error: %v %+v", tc.line, err, c)
		}
		if _, err := r.Read(); err != io.EOF {
			t.Errorf("%q: want EOF, got %v", tc.line, err)
		}
	}
}

// endless yields n bytes of 'x' without holding them.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), e.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	e.n -= k
	return int(k), nil
}

func TestLongLine(t *testing.T) {
	// A 64 MiB line must be rejected without being held in memory.
	const size = 64 << 20
	input := io.MultiReader(
		strings.NewReader(header+"\r\n"+rowHang+"\r\n"),
		&endless{size},
		strings.NewReader("\r\n"+rowServed+"\r\n"),
	)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := NewReader(input)
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	_, err := r.Read()
	var pe *ParseError
	if !errors.Is(err, ErrLineTooLong) || !errors.As(err, &pe) || pe.Line != 3 {
		t.Fatalf("error %v, want ErrLineTooLong on line 3", err)
	}
	if c, err := r.Read(); err != nil || c.CallID != 34536 {
		t.Fatalf("row after the long line: %v %+v", err, c)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("allocated %d bytes for a %d-byte line", grew, size)
	}
	// Exactly MaxLineBytes is accepted as a line (then fails as a row);
	// one more byte is too long.
	for n, want := range map[int]error{MaxLineBytes: ErrFieldCount, MaxLineBytes + 1: ErrLineTooLong} {
		_, err := readAllString(t, header+"\r\n"+strings.Repeat("y", n)+"\r\n")
		if !errors.Is(err, want) {
			t.Errorf("%d-byte line: %v, want %v", n, err, want)
		}
	}
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

func TestIOErrorSticky(t *testing.T) {
	boom := errors.New("disk on fire")
	r := NewReader(io.MultiReader(strings.NewReader(header+"\n"+rowServed+"\n"), failingReader{boom}))
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	_, err := r.Read()
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the I/O error", err)
	}
	if _, err2 := r.Read(); !errors.Is(err2, boom) {
		t.Errorf("I/O error not sticky: %v", err2)
	}
	calls, err := ReadAll(io.MultiReader(strings.NewReader(header+"\n"+rowServed+"\n"), failingReader{boom}))
	if len(calls) != 1 || !errors.Is(err, boom) {
		t.Errorf("ReadAll: %d calls, %v", len(calls), err)
	}
}

func TestColumns(t *testing.T) {
	c := Columns()
	if strings.Join(c, "\t") != header || len(c) != NumColumns {
		t.Errorf("Columns() = %q", c)
	}
	c[0] = "changed"
	if Columns()[0] != "vru+line" {
		t.Error("Columns returned shared storage")
	}
}
