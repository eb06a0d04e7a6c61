package reports

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/bench"
	"github.com/meshgate/meshgate/fixtures/apps/echo/echoserver"
)

// End to end: the bench engine on loopback (echo backend direct, its A/A
// twin, and a Go reverse-proxy hop) writes a real run folder, and the report
// renders it. Short runs: this checks the pipeline, not the numbers.
func TestReportOfARealLocalBenchRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the bench engine on loopback for a few seconds; skipped with -short")
	}
	env, err := bench.StartLocal(t.Context(), bench.LocalOptions{Backend: echoserver.New(echoserver.Options{}), Proxy: bench.ProxyGo, BodyBytes: 1024})
	if err != nil {
		t.Fatalf("start local bench target: %v", err)
	}
	t.Cleanup(func() { env.Close() })
	opts := bench.DefaultOptions()
	opts.Rate, opts.Duration, opts.Warmup = 200, time.Second, 200*time.Millisecond
	opts.Connections, opts.Repetitions, opts.Resamples = []int{2}, 2, 200
	opts.RateTolerance = 0.2 // a shared CI machine; a shortfall rejects a run, and the report must show that too
	dir := filepath.Join(t.TempDir(), "A")
	plan := bench.Plan{
		Target: "local", Modes: env.Modes, Baseline: bench.ModeBaseline, AAMode: bench.ModeBaselineAA,
		Options: opts, Env: bench.Env{Nodes: []bench.Node{bench.LocalNode("load+target")}}, Mesh: bench.MeshInfo{ProxyBuild: env.Proxy},
	}
	if _, err := bench.Execute(t.Context(), dir, plan, bench.LocalLoader{}, nil); err != nil {
		t.Fatalf("bench: %v", err)
	}

	out := filepath.Join(t.TempDir(), "R")
	r, err := Generate(t.Context(), Options{In: []string{dir}, Out: out})
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	for _, f := range []string{JSONFile, MarkdownFile, HTMLFile} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("output %s missing or empty: %v", f, err)
		}
	}
	if len(r.Charts) == 0 {
		t.Fatal("no charts")
	}
	for _, c := range r.Charts {
		for _, f := range []string{c.SVG, c.PNG} {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Errorf("chart file %s: %v", f, err)
			}
		}
	}
	b := r.Runs[0].Bench
	if r.Runs[0].Kind != KindBench || b == nil || !b.Local {
		t.Fatalf("run %+v is not a local bench run", r.Runs[0])
	}
	modes := map[string]bool{}
	for _, m := range b.Modes {
		modes[m.Mode] = true
		if m.Runs > 0 && (len(m.Percentiles) != len(percentileColumns) || m.Requests == 0) {
			t.Errorf("mode %s: %d accepted runs but percentiles %v, %d requests", m.Mode, m.Runs, m.Percentiles, m.Requests)
		}
	}
	for _, want := range []string{bench.ModeBaseline, bench.ModeBaselineAA, bench.ModeProxy} {
		if !modes[want] {
			t.Errorf("mode %s missing from the report (have %v)", want, modes)
		}
	}
	md := string(readOut(t, out, MarkdownFile))
	if !strings.Contains(md, "| proxy | 2 |") && len(b.Overheads) > 0 {
		t.Errorf("report.md has no overhead row for the proxy hop at 2 connections:\n%s", md)
	}
	if refs := externalRefs(readOut(t, out, HTMLFile)); len(refs) > 0 {
		t.Errorf("index.html references %q", refs)
	}
}
