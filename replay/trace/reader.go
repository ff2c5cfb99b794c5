package trace

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// Limits of the decoder. A record of the file is at most 117 bytes; the
// limits are far above that but keep a corrupt or hostile input from making
// the reader allocate without bound.
const (
	// MaxLineBytes is the longest line accepted, not counting its line end
	// (LF or CRLF). A longer line is skipped with an [ErrLineTooLong] error
	// and is never held in memory whole.
	MaxLineBytes = 4096
	// NumColumns is the number of columns of the file, see [Columns].
	NumColumns = 17
	// MaxFields is the largest number of tab-separated fields a line may
	// have; since every line must have exactly NumColumns, they are equal.
	MaxFields = NumColumns
	// MaxClockHour is the largest hour accepted in an H:MM:SS clock time.
	// Hours past 23 would mean "after the next midnight"; a call record
	// reaching beyond the day after its date is corrupt.
	MaxClockHour = 47
)

// maxInterned bounds the strings (VRU lines, types, servers) a Reader
// shares between rows. The file has 27 + 6 + 25; the bound only stops
// garbage input from growing the table.
const maxInterned = 1024

// columns are the header names, in order, as in the file and the README.
var columns = [NumColumns]string{
	"vru+line", "call_id", "customer_id", "priority", "type", "date",
	"vru_entry", "vru_exit", "vru_time", "q_start", "q_exit", "q_time",
	"outcome", "ser_start", "ser_exit", "ser_time", "server",
}

// Column indexes, in the order of columns.
const (
	colVRULine = iota
	colCallID
	colCustomerID
	colPriority
	colType
	colDate
	colVRUEntry
	colVRUExit
	colVRUTime
	colQStart
	colQExit
	colQTime
	colOutcome
	colSerStart
	colSerExit
	colSerTime
	colServer
)

// Columns returns the column names the header line must have, exactly and in
// this order (a fresh slice each call, so callers may keep or change it).
func Columns() []string {
	return append([]string(nil), columns[:]...)
}

// Errors wrapped in a [ParseError]. Compare with errors.Is.
var (
	// ErrHeader: the first line is not the expected header.
	ErrHeader = errors.New("header does not match the expected columns")
	// ErrLineTooLong: a line exceeds MaxLineBytes.
	ErrLineTooLong = errors.New("line too long")
	// ErrFieldCount: a line does not have exactly NumColumns fields.
	ErrFieldCount = errors.New("wrong number of fields")
	// ErrSyntax: a field is not in the form its column needs (an integer,
	// a YYMMDD date, an H:MM:SS time, a non-empty name).
	ErrSyntax = errors.New("invalid syntax")
	// ErrRange: a field is well-formed but out of range: priority not 0..2,
	// a negative id or queue/service time, a date that does not exist, an
	// hour above MaxClockHour, minutes or seconds above 59.
	ErrRange = errors.New("value out of range")
	// ErrOutcome: the outcome is not AGENT, HANG or PHANTOM.
	ErrOutcome = errors.New("unknown outcome")
)

// ParseError reports a line that could not be decoded.
type ParseError struct {
	// Line is the 1-based line number in the input; the header is line 1.
	Line int
	// Column is the name of the offending column (as in [Columns]), or ""
	// when the problem is the line as a whole (length, field count).
	Column string
	// Err is the cause: one of the Err* values of this package, wrapped with
	// the offending text; or an I/O error from the underlying reader.
	Err error
}

