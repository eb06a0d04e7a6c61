package bench

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
)

// Quantiles reported for every run and overhead, in order.
var quantiles = []struct {
	Name string
	Q    float64
}{
	{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}, {"p99_9", 0.999}, {"max", 1},
}

// QuantileNames lists the percentile names used in Overhead.Percentile.
func QuantileNames() []string {
	names := make([]string, len(quantiles))
	for i, q := range quantiles {
		names[i] = q.Name
	}
	return names
}

// rank is the nearest-rank index of quantile q in n sorted samples: the
// smallest sample with at least q·n samples at or below it. Every reported
// percentile is therefore a latency that was actually measured.
func rank(q float64, n int) int {
	k := int(math.Ceil(q*float64(n))) - 1
	return min(max(k, 0), n-1)
}

// Percentile returns the exact nearest-rank q-quantile of sorted (ascending).
func Percentile(sorted []int64, q float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[rank(q, len(sorted))]
}

// ms converts nanoseconds to the milliseconds written in summary.json. Tests
// that recompute percentiles from raw files use the same conversion.
func ms(ns int64) float64 { return float64(ns) / 1e6 }

// LatenciesOf sorts ns in place and returns its exact summary.
func LatenciesOf(ns []int64) Latencies {
	if len(ns) == 0 {
		return Latencies{}
	}
	slices.Sort(ns)
	var sum float64
	for _, v := range ns {
		sum += float64(v)
	}
	return Latencies{
		Min:     ms(ns[0]),
		Average: sum / float64(len(ns)) / 1e6,
		P50:     ms(Percentile(ns, 0.50)),
		P90:     ms(Percentile(ns, 0.90)),
		P99:     ms(Percentile(ns, 0.99)),
		P999:    ms(Percentile(ns, 0.999)),
		Max:     ms(ns[len(ns)-1]),
	}
}

// Interval is a bootstrap confidence interval of a percentile difference.
type Interval struct {
	Point, Low, High float64 // milliseconds
}

// BootstrapDiff returns percentile q of a minus percentile q of b (both
// sorted ascending, nanoseconds) with a percentile-bootstrap interval at the
// given confidence from the given number of resamples, reproducible from seed.
//
// Each resample's q-quantile is drawn from its exact distribution instead of
// materialising n resampled values: resampling n indices uniformly and taking
// the k-th smallest value yields sorted[ceil(n·U)−1] with U the k-th order
// statistic of n uniforms, which is Beta(k, n−k+1). So a resample costs two
// Gamma draws instead of O(n log n), and the result has the same distribution
// as the textbook bootstrap (TestBootstrapMatchesNaiveResampling checks it).
func BootstrapDiff(a, b []int64, q float64, resamples int, confidence float64, seed uint64) (Interval, error) {
	if len(a) == 0 || len(b) == 0 {
		return Interval{}, fmt.Errorf("bootstrap needs samples on both sides, have %d and %d", len(a), len(b))
	}
	if resamples < 100 {
		return Interval{}, fmt.Errorf("bootstrap resamples is %d, want at least 100", resamples)
	}
	if !(confidence > 0 && confidence < 1) {
		return Interval{}, fmt.Errorf("confidence is %g, want in (0, 1)", confidence)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	diffs := make([]float64, resamples)
	for i := range diffs {
		diffs[i] = ms(bootQuantile(rng, a, q)) - ms(bootQuantile(rng, b, q))
	}
	slices.Sort(diffs)
	alpha := (1 - confidence) / 2
	return Interval{
		Point: ms(Percentile(a, q)) - ms(Percentile(b, q)),
		Low:   diffs[rank(alpha, resamples)],
		High:  diffs[rank(1-alpha, resamples)],
	}, nil
}

// bootQuantile draws the q-quantile of one bootstrap resample of sorted.
func bootQuantile(rng *rand.Rand, sorted []int64, q float64) int64 {
	n := len(sorted)
	k := rank(q, n) + 1 // 1-based order statistic
	u := betaDraw(rng, float64(k), float64(n-k+1))
	i := int(math.Ceil(u*float64(n))) - 1
	return sorted[min(max(i, 0), n-1)]
}

func betaDraw(rng *rand.Rand, a, b float64) float64 {
	x := gammaDraw(rng, a)
	y := gammaDraw(rng, b)
	return x / (x + y)
}

// gammaDraw is Marsaglia and Tsang's method for shape ≥ 1 (always the case
// here: both Beta shapes are at least 1), scale 1.
func gammaDraw(rng *rand.Rand, shape float64) float64 {
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// subSeed derives a per-comparison seed so each interval is reproducible
// on its own, whatever order the comparisons are computed in.
func subSeed(seed uint64, parts ...any) uint64 {
	h := fnv.New64a()
	fmt.Fprint(h, seed)
	for _, p := range parts {
		fmt.Fprint(h, "/", p)
	}
	return h.Sum64()
}
