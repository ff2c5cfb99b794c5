package erlang

import (
	"errors"
	"math"
	"testing"
)

// relClose reports whether got is within rel of want (relative), or within
// rel absolutely when want is tiny.
func relClose(got, want, rel float64) bool {
	if got == want {
		return true
	}
	return math.Abs(got-want) <= rel*math.Max(math.Abs(want), 1e-300) || math.Abs(got-want) <= rel*1e-12
}

// factorialErlangC is the textbook formula
//
//	C = (a^n/n!)(n/(n-a)) / (sum_{k<n} a^k/k! + (a^n/n!)(n/(n-a)))
//
// evaluated directly; fine in float64 for small n, and independent of the
// Erlang B recursion used by C.
func factorialErlangC(n int, a float64) float64 {
	sum, term := 0.0, 1.0 // term = a^k/k!
	for k := 0; k < n; k++ {
		sum += term
		term *= a / float64(k+1)
	}
	top := term * float64(n) / (float64(n) - a)
	return top / (sum + top)
}

// logErlangC evaluates the same formula in log space with math.Lgamma, a
// second independent method that works for large n.
func logErlangC(n int, a float64) float64 {
	logTerm := func(k int) float64 {
		lg, _ := math.Lgamma(float64(k + 1))
		return float64(k)*math.Log(a) - lg
	}
	logTop := logTerm(n) + math.Log(float64(n)/(float64(n)-a))
	m := logTop
	for k := 0; k < n; k++ {
		m = math.Max(m, logTerm(k))
	}
	sum := 0.0
	for k := 0; k < n; k++ {
		sum += math.Exp(logTerm(k) - m)
	}
	top := math.Exp(logTop - m)
	return top / (sum + top)
}

func TestCTextbook(t *testing.T) {
	// 10 agents, 8 Erlangs: the classic table value P(wait) = 0.4092.
	const aht = 180.0 // seconds
	m, err := C(10, 8/aht, 1/aht)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(m.PWait-0.4092) > 5e-5 {
		t.Errorf("PWait = %.6f, want 0.4092", m.PWait)
	}
	if want := factorialErlangC(10, 8); !relClose(m.PWait, want, 1e-12) {
		t.Errorf("PWait = %.15g, factorial formula %.15g", m.PWait, want)
	}
	// ASA = C * AHT / (n - a) = 0.4092 * 180 / 2 = 36.83 s.
	if want := m.PWait * aht / 2; !relClose(m.ASA, want, 1e-12) || math.Abs(m.ASA-36.83) > 0.01 {
		t.Errorf("ASA = %.4f, want %.4f (about 36.83 s)", m.ASA, want)
	}
	if !relClose(m.Occupancy, 0.8, 1e-12) || !relClose(m.Load, 8, 1e-12) {
		t.Errorf("Occupancy %g Load %g, want 0.8 and 8", m.Occupancy, m.Load)
	}
	if !relClose(m.MeanQueue, m.Lambda*m.ASA, 1e-12) || m.MeanWait != m.ASA || m.PAbandon != 0 {
		t.Errorf("inconsistent: %+v", m)
	}
	// SL(20 s) = 1 - C*exp(-(n-a)*t/AHT).
	if want := 1 - m.PWait*math.Exp(-2*20/aht); !relClose(m.ServiceLevel(20), want, 1e-12) {
		t.Errorf("SL(20) = %g, want %g", m.ServiceLevel(20), want)
	}
}

func TestCMatchesFactorialFormula(t *testing.T) {
	for _, tc := range []struct {
		n int
		a float64
	}{{1, 0.5}, {2, 1}, {5, 4.5}, {10, 8}, {20, 15}, {30, 29.9}, {50, 10}} {
		m, err := C(tc.n, tc.a/60, 1.0/60)
		if err != nil {
			t.Fatal(err)
		}
		if want := factorialErlangC(tc.n, tc.a); !relClose(m.PWait, want, 1e-10) {
			t.Errorf("n=%d a=%g: PWait %.15g, factorial formula %.15g", tc.n, tc.a, m.PWait, want)
		}
	}
}

