package bench

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Mode is one path through the system under test.
type Mode struct {
	Name        string
	Description string
	Method      string
	URL         string
	Header      http.Header
	// Loader, when set, runs this mode's attacks instead of Execute's
	// loader: in a cluster, meshed modes start from a loadgen with a sidecar.
	Loader Loader
}

// Options are the method's parameters; every one is a `meshgate bench` flag.
type Options struct {
	Rate          int
	Duration      time.Duration
	Warmup        time.Duration
	Timeout       time.Duration
	Connections   []int
	Repetitions   int
	BodyBytes     int
	Seed          uint64
	Resamples     int
	Confidence    float64
	RateTolerance float64
	// Loaders is how many load generators each attack is spread over.
	Loaders int
}

// DefaultOptions mirror Istio's published method (istio/tools perf/benchmark):
// 1000 rps, connections {2,4,8,16,32,64}, 1 KB responses, HTTP/1.1; runs are
// shorter than Istio's 240 s and repeated five times instead.
func DefaultOptions() Options {
	return Options{
		Rate:          1000,
		Duration:      60 * time.Second,
		Warmup:        5 * time.Second,
		Timeout:       10 * time.Second,
		Connections:   []int{2, 4, 8, 16, 32, 64},
		Repetitions:   5,
		BodyBytes:     1024,
		Seed:          1,
		Resamples:     10000,
		Confidence:    0.95,
		RateTolerance: 0.02,
		Loaders:       1,
	}
}

// Validate names every bad option at once.
func (o Options) Validate() error {
	var errs []error
	if o.Rate <= 0 {
		errs = append(errs, fmt.Errorf("--rate is %d, want > 0", o.Rate))
	}
	if o.Duration <= 0 {
		errs = append(errs, fmt.Errorf("--duration is %s, want > 0", o.Duration))
	}
	if o.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout is %s, want > 0", o.Timeout))
	}
	if o.Warmup < 0 {
		errs = append(errs, fmt.Errorf("--warmup is %s, want ≥ 0", o.Warmup))
	}
	if len(o.Connections) == 0 {
		errs = append(errs, errors.New("--connections is empty, want at least one count"))
	}
	seen := map[int]bool{}
	for _, c := range o.Connections {
		switch {
		case c <= 0:
			errs = append(errs, fmt.Errorf("--connections has %d, want > 0", c))
		case seen[c]:
			// Raw files are named by mode, count and repetition: a repeated
			// count would overwrite the first attack's results.
			errs = append(errs, fmt.Errorf("--connections has %d twice; give each count once (use --reps for repetitions)", c))
		}
		seen[c] = true
	}
	if o.BodyBytes < 0 || o.BodyBytes > 1<<20 {
		errs = append(errs, fmt.Errorf("--body-bytes is %d, want 0 to 1048576 (the echo backend's /bytes limit)", o.BodyBytes))
	}
	if o.Repetitions < 1 {
		errs = append(errs, fmt.Errorf("--reps is %d, want ≥ 1 (5 or more for an interval worth reading)", o.Repetitions))
	}
	if o.Resamples < 100 {
		errs = append(errs, fmt.Errorf("--resamples is %d, want ≥ 100", o.Resamples))
	}
	if !(o.Confidence > 0 && o.Confidence < 1) {
		errs = append(errs, fmt.Errorf("--confidence is %g, want in (0, 1)", o.Confidence))
	}
	if o.RateTolerance < 0 || o.RateTolerance >= 1 {
		errs = append(errs, fmt.Errorf("--rate-tolerance is %g, want in [0, 1)", o.RateTolerance))
	}
	return errors.Join(append(errs, o.validateLoaders()...)...)
}

// Plan is a whole benchmark: the modes, which one is the baseline, the A/A
// twin of the baseline (same target, measured as its own mode), and options.
type Plan struct {
	Target   string // "local" or "cluster"
	Modes    []Mode
	Baseline string
	// AAMode, when set, names a mode with the baseline's target; its
	// overhead against the baseline is the noise floor.
	AAMode  string
	Options Options
	Env     Env
	Mesh    MeshInfo
	// Observer, when set, reads the system under test around each attack.
	Observer Observer
}

