package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/meshgate/meshgate/bench"
	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/fixtures/apps/echo/echoserver"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/stack"
)

type benchFlags struct {
	local, noAA, verbose bool
	mesh, out, proxy     string
	compare, in          string
	kongPlainURL         string
	dryRun               bool
	rates                []int
	exclude              []string
	injectDelay          time.Duration
	opts                 bench.Options
	gate                 bench.Gate
}

// Local mode measures one proxy hop on loopback: shorter runs at one
// connection count keep `--local` to about a minute and a half by default.
var localDefaults = map[string]string{"duration": "5s", "warmup": "1s", "connections": "16"}

func newBenchCmd(a *app) *cobra.Command {
	f := benchFlags{opts: bench.DefaultOptions(), gate: bench.DefaultGate()}
	cmd := &cobra.Command{
		Use:   "bench (--local | --mesh kuma|istio|istio-ambient) [--out DIR] [--compare OLD.json]",
		Short: "Measure the latency each hop adds, with vegeta",
		Long: `bench measures latency overhead per hop the way Istio publishes it: vegeta's
library at a constant rate (open model) over a fixed number of keep-alive
HTTP/1.1 connections, warm-up dropped, modes interleaved over repetitions,
exact percentiles from the raw results, and overhead = percentile(mode) −
percentile(baseline) with a bootstrap interval. A second baseline measured
alongside (A/A) is the noise floor. Runs with errors or a rate shortfall are
rejected, named, and left out.

--local: the echo backend on 127.0.0.1 direct (baseline) versus through a
proxy hop (nginx when installed, else Go's reverse proxy). Defaults there:
--duration 5s --warmup 1s --connections 16.
--mesh kuma|istio|istio-ambient: modes baseline, kong, mesh, kong-mesh, kong-mesh-jwt
(istio; istio-ambient has mesh-waypoint and kong-mesh-waypoint instead) on a
kind cluster, from a load generator pod on the node labelled
` + cluster.LoadgenNodeLabel + "=" + cluster.LoadgenPool + ` (needs Docker).
--loaders N: spread each attack over N load generators (pods of each kind in a
cluster, in-process attackers with --local); rate and connections are divided
exactly, the raw results merged, percentiles computed from the merged samples.
--compare OLD: gate this run (or --in DIR) against an older summary; exit 1
when an overhead grew beyond the limit with significance.

The run folder holds summary.json and raw/<mode>-c<conns>-r<rep>.bin, which
vegeta report reads.`,
		Example: `  meshgate bench --local --duration 5s --out /tmp/a
  meshgate bench --local --out /tmp/b --compare /tmp/a/summary.json
  meshgate bench --in /tmp/b --compare /tmp/a
  meshgate bench --mesh istio --out reports/out/bench`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBench(cmd.Context(), a, cmd.Flags(), &f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.local, "local", false, "run on loopback: echo backend direct vs through a local proxy hop")
	fl.StringVar(&f.mesh, "mesh", "", "run on a kind cluster with this mesh: kuma, istio or istio-ambient")
	fl.StringVar(&f.out, "out", "", "run folder to write (default reports/out/bench-<UTC time>)")
	fl.StringVar(&f.in, "in", "", "use this existing run folder instead of attacking (with --compare)")
	fl.StringVar(&f.compare, "compare", "", "gate against this older summary.json (or its run folder)")
	fl.StringVar(&f.proxy, "proxy", bench.ProxyAuto, "local proxy hop: auto, nginx or go")
	fl.DurationVar(&f.injectDelay, "inject-delay", 0, "local only: add this delay to every request through the proxy hop (to see the gate fail)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "with --mesh: print the objects each mode applies (mTLS policies, Kong routes, the Kuma bridge, the JWT policy) and exit")
	fl.StringVar(&f.kongPlainURL, "kong-plain-url", "", "cluster: URL of a Kong outside the mesh for mode kong that you run (default: meshgate installs one, release "+cluster.KongPlainRelease+" in namespace "+cluster.KongPlainNamespace+")")
	fl.BoolVar(&f.noAA, "no-aa", false, "skip the A/A baseline (no noise floor)")
	fl.StringSliceVar(&f.exclude, "exclude", nil, "cluster: leave these modes out (a mode whose target does not answer otherwise fails the bench), e.g. --exclude kong,kong-mesh-jwt")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log progress to stderr")
	fl.IntVar(&f.opts.Rate, "rate", f.opts.Rate, "requests per second, constant (open model)")
	fl.IntSliceVar(&f.rates, "rates", nil, "sweep these offered rates (one run folder each, rate-<rps>/) and write the load curve with its knee per mode to curve.json and curve.md")
	fl.DurationVar(&f.opts.Duration, "duration", f.opts.Duration, "measured length of each attack")
	fl.DurationVar(&f.opts.Warmup, "warmup", f.opts.Warmup, "attack time before measuring, dropped")
	fl.DurationVar(&f.opts.Timeout, "timeout", f.opts.Timeout, "per-request timeout")
	fl.IntSliceVar(&f.opts.Connections, "connections", f.opts.Connections, "connection counts (each attack uses exactly this many keep-alive connections)")
	fl.IntVar(&f.opts.Loaders, "loaders", f.opts.Loaders, "spread each attack's rate and connections over this many load generators (cluster: loadgen pods of each kind; --local: in-process attackers); percentiles come from the merged raw results")
	fl.IntVar(&f.opts.Repetitions, "reps", f.opts.Repetitions, "repetitions; modes are interleaved within each")
	fl.IntVar(&f.opts.BodyBytes, "body-bytes", f.opts.BodyBytes, "response size from the echo backend (/bytes/{n})")
	fl.Uint64Var(&f.opts.Seed, "seed", f.opts.Seed, "seed of the mode order and the bootstrap")
	fl.IntVar(&f.opts.Resamples, "resamples", f.opts.Resamples, "bootstrap resamples")
	fl.Float64Var(&f.opts.Confidence, "confidence", f.opts.Confidence, "confidence of the overhead intervals")
	fl.Float64Var(&f.opts.RateTolerance, "rate-tolerance", f.opts.RateTolerance, "reject a run whose achieved rate or count is below (1 − this) × requested")
	fl.Float64Var(&f.gate.ThresholdMs, "gate-threshold-ms", f.gate.ThresholdMs, "gate: smallest overhead growth that fails, in ms")
	fl.Float64Var(&f.gate.RelThreshold, "gate-relative", f.gate.RelThreshold, "gate: smallest growth that fails, as a fraction of the old overhead")
	fl.Float64Var(&f.gate.Confidence, "gate-confidence", f.gate.Confidence, "gate: one-sided confidence that the growth is real")
	fl.StringSliceVar(&f.gate.Percentiles, "gate-percentiles", f.gate.Percentiles, "gate: percentiles checked (p50, p90, p99, p99_9)")
	return cmd
}

func runBench(ctx context.Context, a *app, fl *pflag.FlagSet, f *benchFlags) error {
	if err := validateBench(fl, f); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if f.dryRun {
		return printBenchObjects(a, f.mesh, f.kongPlainURL)
	}
	if len(f.rates) > 0 {
		dir := outDir(f.out)
		if f.local {
			return sweepRates(a, *f, dir, func(opts bench.Options, sub string) (*bench.Summary, error) {
				g := *f
				g.opts = opts
				return benchLocal(ctx, a, g, sub)
			})
		}
		_, err := benchCluster(ctx, a, *f, dir)
		return err
	}
	var old *bench.Summary
	if f.compare != "" {
		var err error
		if old, err = bench.ReadSummary(f.compare); err != nil {
			return usageError("--compare: %w", err)
		}
	}
	var (
		s   *bench.Summary
		dir string
		err error
	)
	switch {
	case f.in != "":
		dir = f.in
		s, err = bench.ReadSummary(dir)
		if err != nil {
			return usageError("--in: %w", err)
		}
	case f.local:
		dir = outDir(f.out)
		s, err = benchLocal(ctx, a, *f, dir)
	default:
		dir = outDir(f.out)
		s, err = benchCluster(ctx, a, *f, dir)
	}
	if s != nil && f.in == "" {
		bench.PrintSummary(a.stdout, s, dir)
	}
	if err != nil {
		return err
	}
	if old != nil {
		v, err := bench.Compare(old, s, f.gate)
		if err != nil {
			return usageError("--compare %s: %w", f.compare, err)
		}
		bench.PrintVerdict(a.stdout, v, f.compare)
		if v.Failed() {
			return &exitError{code: 1, err: fmt.Errorf("latency regression gate failed against %s", f.compare)}
		}
	}
	if len(s.Overheads) == 0 {
		return fmt.Errorf("no overhead could be computed from %s: every run of a mode or its baseline was rejected (see the violations above)", dir)
	}
	return nil
}

// validateBench checks every flag before anything is attacked, naming each
// bad one; --local's defaults are applied first so they are checked too.
func validateBench(fl *pflag.FlagSet, f *benchFlags) error {
	modes := 0
	for _, on := range []bool{f.local, f.mesh != "", f.in != ""} {
		if on {
			modes++
		}
	}
	if modes != 1 {
		return fmt.Errorf("choose one of --local, --mesh %s, or --in DIR (with --compare)", strings.Join(cluster.Meshes, "|"))
	}
	if f.in != "" && f.compare == "" {
		return errors.New("--in DIR only makes sense with --compare OLD")
	}
	if f.dryRun && f.mesh == "" {
		return errors.New("--dry-run prints a cluster bench's objects: give it --mesh")
	}
	if len(f.exclude) > 0 && f.mesh == "" {
		return errors.New("--exclude leaves cluster modes out: give it --mesh")
	}
	if len(f.rates) > 0 && (f.compare != "" || f.in != "") {
		return errors.New("--rates sweeps offered load and writes a curve; gate single runs with --compare instead")
	}
	if f.local {
		for name, v := range localDefaults {
			if !fl.Changed(name) {
				if err := fl.Set(name, v); err != nil {
					return err
				}
			}
		}
	}
	var errs []error
	if f.mesh != "" && !slices.Contains(cluster.Meshes, f.mesh) {
		errs = append(errs, fmt.Errorf("--mesh %q: choose one of %s", f.mesh, strings.Join(cluster.Meshes, ", ")))
	}
	if !slices.Contains([]string{bench.ProxyAuto, bench.ProxyNginx, bench.ProxyGo}, f.proxy) {
		errs = append(errs, fmt.Errorf("--proxy %q: choose auto, nginx or go", f.proxy))
	}
	for i, r := range f.rates {
		if r <= 0 {
			errs = append(errs, fmt.Errorf("--rates has %d, want > 0", r))
		}
		if r > 0 && r < f.opts.Loaders {
			errs = append(errs, fmt.Errorf("--rates has %d, below --loaders %d: each loader needs at least 1 rps", r, f.opts.Loaders))
		}
		if slices.Contains(f.rates[:i], r) {
			errs = append(errs, fmt.Errorf("--rates has %d twice; give each rate once", r))
		}
	}
	if f.injectDelay < 0 {
		errs = append(errs, fmt.Errorf("--inject-delay is %s, want ≥ 0", f.injectDelay))
	}
	if f.in == "" {
		errs = append(errs, f.opts.Validate())
	}
	errs = append(errs, f.gate.Validate())
	return errors.Join(errs...)
}

func outDir(out string) string {
	if out != "" {
		return out
	}
	return filepath.Join("reports", "out", "bench-"+time.Now().UTC().Format("20060102-150405"))
}

func benchLogger(a *app, verbose bool) *slog.Logger {
	if !verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(a.stderr, nil))
}

func benchLocal(ctx context.Context, a *app, f benchFlags, dir string) (*bench.Summary, error) {
	log := benchLogger(a, f.verbose)
	env, err := bench.StartLocal(ctx, bench.LocalOptions{
		Backend:     echoserver.New(echoserver.Options{}),
		Proxy:       f.proxy,
		BodyBytes:   f.opts.BodyBytes,
		InjectDelay: f.injectDelay,
		Logger:      log,
	})
	if err != nil {
		return nil, err
	}
	defer env.Close()
	plan := bench.Plan{
		Target:   "local",
		Modes:    env.Modes,
		Baseline: bench.ModeBaseline,
		AAMode:   bench.ModeBaselineAA,
		Options:  f.opts,
		Env:      bench.Env{Nodes: []bench.Node{bench.LocalNode("load generator, backend and proxy")}},
		Mesh:     bench.MeshInfo{ProxyBuild: env.Proxy},
	}
	if f.injectDelay > 0 {
		plan.Mesh.ProxyBuild += fmt.Sprintf(" with %s injected delay", f.injectDelay)
	}
	if f.noAA {
		plan.AAMode = ""
		plan.Modes = dropMode(plan.Modes, bench.ModeBaselineAA)
	}
	attacks := len(plan.Modes) * len(f.opts.Connections) * f.opts.Repetitions
	fmt.Fprintf(a.stderr, "meshgate bench: %d attacks of %s (+%s warm-up) at %d rps, about %s; writing %s\n",
		attacks, f.opts.Duration, f.opts.Warmup, f.opts.Rate, time.Duration(attacks)*(f.opts.Duration+f.opts.Warmup), dir)
	return bench.Execute(ctx, dir, plan, bench.LocalLoaders(f.opts.Loaders), log)
}

func dropMode(modes []bench.Mode, name string) []bench.Mode {
	var out []bench.Mode
	for _, m := range modes {
		if m.Name != name {
			out = append(out, m)
		}
	}
	return out
}

// sweepRates runs one bench per offered rate, lowest first, into
// bench.RateDir(dir, rate), then writes and prints the load curve of the
// rates that finished (also when one fails or is interrupted).
func sweepRates(a *app, f benchFlags, dir string, run func(opts bench.Options, dir string) (*bench.Summary, error)) error {
	rates := slices.Sorted(slices.Values(f.rates))
	var done []int
	var runErr error
	for i, rate := range rates {
		fmt.Fprintf(a.stderr, "meshgate bench: sweep %d/%d: %d rps\n", i+1, len(rates), rate)
		opts := f.opts
		opts.Rate = rate
		s, err := run(opts, bench.RateDir(dir, rate))
		if s != nil && len(s.Runs) > 0 {
			done = append(done, rate)
		}
		if err != nil {
			runErr = fmt.Errorf("sweep at %d rps: %w", rate, err)
			break
		}
	}
	if len(done) == 0 {
		return runErr
	}
	c, err := bench.BuildCurve(dir, done, bench.DefaultKneeRule)
	if err == nil {
		err = bench.WriteCurve(dir, c)
	}
	if err != nil {
		return errors.Join(runErr, fmt.Errorf("load curve: %w", err))
	}
	bench.PrintCurve(a.stdout, c)
	fmt.Fprintf(a.stdout, "\nload curve: %s, %s\n", filepath.Join(dir, bench.CurveFile), filepath.Join(dir, bench.CurveMarkdown))
	return runErr
}

// printBenchObjects writes, per mode, the objects `bench --mesh` applies,
// as YAML, and the modes left out on this mesh with the reason.
func printBenchObjects(a *app, mesh, kongPlainURL string) error {
	plan, err := bench.NewClusterPlan(bench.ClusterOptions{Mesh: mesh})
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	descriptions := map[string]string{"shared": "namespaces, the echo backend in each, the plain Kong's route to the plain one"}
	for _, m := range plan.Modes {
		descriptions[m.Name] = m.Description
	}
	for _, g := range plan.ObjectsByMode() {
		y, err := fixtures.ToYAML(g.Objects...)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "# mode %s: %s\n%s", g.Mode, descriptions[g.Mode], y)
	}
	if slices.Contains(plan.ModeNames(), bench.ModeKong) {
		note, err := plainKongNote(kongPlainURL)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "# mode %s: %s\n%s", bench.ModeKong, descriptions[bench.ModeKong], note)
	}
	for _, name := range slices.Sorted(maps.Keys(plan.Skipped)) {
		fmt.Fprintf(a.stdout, "# mode %s not run on %s: %s\n", name, mesh, plan.Skipped[name])
	}
	return nil
}

