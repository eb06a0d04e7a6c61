package reports

import (
	"math"
	"slices"
	"time"

	"github.com/meshgate/meshgate/bench"
)

// curveMaxX is how far toward the tail the distribution chart goes:
// 1/(1-q) = 1000 is p99.9.
const curveMaxX = 1000

// curveOf samples the latency-by-percentile curve of sorted latencies (ns)
// on a log grid of 1/(1-q), from p0 to p99.9, with the bench's own
// nearest-rank percentile; it stops where fewer than one sample lies beyond
// q (a percentile the data cannot resolve is not drawn).
func curveOf(mode string, conns int, sorted []int64) Curve {
	c := Curve{Mode: mode, Connections: conns}
	const steps = 60
	for i := 0; i <= steps; i++ {
		x := math.Pow(curveMaxX, float64(i)/steps)
		q := 1 - 1/x
		if float64(len(sorted))*(1-q) < 1 {
			break
		}
		c.Quantiles = append(c.Quantiles, round(q, 6))
		c.Ms = append(c.Ms, round(nsToMs(bench.Percentile(sorted, q)), 4))
	}
	return c
}

// seriesOf buckets samples by the second (since start) they were sent in and
// takes p50 and p99 of each bucket.
func seriesOf(mode string, samples []sample, start time.Time) Series {
	buckets := map[int][]int64{}
	for _, s := range samples {
		sec := int(s.at.Sub(start) / time.Second)
		buckets[sec] = append(buckets[sec], s.ns)
	}
	secs := make([]int, 0, len(buckets))
	for s := range buckets {
		secs = append(secs, s)
	}
	slices.Sort(secs)
	out := Series{Mode: mode}
	for _, s := range secs {
		b := buckets[s]
		slices.Sort(b)
		out.Seconds = append(out.Seconds, float64(s))
		out.P50Ms = append(out.P50Ms, round(nsToMs(bench.Percentile(b, 0.50)), 4))
		out.P99Ms = append(out.P99Ms, round(nsToMs(bench.Percentile(b, 0.99)), 4))
	}
	return out
}

func nsToMs(ns int64) float64 { return float64(ns) / 1e6 }

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
