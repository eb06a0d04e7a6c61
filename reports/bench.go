package reports

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/meshgate/meshgate/bench"
)

// readBench turns a bench run folder (summary.json and raw/) into the model.
// Percentiles per mode are recomputed from the raw files with the bench's own
// nearest-rank definition, pooled over accepted repetitions as the overheads
// are; each raw file's result count must match the summary, so a file cut at
// a record boundary is caught too.
func readBench(ctx context.Context, dir string) (*Run, error) {
	s, err := bench.ReadSummary(dir)
	if err != nil {
		return nil, err
	}
	if err := bench.VerifyRaw(dir, s); err != nil {
		return nil, err
	}
	run := &Run{
		Kind:        KindBench,
		Schema:      s.Schema,
		Started:     s.StartTime,
		Environment: benchEnvironment(s),
		Notes:       slices.Clone(s.Violations),
	}
	if s.Partial != nil {
		run.Notes = append([]string{s.Partial.String()}, run.Notes...)
	}
	b := &Bench{
		Local: s.Config.Target == "local",
		Load: Load{
			RPS:           float64(s.Config.Rate),
			Connections:   slices.Clone(s.Config.Connections),
			Seconds:       s.Config.Duration.Seconds(),
			WarmupSeconds: s.Config.Warmup.Seconds(),
			Repetitions:   s.Config.Repetitions,
			BodyBytes:     s.Config.BodyBytes,
			HTTP:          s.Config.Protocol,
			Proxy:         s.Mesh.ProxyBuild,
			Generator:     s.Config.Generator(),
			Resamples:     s.Config.Resamples,
			Confidence:    s.Config.Confidence,
		},
	}
	start := s.StartTime
	for _, r := range s.Runs {
		if !r.StartTime.IsZero() && (start.IsZero() || r.StartTime.Before(start)) {
			start = r.StartTime
		}
	}
	timeline := map[string]*Series{}
	for _, conns := range s.Config.Connections {
		pools := map[string][]int64{}
		accepted, rejected := map[string]int{}, map[string]int{}
		requests, errs := map[string]int{}, map[string]int{}
		rps := map[string]float64{}
		for _, r := range s.Runs {
			if r.Connections != conns {
				continue
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			path := filepath.Join(dir, filepath.FromSlash(r.Raw))
			b.RawFiles = append(b.RawFiles, r.Raw)
			samples, err := readRaw(path)
			if err != nil {
				return nil, err
			}
			if len(samples) != r.Requests {
				return nil, fmt.Errorf("raw results %s: %d results, but %s says %d for %s c%d r%d: the file was truncated or replaced; re-run the bench", path, len(samples), filepath.Join(dir, bench.SummaryFile), r.Requests, r.Mode, r.Connections, r.Repetition)
			}
			if r.Rejected {
				rejected[r.Mode]++
				b.Rejected = append(b.Rejected, Rejection{Mode: r.Mode, Connections: conns, Repetition: r.Repetition, Reason: strings.Join(r.RejectReason, "; ")})
				continue
			}
			accepted[r.Mode]++
			requests[r.Mode] += r.Requests
			errs[r.Mode] += r.Errors
			rps[r.Mode] += r.ActualQPS
			for _, smp := range samples {
				pools[r.Mode] = append(pools[r.Mode], smp.ns)
			}
			addSeries(timeline, seriesOf(r.Mode, samples, start))
		}
		for _, mode := range s.Config.Modes {
			if accepted[mode]+rejected[mode] == 0 {
				continue
			}
			mr := ModeResult{
				Mode: mode, Description: s.Mesh.ModeDescriptions[mode], Connections: conns,
				Runs: accepted[mode], Rejected: rejected[mode], Requests: requests[mode], Errors: errs[mode],
			}
			if accepted[mode] > 0 {
				mr.AchievedRPS = round(rps[mode]/float64(accepted[mode]), 1)
				l := bench.LatenciesOf(pools[mode]) // sorts the pool
				mr.Percentiles = []Percentile{{"p50", l.P50}, {"p90", l.P90}, {"p99", l.P99}, {"p99.9", l.P999}, {"max", l.Max}}
				b.Curves = append(b.Curves, curveOf(mode, conns, pools[mode]))
			}
			b.Modes = append(b.Modes, mr)
		}
	}
	for _, mode := range s.Config.Modes {
		if ser := timeline[mode]; ser != nil {
			b.Timeline = append(b.Timeline, sortSeries(*ser))
		}
	}
	b.Overheads = convertOverheads(s.Overheads)
	b.NoiseFloor = convertOverheads(s.NoiseFloor)
	for _, p := range s.MTLS {
		b.MTLS = append(b.MTLS, MTLSProof{Mode: p.Mode, Status: p.Status, Evidence: p.Evidence})
	}
	for _, c := range s.ProxyCosts {
		b.ProxyCosts = append(b.ProxyCosts, ProxyCost(c))
	}
	run.Bench = b
	return run, nil
}

func convertOverheads(in []bench.Overhead) []Overhead {
	out := make([]Overhead, 0, len(in))
	for _, o := range in {
		out = append(out, Overhead{
			Mode: o.Mode, Baseline: o.Baseline, Connections: o.Connections, Percentile: percentileName(o.Percentile),
			ModeMs: o.ModeMs, BaselineMs: o.BaselineMs, Ms: o.OverheadMs, LowMs: o.CILowMs, HighMs: o.CIHighMs,
			Confidence: o.Confidence, NoiseMs: o.NoiseMs, AboveNoise: o.AboveNoise,
			Significant: o.Significant, Interpretable: o.Interpretable,
		})
	}
	return out
}

// percentileName writes the bench's "p99_9" as "p99.9".
func percentileName(s string) string { return strings.ReplaceAll(s, "_", ".") }

func addSeries(all map[string]*Series, s Series) {
	cur, ok := all[s.Mode]
	if !ok {
		all[s.Mode] = &s
		return
	}
	cur.Seconds = append(cur.Seconds, s.Seconds...)
	cur.P50Ms = append(cur.P50Ms, s.P50Ms...)
	cur.P99Ms = append(cur.P99Ms, s.P99Ms...)
}

func sortSeries(s Series) Series {
	idx := make([]int, len(s.Seconds))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return s.Seconds[idx[a]] < s.Seconds[idx[b]] })
	out := Series{Mode: s.Mode}
	for _, i := range idx {
		out.Seconds = append(out.Seconds, s.Seconds[i])
		out.P50Ms = append(out.P50Ms, s.P50Ms[i])
		out.P99Ms = append(out.P99Ms, s.P99Ms[i])
	}
	return out
}

func benchEnvironment(s *bench.Summary) Environment {
	e := Environment{Provider: s.Config.Target}
	var names, kernels []string
	for i, n := range s.Env.Nodes {
		name := n.Name
		if n.Role != "" {
			name += " (" + n.Role + ")"
		}
		names = append(names, name)
		if n.KernelVersion != "" && !slices.Contains(kernels, n.KernelVersion) {
			kernels = append(kernels, n.KernelVersion)
		}
		if i == 0 {
			e.OS, e.Arch, e.CPUs = n.OS, n.Arch, n.Cores
		}
	}
	e.Node = strings.Join(names, ", ")
	e.Kernel = strings.Join(kernels, ", ")
	add := func(c, v string) {
		if v != "" {
			e.Versions = append(e.Versions, Version{Component: c, Version: v})
		}
	}
	add("kubernetes", s.Env.KubernetesVersion)
	add("mesh", s.Mesh.MeshBuild)
	if s.Mesh.MeshBuild == "" {
		add("mesh", s.Mesh.MeshType)
	}
	add("proxy", s.Mesh.ProxyBuild)
	add("kong", s.Mesh.KongBuild)
	add("go", s.Env.GoVersion)
	return e
}
