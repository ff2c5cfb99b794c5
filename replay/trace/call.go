// Package trace decodes the real call records of the "Anonymous Bank" call
// center (every call of February 1999, 33,344 rows) so that the simulator can
// replay real arrivals and be compared with the figures the bank recorded.
//
// Source: /work/shared/data/anonymous_bank_february_1999.tsv and its
// README.md. The data was collected by the Service Enterprise Engineering lab
// of the Technion (A. Mandelbaum and colleagues); the copy comes from the
// companion repository of T. W. Miller, "Modeling Techniques in Predictive
// Analytics", chapter 6. The file is tab-separated with CRLF line ends and one
// header line; see [Columns] for the columns.
//
// Times. Every clock time in a [Call] is in seconds since midnight of the
// call's Date, and every duration is in seconds. The file writes clock times
// as H:MM:SS and wraps them at midnight: a call that entered the IVR at
// 23:59:54 and was served at 0:00:26 says "0:00:26". The decoder unwraps such
// times (a time more than 12 hours before the call's IVR entry is taken to be
// on the next day and gets 86400 added), so times are monotone within a call
// apart from the recording quirks below. Hours of 24 or more are accepted too,
// up to [MaxClockHour], although the February 1999 file has none.
//
// Known quirks of the data, kept as recorded (the decoder does not "fix"
// them, so figures computed here match the source):
//
//   - 278 PHANTOM rows: ghost records with a queue and a service segment but
//     no agent (server NO_SERVER). They are not offered calls.
//   - 25 rows with a negative vru_time (vru_exit up to 192 s before
//     vru_entry); vru_time is exactly vru_exit - vru_entry.
//   - 85 AGENT rows with ser_time 0, 50 of them with no service segment at
//     all (ser_start 0:00:00); and 491 AGENT rows with server NO_SERVER.
//   - 1,941 HANG rows that never queued (q_start 0:00:00, q_time 0): the
//     caller hung up in the IVR or right after it; their queue patience is
//     not observed (see [Call.Patience]). 97 HANG rows that did queue also
//     carry a short service segment with server NO_SERVER.
//   - Queue and service clocks are one second apart: ser_start is usually
//     q_exit - 1 (or vru_exit - 1 for calls that never queued), so
//     ser_start < q_exit is normal; 68 rows even have ser_start < q_start.
//   - 1,157 services start more than a second before the same server's
//     previous service that day ended (89,183 overlapping seconds, about 2%
//     of all service time): agents evidently held or juggled calls.
//   - 22 rows have clock times after midnight, 4 of which also arrive after
//     it. Once those are unwrapped, vru_time, q_time and ser_time equal the
//     differences of their clock times on every row of the file.
//   - One call (AA0102 31056, 1999-02-15) joined the queue at exactly
//     midnight, so the file shows q_start 0:00:00 although q_exit and
//     q_time are set; the decoder reads its q_start as 24:00:00 (86400) and
//     Queued reports true.
//   - call_id is unique only per vru+line and date, not in the file: the
//     triple (VRULine, CallID, Date) identifies a row.
//   - 21 customer_id values were mangled by a spreadsheet into scientific
//     notation ("3.26702E+11"), which is why CustomerID is a string.
package trace

import (
	"fmt"
	"time"
)

// NoServer is the server value of calls that no agent handled.
const NoServer = "NO_SERVER"

// Outcome is how a call ended, as recorded in the outcome column.
type Outcome string

// The outcomes that occur in the data (README: AGENT served, HANG abandoned
// while waiting, PHANTOM a ghost record). The decoder rejects any other value.
const (
	// Agent: the call was answered (possibly by NO_SERVER, see the
	// package comment).
	Agent Outcome = "AGENT"
	// Hang: the caller hung up before being served.
	Hang Outcome = "HANG"
	// Phantom: a ghost record, not a real call.
	Phantom Outcome = "PHANTOM"
)

