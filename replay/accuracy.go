package replay

import "math"

// The acceptance figures of a faithful replay (issue 16), over the hours of
// every day with at least MinHourCalls recorded offered calls, each hour
// weighted by its calls: mean absolute errors of ASA, abandon rate and
// service level against the records, and the month's ASA within a relative
// error.
const (
	MinHourCalls         = 30
	GoalASAErrorSeconds  = 12.0
	GoalAbandonRateError = 0.02
	GoalServiceLvlError  = 0.07
	GoalMonthASARelError = 0.10
)

// Accuracy compares a replayed month with its records hour by hour.
type Accuracy struct {
	// Hours and Calls are the day-hours compared (those with at least
	// MinHourCalls recorded offered calls) and their recorded calls.
	Hours int `json:"hours"`
	Calls int `json:"calls"`
	// ASAErrorSeconds, AbandonRateError and ServiceLevelError are the
	// call-weighted mean absolute differences replay - recorded of ASA
	// (seconds), abandon rate (abandoned / offered, IVR hang-ups
	// included on both sides) and service level (answered within 20 s /
	// offered).
	ASAErrorSeconds   float64 `json:"asa_error_seconds"`
	AbandonRateError  float64 `json:"abandon_rate_error"`
	ServiceLevelError float64 `json:"service_level_error"`
	// MonthASARelError is (replay ASA - recorded ASA) / recorded ASA for
	// the whole month; negative when the replay answers faster.
	MonthASARelError float64 `json:"month_asa_relative_error"`
	// Met is true when all four are within their goals.
	Met bool `json:"met"`
}

// AccuracyOf computes the accuracy of a replayed month.
func AccuracyOf(m *MonthReport) Accuracy {
	var a Accuracy
	var asa, ab, sl float64
	for _, d := range m.Days {
		for _, h := range d.Hours {
			r := h.Recorded
			if r.Offered < MinHourCalls {
				continue
			}
			w := float64(r.Offered)
			a.Hours++
			a.Calls += r.Offered
			asa += w * math.Abs(h.ASASeconds-r.ASASeconds)
			ab += w * math.Abs(h.AbandonRate-r.AbandonRate)
			sl += w * math.Abs(h.ServiceLevel-r.ServiceLevel)
		}
	}
	if a.Calls > 0 {
		n := float64(a.Calls)
		a.ASAErrorSeconds, a.AbandonRateError, a.ServiceLevelError = asa/n, ab/n, sl/n
	}
	if r := m.Month.Recorded.ASASeconds; r > 0 {
		a.MonthASARelError = (m.Month.ASASeconds - r) / r
	}
	a.Met = a.Hours > 0 && a.ASAErrorSeconds < GoalASAErrorSeconds && a.AbandonRateError < GoalAbandonRateError &&
		a.ServiceLevelError < GoalServiceLvlError && math.Abs(a.MonthASARelError) < GoalMonthASARelError
	return a
}
