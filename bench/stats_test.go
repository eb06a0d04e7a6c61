package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPercentileNearestRank(t *testing.T) {
	ten := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	thousand := make([]int64, 1000)
	for i := range thousand {
		thousand[i] = int64(i + 1)
	}
	tests := []struct {
		name   string
		sorted []int64
		q      float64
		want   int64
	}{
		{"empty", nil, 0.5, 0},
		{"single", []int64{7}, 0.99, 7},
		{"p50 of 10", ten, 0.50, 5},
		{"p90 of 10", ten, 0.90, 9},
		{"p99 of 10 is the max", ten, 0.99, 10},
		{"p0 is the min", ten, 0, 1},
		{"max", ten, 1, 10},
		{"p99 of 1000", thousand, 0.99, 990},
		{"p99.9 of 1000", thousand, 0.999, 999},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.q); got != tt.want {
				t.Errorf("Percentile(q=%g) = %d, want %d", tt.q, got, tt.want)
			}
		})
	}
}

func TestLatenciesOf(t *testing.T) {
	ns := []int64{5e6, 1e6, 3e6, 2e6, 4e6} // unsorted on purpose
	got := LatenciesOf(ns)
	want := Latencies{Min: 1, Average: 3, P50: 3, P90: 5, P99: 5, P999: 5, Max: 5}
	if got != want {
		t.Errorf("LatenciesOf = %+v, want %+v", got, want)
	}
	if !slices.IsSorted(ns) {
		t.Error("LatenciesOf must sort its input in place")
	}
}

func sample(rng *rand.Rand, n int, shiftNs float64) []int64 {
	s := make([]int64, n)
	for i := range s {
		// log-normal around 200 µs: the shape of loopback latencies
		s[i] = int64(200e3*math.Exp(0.3*rng.NormFloat64()) + shiftNs)
	}
	slices.Sort(s)
	return s
}

func TestBootstrapDiffReproducibleAndCovers(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := sample(rng, 20000, 0)
	mode := sample(rng, 20000, 100e3) // +0.1 ms everywhere
	a, err := BootstrapDiff(mode, base, 0.9, 2000, 0.95, 42)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := BootstrapDiff(mode, base, 0.9, 2000, 0.95, 42)
	if a != b {
		t.Errorf("same seed gave %+v then %+v", a, b)
	}
	c, _ := BootstrapDiff(mode, base, 0.9, 2000, 0.95, 43)
	if a == c {
		t.Errorf("different seeds gave the same interval %+v", a)
	}
	if !(a.Low <= a.Point && a.Point <= a.High) {
		t.Errorf("point %g outside its interval [%g, %g]", a.Point, a.Low, a.High)
	}
	if !(a.Low < 0.1 && 0.1 < a.High) {
		t.Errorf("interval [%g, %g] ms misses the true shift 0.1 ms", a.Low, a.High)
	}
}

// The Beta-order-statistic shortcut must give the textbook bootstrap's
// interval: resample n values with replacement, take the quantile, repeat.
func TestBootstrapMatchesNaiveResampling(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, q := range []float64{0.5, 0.9, 0.99} {
		a := sample(rng, 2000, 50e3)
		b := sample(rng, 2000, 0)
		fast, err := BootstrapDiff(a, b, q, 2000, 0.95, 7)
		if err != nil {
			t.Fatal(err)
		}
		naive := naiveBootstrap(rng, a, b, q, 2000, 0.95)
		width := naive.High - naive.Low
		tol := 0.2*width + 0.002
		if math.Abs(fast.Low-naive.Low) > tol || math.Abs(fast.High-naive.High) > tol {
			t.Errorf("q=%g: fast interval [%.4f, %.4f] ms, naive [%.4f, %.4f] ms (tolerance %.4f)", q, fast.Low, fast.High, naive.Low, naive.High, tol)
		}
	}
}

func naiveBootstrap(rng *rand.Rand, a, b []int64, q float64, resamples int, conf float64) Interval {
	ra, rb := make([]int64, len(a)), make([]int64, len(b))
	diffs := make([]float64, resamples)
	for i := range diffs {
		for j := range ra {
			ra[j] = a[rng.IntN(len(a))]
		}
		for j := range rb {
			rb[j] = b[rng.IntN(len(b))]
		}
		slices.Sort(ra)
		slices.Sort(rb)
		diffs[i] = ms(Percentile(ra, q)) - ms(Percentile(rb, q))
	}
	slices.Sort(diffs)
	alpha := (1 - conf) / 2
	return Interval{Low: diffs[rank(alpha, resamples)], High: diffs[rank(1-alpha, resamples)]}
}

func TestBootstrapDiffRejectsBadInput(t *testing.T) {
	one := []int64{1}
	tests := []struct {
		name      string
		a, b      []int64
		resamples int
		conf      float64
	}{
		{"empty side", nil, one, 1000, 0.95},
		{"too few resamples", one, one, 10, 0.95},
		{"confidence 1", one, one, 1000, 1},
	}
	for _, tt := range tests {
		if _, err := BootstrapDiff(tt.a, tt.b, 0.5, tt.resamples, tt.conf, 1); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

// Pooled quantiles from several runs must equal the quantile of the
// concatenation, whatever the runs' sizes and overlaps.
func TestGroupsPooledIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	runs := [][]int64{sample(rng, 1000, 0), sample(rng, 777, 30e3), sample(rng, 5, 1e6), {200e3, 200e3, 200e3}}
	all := slices.Concat(runs...)
	slices.Sort(all)
	g := newGroups(runs)
	for _, q := range []float64{0, 0.001, 0.5, 0.9, 0.99, 0.999, 1} {
		if got, want := g.pooled(q), Percentile(all, q); got != want {
			t.Errorf("q=%g: pooled %d, concatenated %d", q, got, want)
		}
	}
}

// Repetitions that disagree (a slow minute on a shared machine) must widen
// the interval: an A/A comparison whose runs shift by ±0.2 ms between
// repetitions may not claim a difference, though each run has 5,000 samples.
func TestBootstrapGroupsSeesSpreadBetweenRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 11))
	shifts := []float64{-200e3, 0, 200e3, 100e3, -100e3}
	var a, b [][]int64
	for i := range 5 {
		a = append(a, sample(rng, 5000, 300e3+shifts[i]))
		b = append(b, sample(rng, 5000, 300e3+shifts[(i+2)%5]*0.5))
	}
	grouped, err := BootstrapGroups(a, b, 0.5, 2000, 0.95, 1)
	if err != nil {
		t.Fatal(err)
	}
	pooledA, pooledB := slices.Concat(a...), slices.Concat(b...)
	slices.Sort(pooledA)
	slices.Sort(pooledB)
	iid, _ := BootstrapDiff(pooledA, pooledB, 0.5, 2000, 0.95, 1)
	if grouped.Point != iid.Point {
		t.Errorf("point estimates differ: grouped %g, pooled %g", grouped.Point, iid.Point)
	}
	if !(grouped.Low < 0 && 0 < grouped.High) {
		t.Errorf("A/A interval [%g, %g] ms excludes 0 despite the spread between runs", grouped.Low, grouped.High)
	}
	if grouped.High-grouped.Low < 3*(iid.High-iid.Low) {
		t.Errorf("grouped interval width %g is not much wider than the i.i.d. width %g", grouped.High-grouped.Low, iid.High-iid.Low)
	}
}