func benchCluster(ctx context.Context, a *app, f benchFlags, dir string) (*bench.Summary, error) {
	plan, err := bench.NewClusterPlan(bench.ClusterOptions{Mesh: f.mesh, BodyBytes: f.opts.BodyBytes, KongPlainURL: f.kongPlainURL, Loaders: f.opts.Loaders})
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	if f.noAA {
		f.exclude = append(f.exclude, bench.ModeBaselineAA)
	}
	if err := plan.Exclude(f.exclude); err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	if err := cluster.DockerReachable(ctx); err != nil {
		return nil, fmt.Errorf("bench --mesh %s needs a kind cluster, so Docker: %w. `meshgate bench --local` runs the same engine on loopback without one", f.mesh, err)
	}
	log := benchLogger(a, f.verbose)
	env, err := stack.Up(ctx, stack.Options{Mesh: f.mesh, KongPlain: f.kongPlainURL == "", Log: log, RunDir: filepath.Join(dir, "cluster")})
	if err != nil {
		return nil, fmt.Errorf("bench --mesh %s: bring up the cluster: %w", f.mesh, err)
	}
	defer func() {
		// A fresh context: ctx may be cancelled (Ctrl-C) and the cluster must still go.
		if err := stack.Down(context.Background(), env, stack.DownOptions{}); err != nil {
			fmt.Fprintln(a.stderr, "meshgate bench: take the cluster down:", err)
		}
	}()
	fmt.Fprintf(a.stderr, "meshgate bench: modes %s from %d loadgen pod(s) of each kind on the node labelled %s=%s; writing %s\n",
		strings.Join(plan.ModeNames(), ", "), f.opts.Loaders, cluster.LoadgenNodeLabel, cluster.LoadgenPool, dir)
	if len(f.rates) > 0 {
		return nil, sweepRates(a, f, dir, func(opts bench.Options, sub string) (*bench.Summary, error) {
			return bench.RunCluster(ctx, env, plan, opts, sub)
		})
	}
	return bench.RunCluster(ctx, env, plan, f.opts, dir)
}