// Error formats the error as "trace: line N, column C: cause".
func (e *ParseError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("trace: line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("trace: line %d, column %s: %v", e.Line, e.Column, e.Err)
}

// Unwrap returns Err, so errors.Is(err, ErrRange) works.
func (e *ParseError) Unwrap() error { return e.Err }

// Reader decodes calls from the trace format. It accepts LF and CRLF line
// ends, skips empty lines and ignores a UTF-8 byte order mark before the
// header. It is not safe for concurrent use.
type Reader struct {
	br     *bufio.Reader
	line   int   // number of the last line read
	err    error // sticky: header and I/O errors end the stream
	header bool  // header line checked
	intern map[string]string
}

// NewReader returns a Reader that decodes from r. It buffers r itself.
func NewReader(r io.Reader) *Reader {
	return &Reader{
		// Room for a maximal line plus CRLF, so ReadSlice finds the line
		// end of every acceptable line within the buffer.
		br:     bufio.NewReaderSize(r, MaxLineBytes+2),
		intern: make(map[string]string),
	}
}

// Read returns the next call. At the end of the input it returns io.EOF.
//
// A malformed row gives a *ParseError naming its line and column, and the
// next Read continues with the following line, so a caller may skip bad
// rows. A bad header (checked on the first Read) and errors of the
// underlying reader are also returned as *ParseError, but they end the
// stream: every later Read returns the same error.
func (r *Reader) Read() (Call, error) {
	if r.err != nil {
		return Call{}, r.err
	}
	for {
		line, err := r.readLine()
		if err != nil {
			if err != io.EOF {
				err = &ParseError{Line: r.line, Err: err}
			}
			if r.header || err != io.EOF {
				r.err = err
				return Call{}, err
			}
			// EOF before any header: an empty input is not a trace.
			r.err = &ParseError{Line: r.line + 1, Err: fmt.Errorf("%w: input is empty", ErrHeader)}
			return Call{}, r.err
		}
		if line == nil { // the over-long line was consumed
			if !r.header {
				r.err = &ParseError{Line: r.line, Err: fmt.Errorf("%w: %w: more than %d bytes", ErrHeader, ErrLineTooLong, MaxLineBytes)}
				return Call{}, r.err
			}
			return Call{}, &ParseError{Line: r.line, Err: fmt.Errorf("%w: more than %d bytes", ErrLineTooLong, MaxLineBytes)}
		}
		if !r.header {
			r.header = true
			if err := r.checkHeader(bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))); err != nil {
				r.err = err
				return Call{}, err
			}
			continue
		}
		if len(line) == 0 {
			continue
		}
		return r.parse(line)
	}
}

// readLine returns the next line without its line end. It returns a nil
// slice (and no error) for a line longer than MaxLineBytes, after discarding
// it; io.EOF only when no bytes are left. The slice is valid until the next
// call.
func (r *Reader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		r.line++
		for err == bufio.ErrBufferFull {
			_, err = r.br.ReadSlice('\n')
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		return nil, nil
	}
	if err == io.EOF && len(line) == 0 {
		return nil, err
	}
	r.line++ // an I/O error is reported against the line being read
	if err != nil && err != io.EOF {
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) > MaxLineBytes {
		return nil, nil
	}
	return line, nil
}

// checkHeader validates the header line against columns.
func (r *Reader) checkHeader(line []byte) error {
	fail := func(format string, args ...any) error {
		return &ParseError{Line: r.line, Err: fmt.Errorf("%w: "+format, append([]any{ErrHeader}, args...)...)}
	}
	if n := bytes.Count(line, []byte("\t")) + 1; n != NumColumns {
		return fail("%d columns, want %d", n, NumColumns)
	}
	for i, want := range columns {
		name, rest, _ := bytes.Cut(line, []byte("\t"))
		if string(name) != want {
			return fail("column %d is %q, want %q", i+1, name, want)
		}
		line = rest
	}
	return nil
}

// ReadAll decodes every call of r. It stops at the first error, which it
// returns with the calls decoded before it; a clean end of input is not an
// error.
func ReadAll(r io.Reader) ([]Call, error) {
	// Collect fixed-size chunks and copy them once into an exact-size
	// slice: appending to one slice would copy the calls read so far on
	// every growth (a Call is about 200 bytes, the file 6 MiB of them).
	const chunkSize = 1024
	tr := NewReader(r)
	var chunks [][]Call
	cur := make([]Call, 0, chunkSize)
	var err error
	for {
		var c Call
		if c, err = tr.Read(); err != nil {
			break
		}
		if len(cur) == chunkSize {
			chunks = append(chunks, cur)
			cur = make([]Call, 0, chunkSize)
		}
		cur = append(cur, c)
	}
	chunks = append(chunks, cur)
	n := 0
	for _, ch := range chunks {
		n += len(ch)
	}
	calls := make([]Call, 0, n)
	for _, ch := range chunks {
		calls = append(calls, ch...)
	}
	if err == io.EOF {
		err = nil
	}
	return calls, err
}

