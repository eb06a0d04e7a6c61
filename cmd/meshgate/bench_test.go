package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/meshgate/meshgate/bench"
	"github.com/meshgate/meshgate/internal/cluster"
)

var quick = []string{"--rate", "300", "--duration", "1s", "--warmup", "200ms", "--connections", "4", "--reps", "2", "--resamples", "500", "--proxy", "go", "--rate-tolerance", "0.2"}

func TestBenchLocalAndGate(t *testing.T) {
	a := filepath.Join(t.TempDir(), "a")
	code, out, errOut := runCLI(t, append([]string{"bench", "--local", "--out", a}, quick...)...)
	if code != 0 {
		t.Fatalf("bench --local exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"proxy  ", "p50", "p99_9", "95% CI", "A/A noise floor", "vegeta report"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	s, err := bench.ReadSummary(a)
	if err != nil {
		t.Fatal(err)
	}
	if s.Config.Rate != 300 || s.Config.Repetitions != 2 || len(s.Runs) != 6 {
		t.Errorf("flags did not reach the summary: %+v", s.Config)
	}

	code, out, _ = runCLI(t, "bench", "--in", a, "--compare", filepath.Join(a, "summary.json"))
	if code != 0 || !strings.Contains(out, "gate: PASS") {
		t.Errorf("A/A gate: exit %d\n%s", code, out)
	}

	b := filepath.Join(t.TempDir(), "b")
	code, out, errOut = runCLI(t, append([]string{"bench", "--local", "--out", b, "--inject-delay", "10ms", "--compare", a}, quick...)...)
	if g, ok := grewBy(out, "proxy c4 p50"); code != 1 || !strings.Contains(out, "gate: FAIL") || !ok || g < 8 || !strings.Contains(errOut, "latency regression gate failed") {
		t.Errorf("gate on a 10 ms regression: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

func TestBenchLocalDefaults(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	code, out, errOut := runCLI(t, "bench", "--local", "--out", dir, "--duration", "1s", "--reps", "1", "--rate", "200", "--resamples", "200", "--proxy", "go", "--rate-tolerance", "0.2")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	s, err := bench.ReadSummary(dir)
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(s.Config.Warmup) != time.Second || len(s.Config.Connections) != 1 || s.Config.Connections[0] != 16 || s.Config.Rate != 200 {
		t.Errorf("--local defaults (warm-up 1s, 16 connections) not applied or flags lost: %+v", s.Config)
	}
}

func TestBenchRefusals(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no target", []string{"bench"}, 2, "choose one of --local"},
		{"two targets", []string{"bench", "--local", "--mesh", "kuma"}, 2, "choose one of"},
		{"--in without --compare", []string{"bench", "--in", dir}, 2, "only makes sense with --compare"},
		{"missing old summary", []string{"bench", "--in", dir, "--compare", filepath.Join(dir, "nope.json")}, 2, "nope.json"},
		{"unknown mesh", []string{"bench", "--mesh", "linkerd"}, 2, `"linkerd"`},
		{"bad option", []string{"bench", "--local", "--rate", "0", "--out", dir}, 2, "--rate is 0"},
		{"--exclude without --mesh", []string{"bench", "--local", "--exclude", "kong"}, 2, "give it --mesh"},
		{"--exclude an unknown mode", []string{"bench", "--mesh", "kuma", "--exclude", "kong-mesh-waypoint"}, 2, `not a mode on kuma; the modes are baseline, baseline-aa, kong, mesh, kong-mesh`},
		{"--exclude the baseline", []string{"bench", "--mesh", "istio", "--exclude", "baseline"}, 2, "cannot be left out"},
		{"no loader", []string{"bench", "--local", "--loaders", "0", "--out", dir}, 2, "--loaders is 0, want ≥ 1"},
		{"fewer connections than loaders", []string{"bench", "--local", "--loaders", "5", "--connections", "8,4", "--out", dir}, 2, "--connections has 4, fewer than --loaders 5"},
		{"rate below loaders", []string{"bench", "--local", "--loaders", "3", "--rates", "100,2", "--out", dir}, 2, "--rates has 2, below --loaders 3"},
		{"cluster loaders", []string{"bench", "--mesh", "istio", "--loaders", "-1"}, 2, "--loaders is -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, tt.code, tt.want)
			}
		})
	}
}

func TestBenchClusterNeedsDocker(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	code, _, errOut := runCLI(t, "bench", "--mesh", "istio")
	if code != 1 || !strings.Contains(errOut, "needs a kind cluster, so Docker") || !strings.Contains(errOut, "bench --local") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// grewBy reads the growth the gate reported for name ("proxy c4 p50").
func grewBy(text, name string) (float64, bool) {
	prefix := name + ": overhead grew by "
	i := strings.Index(text, prefix)
	if i < 0 {
		return 0, false
	}
	var g float64
	_, err := fmt.Sscanf(text[i+len(prefix):], "%f", &g)
	return g, err == nil
}

func TestBenchDryRunShowsWhatEachModeApplies(t *testing.T) {
	tests := []struct {
		mesh string
		want []string
	}{
		{"kuma", []string{"# mode kong-mesh:", "externalName: echo-bench.meshgate-bench-mesh.svc.8080.mesh", "kind: MeshTrafficPermission", "mode: STRICT",
			"# mode kong-mesh-jwt not run on kuma"}},
		{"istio", []string{"# mode mesh:", "kind: PeerAuthentication", "mode: STRICT", "konghq.com/preserve-host: \"false\"",
			"konghq.com/host-header: echo-bench.meshgate-bench-mesh.svc.cluster.local", "# mode kong-mesh-jwt:", "kind: RequestAuthentication", "kind: AuthorizationPolicy"}},
		{"istio-ambient", []string{"# mode kong-mesh-waypoint:", "gatewayClassName: istio-waypoint", "istio.io/use-waypoint: waypoint"}},
	}
	for _, tt := range tests {
		t.Run(tt.mesh, func(t *testing.T) {
			code, out, errOut := runCLI(t, "bench", "--mesh", tt.mesh, "--dry-run")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("dry run lacks %q:\n%s", w, out)
				}
			}
		})
	}
	// Mode kong's Kong: the plain release, unless the user brings one.
	plain := []string{"# mode kong installs the plain Kong: Helm release kong-plain in namespace meshgate-bench-kong", "IngressClass kong-plain",
		"kuma.io/sidecar-injection=disabled", "istio-injection=disabled", "ingressClassName: kong-plain"}
	for _, mesh := range cluster.Meshes {
		_, out, _ := runCLI(t, "bench", "--mesh", mesh, "--dry-run")
		for _, w := range plain {
			if !strings.Contains(out, w) {
				t.Errorf("%s dry run lacks %q", mesh, w)
			}
		}
	}
	if _, out, _ := runCLI(t, "bench", "--mesh", "kuma", "--dry-run", "--kong-plain-url", "http://my-kong.example"); !strings.Contains(out, "--kong-plain-url http://my-kong.example; meshgate installs no Kong") || strings.Contains(out, "Helm release kong-plain") {
		t.Errorf("with --kong-plain-url the dry run must say no plain Kong is installed:\n%s", out)
	}
	if code, _, errOut := runCLI(t, "bench", "--local", "--dry-run"); code != 2 || !strings.Contains(errOut, "give it --mesh") {
		t.Errorf("--dry-run without --mesh: exit %d, %s", code, errOut)
	}
}

func TestBenchLocalSweepWritesTheCurve(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sweep")
	code, out, errOut := runCLI(t, "bench", "--local", "--out", dir, "--rates", "300,150", "--duration", "1s", "--warmup", "200ms",
		"--reps", "1", "--resamples", "200", "--proxy", "go", "--rate-tolerance", "0.2")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	raw, err := os.ReadFile(filepath.Join(dir, bench.CurveFile))
	if err != nil {
		t.Fatal(err)
	}
	var c bench.Curve
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Series) != 3 {
		t.Fatalf("series %+v, want baseline, baseline-aa and proxy", c.Series)
	}
	for _, s := range c.Series {
		if len(s.Points) != 2 || s.Points[0].OfferedQPS != 150 || s.Points[1].OfferedQPS != 300 || s.Points[0].AchievedQPS <= 0 || s.Points[1].P99Ms <= 0 {
			t.Errorf("%s: points %+v, want 150 then 300 rps with achieved rates and p99s", s.Mode, s.Points)
		}
	}
	for _, r := range []int{150, 300} {
		if _, err := bench.ReadSummary(bench.RateDir(dir, r)); err != nil {
			t.Errorf("rate %d keeps no run folder: %v", r, err)
		}
	}
	if !strings.Contains(out, "## proxy, 16 connections") {
		t.Errorf("the curve is not printed:\n%s", out)
	}
	rep := filepath.Join(t.TempDir(), "report")
	if code, _, errOut := runCLI(t, "report", "--in", dir, "--out", rep); code != 0 {
		t.Fatalf("report on the sweep: exit %d\n%s", code, errOut)
	}
	md, _ := os.ReadFile(filepath.Join(rep, "report.md"))
	if !strings.Contains(string(md), "## Load curve: sweep") || !strings.Contains(string(md), "| proxy | 16 | 150 |") {
		t.Errorf("report.md lacks the load curve:\n%s", md)
	}
	if _, err := os.Stat(filepath.Join(rep, "charts", "load-curve-sweep.svg")); err != nil {
		t.Errorf("no load curve chart: %v", err)
	}
	for _, bad := range [][]string{{"--rates", "100,100"}, {"--rates", "0"}, {"--rates", "100", "--compare", dir}} {
		if code, _, errOut := runCLI(t, append([]string{"bench", "--local", "--out", t.TempDir()}, bad...)...); code != 2 || !strings.Contains(errOut, "--rates") {
			t.Errorf("%v: exit %d, %s", bad, code, errOut)
		}
	}
}

