package scenarios

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshgate/meshgate/fixtures"
)

func TestJudge(t *testing.T) {
	ok := func(*Evidence) error { return nil }
	bad := func(*Evidence) error { return errors.New("boom") }
	tests := []struct {
		name    string
		exp     []Expectation
		verdict Verdict
		reason  string
		kinds   []Verdict
	}{
		{"all hold", []Expectation{{"p", Precondition, ok}, {"c", Claim, ok}}, Passed, "", []Verdict{Passed, Passed}},
		{"claim fails", []Expectation{{"p", Precondition, ok}, {"c", Claim, bad}}, Failed, "c: boom", []Verdict{Passed, Failed}},
		{"precondition fails: claims skipped", []Expectation{{"c", Claim, ok}, {"p", Precondition, bad}}, Failed, "precondition not met", []Verdict{Failed, Skipped}},
		{"finding never fails", []Expectation{{"f", Finding, bad}}, Passed, "", []Verdict{Passed}},
		{"panicking check", []Expectation{{"c", Claim, func(*Evidence) error { panic("x") }}}, Failed, "panicked", []Verdict{Failed}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs, v, reason := Judge(tc.exp, &Evidence{})
			if v != tc.verdict || !strings.Contains(reason, tc.reason) {
				t.Errorf("verdict %s %q, want %s %q", v, reason, tc.verdict, tc.reason)
			}
			for i, c := range cs {
				if c.Verdict != tc.kinds[i] {
					t.Errorf("check %s: %s, want %s", c.Name, c.Verdict, tc.kinds[i])
				}
			}
		})
	}
}

func TestSummarise(t *testing.T) {
	s := Scenario{ID: "x", Mesh: MeshKuma}
	now := time.Now()
	sr := Summarise(s, []PhaseResult{
		{Name: "a", Verdict: Passed, Started: now, Checks: []CheckResult{{Name: "f", Kind: Finding, Verdict: Passed, Detail: "seen"}}},
		{Name: "b", Verdict: Failed, Reason: "r", Finished: now},
	})
	if sr.Verdict != Failed || sr.Reason != "b: r" || len(sr.Findings) != 1 || sr.Findings[0] != "f: seen" {
		t.Errorf("%+v", sr)
	}
	if Summarise(s, nil).Verdict != Skipped {
		t.Error("no phases should be skipped")
	}
}

func TestResultRoundTripAndAtomicity(t *testing.T) {
	dir := t.TempDir()
	r := NewRunResult("run-1", Environment{Mesh: "kuma"}, time.Now())
	r.Put(ScenarioResult{ID: "a", Verdict: Passed})
	r.Put(ScenarioResult{ID: "a", Verdict: Failed, Reason: "later"})
	if err := r.WriteFile(dir); err != nil {
		t.Fatal(err)
	}
	got, err := ReadResult(filepath.Join(dir, ResultFile))
	if err != nil {
		t.Fatal(err)
	}
	if got.Schema != ResultSchema || len(got.Scenarios) != 1 || got.Scenarios[0].Reason != "later" {
		t.Errorf("%+v", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp files left behind: %v", entries)
	}
	if err := os.WriteFile(filepath.Join(dir, "old.json"), []byte(`{"schema":"meshgate.dev/e2e/v0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadResult(filepath.Join(dir, "old.json")); err == nil || !strings.Contains(err.Error(), "regenerate") {
		t.Errorf("foreign schema: %v", err)
	}
}

func TestReadiness(t *testing.T) {
	obj := func(m map[string]any) *unstructured.Unstructured { return &unstructured.Unstructured{Object: m} }
	tests := []struct {
		name  string
		u     *unstructured.Unstructured
		ready bool
	}{
		{"deployment available", obj(map[string]any{"kind": "Deployment", "metadata": map[string]any{"generation": int64(2)},
			"spec": map[string]any{"replicas": int64(2)}, "status": map[string]any{"observedGeneration": int64(2), "availableReplicas": int64(2), "updatedReplicas": int64(2)}}), true},
		{"deployment old generation", obj(map[string]any{"kind": "Deployment", "metadata": map[string]any{"generation": int64(3)},
			"spec": map[string]any{"replicas": int64(2)}, "status": map[string]any{"observedGeneration": int64(2), "availableReplicas": int64(2), "updatedReplicas": int64(2)}}), false},
		{"route accepted", obj(map[string]any{"kind": "HTTPRoute", "metadata": map[string]any{"generation": int64(1)},
			"status": map[string]any{"parents": []any{map[string]any{"conditions": []any{map[string]any{"type": "Accepted", "status": "True", "observedGeneration": int64(1)}}}}}}), true},
		{"route accepted earlier generation", obj(map[string]any{"kind": "HTTPRoute", "metadata": map[string]any{"generation": int64(2)},
			"status": map[string]any{"parents": []any{map[string]any{"conditions": []any{map[string]any{"type": "Accepted", "status": "True", "observedGeneration": int64(1)}}}}}}), false},
		{"route without status", obj(map[string]any{"kind": "HTTPRoute", "metadata": map[string]any{"generation": int64(1)}}), false},
		{"pod not ready", obj(map[string]any{"kind": "Pod", "status": map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "False"}}}}), false},
		{"service", obj(map[string]any{"kind": "Service"}), true},
	}
	for _, tc := range tests {
		if got := readiness(tc.u) == ""; got != tc.ready {
			t.Errorf("%s: ready %v (%q), want %v", tc.name, got, readiness(tc.u), tc.ready)
		}
	}
}

type recordingApplier struct{ log *[]string }

func (a recordingApplier) Apply(_ context.Context, set fixtures.Set) error {
	*a.log = append(*a.log, "apply "+set.Name)
	return nil
}

// Before probes run ahead of Apply, and a failing one stops the phase
// before anything is applied.
func TestRunPhaseRunsBeforeFirst(t *testing.T) {
	for _, c := range []struct {
		name    string
		fail    bool
		want    string
		verdict Verdict
	}{
		{"ordered", false, "before,apply s,probe", Passed},
		{"before fails", true, "before", Failed},
	} {
		t.Run(c.name, func(t *testing.T) {
			var log []string
			step := func(name string, err error) Probe {
				return Probe{Name: name, Run: func(context.Context, *Runtime, *Evidence) error { log = append(log, name); return err }}
			}
			var beforeErr error
			if c.fail {
				beforeErr = errors.New("still there")
			}
			p := Phase{Kind: PhaseVerify, Name: "p", Before: []Probe{step("before", beforeErr)}, Apply: []fixtures.Set{{Name: "s"}},
				Probes: []Probe{step("probe", nil)}, Expect: []Expectation{{Name: "e", Kind: Claim, Check: func(*Evidence) error { return nil }}}}
			pr := RunPhase(context.Background(), &Runtime{Applier: recordingApplier{&log}}, p)
			if got := strings.Join(log, ","); got != c.want || pr.Verdict != c.verdict {
				t.Errorf("ran %q, verdict %s (%s); want %q, %s", got, pr.Verdict, pr.Reason, c.want, c.verdict)
			}
		})
	}
}
