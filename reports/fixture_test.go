package reports

import (
	"bufio"
	"encoding/xml"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/reporters"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/meshgate/meshgate/bench"
	"github.com/meshgate/meshgate/internal/probe"
	"github.com/meshgate/meshgate/scenarios"
)

// Test data: run folders built in Go with the producers' own types and
// writers (bench.Analyze computes the statistics from raw files written with
// vegeta's encoder; scenarios.RunResult.WriteFile writes e2e.json). The
// latencies are synthetic, from a seeded distribution: they exercise the
// pipeline and are never presented as measurements.

var fixtureStart = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// synthMode is a mode's synthetic latency: base plus a log-normal tail.
type synthMode struct {
	name     string
	baseMs   float64
	sigma    float64
	errorRep int // repetition (1-based) whose results carry 502s; 0: none
}

type synthBench struct {
	rate    int
	seconds int
	reps    int
	conns   []int
	seed    uint64
	proxy   string
	modes   []synthMode
}

func defaultSynth() synthBench {
	return synthBench{
		rate: 400, seconds: 2, reps: 3, conns: []int{4}, seed: 7, proxy: "synthetic proxy",
		modes: []synthMode{
			{name: "baseline", baseMs: 0.20, sigma: 0.35},
			{name: "baseline-aa", baseMs: 0.20, sigma: 0.35},
			{name: "proxy", baseMs: 0.32, sigma: 0.40, errorRep: 3},
		},
	}
}

// writeBenchFolder writes raw/ and summary.json as `meshgate bench` does.
func writeBenchFolder(t testing.TB, dir string, sb synthBench) *bench.Summary {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, bench.RawDir), 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(sb.seed, 1))
	names := make([]string, len(sb.modes))
	desc := map[string]string{}
	for i, m := range sb.modes {
		names[i] = m.name
		desc[m.name] = "synthetic " + m.name
	}
	s := &bench.Summary{
		Schema: bench.Schema, ID: "synthetic", StartTime: fixtureStart, EndTime: fixtureStart.Add(time.Hour),
		Config: bench.Config{
			Target: "local", Modes: names, Baseline: "baseline", AAMode: "baseline-aa",
			Rate: sb.rate, Duration: bench.Duration(time.Duration(sb.seconds) * time.Second), Warmup: bench.Duration(time.Second),
			Connections: sb.conns, Repetitions: sb.reps, BodyBytes: 1024, Protocol: "HTTP/1.1",
			Timeout: bench.Duration(10 * time.Second), Seed: 1, Resamples: 300, Confidence: 0.95, RateTolerance: 0.02,
			LoadGenerator: "vegeta/v12 lib (constant rate, open model)", Percentile: "exact nearest-rank over raw results",
		},
		Env:  bench.Env{GoVersion: "go1.26", Nodes: []bench.Node{{Name: "ci-runner", Role: "load+target", OS: "linux", Arch: "amd64", KernelVersion: "6.1.0-synthetic", Cores: 2}}},
		Mesh: bench.MeshInfo{ProxyBuild: sb.proxy, ModeDescriptions: desc},
	}
	at := fixtureStart
	n := sb.rate * sb.seconds
	step := time.Second / time.Duration(sb.rate)
	for rep := range sb.reps {
		for _, conns := range sb.conns {
			for _, m := range sb.modes {
				raw := bench.RawName(m.name, conns, rep)
				f, err := os.Create(filepath.Join(dir, filepath.FromSlash(raw)))
				if err != nil {
					t.Fatal(err)
				}
				w := bufio.NewWriter(f)
				enc := vegeta.NewEncoder(w)
				start := at
				for i := range n {
					lat := m.baseMs * math.Exp(m.sigma*rng.NormFloat64()) * (1 + 0.02*float64(conns))
					r := vegeta.Result{Attack: raw, Seq: uint64(i), Code: 200, Timestamp: at, Latency: time.Duration(lat * 1e6), BytesIn: 1024, Method: "GET", URL: "http://127.0.0.1/bytes/1024"}
					if m.errorRep == rep+1 && i%50 == 0 {
						r.Code, r.Error = 502, "502 Bad Gateway"
					}
					if err := enc.Encode(&r); err != nil {
						t.Fatal(err)
					}
					at = at.Add(step)
				}
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				s.Runs = append(s.Runs, bench.Run{Mode: m.name, Connections: conns, Repetition: rep, Raw: raw, URL: "http://127.0.0.1/bytes/1024", StartTime: start, EndTime: at, RequestedQPS: float64(sb.rate)})
				at = at.Add(500 * time.Millisecond)
			}
		}
	}
	if err := bench.Analyze(dir, s); err != nil {
		t.Fatalf("bench.Analyze on the synthetic folder: %v", err)
	}
	if err := bench.WriteSummary(dir, s); err != nil {
		t.Fatal(err)
	}
	return s
}