// An Observer reads the system under test around each attack: Before just
// before it starts, After once it has ended, filling the run's evidence
// (Run.Hop, Run.Proxies). What it cannot read it records in the run; it
// never fails the bench.
type Observer interface {
	Before(ctx context.Context, mode string)
	After(ctx context.Context, run *Run)
}

func (p Plan) validate() error {
	errs := []error{p.Options.Validate()}
	names := map[string]bool{}
	for _, m := range p.Modes {
		if m.Name == "" || m.URL == "" {
			errs = append(errs, fmt.Errorf("mode %q has no name or URL", m.Name))
		}
		if names[m.Name] {
			errs = append(errs, fmt.Errorf("mode %q appears twice", m.Name))
		}
		names[m.Name] = true
	}
	if !names[p.Baseline] {
		errs = append(errs, fmt.Errorf("baseline %q is not among the modes", p.Baseline))
	}
	if p.AAMode != "" && !names[p.AAMode] {
		errs = append(errs, fmt.Errorf("A/A mode %q is not among the modes", p.AAMode))
	}
	return errors.Join(errs...)
}

// Execute attacks every mode at every connection count in every repetition,
// interleaved (the mode order is shuffled, seeded, per repetition and
// connection count, so drift in the machine spreads over all modes), streams
// each attack's results to its raw file, then analyses the raw files and
// writes summary.json. Progress goes to log (nil: quiet).
//
// Raw files are written into a staging folder inside dir and replace dir's
// raw/ and summary.json only at the end (see commitRun), so a run already in
// dir is never mixed with a new one. When ctx is cancelled (Ctrl-C) Execute
// returns an *InterruptedError: dir then holds either its previous run,
// unchanged, or this run's finished attacks marked partial.
func Execute(ctx context.Context, dir string, p Plan, loader Loader, log *slog.Logger) (*Summary, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("bench plan: %w", err)
	}
	for _, m := range p.Modes {
		if err := checkModeLoader(m, loader, p.Options.Loaders); err != nil {
			return nil, fmt.Errorf("bench plan: %w", err)
		}
	}
	stage, err := newStage(dir)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage.path) // empty after a commit
	s := newSummary(p)
	rng := rand.New(rand.NewPCG(p.Options.Seed, 0x6d657368))
	total := len(p.Modes) * len(p.Options.Connections) * p.Options.Repetitions
	for rep := range p.Options.Repetitions {
		for _, conns := range p.Options.Connections {
			order := slices.Clone(p.Modes)
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for _, m := range order {
				if p.Observer != nil {
					p.Observer.Before(ctx, m.Name)
				}
				run, err := attackToFile(ctx, stage.path, m, conns, rep, p.Options, loader)
				if err != nil && ctx.Err() != nil {
					return stage.interrupted(ctx, s, total)
				}
				if err != nil {
					return nil, err
				}
				if p.Observer != nil {
					p.Observer.After(ctx, &run)
				}
				s.Runs = append(s.Runs, run)
				log.Info("attack done", "mode", m.Name, "connections", conns, "rep", rep, "done", len(s.Runs), "of", total)
			}
		}
	}
	s.EndTime = time.Now().UTC()
	if err := stage.commit(s); err != nil {
		return nil, err
	}
	return s, nil
}

