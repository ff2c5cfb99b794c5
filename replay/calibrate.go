package replay

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/omniroute/omniroute/replay/trace"
)

// Calibration steps and bounds: the search moves Gap by GapStep within
// [GapStep, MaxCalibrationGap] and Allowance by AllowanceStep within
// [0, MaxCalibrationAllowance].
const (
	GapStep                 = time.Minute
	AllowanceStep           = 5 * time.Second
	MaxCalibrationGap       = 30 * time.Minute
	MaxCalibrationAllowance = 2 * time.Minute
)

// Trial is one evaluated parameter pair of a calibration.
type Trial struct {
	Gap       time.Duration `json:"gap_seconds"`
	Allowance time.Duration `json:"allowance_seconds"`
	Accuracy  Accuracy      `json:"accuracy"`
	// Score is the largest of the four errors as a fraction of its goal
	// (below 1: every goal met); the calibration minimises it.
	Score float64 `json:"score"`
}

// Calibration is the outcome of Calibrate.
type Calibration struct {
	// Best is the trial with the lowest score; Trials all of them in the
	// order they ran.
	Best   Trial   `json:"best"`
	Trials []Trial `json:"trials"`
}

// Score returns the largest of a's errors as a fraction of its goal.
func Score(a Accuracy) float64 {
	return max(a.ASAErrorSeconds/GoalASAErrorSeconds, a.AbandonRateError/GoalAbandonRateError,
		a.ServiceLevelError/GoalServiceLvlError, math.Abs(a.MonthASARelError)/GoalMonthASARelError)
}

// Calibrate fits the faithful model's two parameters, Gap and Allowance, on
// one trace: a coordinate search from start's values over the grid of
// GapStep and AllowanceStep, moving to the best neighbour (one step in one
// parameter) while it lowers Score, each point a full replay of the trace.
// The other fields of start (skills, seed, replications) are kept. progress,
// when set, is called after each trial. Errors: those of NewBank and the
// replay.
func Calibrate(calls []trace.Call, start Model, opt BankOptions, progress func(Trial)) (*Calibration, error) {
	if err := start.validate(); err != nil {
		return nil, err
	}
	round := func(d, step time.Duration) time.Duration { return (d + step/2) / step * step }
	start.Gap = min(max(round(start.Gap, GapStep), GapStep), MaxCalibrationGap)
	start.Allowance = min(round(start.Allowance, AllowanceStep), MaxCalibrationAllowance)
	cal := &Calibration{}
	seen := map[[2]time.Duration]Trial{}
	eval := func(gap, allow time.Duration) (Trial, error) {
		if t, ok := seen[[2]time.Duration{gap, allow}]; ok {
			return t, nil
		}
		m := start
		m.Gap, m.Allowance = gap, allow
		o := opt
		o.Model = &m
		b, err := NewBank(calls, o)
		if err != nil {
			return Trial{}, err
		}
		rep, err := b.ReportMonth()
		if err != nil {
			return Trial{}, err
		}
		t := Trial{Gap: gap, Allowance: allow, Accuracy: rep.Accuracy, Score: Score(rep.Accuracy)}
		seen[[2]time.Duration{gap, allow}] = t
		cal.Trials = append(cal.Trials, t)
		if progress != nil {
			progress(t)
		}
		return t, nil
	}
	best, err := eval(start.Gap, start.Allowance)
	if err != nil {
		return nil, err
	}
	for {
		improved := false
		for _, d := range [][2]time.Duration{{-GapStep, 0}, {GapStep, 0}, {0, -AllowanceStep}, {0, AllowanceStep}} {
			g, a := best.Gap+d[0], best.Allowance+d[1]
			if g < GapStep || g > MaxCalibrationGap || a < 0 || a > MaxCalibrationAllowance {
				continue
			}
			t, err := eval(g, a)
			if err != nil {
				return nil, err
			}
			if t.Score < best.Score {
				best, improved = t, true
			}
		}
		if !improved {
			break
		}
	}
	cal.Best = best
	return cal, nil
}

// String formats a trial on one line.
func (t Trial) String() string {
	a := t.Accuracy
	return fmt.Sprintf("gap %v allowance %v: ASA error %.1f s, abandon-rate error %.4f, service-level error %.4f, month ASA %+.1f%%, score %.3f",
		t.Gap, t.Allowance, a.ASAErrorSeconds, a.AbandonRateError, a.ServiceLevelError, 100*a.MonthASARelError, t.Score)
}

// MarshalJSON writes the durations as seconds.
func (t Trial) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Gap       float64  `json:"gap_seconds"`
		Allowance float64  `json:"allowance_seconds"`
		Accuracy  Accuracy `json:"accuracy"`
		Score     float64  `json:"score"`
	}{t.Gap.Seconds(), t.Allowance.Seconds(), t.Accuracy, t.Score})
}