// writeE2EFolder writes e2e.json and two Ginkgo JUnit files.
func writeE2EFolder(t testing.TB, dir string) {
	t.Helper()
	rr := scenarios.NewRunResult("synthetic-e2e", scenarios.Environment{
		Mesh: "kuma", Cluster: "meshgate", Provider: "kind", Kubernetes: "v1.34.0", Host: "linux/amd64",
		Versions: map[string]string{"kong": "3.9", "kuma": "2.14.3", "kind": "v0.30.0"}, Meshgate: "test", GoVersion: "go1.26",
	}, fixtureStart)
	ts := func(sec int) time.Time { return fixtureStart.Add(time.Duration(sec) * time.Second) }
	traffic := func(url string, outcomes map[probe.Outcome]int, pods map[string]int) probe.TrafficReport {
		tr := probe.TrafficReport{URL: url, Outcomes: outcomes, Pods: pods}
		for o, c := range outcomes {
			for range c {
				tr.Requests = append(tr.Requests, probe.RequestResult{Seq: len(tr.Requests), Outcome: o})
			}
		}
		return tr
	}
	repro := scenarios.PhaseResult{Kind: scenarios.PhaseReproduce, Name: "Kong to Pod IPs under STRICT mTLS", Verdict: scenarios.Passed, Applied: []string{"kuma-strict", "kong-route-direct"}, Started: ts(10), Finished: ts(40),
		Checks: []scenarios.CheckResult{
			{Name: "Kong targets Pod IPs", Kind: scenarios.Precondition, Verdict: scenarios.Passed},
			{Name: "Service has no service-upstream annotation", Kind: scenarios.Precondition, Verdict: scenarios.Passed},
			{Name: "≥95% of requests end in 502 or reset", Kind: scenarios.Claim, Verdict: scenarios.Passed, Detail: "20 of 20"},
		},
		Evidence: scenarios.Evidence{
			Traffic:    map[string]probe.TrafficReport{"through-kong": traffic("http://kong-proxy/check-in", map[probe.Outcome]int{probe.Outcome502: 19, probe.OutcomeReset: 1}, nil)},
			Targets:    []probe.ClassifiedTarget{{Target: "10.244.1.7:8080", Host: "10.244.1.7", Port: "8080", Kind: probe.TargetPodIP}, {Target: "10.244.2.9:8080", Host: "10.244.2.9", Port: "8080", Kind: probe.TargetPodIP}},
			StatDeltas: map[string][]probe.StatDelta{"kong-air-production/check-in-api-7d9": {{Name: "listener.self_inbound_dp_main.ssl.connection_error", Before: 3, After: 23, Delta: 20}}},
			Services:   []scenarios.ServiceFacts{{Namespace: "kong-air-production", Name: "check-in-api", Type: "ClusterIP", ClusterIP: "10.96.14.2", Annotations: map[string]string{"kuma.io/ignore": "true"}}},
		}}
	verify := scenarios.PhaseResult{Kind: scenarios.PhaseVerify, Name: "STRICT handshakes through the bridge", Verdict: scenarios.Passed, Started: ts(60), Finished: ts(90),
		Checks: []scenarios.CheckResult{
			{Name: "all requests 200", Kind: scenarios.Claim, Verdict: scenarios.Passed},
			{Name: "backend saw Kong's SPIFFE ID", Kind: scenarios.Claim, Verdict: scenarios.Passed},
			{Name: "seed name check-in-api.kong-air-production.svc.mesh.local", Kind: scenarios.Finding, Verdict: scenarios.Passed, Detail: "does not resolve on Kubernetes-mode Kuma"},
		},
		Evidence: scenarios.Evidence{
			Traffic:    map[string]probe.TrafficReport{"through-kong": traffic("http://kong-proxy/check-in", map[probe.Outcome]int{probe.OutcomeOK: 20}, map[string]int{"check-in-api-7d9": 11, "check-in-api-x2f": 9})},
			Targets:    []probe.ClassifiedTarget{{Target: "check-in-api.kong-air-production.svc.8080.mesh:80", Host: "check-in-api.kong-air-production.svc.8080.mesh", Port: "80", Kind: probe.TargetHostname}},
			XFCC:       []scenarios.XFCCObservation{{Raw: "By=spiffe://default/check-in-api;URI=spiffe://default/kong-gateway", Count: 20, SPIFFE: []string{"spiffe://default/kong-gateway"}}},
			StatDeltas: map[string][]probe.StatDelta{"kong-air-production/check-in-api-7d9": {{Name: "listener.self_inbound_dp_main.ssl.handshake", Before: 40, After: 60, Delta: 20}}},
		}}
	rr.Put(scenarios.ScenarioResult{ID: "kuma-podip-502", Description: "Kong routes to Pod IPs; the STRICT backend resets plaintext", Mesh: scenarios.MeshKuma, Verdict: scenarios.Passed, Phases: []scenarios.PhaseResult{repro}, Started: ts(0), Finished: ts(45)})
	rr.Put(scenarios.ScenarioResult{ID: "kuma-externalname-bridge", Description: "ExternalName bridge to the mesh hostname", Mesh: scenarios.MeshKuma, Verdict: scenarios.Passed, Findings: []string{"the seed's .svc.mesh.local name does not resolve"}, Phases: []scenarios.PhaseResult{verify}, Started: ts(50), Finished: ts(95)})
	jwt := scenarios.Evidence{}
	if err := jwt.SetDetail("jwt", []map[string]any{{"claim": "sub", "expected": "passenger-42", "seen": "passenger-42"}, {"claim": "iss", "expected": "kong-air", "seen": "kong-air"}, {"claim": "tier", "expected": "gold", "seen": ""}}); err != nil {
		t.Fatal(err)
	}
	rr.Put(scenarios.ScenarioResult{ID: "istio-jwt-claims", Description: "JWT claims reach the backend", Mesh: scenarios.MeshIstio, Verdict: scenarios.Failed, Reason: "verify: claim tier not forwarded",
		Phases: []scenarios.PhaseResult{{Kind: scenarios.PhaseVerify, Name: "claims as headers", Verdict: scenarios.Failed, Reason: "claim tier not forwarded", Evidence: jwt}}})
	rr.Put(scenarios.ScenarioResult{ID: "kuma-negative-control", Description: "plaintext client outside the mesh is rejected", Mesh: scenarios.MeshKuma, Verdict: scenarios.Skipped, Reason: "no PERMISSIVE backend in this run"})
	if err := rr.WriteFile(dir); err != nil {
		t.Fatal(err)
	}
	writeJUnit(t, filepath.Join(dir, "junit", "kuma.xml"), "Kuma suite", []reporters.JUnitTestCase{
		{Name: "[It] kuma-podip-502 reproduces the 502", Status: "passed", Time: 45},
		{Name: "[It] kuma-externalname-bridge verifies STRICT", Status: "passed", Time: 45},
		{Name: "[It] kuma-negative-control", Status: "skipped", Skipped: &reporters.JUnitSkipped{Message: "skipped - no PERMISSIVE backend"}},
	})
	writeJUnit(t, filepath.Join(dir, "junit", "istio.xml"), "Istio suite", []reporters.JUnitTestCase{
		{Name: "[It] istio-jwt-claims", Status: "failed", Time: 12, Failure: &reporters.JUnitFailure{Message: "claim tier not forwarded", Type: "failed"}},
	})
}

