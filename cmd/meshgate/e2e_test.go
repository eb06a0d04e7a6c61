package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/stack"
	"github.com/meshgate/meshgate/reports"
	"github.com/meshgate/meshgate/scenarios"
)

type fakeE2E struct {
	doctorFail bool
	suiteErr   error
	ups        []string
	downs      []bool // Keep of each Down
	runs       []suiteRun
}

func (f *fakeE2E) deps() e2eDeps {
	return e2eDeps{
		doctor: func(context.Context) []cluster.Finding {
			if f.doctorFail {
				return []cluster.Finding{{Check: "Docker", Status: cluster.Fail, Detail: "Docker is not reachable at unix:///var/run/docker.sock", Fix: "start Docker"}}
			}
			return []cluster.Finding{{Check: "Docker", Status: cluster.OK}}
		},
		up: func(_ context.Context, o stack.Options) (*cluster.Env, error) {
			f.ups = append(f.ups, o.Mesh)
			return &cluster.Env{RunID: "r1", RunDir: o.RunDir, KubeconfigPath: "/k/config", KubeContext: "kind-x", KongProxyURL: "http://127.0.0.1:30080", KongAdminURL: "https://127.0.0.1:40000", Mesh: o.Mesh}, nil
		},
		down: func(_ context.Context, _ *cluster.Env, o stack.DownOptions) error {
			f.downs = append(f.downs, o.Keep)
			return nil
		},
		runSuite: func(_ context.Context, s suiteRun) error {
			f.runs = append(f.runs, s)
			r := scenarios.NewRunResult("r1", scenarios.Environment{Mesh: s.Mesh}, time.Now())
			r.Put(scenarios.ScenarioResult{ID: scenarios.KumaPodIP502, Verdict: scenarios.Passed, Findings: []string{"trap: seen"}})
			if err := r.WriteFile(s.Out); err != nil {
				return err
			}
			return f.suiteErr
		},
	}
}

func TestE2EStopsAtDoctor(t *testing.T) {
	var out, errb bytes.Buffer
	f := &fakeE2E{doctorFail: true}
	err := runE2E(context.Background(), &app{stdout: &out, stderr: &errb}, clusterFlags{mesh: "kuma", keepalivePool: -1}, "", f.deps())
	if err == nil || !strings.Contains(err.Error(), "Docker is not reachable") || !strings.Contains(err.Error(), "nothing was created") {
		t.Fatalf("err = %v", err)
	}
	if len(f.ups) != 0 || len(f.runs) != 0 {
		t.Errorf("doctor failed, yet up %v / runs %v happened", f.ups, f.runs)
	}
	if !strings.Contains(errb.String(), "fix: start Docker") {
		t.Errorf("doctor's findings not shown: %q", errb.String())
	}
}

func TestE2ERunsSuiteAndDeletesCluster(t *testing.T) {
	out := t.TempDir()
	var stdout bytes.Buffer
	f := &fakeE2E{}
	err := runE2E(context.Background(), &app{stdout: &stdout, stderr: &bytes.Buffer{}}, clusterFlags{out: out, keepalivePool: -1}, scenarios.KumaPodIP502, f.deps())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.ups, ",") != "kuma" || len(f.downs) != 1 || f.downs[0] {
		t.Fatalf("ups %v downs %v: want one kuma stack, deleted", f.ups, f.downs)
	}
	if f.runs[0].Out != filepath.Join(out, "kuma") || f.runs[0].Scenario != scenarios.KumaPodIP502 {
		t.Errorf("suite run %+v", f.runs[0])
	}
	for _, want := range []string{"passed   kuma-podip-502", "finding: trap: seen", "run folder: " + out} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	md, err := os.ReadFile(filepath.Join(out, "report", reports.MarkdownFile))
	if err != nil {
		t.Fatalf("e2e wrote no report: %v", err)
	}
	if !strings.Contains(string(md), scenarios.KumaPodIP502) {
		t.Errorf("report.md does not name the scenario that ran:\n%s", md)
	}
}

func TestE2EKeepsOnFailureWhenAsked(t *testing.T) {
	f := &fakeE2E{suiteErr: errors.New("exit status 1")}
	err := runE2E(context.Background(), &app{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}, clusterFlags{mesh: "kuma", out: t.TempDir(), keepOnFailure: true, keepalivePool: -1}, "", f.deps())
	if err == nil || !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("err = %v", err)
	}
	if len(f.downs) != 1 || !f.downs[0] {
		t.Errorf("downs %v: a failed suite with --keep-on-failure keeps the cluster", f.downs)
	}
}

func TestE2EMeshes(t *testing.T) {
	tests := []struct {
		mesh, scenario, want, err string
	}{
		{"", scenarios.KumaBridge, "kuma", ""},
		{"kuma", "", "kuma", ""},
		{"", "no-such", "", "unknown scenario"},
		{"consul", "", "", "choose one of"},
		{"istio", scenarios.KumaBridge, "", "runs on kuma"},
		{"", scenarios.AmbientWaypointBypass, "istio-ambient", ""},
		{"", "", "istio,istio-ambient,kuma", ""},
	}
	for _, tc := range tests {
		got, err := e2eMeshes(tc.mesh, tc.scenario)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("e2eMeshes(%q, %q) err = %v, want %q", tc.mesh, tc.scenario, err, tc.err)
			}
			continue
		}
		if err != nil || strings.Join(got, ",") != tc.want {
			t.Errorf("e2eMeshes(%q, %q) = %v, %v; want %s", tc.mesh, tc.scenario, got, err, tc.want)
		}
	}
}

func TestAmbientSuiteFolder(t *testing.T) {
	args := strings.Join(goTestArgs(suiteRun{Mesh: cluster.MeshIstioAmbient, Out: "o", Env: &cluster.Env{}}), " ")
	if !strings.Contains(args, "test ./suites/ambient -count=1") {
		t.Errorf("go %s: want the ambient suite folder", args)
	}
}

func TestGoTestArgs(t *testing.T) {
	args := strings.Join(goTestArgs(suiteRun{Mesh: "kuma", Scenario: "kuma-podip-502", Out: "runs/a/kuma", Env: &cluster.Env{
		KubeconfigPath: "/k", KubeContext: "kind-x", KongProxyURL: "http://127.0.0.1:30080", KongAdminURL: "https://127.0.0.1:4", RunID: "r"}}), " ")
	for _, want := range []string{"test ./suites/kuma -count=1", "-ginkgo.junit-report=runs/a/kuma/junit.xml", "-ginkgo.json-report=runs/a/kuma/ginkgo.json",
		"-ginkgo.label-filter=kuma-podip-502", "-meshgate.kubeconfig=/k", "-meshgate.kong-admin=https://127.0.0.1:4", "-meshgate.out=runs/a/kuma"} {
		if !strings.Contains(args, want) {
			t.Errorf("go %s\nlacks %q", args, want)
		}
	}
}