// parse decodes one data line.
func (r *Reader) parse(line []byte) (Call, error) {
	if n := bytes.Count(line, []byte("\t")) + 1; n != NumColumns {
		return Call{}, &ParseError{Line: r.line, Err: fmt.Errorf("%w: %d fields, want %d", ErrFieldCount, n, NumColumns)}
	}
	var f [NumColumns][]byte
	for i := range f {
		f[i], line, _ = bytes.Cut(line, []byte("\t"))
	}
	col := -1
	fail := func(err error) (Call, error) {
		return Call{}, &ParseError{Line: r.line, Column: columns[col], Err: err}
	}
	var c Call
	var err error

	col = colVRULine
	if c.VRULine, err = r.name(f[col]); err != nil {
		return fail(err)
	}
	col = colCallID
	if c.CallID, err = parseInt(f[col], 0, 1<<62); err != nil {
		return fail(err)
	}
	col = colCustomerID
	if len(f[col]) == 0 {
		return fail(fmt.Errorf("%w: empty", ErrSyntax))
	}
	if string(f[col]) == "0" {
		c.CustomerID = "0" // most rows: no allocation
	} else {
		c.CustomerID = string(f[col])
	}
	col = colPriority
	p, err := parseInt(f[col], 0, 2)
	if err != nil {
		return fail(err)
	}
	c.Priority = int(p)
	col = colType
	if c.Type, err = r.name(f[col]); err != nil {
		return fail(err)
	}
	col = colDate
	if c.Date, err = parseDate(f[col]); err != nil {
		return fail(err)
	}

	// Raw clock times first: unwrapping needs vru_entry, and a segment's
	// presence needs all three of its fields.
	var clock [NumColumns]int
	for _, i := range [...]int{colVRUEntry, colVRUExit, colQStart, colQExit, colSerStart, colSerExit} {
		col = i
		if clock[i], err = parseClock(f[i]); err != nil {
			return fail(err)
		}
	}
	const maxDuration = (MaxClockHour + 1) * 3600
	col = colVRUTime
	v, err := parseInt(f[col], -maxDuration, maxDuration)
	if err != nil {
		return fail(err)
	}
	c.VRUTime = int(v)
	col = colQTime
	if v, err = parseInt(f[col], 0, maxDuration); err != nil {
		return fail(err)
	}
	c.QTime = int(v)
	col = colSerTime
	if v, err = parseInt(f[col], 0, maxDuration); err != nil {
		return fail(err)
	}
	c.SerTime = int(v)

	col = colOutcome
	switch o := Outcome(f[col]); o {
	case Agent, Hang, Phantom:
		c.Outcome = o
	default:
		return fail(fmt.Errorf("%w: %q", ErrOutcome, f[col]))
	}
	col = colServer
	if c.Server, err = r.name(f[col]); err != nil {
		return fail(err)
	}

	entry := clock[colVRUEntry]
	unwrap := func(t int) int {
		if t+12*3600 < entry {
			return t + 24*3600
		}
		return t
	}
	c.VRUEntry = entry
	c.VRUExit = unwrap(clock[colVRUExit])
	if clock[colQStart] != 0 || clock[colQExit] != 0 || c.QTime != 0 {
		c.QStart, c.QExit = unwrap(clock[colQStart]), unwrap(clock[colQExit])
	}
	if clock[colSerStart] != 0 || clock[colSerExit] != 0 || c.SerTime != 0 {
		c.SerStart, c.SerExit = unwrap(clock[colSerStart]), unwrap(clock[colSerExit])
	}
	return c, nil
}

// name returns b as a string, shared with earlier rows when possible so
// that 33,000 rows do not hold 33,000 copies of "NO_SERVER".
func (r *Reader) name(b []byte) (string, error) {
	if len(b) == 0 {
		return "", fmt.Errorf("%w: empty", ErrSyntax)
	}
	if s, ok := r.intern[string(b)]; ok {
		return s, nil
	}
	s := string(b)
	if len(r.intern) < maxInterned {
		r.intern[s] = s
	}
	return s, nil
}

// parseInt parses an optionally negative decimal integer in [lo, hi]. It
// works on the bytes directly and never overflows: at most 18 digits are
// accepted, far more than any column needs.
func parseInt(b []byte, lo, hi int64) (int64, error) {
	s := b
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 18 {
		return 0, fmt.Errorf("%w: %q is not an integer", ErrSyntax, b)
	}
	var n int64
	for _, ch := range s {
		if ch < '0' || ch > '9' {
			return 0, fmt.Errorf("%w: %q is not an integer", ErrSyntax, b)
		}
		n = n*10 + int64(ch-'0')
	}
	if neg {
		n = -n
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%w: %d not in [%d, %d]", ErrRange, n, lo, hi)
	}
	return n, nil
}