func newSummary(p Plan) *Summary {
	o := p.Options
	env := p.Env
	env.GoVersion = runtime.Version()
	modes := make([]string, len(p.Modes))
	desc := map[string]string{}
	for i, m := range p.Modes {
		modes[i] = m.Name
		desc[m.Name] = m.Description
	}
	mesh := p.Mesh
	mesh.ModeDescriptions = desc
	now := time.Now().UTC()
	return &Summary{
		Schema:    Schema,
		ID:        now.Format("20060102-150405"),
		StartTime: now,
		Config: Config{
			Target: p.Target, Modes: modes, Baseline: p.Baseline, AAMode: p.AAMode,
			Rate: o.Rate, Duration: Duration(o.Duration), Warmup: Duration(o.Warmup),
			Connections: o.Connections, Repetitions: o.Repetitions, BodyBytes: o.BodyBytes,
			Protocol: "HTTP/1.1", Timeout: Duration(o.Timeout), Seed: o.Seed,
			Resamples: o.Resamples, Confidence: o.Confidence, RateTolerance: o.RateTolerance,
			LoadGenerator: "vegeta/v12 lib (constant rate, open model)",
			Percentile:    "exact nearest-rank over raw results",
			Loaders:       recordedLoaders(o.Loaders),
		},
		Env:        env,
		Mesh:       mesh,
		Violations: []string{},
	}
}

// attackToFile streams one attack into raw/<mode>-c<conns>-r<rep>.bin: a
// temporary file renamed into place only when the attack completed.
func attackToFile(ctx context.Context, dir string, m Mode, conns, rep int, o Options, loader Loader) (Run, error) {
	run := Run{Mode: m.Name, Connections: conns, Repetition: rep, Raw: RawName(m.Name, conns, rep), URL: m.URL, RequestedQPS: float64(o.Rate)}
	path := filepath.Join(dir, filepath.FromSlash(run.Raw))
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return run, fmt.Errorf("create raw file for %s: %w", run.Raw, err)
	}
	defer os.Remove(f.Name()) // no-op after the rename
	sum := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, sum), 1<<16)
	enc := vegeta.NewEncoder(w)
	spec := AttackSpec{
		Name: fmt.Sprintf("%s-c%d-r%d", m.Name, conns, rep), Method: m.Method, URL: m.URL, Header: m.Header,
		Rate: o.Rate, Duration: Duration(o.Duration), Warmup: Duration(o.Warmup), Connections: conns, Timeout: Duration(o.Timeout),
	}
	if m.Loader != nil {
		loader = m.Loader
	}
	run.StartTime = time.Now().UTC()
	err = loader.Attack(ctx, spec, func(r *vegeta.Result) error { return enc.Encode(r) })
	run.EndTime = time.Now().UTC()
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Chmod(0o644) // CreateTemp makes 0600; results are for sharing
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return run, fmt.Errorf("attack %s (%s): %w", spec.Name, m.URL, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return run, fmt.Errorf("keep raw file %s: %w", path, err)
	}
	run.SHA256 = hex.EncodeToString(sum.Sum(nil))
	return run, nil
}

// ReadRaw decodes a raw file (vegeta gob encoding) and calls fn per result.
func ReadRaw(path string, fn func(*vegeta.Result)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open raw results: %w", err)
	}
	defer f.Close()
	dec := vegeta.NewDecoder(bufio.NewReaderSize(f, 1<<16))
	for n := 0; ; n++ {
		var r vegeta.Result
		err := dec.Decode(&r)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: result %d is not vegeta's gob encoding: %w; the file is truncated or foreign, re-run the attack", path, n, err)
		}
		fn(&r)
	}
}

// runData is one run's raw results reduced to what the statistics need.
type runData struct {
	lat              []int64
	errors           int
	samples          []string
	earliest, latest time.Time
}

func loadRun(dir string, run Run) (runData, error) {
	var d runData
	seen := map[string]bool{}
	err := ReadRaw(filepath.Join(dir, filepath.FromSlash(run.Raw)), func(r *vegeta.Result) {
		d.lat = append(d.lat, int64(r.Latency))
		if r.Error != "" || r.Code < 200 || r.Code >= 400 {
			d.errors++
			msg := r.Error
			if msg == "" {
				msg = fmt.Sprintf("status %d", r.Code)
			}
			if !seen[msg] && len(d.samples) < 5 {
				seen[msg] = true
				d.samples = append(d.samples, msg)
			}
		}
		if d.earliest.IsZero() || r.Timestamp.Before(d.earliest) {
			d.earliest = r.Timestamp
		}
		if r.Timestamp.After(d.latest) {
			d.latest = r.Timestamp
		}
	})
	return d, err
}
