package bench

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Gate decides whether a new summary regressed against an old one.
type Gate struct {
	// An overhead fails when it grew by more than all of: ThresholdMs,
	// RelThreshold × |old overhead|, and the new run's A/A noise bound; and
	// the growth is significant at Confidence (one-sided).
	ThresholdMs  float64
	RelThreshold float64
	Confidence   float64
	// Percentiles gated (names from QuantileNames); max is never gated.
	Percentiles []string
}

// DefaultGate fails on growth above 0.1 ms and 10 % at p50, p90, p99, with
// 95 % one-sided significance.
func DefaultGate() Gate {
	return Gate{ThresholdMs: 0.1, RelThreshold: 0.10, Confidence: 0.95, Percentiles: []string{"p50", "p90", "p99"}}
}

// Validate names every bad gate setting at once, by its flag.
func (g Gate) Validate() error {
	var errs []error
	gated := map[string]bool{}
	for _, q := range quantiles {
		if q.Q < 1 {
			gated[q.Name] = true
		}
	}
	if len(g.Percentiles) == 0 {
		errs = append(errs, errors.New("--gate-percentiles is empty, want at least one of p50, p90, p99, p99_9"))
	}
	seen := map[string]bool{}
	for _, p := range g.Percentiles {
		switch {
		case !gated[p]:
			errs = append(errs, fmt.Errorf("--gate-percentiles has %q, want p50, p90, p99 or p99_9", p))
		case seen[p]:
			errs = append(errs, fmt.Errorf("--gate-percentiles has %s twice", p))
		}
		seen[p] = true
	}
	if g.ThresholdMs < 0 || math.IsNaN(g.ThresholdMs) {
		errs = append(errs, fmt.Errorf("--gate-threshold-ms is %g, want ≥ 0", g.ThresholdMs))
	}
	if g.RelThreshold < 0 || math.IsNaN(g.RelThreshold) {
		errs = append(errs, fmt.Errorf("--gate-relative is %g, want ≥ 0", g.RelThreshold))
	}
	if !(g.Confidence > 0.5 && g.Confidence < 1) {
		errs = append(errs, fmt.Errorf("--gate-confidence is %g, want in (0.5, 1)", g.Confidence))
	}
	return errors.Join(errs...)
}

// Verdict is the gate's outcome: every violation named, nothing averaged.
type Verdict struct {
	Checked    int      `json:"checked"`
	Violations []string `json:"violations"`
	Notes      []string `json:"notes"`
}

// Failed reports whether any overhead regressed or went missing.
func (v Verdict) Failed() bool { return len(v.Violations) > 0 }

// Compare gates cur against old. Summaries measured under different request
// parameters cannot be compared: that is an error, not a verdict.
func Compare(old, cur *Summary, g Gate) (Verdict, error) {
	if err := comparable(old.Config, cur.Config); err != nil {
		return Verdict{}, err
	}
	if !(g.Confidence > 0.5 && g.Confidence < 1) {
		return Verdict{}, fmt.Errorf("gate confidence is %g, want in (0.5, 1)", g.Confidence)
	}
	zGate := zFor(g.Confidence) // one-sided
	type key struct {
		mode  string
		conns int
		pct   string
	}
	now := map[key]Overhead{}
	for _, o := range cur.Overheads {
		now[key{o.Mode, o.Connections, o.Percentile}] = o
	}
	v := Verdict{Violations: []string{}, Notes: []string{}}
	for _, was := range old.Overheads {
		if !slices.Contains(g.Percentiles, was.Percentile) {
			continue
		}
		name := fmt.Sprintf("%s c%d %s", was.Mode, was.Connections, was.Percentile)
		is, ok := now[key{was.Mode, was.Connections, was.Percentile}]
		if !ok {
			v.Violations = append(v.Violations, fmt.Sprintf("%s: overhead missing from the new summary (was %+.3f ms); its runs were rejected or the mode was not run", name, was.OverheadMs))
			continue
		}
		if !was.Interpretable || !is.Interpretable {
			v.Notes = append(v.Notes, fmt.Sprintf("%s: not gated, too few samples beyond the percentile", name))
			continue
		}
		v.Checked++
		growth := is.OverheadMs - was.OverheadMs
		se := math.Hypot(halfWidth(was)/zFor2(was.Confidence), halfWidth(is)/zFor2(is.Confidence))
		z := math.Inf(1)
		if se > 0 {
			z = growth / se
		}
		limit := math.Max(g.ThresholdMs, math.Max(g.RelThreshold*math.Abs(was.OverheadMs), is.NoiseMs))
		if growth > limit && z > zGate {
			v.Violations = append(v.Violations, fmt.Sprintf(
				"%s: overhead grew by %+.3f ms (%+.3f → %+.3f ms; growth interval [%+.3f, %+.3f] ms, z = %.1f, one-sided p = %.2g) beyond the limit %.3f ms",
				name, growth, was.OverheadMs, is.OverheadMs, growth-1.96*se, growth+1.96*se, z, 0.5*math.Erfc(z/math.Sqrt2), limit))
		}
	}
	if v.Checked == 0 && len(v.Violations) == 0 {
		return v, errors.New("the gate compared nothing: the old summary has no interpretable overheads at the gated percentiles; run longer or at a higher rate")
	}
	return v, nil
}

func halfWidth(o Overhead) float64 { return (o.CIHighMs - o.CILowMs) / 2 }

// zFor is the one-sided standard normal quantile for confidence c.
func zFor(c float64) float64 { return math.Sqrt2 * math.Erfinv(2*c-1) }

// zFor2 is the two-sided quantile matching an interval at confidence c.
func zFor2(c float64) float64 { return zFor((1 + c) / 2) }

func comparable(a, b Config) error {
	var diffs []string
	if a.Rate != b.Rate {
		diffs = append(diffs, fmt.Sprintf("qps %d vs %d", a.Rate, b.Rate))
	}
	if a.BodyBytes != b.BodyBytes {
		diffs = append(diffs, fmt.Sprintf("body_bytes %d vs %d", a.BodyBytes, b.BodyBytes))
	}
	if a.Protocol != b.Protocol {
		diffs = append(diffs, fmt.Sprintf("protocol %s vs %s", a.Protocol, b.Protocol))
	}
	if a.Baseline != b.Baseline {
		diffs = append(diffs, fmt.Sprintf("baseline %s vs %s", a.Baseline, b.Baseline))
	}
	if len(diffs) > 0 {
		return fmt.Errorf("summaries are not comparable (%s): re-run with the old summary's parameters", strings.Join(diffs, ", "))
	}
	return nil
}