func TestCMM1(t *testing.T) {
	// M/M/1: P(wait) = rho, mean wait = rho/(mu-lambda).
	lambda, mu := 0.3, 0.5
	m, err := C(1, lambda, mu)
	if err != nil {
		t.Fatal(err)
	}
	if !relClose(m.PWait, 0.6, 1e-14) || !relClose(m.ASA, 0.6/(mu-lambda), 1e-14) {
		t.Errorf("M/M/1: %+v", m)
	}
}

func TestCLarge(t *testing.T) {
	// n = 2000 would overflow a^n/n! in float64 (a^n ~ 1e6600); the Erlang
	// B recursion must not care. Cross-check against the log-space formula.
	for _, a := range []float64{1500, 1950, 1999} {
		m, err := C(2000, a/300, 1.0/300)
		if err != nil {
			t.Fatal(err)
		}
		want := logErlangC(2000, a)
		if !relClose(m.PWait, want, 1e-9) {
			t.Errorf("a=%g: PWait %.15g, log-space formula %.15g", a, m.PWait, want)
		}
		for _, v := range []float64{m.PWait, m.ASA, m.ServiceLevel(20), m.Occupancy} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				t.Errorf("a=%g: bad value in %+v", a, m)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	for _, tc := range []struct {
		name              string
		n                 int
		lambda, mu, theta float64
		wantC, wantA      error
	}{
		{"zero servers", 0, 1, 1, 1, ErrServers, ErrServers},
		{"negative servers", -3, 1, 1, 1, ErrServers, ErrServers},
		{"zero lambda", 2, 0, 1, 1, ErrRate, ErrRate},
		{"negative mu", 2, 1, -1, 1, ErrRate, ErrRate},
		{"NaN lambda", 2, nan, 1, 1, ErrRate, ErrRate},
		{"Inf mu", 2, 1, inf, 1, ErrRate, ErrRate},
		{"zero theta", 2, 1, 1, 0, nil, ErrRate},
		{"NaN theta", 2, 1, 1, nan, nil, ErrRate},
		{"lambda = n mu", 2, 2, 1, 1, ErrUnstable, nil},
		{"lambda > n mu", 2, 3, 1, 1, ErrUnstable, nil},
		{"huge queue", 1, 2, 1, 1e-9, ErrUnstable, ErrStateSpace},
	} {
		if _, err := C(tc.n, tc.lambda, tc.mu); !errors.Is(err, tc.wantC) || (tc.wantC == nil) != (err == nil) {
			t.Errorf("%s: C error %v, want %v", tc.name, err, tc.wantC)
		}
		if _, err := A(tc.n, tc.lambda, tc.mu, tc.theta); !errors.Is(err, tc.wantA) || (tc.wantA == nil) != (err == nil) {
			t.Errorf("%s: A error %v, want %v", tc.name, err, tc.wantA)
		}
	}
}

func TestServiceLevelEdges(t *testing.T) {
	var zero Metrics
	if zero.ServiceLevel(20) != 0 {
		t.Error("zero Metrics should report 0")
	}
	c, _ := C(10, 8.0/180, 1.0/180)
	a, _ := A(10, 8.0/180, 1.0/180, 1.0/120)
	for _, m := range []Metrics{c, a} {
		if m.ServiceLevel(-1) != 0 || !math.IsNaN(m.ServiceLevel(math.NaN())) {
			t.Error("t<0 must give 0 and NaN must give NaN")
		}
		if !relClose(m.ServiceLevel(0), 1-m.PWait, 1e-12) {
			t.Errorf("SL(0) = %g, want 1-PWait = %g", m.ServiceLevel(0), 1-m.PWait)
		}
		if !relClose(m.ServiceLevel(math.Inf(1)), 1-m.PAbandon, 1e-12) {
			t.Errorf("SL(Inf) = %g, want 1-PAbandon = %g", m.ServiceLevel(math.Inf(1)), 1-m.PAbandon)
		}
	}
}