// parseClock parses H:MM:SS or HH:MM:SS into seconds.
func parseClock(b []byte) (int, error) {
	h, rest, ok1 := bytes.Cut(b, []byte(":"))
	m, s, ok2 := bytes.Cut(rest, []byte(":"))
	if !ok1 || !ok2 || len(h) < 1 || len(h) > 2 || len(m) != 2 || len(s) != 2 {
		return 0, fmt.Errorf("%w: %q is not H:MM:SS", ErrSyntax, b)
	}
	var v [3]int
	for i, part := range [3][]byte{h, m, s} {
		for _, ch := range part {
			if ch < '0' || ch > '9' {
				return 0, fmt.Errorf("%w: %q is not H:MM:SS", ErrSyntax, b)
			}
			v[i] = v[i]*10 + int(ch-'0')
		}
	}
	if v[0] > MaxClockHour || v[1] > 59 || v[2] > 59 {
		return 0, fmt.Errorf("%w: time %q", ErrRange, b)
	}
	return v[0]*3600 + v[1]*60 + v[2], nil
}

// parseDate parses YYMMDD. Two-digit years 70..99 are 19YY and 00..69 are
// 20YY; the February 1999 file only has 99.
func parseDate(b []byte) (Date, error) {
	if len(b) != 6 {
		return Date{}, fmt.Errorf("%w: %q is not YYMMDD", ErrSyntax, b)
	}
	var v [3]int
	for i := range v {
		for _, ch := range b[2*i : 2*i+2] {
			if ch < '0' || ch > '9' {
				return Date{}, fmt.Errorf("%w: %q is not YYMMDD", ErrSyntax, b)
			}
			v[i] = v[i]*10 + int(ch-'0')
		}
	}
	year := 1900 + v[0]
	if v[0] < 70 {
		year = 2000 + v[0]
	}
	d := Date{Year: year, Month: time.Month(v[1]), Day: v[2]}
	// time.Date normalises 31 February to March; a real date survives.
	t := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
	if v[1] < 1 || v[1] > 12 || t.Day() != d.Day || t.Month() != d.Month {
		return Date{}, fmt.Errorf("%w: no such date %q", ErrRange, b)
	}
	return d, nil
}

// MaxSkippedKept bounds how many skipped rows [ReadTolerant] keeps with
// their line numbers; rows beyond it are still counted (Skipped.Count), so
// a file of garbage cannot make the report grow without bound.
const MaxSkippedKept = 1000

// BadRow is one malformed row left out by [ReadTolerant].
type BadRow struct {
	// Line is the 1-based line number in the input (the header is line 1).
	Line int `json:"line"`
	// Column is the offending column, "" when the line as a whole is wrong
	// (field count, length).
	Column string `json:"column,omitempty"`
	// Reason is the decoder's message, e.g. "wrong number of fields: 15
	// fields, want 17".
	Reason string `json:"reason"`
}

// Skipped is what [ReadTolerant] left out of a trace.
type Skipped struct {
	// Count is the number of malformed rows skipped.
	Count int `json:"count"`
	// Rows are the first MaxSkippedKept of them, in input order.
	Rows []BadRow `json:"rows,omitempty"`
}

// ReadTolerant decodes every well-formed call of r and skips malformed rows,
// counting each with its line number (a real month of the same bank has rows
// whose tab is spaces: one such row must not lose the month). With strict it
// behaves like [ReadAll] and returns the first malformed row's *ParseError.
// A bad header and I/O errors end the read in both modes: they return the
// calls read so far, what was skipped, and the error.
func ReadTolerant(r io.Reader, strict bool) ([]Call, Skipped, error) {
	var sk Skipped
	if strict {
		calls, err := ReadAll(r)
		return calls, sk, err
	}
	tr := NewReader(r)
	var calls []Call
	for {
		c, err := tr.Read()
		if err == io.EOF {
			return calls, sk, nil
		}
		if err != nil {
			var pe *ParseError
			if tr.err != nil || !errors.As(err, &pe) {
				return calls, sk, err // sticky: header or I/O
			}
			sk.Count++
			if len(sk.Rows) < MaxSkippedKept {
				sk.Rows = append(sk.Rows, BadRow{Line: pe.Line, Column: pe.Column, Reason: pe.Err.Error()})
			}
			continue
		}
		calls = append(calls, c)
	}
}