// Date is a civil date (no time zone), the date column of a record. The
// file's clock times are local Israeli time; Date does not pretend to know
// more than the day.
type Date struct {
	// Year is the full year, e.g. 1999 (the file writes two digits).
	Year int
	// Month is 1 (January) to 12.
	Month time.Month
	// Day is the day of the month, from 1.
	Day int
}

// String formats the date as YYYY-MM-DD.
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// Compare returns -1, 0 or +1 as d is before, equal to or after o.
func (d Date) Compare(o Date) int {
	switch {
	case d.Year != o.Year:
		return cmpInt(d.Year, o.Year)
	case d.Month != o.Month:
		return cmpInt(int(d.Month), int(o.Month))
	default:
		return cmpInt(d.Day, o.Day)
	}
}

// Weekday returns the day of the week; traffic differs sharply between
// weekdays and the Israeli weekend (Friday and Saturday).
func (d Date) Weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Call is one row of the trace, with typed fields. Clock times are seconds
// since midnight of Date (above 86400 for times after the next midnight) and
// 0 when the segment is absent (the file's 0:00:00 for a call that never
// queued or was never served); durations are seconds as recorded in the
// file, not recomputed from the clock times.
type Call struct {
	// VRULine is the IVR unit and line the call came in on (vru+line,
	// e.g. "AA0101").
	VRULine string
	// CallID is the call id, unique per VRULine and Date only.
	CallID int64
	// CustomerID is the customer id as written, "0" when the customer was
	// not identified. A string because some ids are in scientific notation.
	CustomerID string
	// Priority is 0 or 1 for regular customers and 2 for high priority,
	// who are served ahead of the others.
	Priority int
	// Type is the service type: PS regular activity, PE regular activity in
	// English, IN internet consulting, NE stock exchange, NW potential new
	// customer, TT technical support.
	Type string
	// Date is the day of the call.
	Date Date

	// VRUEntry and VRUExit are the clock times the call entered and left
	// the IVR; VRUTime is the recorded time in it (it can be negative).
	VRUEntry, VRUExit, VRUTime int
	// QStart and QExit are the clock times the call entered and left the
	// agent queue, QTime the recorded wait in seconds; all 0 when the call
	// never queued.
	QStart, QExit, QTime int
	// Outcome is how the call ended.
	Outcome Outcome
	// SerStart and SerExit are the clock times service started and ended,
	// SerTime the recorded service time in seconds; all 0 when there was no
	// service segment.
	SerStart, SerExit, SerTime int
	// Server is the agent who served the call, [NoServer] when none.
	Server string
}

// Queued reports whether the call entered the agent queue: q_start is not
// 0:00:00. A queue segment whose q_exit or q_time is set also counts, which
// covers a queue entry at exactly midnight (see the package comment).
func (c Call) Queued() bool {
	return c.QStart != 0 || c.QExit != 0 || c.QTime != 0
}

// HasService reports whether the record has a service segment (ser_start,
// ser_exit or ser_time set). AGENT rows without one exist, as do HANG and
// PHANTOM rows with one; an agent's real work is Outcome == Agent with a
// Server other than [NoServer].
func (c Call) HasService() bool {
	return c.SerStart != 0 || c.SerExit != 0 || c.SerTime != 0
}

// Arrival is the time, in seconds since midnight of Date, at which the call
// reached the routing system: q_start when it queued, else ser_start when it
// went straight to service (README). Calls with neither — HANG calls that
// never reached the queue and AGENT rows without a service segment — arrive
// at vru_exit, the moment they could have been routed, so that every call has
// an arrival and hour buckets lose none.
func (c Call) Arrival() int {
	switch {
	case c.Queued():
		return c.QStart
	case c.HasService():
		return c.SerStart
	}
	return c.VRUExit
}

// Patience returns the observed patience of an abandoning caller: the
// seconds it waited in the queue before hanging up (q_time). ok is false
// unless the call is a HANG that queued; for served calls patience is
// censored (at least their wait), and HANG calls that never queued left
// before the queue, so the data says nothing about their queue patience.
func (c Call) Patience() (seconds int, ok bool) {
	if c.Outcome != Hang || !c.Queued() {
		return 0, false
	}
	return c.QTime, true
}