// --loaders 2 runs two attackers per attack for real; the summary's
// percentiles must be those of the merged raw samples, recomputed here with
// a plain sort.
func TestBenchLocalLoadersMergeTheirSamples(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "l")
	code, out, errOut := runCLI(t, append([]string{"bench", "--local", "--out", dir, "--loaders", "2", "--no-aa"}, quick...)...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "each attack spread over 2 loaders") {
		t.Errorf("the printed config lacks the loader count:\n%s", out)
	}
	s, err := bench.ReadSummary(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Config.Loaders != 2 || len(s.Runs) != 4 {
		t.Fatalf("config.loaders %d and %d runs, want 2 and 4", s.Config.Loaders, len(s.Runs))
	}
	for _, r := range s.Runs {
		var lat []int64
		attacks := map[string]int{}
		if err := bench.ReadRaw(filepath.Join(dir, r.Raw), func(res *vegeta.Result) {
			lat = append(lat, int64(res.Latency))
			attacks[res.Attack]++
		}); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("%s-c%d-r%d", r.Mode, r.Connections, r.Repetition)
		if len(attacks) != 2 || attacks[name+"-l0"] == 0 || attacks[name+"-l1"] == 0 {
			t.Errorf("%s holds results of attacks %v, want %s-l0 and -l1", r.Raw, attacks, name)
		}
		slices.Sort(lat)
		nearest := func(q float64) float64 { return float64(lat[max(int(math.Ceil(q*float64(len(lat))))-1, 0)]) / 1e6 }
		want := bench.Latencies{Min: nearest(0), P50: nearest(0.5), P90: nearest(0.9), P99: nearest(0.99), P999: nearest(0.999), Max: nearest(1)}
		got := r.LatenciesMs
		got.Average = 0
		if got != want || r.Requests != len(lat) {
			t.Errorf("%s: summary says %d requests %+v, the merged raw samples give %d %+v", r.Raw, r.Requests, got, len(lat), want)
		}
	}
	rep := filepath.Join(t.TempDir(), "report")
	if code, _, errOut := runCLI(t, "report", "--in", dir, "--out", rep); code != 0 {
		t.Fatalf("report: exit %d\n%s", code, errOut)
	}
	if md, _ := os.ReadFile(filepath.Join(rep, "report.md")); !strings.Contains(string(md), "each attack spread over 2 loaders") {
		t.Errorf("report.md does not say the load was spread over 2 loaders:\n%s", md)
	}
}
