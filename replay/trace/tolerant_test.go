package trace

import (
	"errors"
	"strings"
	"testing"
)

// A row whose tab between two columns became spaces (the October 1999 month
// of the same bank has such rows) is skipped with its line number; the rows
// around it are kept. Strict mode fails on it.
func TestReadTolerantSkipsMalformedRows(t *testing.T) {
	spaced := strings.Replace(rowHang, "\t", "    ", 1)
	input := header + "\r\n" + rowServed + "\r\n" + spaced + "\r\n" + rowHang + "\r\n" + row("priority", "9") + "\r\n" + rowServed + "\r\n"
	calls, sk, err := ReadTolerant(strings.NewReader(input), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 3 {
		t.Fatalf("%d calls, want 3", len(calls))
	}
	if sk.Count != 2 || len(sk.Rows) != 2 {
		t.Fatalf("skipped %+v, want 2 rows", sk)
	}
	if r := sk.Rows[0]; r.Line != 3 || r.Column != "" || !strings.Contains(r.Reason, "wrong number of fields") {
		t.Errorf("first skipped row %+v, want line 3, wrong number of fields", r)
	}
	if r := sk.Rows[1]; r.Line != 5 || r.Column != "priority" {
		t.Errorf("second skipped row %+v, want line 5, column priority", r)
	}

	calls, _, err = ReadTolerant(strings.NewReader(input), true)
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 3 || !errors.Is(err, ErrFieldCount) {
		t.Fatalf("strict: %v, want line 3 wrong number of fields", err)
	}
	if len(calls) != 1 {
		t.Errorf("strict: %d calls before the error, want 1", len(calls))
	}
}

// A bad header is not a row: it ends the read in both modes.
func TestReadTolerantBadHeader(t *testing.T) {
	for _, strict := range []bool{false, true} {
		_, _, err := ReadTolerant(strings.NewReader("a\tb\n"+rowServed+"\n"), strict)
		if !errors.Is(err, ErrHeader) {
			t.Errorf("strict=%v: %v, want ErrHeader", strict, err)
		}
	}
}

// Only MaxSkippedKept rows are kept; all are counted.
func TestReadTolerantBound(t *testing.T) {
	var b strings.Builder
	b.WriteString(header + "\n")
	for range MaxSkippedKept + 5 {
		b.WriteString("garbage\n")
	}
	b.WriteString(rowServed + "\n")
	calls, sk, err := ReadTolerant(strings.NewReader(b.String()), false)
	if err != nil || len(calls) != 1 || sk.Count != MaxSkippedKept+5 || len(sk.Rows) != MaxSkippedKept {
		t.Fatalf("err %v, %d calls, count %d, kept %d", err, len(calls), sk.Count, len(sk.Rows))
	}
}
