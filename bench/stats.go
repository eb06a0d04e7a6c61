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

// BootstrapDiff is BootstrapGroups for one run per side.
func BootstrapDiff(a, b []int64, q float64, resamples int, confidence float64, seed uint64) (Interval, error) {
	return BootstrapGroups([][]int64{a}, [][]int64{b}, q, resamples, confidence, seed)
}

// BootstrapGroups returns percentile q of the pooled runs a minus that of
// the pooled runs b (each run sorted ascending, nanoseconds) with a
// two-stage percentile-bootstrap interval at the given confidence,
// reproducible from seed. Stage one resamples whole runs (repetitions) with
// replacement, so the spread between repetitions (a noisy neighbour, a GC
// pause, a stalled core) widens the interval instead of hiding in a million
// correlated samples; stage two resamples latencies within the chosen runs.
//
// Stage two never materialises the n resampled values: the k-th smallest of
// n values drawn uniformly from a sorted multiset is its ceil(n·U)-th
// element, with U the k-th order statistic of n uniforms, which is
// Beta(k, n−k+1). That element is found by bisection over the runs' sorted
// arrays. The result has the textbook bootstrap's distribution
// (TestBootstrapMatchesNaiveResampling) at a cost independent of n.
func BootstrapGroups(a, b [][]int64, q float64, resamples int, confidence float64, seed uint64) (Interval, error) {
	if total(a) == 0 || total(b) == 0 {
		return Interval{}, fmt.Errorf("bootstrap needs samples on both sides, have %d and %d", total(a), total(b))
	}
	if resamples < 100 {
		return Interval{}, fmt.Errorf("bootstrap resamples is %d, want at least 100", resamples)
	}
	if !(confidence > 0 && confidence < 1) {
		return Interval{}, fmt.Errorf("confidence is %g, want in (0, 1)", confidence)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ga, gb := newGroups(a), newGroups(b)
	diffs := make([]float64, resamples)
	for i := range diffs {
		diffs[i] = ms(ga.draw(rng, q)) - ms(gb.draw(rng, q))
	}
	slices.Sort(diffs)
	alpha := (1 - confidence) / 2
	return Interval{
		Point: ms(ga.pooled(q)) - ms(gb.pooled(q)),
		Low:   diffs[rank(alpha, resamples)],
		High:  diffs[rank(1-alpha, resamples)],
	}, nil
}

func total(g [][]int64) int {
	n := 0
	for _, x := range g {
		n += len(x)
	}
	return n
}

// groups are sorted runs with a multiplicity each (how often the current
// resample picked the run).
type groups struct {
	runs [][]int64
	mult []int
}

func newGroups(runs [][]int64) *groups {
	var g groups
	for _, r := range runs {
		if len(r) > 0 {
			g.runs = append(g.runs, r)
		}
	}
	g.mult = make([]int, len(g.runs))
	return &g
}

// pooled is the exact nearest-rank q-quantile of all runs together.
func (g *groups) pooled(q float64) int64 {
	for i := range g.mult {
		g.mult[i] = 1
	}
	n := total(g.runs)
	return g.kth(rank(q, n)+1, q)
}

// draw returns the q-quantile of one two-stage bootstrap resample.
func (g *groups) draw(rng *rand.Rand, q float64) int64 {
	clear(g.mult)
	n := 0
	for range g.runs {
		i := rng.IntN(len(g.runs))
		g.mult[i]++
		n += len(g.runs[i])
	}
	k := rank(q, n) + 1
	u := betaDraw(rng, float64(k), float64(n-k+1))
	j := min(max(int(math.Ceil(u*float64(n))), 1), n)
	return g.kth(j, float64(j)/float64(n))
}

// kth returns the j-th smallest (1-based) value of the multiset union of
// the runs under g.mult. The answer lies between the runs' own quantiles at
// fraction f = j/n, which brackets the bisection tightly.
func (g *groups) kth(j int, f float64) int64 {
	if len(g.runs) == 1 {
		return g.runs[0][j-1]
	}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for i, r := range g.runs {
		if g.mult[i] == 0 {
			continue
		}
		v := r[rank(f, len(r))]
		lo, hi = min(lo, v), max(hi, v)
	}
	// Widen to the true bounds if the bracket is not one (ties at edges).
	if g.count(lo-1) >= j {
		lo = math.MaxInt64
		for i, r := range g.runs {
			if g.mult[i] > 0 {
				lo = min(lo, r[0])
			}
		}
	}
	if g.count(hi) < j {
		for i, r := range g.runs {
			if g.mult[i] > 0 {
				hi = max(hi, r[len(r)-1])
			}
		}
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if g.count(mid) >= j {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// count is how many values of the weighted union are ≤ v.
func (g *groups) count(v int64) int {
	c := 0
	for i, r := range g.runs {
		if g.mult[i] == 0 {
			continue
		}
		n, _ := slices.BinarySearch(r, v+1) // values ≤ v
		c += g.mult[i] * n
	}
	return c
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
