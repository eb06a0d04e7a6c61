package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
