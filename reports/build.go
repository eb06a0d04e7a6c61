package reports

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/meshgate/meshgate/bench"
	"github.com/meshgate/meshgate/scenarios"
)

// Options configure Generate.
type Options struct {
	In       []string // run folders
	Out      string   // output folder
	Meshgate string   // this build's version, shown in the report
	// Now stamps the report; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Output file names inside the output folder.
const (
	JSONFile     = "report.json"
	MarkdownFile = "report.md"
	HTMLFile     = "index.html"
	JUnitFile    = "junit.xml"
	ChartsDir    = "charts"
)

// Generate reads every run folder, and only when all of them parsed, renders
// and writes the outputs (each atomically). Nothing is written on bad input.
func Generate(ctx context.Context, o Options) (*Report, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Out == "" {
		return nil, errors.New("no output folder: pass --out DIR")
	}
	if err := checkOut(o.Out, o.In); err != nil {
		return nil, err
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	r, parts, err := ReadRuns(ctx, o.In)
	if err != nil {
		return nil, err
	}
	r.Generated = now().UTC().Truncate(time.Second)
	r.Meshgate = o.Meshgate
	files, err := Render(r, parts)
	if err != nil {
		return nil, err
	}
	if err := WriteFiles(o.Out, files); err != nil {
		return nil, err
	}
	for _, f := range files {
		log.Info("wrote", "file", filepath.Join(o.Out, f.Name), "bytes", len(f.Data))
	}
	return r, nil
}

// checkOut refuses an output folder that is one of the inputs: its junit.xml
// would be read back as a suite's on the next report.
func checkOut(out string, in []string) error {
	ao, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	for _, d := range in {
		if ad, err := filepath.Abs(d); err == nil && ad == ao {
			return fmt.Errorf("--out %s is also an --in run folder: write the report to its own folder (e.g. %s)", out, filepath.Join(out, "report"))
		}
	}
	return nil
}

// ReadRuns reads run folders into a Report (without Generated, charts or JUnit
// totals: Render adds those). Every bad folder or file is reported at once.
func ReadRuns(ctx context.Context, dirs []string) (*Report, []junitPart, error) {
	if len(dirs) == 0 {
		return nil, nil, errors.New("no run folders: pass --in DIR (a folder written by `meshgate bench --out` or `meshgate e2e --out`) at least once")
	}
	r := &Report{Schema: Schema, Anchors: PublishedAnchors(), Unsourced: UnsourcedClaims()}
	var parts []junitPart
	var errs []error
	names := map[string]int{}
	for _, in := range expandRunFolders(dirs) {
		run, ps, err := readRun(ctx, in.dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		run.Name = uniqueName(names, in.name)
		for i := range ps {
			ps[i].run = run.Name
		}
		parts = append(parts, ps...)
		r.Runs = append(r.Runs, *run)
	}
	for _, d := range dirs {
		c, err := bench.ReadCurve(d)
		if err != nil {
			errs = append(errs, err)
		} else if c != nil {
			r.Curves = append(r.Curves, NamedCurve{Name: filepath.Base(filepath.Clean(d)), Curve: c})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	r.Totals = totals(r.Runs)
	return r, parts, nil
}

type runFolder struct{ dir, name string }

// expandRunFolders lets --in name the parent of run folders too: `meshgate
// e2e --out runs/a` writes one subfolder per mesh (runs/a/kuma,
// runs/a/istio), and --in runs/a reads each, named "a/kuma", "a/istio".
func expandRunFolders(dirs []string) []runFolder {
	var out []runFolder
	for _, d := range dirs {
		base := filepath.Base(filepath.Clean(d))
		if isRunFolder(d) {
			out = append(out, runFolder{d, base})
			continue
		}
		entries, err := os.ReadDir(d)
		var subs []runFolder
		for _, e := range entries {
			if sub := filepath.Join(d, e.Name()); e.IsDir() && isRunFolder(sub) {
				subs = append(subs, runFolder{sub, base + "/" + e.Name()})
			}
		}
		if err != nil || len(subs) == 0 {
			out = append(out, runFolder{d, base}) // readRun says what is wrong
			continue
		}
		out = append(out, subs...)
	}
	return out
}

func isRunFolder(dir string) bool {
	if exists(filepath.Join(dir, bench.SummaryFile)) || exists(filepath.Join(dir, scenarios.ResultFile)) {
		return true
	}
	for _, pattern := range []string{"*.xml", filepath.Join("junit", "*.xml")} {
		if m, _ := filepath.Glob(filepath.Join(dir, pattern)); len(m) > 0 {
			return true
		}
	}
	return false
}

func uniqueName(seen map[string]int, name string) string {
	seen[name]++
	if n := seen[name]; n > 1 {
		return fmt.Sprintf("%s-%d", name, n)
	}
	return name
}

func totals(runs []Run) Totals {
	var t Totals
	for _, run := range runs {
		for _, s := range run.Scenarios {
			t.Scenarios++
			switch s.Outcome {
			case Passed:
				t.Passed++
			case Failed:
				t.Failed++
			case Skipped:
				t.Skipped++
			default:
				t.NotSupported++
			}
		}
	}
	return t
}

// readRun detects a folder's kind by its files: summary.json (bench),
// e2e.json (e2e), JUnit *.xml at the top or under junit/ (Ginkgo suites).
func readRun(ctx context.Context, dir string) (*Run, []junitPart, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("run folder %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, nil, fmt.Errorf("run folder %s is a file: pass the folder that holds it", dir)
	}
	var run *Run
	var errs []error
	summary := filepath.Join(dir, bench.SummaryFile)
	if exists(summary) {
		b, err := readBench(ctx, dir)
		if err != nil {
			errs = append(errs, err)
		}
		run = b
	}
	e2ePath := filepath.Join(dir, scenarios.ResultFile)
	if exists(e2ePath) {
		e, err := readE2E(e2ePath)
		switch {
		case err != nil:
			errs = append(errs, err)
		case run != nil:
			run.Kind = KindE2E + "+" + KindBench
			run.Scenarios, run.Environment = e.Scenarios, mergeEnv(e.Environment, run.Environment)
		default:
			run = e
		}
	}
	parts, files, err := readJUnitFiles(dir)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	if run == nil && len(parts) == 0 {
		if raw, _ := filepath.Glob(filepath.Join(dir, bench.RawDir, "*.bin")); len(raw) > 0 {
			return nil, nil, fmt.Errorf("run folder %s holds %d raw bench file(s) but no %s: a bench stopped before writing its summary; re-run meshgate bench into it", dir, len(raw), bench.SummaryFile)
		}
		return nil, nil, fmt.Errorf("run folder %s: not a meshgate run folder: found no %s (meshgate bench), %s (meshgate e2e) or JUnit *.xml (Ginkgo --junit-report)", dir, bench.SummaryFile, scenarios.ResultFile)
	}
	if run == nil {
		run = &Run{Kind: KindE2E, Scenarios: scenariosFromJUnit(parts)}
	}
	run.Dir = dir
	run.JUnitFiles = files
	return run, parts, nil
}

func readE2E(path string) (*Run, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("e2e result %s: %w", path, err)
	}
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		return nil, fmt.Errorf("e2e result %s is truncated or not JSON (%d bytes: %v); re-run meshgate e2e or restore the file", path, len(data), err)
	}
	rr, err := scenarios.ReadResult(path)
	if err != nil {
		return nil, err
	}
	return fromE2E(path, rr)
}

func mergeEnv(e2e, b Environment) Environment {
	out := e2e
	if out.Node == "" {
		out.Node, out.Kernel, out.CPUs = b.Node, b.Kernel, b.CPUs
	}
	for _, v := range b.Versions {
		if !slices.ContainsFunc(out.Versions, func(x Version) bool { return x.Component == v.Component }) {
			out.Versions = append(out.Versions, v)
		}
	}
	return out
}

// readJUnitFiles reads *.xml at the folder's top and under junit/.
func readJUnitFiles(dir string) ([]junitPart, []string, error) {
	var paths []string
	for _, sub := range []string{".", "junit"} {
		m, _ := filepath.Glob(filepath.Join(dir, sub, "*.xml"))
		paths = append(paths, m...)
	}
	slices.Sort(paths)
	var parts []junitPart
	var rel []string
	var errs []error
	for _, p := range paths {
		s, err := readJUnit(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r, _ := filepath.Rel(dir, p)
		parts = append(parts, junitPart{file: p, suites: s})
		rel = append(rel, filepath.ToSlash(r))
	}
	return parts, rel, errors.Join(errs...)
}

// scenariosFromJUnit makes one scenario row per test case when a folder has
// JUnit files but no e2e.json.
func scenariosFromJUnit(parts []junitPart) []Scenario {
	var out []Scenario
	for _, p := range parts {
		for _, s := range p.suites.TestSuites {
			for _, tc := range s.TestCases {
				sc := Scenario{ID: tc.Name, Name: s.Name, Outcome: junitOutcome(tc), Seconds: round(tc.Time, 1)}
				switch {
				case tc.Failure != nil:
					sc.Message = firstLine(tc.Failure.Message)
				case tc.Error != nil:
					sc.Message = firstLine(tc.Error.Message)
				case tc.Skipped != nil:
					sc.Message = firstLine(tc.Skipped.Message)
				}
				out = append(out, sc)
			}
		}
	}
	return out
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// File is one output, its Name relative to the output folder.
type File struct {
	Name string
	Data []byte
}

// Render produces every output in memory, in write order: charts, junit.xml,
// report.json, report.md, then index.html last (so a page never points at a
// chart not yet written).
func Render(r *Report, parts []junitPart) ([]File, error) {
	charts, err := buildCharts(r)
	if err != nil {
		return nil, err
	}
	var files []File
	r.Charts = nil
	for _, c := range charts {
		r.Charts = append(r.Charts, c.ref)
		files = append(files, File{c.ref.SVG, c.svg}, File{c.ref.PNG, c.png})
	}
	r.JUnit = nil
	if len(parts) > 0 {
		merged, t := mergeJUnit(parts)
		data, err := encodeJUnit(merged)
		if err != nil {
			return nil, err
		}
		t.File = JUnitFile
		r.JUnit = &t
		files = append(files, File{JUnitFile, data})
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", JSONFile, err)
	}
	files = append(files, File{JSONFile, append(js, '\n')})
	var md, page bytes.Buffer
	if err := Markdown(&md, r); err != nil {
		return nil, err
	}
	if err := HTML(&page, r, charts); err != nil {
		return nil, err
	}
	return append(files, File{MarkdownFile, md.Bytes()}, File{HTMLFile, page.Bytes()}), nil
}

// WriteFiles writes each file atomically (temp file in the same folder, then
// rename): a reader sees the old file or the new one, never half of one.
func WriteFiles(dir string, files []File) error {
	for _, f := range files {
		path := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
		}
		if err := writeAtomic(path, f.Data); err != nil {
			return err
		}
	}
	return nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