func writeJUnit(t testing.TB, path, suite string, cases []reporters.JUnitTestCase) {
	t.Helper()
	s := reporters.JUnitTestSuite{Name: suite, Package: "suites", Tests: len(cases), TestCases: cases, Timestamp: fixtureStart.Format(time.RFC3339)}
	for _, c := range cases {
		s.Time += c.Time
		switch c.Status {
		case "failed":
			s.Failures++
		case "skipped":
			s.Skipped++
		}
	}
	doc := recount(reporters.JUnitTestSuites{TestSuites: []reporters.JUnitTestSuite{s}})
	data, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append([]byte(xml.Header), data...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixtureRuns writes two synthetic bench folders (the second with a slower
// proxy hop) and an e2e folder under root.
func fixtureRuns(t testing.TB, root string) []string {
	t.Helper()
	a := filepath.Join(root, "synthetic-a")
	b := filepath.Join(root, "synthetic-b")
	e := filepath.Join(root, "e2e-kuma")
	writeBenchFolder(t, a, defaultSynth())
	sb := defaultSynth()
	sb.seed, sb.modes[2].baseMs, sb.modes[2].errorRep = 8, 0.45, 0
	writeBenchFolder(t, b, sb)
	writeE2EFolder(t, e)
	return []string{e, a, b}
}

var fixedNow = func() time.Time { return time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) }

func generateFixture(t testing.TB) (string, *Report) {
	t.Helper()
	root := t.TempDir()
	in := fixtureRuns(t, root)
	out := filepath.Join(root, "report")
	r, err := Generate(t.Context(), Options{In: in, Out: out, Meshgate: "test", Now: fixedNow})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return out, r
}

func writeSamples(t testing.TB, path string, smp []sample) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	enc := vegeta.NewEncoder(f)
	for i, s := range smp {
		if err := enc.Encode(&vegeta.Result{Seq: uint64(i), Code: 200, Timestamp: s.at, Latency: time.Duration(s.ns)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
