package bench

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// minTail is how many samples must lie beyond a percentile for its interval
// to be worth reading: p99.9 from 5,000 samples rests on 5 values.
const minTail = 10

// Analyze reads every run's raw file, fills the run's statistics and its
// rejection, then computes overheads and the A/A noise floor from accepted
// runs. It reads one connection count at a time, so memory stays bounded by
// one group of raw files.
func Analyze(dir string, s *Summary) error {
	s.Overheads, s.NoiseFloor = []Overhead{}, []Overhead{}
	var violations []string
	for _, conns := range s.Config.Connections {
		pools := map[string][][]int64{}
		runs := map[string]int{}
		for i := range s.Runs {
			run := &s.Runs[i]
			if run.Connections != conns {
				continue
			}
			d, err := loadRun(dir, *run)
			if err != nil {
				return err
			}
			fillRun(run, d, s.Config)
			if run.Rejected {
				violations = append(violations, fmt.Sprintf("run %s c%d r%d rejected: %s", run.Mode, conns, run.Repetition, strings.Join(run.RejectReason, "; ")))
				continue
			}
			pools[run.Mode] = append(pools[run.Mode], d.lat) // sorted by fillRun
			runs[run.Mode]++
		}
		v, err := overheadsAt(s, conns, pools, runs)
		if err != nil {
			return err
		}
		violations = append(violations, v...)
	}
	markNoise(s)
	s.MTLS = ProveMTLS(s.Config.Modes, s.Runs)
	if len(s.MTLS) > 0 {
		s.Mesh.MTLSEnabled = mtlsEnabled(s.MTLS)
	}
	s.ProxyCosts = ProxyCosts(s.Config.Modes, s.Runs)
	s.Violations = violations
	if s.Violations == nil {
		s.Violations = []string{}
	}
	return nil
}

func fillRun(run *Run, d runData, c Config) {
	run.Requests = len(d.lat)
	run.Errors = d.errors
	run.ErrorSamples = d.samples
	run.LatenciesMs = LatenciesOf(d.lat)
	run.ActualQPS = 0
	if span := d.latest.Sub(d.earliest).Seconds(); span > 0 {
		run.ActualQPS = float64(run.Requests) / span // as vegeta's Metrics.Rate
	}
	run.RejectReason = rejectReasons(*run, c)
	run.Rejected = len(run.RejectReason) > 0
}

// rejectReasons collects every reason at once; a rejected run is kept in the
// summary and on disk but never pooled into an overhead.
func rejectReasons(run Run, c Config) []string {
	var why []string
	if run.Requests == 0 {
		return []string{"no results after warm-up"}
	}
	if run.Errors > 0 {
		why = append(why, fmt.Sprintf("%d of %d requests failed (%s)", run.Errors, run.Requests, strings.Join(run.ErrorSamples, " | ")))
	}
	floor := (1 - c.RateTolerance) * run.RequestedQPS
	if run.ActualQPS < floor {
		why = append(why, fmt.Sprintf("rate shortfall: achieved %.1f rps, requested %.0f (tolerance %.0f%%: at least %.1f)", run.ActualQPS, run.RequestedQPS, 100*c.RateTolerance, floor))
	}
	expected := run.RequestedQPS * c.Duration.Seconds()
	if float64(run.Requests) < (1-c.RateTolerance)*expected {
		why = append(why, fmt.Sprintf("request shortfall: %d results, expected %.0f for %s at %.0f rps", run.Requests, expected, c.Duration, run.RequestedQPS))
	}
	return why
}

func (d Duration) String() string { return time.Duration(d).String() }

// Seconds returns the duration in seconds.
func (d Duration) Seconds() float64 { return float64(d) / 1e9 }

func overheadsAt(s *Summary, conns int, pools map[string][][]int64, runs map[string]int) ([]string, error) {
	base := s.Config.Baseline
	if runs[base] == 0 {
		return []string{fmt.Sprintf("c%d: no accepted %s run, so no overhead at %d connections", conns, base, conns)}, nil
	}
	var violations []string
	for _, mode := range s.Config.Modes {
		if mode == base {
			continue
		}
		if runs[mode] == 0 {
			violations = append(violations, fmt.Sprintf("c%d: no accepted %s run, so no %s overhead at %d connections", conns, mode, mode, conns))
			continue
		}
		for _, q := range quantiles {
			iv, err := BootstrapGroups(pools[mode], pools[base], q.Q, s.Config.Resamples, s.Config.Confidence, subSeed(s.Config.Seed, mode, conns, q.Name))
			if err != nil {
				return nil, fmt.Errorf("%s vs %s at c%d %s: %w", mode, base, conns, q.Name, err)
			}
			nm, nb := total(pools[mode]), total(pools[base])
			o := Overhead{
				Mode: mode, Baseline: base, Connections: conns, Percentile: q.Name,
				ModeMs: ms(newGroups(pools[mode]).pooled(q.Q)), BaselineMs: ms(newGroups(pools[base]).pooled(q.Q)),
				OverheadMs: iv.Point, CILowMs: iv.Low, CIHighMs: iv.High,
				Confidence: s.Config.Confidence, Resamples: s.Config.Resamples,
				ModeRuns: runs[mode], BaselineRuns: runs[base],
				ModeSamples: nm, BaseSamples: nb,
				Significant:   iv.Low > 0 || iv.High < 0,
				Interpretable: q.Q < 1 && float64(min(nm, nb))*(1-q.Q) >= minTail,
			}
			if mode == s.Config.AAMode {
				s.NoiseFloor = append(s.NoiseFloor, o)
			} else {
				s.Overheads = append(s.Overheads, o)
			}
		}
	}
	return violations, nil
}

// markNoise sets each overhead's noise bound from the A/A comparison at the
// same connection count and percentile: the largest distance from zero its
// interval reaches.
func markNoise(s *Summary) {
	type key struct {
		conns int
		pct   string
	}
	noise := map[key]float64{}
	for _, n := range s.NoiseFloor {
		noise[key{n.Connections, n.Percentile}] = math.Max(math.Abs(n.CILowMs), math.Abs(n.CIHighMs))
	}
	for i := range s.Overheads {
		o := &s.Overheads[i]
		if nf, ok := noise[key{o.Connections, o.Percentile}]; ok {
			o.NoiseMs = nf
			o.AboveNoise = math.Abs(o.OverheadMs) > nf
		}
	}
}
