package erlang

import (
	"math"
	"testing"
)

// TestAMatchesCWhenPatient: with almost infinite patience Erlang A is Erlang
// C. The two are different models, though, and the gap is first order in
// theta: a caller's chance to abandon grows with its wait, so the mean wait
// moves by about theta*E[W^2]-ish, which for a = 95 on n = 100 with 300 s
// handle times is 2.9e-6 relative at theta = 1e-9/s (mean patience 30 years).
// So the test demands agreement within 1e-6 at theta = 1e-12, and at 1e-9 and
// 1e-10 checks that the gap is exactly linear in theta (ratio 10), which a
// numerical error would not be.
func TestAMatchesCWhenPatient(t *testing.T) {
	for _, tc := range []struct {
		n      int
		a, aht float64
	}{{1, 0.7, 60}, {10, 8, 180}, {25, 22, 240}, {100, 95, 300}, {2000, 1950, 300}} {
		c, err := C(tc.n, tc.a/tc.aht, 1/tc.aht)
		if err != nil {
			t.Fatal(err)
		}
		metrics := func(m Metrics) []float64 {
			return []float64{m.PWait, m.ASA, m.MeanWait, m.MeanQueue, m.Occupancy,
				m.ServiceLevel(1), m.ServiceLevel(20), m.ServiceLevel(60), m.ServiceLevel(300)}
		}
		names := []string{"PWait", "ASA", "MeanWait", "MeanQueue", "Occupancy", "SL(1)", "SL(20)", "SL(60)", "SL(300)"}
		want := metrics(c)
		gaps := map[float64][]float64{}
		for _, theta := range []float64{1e-9, 1e-10, 1e-12} {
			a, err := A(tc.n, tc.a/tc.aht, 1/tc.aht, theta)
			if err != nil {
				t.Fatal(err)
			}
			if a.PAbandon > 1e-6 {
				t.Errorf("n=%d theta=%g: PAbandon %g, want ~0", tc.n, theta, a.PAbandon)
			}
			for i, got := range metrics(a) {
				gaps[theta] = append(gaps[theta], got-want[i])
				if theta == 1e-12 && !relClose(got, want[i], 1e-6) {
					t.Errorf("n=%d a=%g theta=%g %s: A %.12g, C %.12g", tc.n, tc.a, theta, names[i], got, want[i])
				}
			}
		}
		for i := range names {
			g9, g10 := gaps[1e-9][i], gaps[1e-10][i]
			if math.Abs(g9) < 1e-13*math.Abs(want[i]) {
				continue // no measurable gap (e.g. SL at t where it is flat)
			}
			if r := g9 / g10; math.Abs(r-10) > 0.1 {
				t.Errorf("n=%d a=%g %s: gap at theta 1e-9 / gap at 1e-10 = %g, want 10 (linear)", tc.n, tc.a, names[i], r)
			}
		}
	}
}

// TestAThetaEqualsMu: when patience and service rates are equal, every caller
// in the system leaves at rate mu whether waiting or served, so the number in
// system is the M/M/infinity Poisson(a) distribution. That gives P(wait) and
// the queue length independently of the chain solver.
func TestAThetaEqualsMu(t *testing.T) {
	for _, tc := range []struct {
		n int
		a float64
	}{{1, 0.5}, {5, 4}, {20, 30}, {300, 280}} {
		mu := 1.0 / 200
		m, err := A(tc.n, tc.a*mu, mu, mu)
		if err != nil {
			t.Fatal(err)
		}
		var pWait, meanQueue float64
		for k := 0; k < 5000; k++ {
			lg, _ := math.Lgamma(float64(k + 1))
			p := math.Exp(-tc.a + float64(k)*math.Log(tc.a) - lg)
			if k >= tc.n {
				pWait += p
				meanQueue += float64(k-tc.n) * p
			}
		}
		if !relClose(m.PWait, pWait, 1e-10) || !relClose(m.MeanQueue, meanQueue, 1e-9) {
			t.Errorf("n=%d a=%g: PWait %.12g MeanQueue %.12g, Poisson gives %.12g %.12g",
				tc.n, tc.a, m.PWait, m.MeanQueue, pWait, meanQueue)
		}
		// Carried load: mean number in service = a - E[queue].
		if want := (tc.a - meanQueue) / float64(tc.n); !relClose(m.Occupancy, want, 1e-9) {
			t.Errorf("n=%d a=%g: Occupancy %g, want %g", tc.n, tc.a, m.Occupancy, want)
		}
	}
}

// stationary solves the birth-death chain the plain way (products of
// ratios, then normalise) for small systems.
func stationary(n int, lambda, mu, theta float64, states int) []float64 {
	pi := make([]float64, states)
	pi[0] = 1
	sum := 1.0
	for k := 1; k < states; k++ {
		d := float64(min(k, n))*mu + float64(max(k-n, 0))*theta
		pi[k] = pi[k-1] * lambda / d
		sum += pi[k]
	}
	for k := range pi {
		pi[k] /= sum
	}
	return pi
}

// TestAAgainstODE checks the exact service-level formula against a direct
// numerical solution: the forward Kolmogorov equations of a tagged arrival's
// position in the queue, integrated with RK4 from the PASTA mixture of
// starting positions. Position i (i callers ahead) is left at rate
// n*mu + i*theta towards i-1 (or towards "served" from i = 0) and at rate
// theta towards "abandoned".
func TestAAgainstODE(t *testing.T) {
	for _, tc := range []struct {
		n                 int
		lambda, mu, theta float64
	}{
		{3, 2.5 / 60, 1.0 / 60, 1.0 / 30}, // moderate load, impatient
		{5, 6.0 / 100, 1.0 / 100, 1.0 / 200},
		{2, 3.0 / 50, 1.0 / 50, 1.0 / 20}, // overloaded, a = 3 > n = 2
	} {
		m, err := A(tc.n, tc.lambda, tc.mu, tc.theta)
		if err != nil {
			t.Fatal(err)
		}
		const states = 400
		pi := stationary(tc.n, tc.lambda, tc.mu, tc.theta, states)
		nmu := float64(tc.n) * tc.mu
		// x[i] = P(tagged caller still waiting with i ahead); x[J] = served.
		J := states - tc.n
		x := make([]float64, J+1)
		served := 0.0
		for k := 0; k < tc.n; k++ {
			served += pi[k]
		}
		copy(x, pi[tc.n:])
		deriv := func(x, dx []float64) {
			for i := 0; i < J; i++ {
				dx[i] = -(nmu + float64(i+1)*tc.theta) * x[i]
				if i+1 < J {
					dx[i] += (nmu + float64(i+1)*tc.theta) * x[i+1]
				}
			}
			dx[J] = nmu * x[0]
		}
		x[J] = served
		k1, k2, k3, k4, tmp := make([]float64, J+1), make([]float64, J+1), make([]float64, J+1), make([]float64, J+1), make([]float64, J+1)
		const dt = 0.01
		now := 0.0
		for _, horizon := range []float64{5, 20, 60, 180} {
			for ; now < horizon-dt/2; now += dt {
				deriv(x, k1)
				for i := range x {
					tmp[i] = x[i] + dt/2*k1[i]
				}
				deriv(tmp, k2)
				for i := range x {
					tmp[i] = x[i] + dt/2*k2[i]
				}
				deriv(tmp, k3)
				for i := range x {
					tmp[i] = x[i] + dt*k3[i]
				}
				deriv(tmp, k4)
				for i := range x {
					x[i] += dt / 6 * (k1[i] + 2*k2[i] + 2*k3[i] + k4[i])
				}
			}
			if got := m.ServiceLevel(horizon); !relClose(got, x[J], 1e-8) {
				t.Errorf("%+v t=%g: ServiceLevel %.12g, ODE %.12g", tc, horizon, got, x[J])
			}
		}
	}
}

// TestAConsistency checks identities that hold for any Erlang A system but
// are not how A computes its figures.
func TestAConsistency(t *testing.T) {
	for _, tc := range []struct {
		n                 int
		lambda, mu, theta float64
	}{
		{10, 8.0 / 180, 1.0 / 180, 1.0 / 120},
		{50, 60.0 / 240, 1.0 / 240, 1.0 / 300}, // overloaded
		{2000, 1990.0 / 300, 1.0 / 300, 1.0 / 90},
		{1, 0.01, 1, 100},
	} {
		m, err := A(tc.n, tc.lambda, tc.mu, tc.theta)
		if err != nil {
			t.Fatal(err)
		}
		// A tagged caller with j ahead waits E[min(V, patience)] =
		// (j+1)/(n*mu + (j+1)*theta) (each phase of V is cut short at rate
		// theta; the product of survival odds telescopes). Averaged over
		// PASTA it must equal Little's MeanQueue/lambda.
		nmu := float64(tc.n) * tc.mu
		meanWait := 0.0
		for j, p := range m.queue {
			meanWait += p * float64(j+1) / (nmu + float64(j+1)*tc.theta)
		}
		if !relClose(meanWait, m.MeanWait, 1e-9) {
			t.Errorf("%+v: MeanWait %.12g, phase formula %.12g", tc, m.MeanWait, meanWait)
		}
		// Served callers are carried load: Occupancy*n*mu = lambda*(1-PAbandon).
		if !relClose(m.Occupancy*nmu, tc.lambda*(1-m.PAbandon), 1e-9) {
			t.Errorf("%+v: carried %g, lambda*(1-PAbandon) %g", tc, m.Occupancy*nmu, tc.lambda*(1-m.PAbandon))
		}
		if !relClose(m.ServiceLevel(math.Inf(1)), 1-m.PAbandon, 1e-9) {
			t.Errorf("%+v: SL(Inf) %g, 1-PAbandon %g", tc, m.ServiceLevel(math.Inf(1)), 1-m.PAbandon)
		}
		// Mean wait of all = P(served)*ASA + P(abandon)*E[wait | abandon],
		// so ASA*P(served) <= MeanWait.
		if m.ASA*(1-m.PAbandon) > m.MeanWait*(1+1e-12) {
			t.Errorf("%+v: ASA*P(served) %g exceeds MeanWait %g", tc, m.ASA*(1-m.PAbandon), m.MeanWait)
		}
		prev := -1.0
		for _, sec := range []float64{0, 1, 5, 10, 20, 30, 60, 120, 600, 3600} {
			sl := m.ServiceLevel(sec)
			if sl < prev-1e-15 || sl < 0 || sl > 1-m.PAbandon+1e-12 {
				t.Errorf("%+v: ServiceLevel(%g) = %g not monotone in [0, 1-PAbandon]", tc, sec, sl)
			}
			prev = sl
		}
		for _, v := range []float64{m.PWait, m.PAbandon, m.Occupancy} {
			if v < 0 || v > 1 || math.IsNaN(v) {
				t.Errorf("%+v: probability out of range in %+v", tc, m)
			}
		}
	}
}

func BenchmarkA2000(b *testing.B) {
	for b.Loop() {
		m, err := A(2000, 1990.0/300, 1.0/300, 1.0/90)
		if err != nil {
			b.Fatal(err)
		}
		_ = m.ServiceLevel(20)
	}
}
