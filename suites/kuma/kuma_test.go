package kuma_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/kube"
	"github.com/meshgate/meshgate/scenarios"
)

// Per phase: apply, wait for Kong to converge, traffic, stats reads.
const phaseTimeout = 10 * time.Minute

// The spec tree is built from the scenario data, so --dry-run lists every
// scenario and phase without a cluster. Each scenario's ID is also a label:
// `meshgate e2e --scenario ID` becomes -ginkgo.label-filter=ID.
var _ = Describe("Kuma", Label("kuma"), func() {
	for _, s := range scenarios.For(scenarios.MeshKuma, scenarios.DefaultConfig()) {
		describeScenario(s)
	}
})

func describeScenario(s scenarios.Scenario) {
	Describe(s.ID, Ordered, Serial, Label(append([]string{s.ID}, s.Labels...)...), func() {
		var phases []scenarios.PhaseResult
		BeforeAll(func() {
			if err := s.Validate(); err != nil {
				Fail(err.Error())
			}
			if skipReason != "" {
				record(scenarios.ScenarioResult{ID: s.ID, Description: s.Description, Mesh: s.Mesh, Labels: s.Labels, Verdict: scenarios.Skipped, Reason: skipReason})
				Skip(skipReason)
			}
			if miss := rt.Missing(s); len(miss) > 0 {
				reason := fmt.Sprintf("the environment lacks %v", miss)
				record(scenarios.ScenarioResult{ID: s.ID, Description: s.Description, Mesh: s.Mesh, Labels: s.Labels, Verdict: scenarios.Skipped, Reason: reason})
				Skip(reason)
			}
		})
		for i, p := range s.Phases {
			It(p.Name, Label(string(p.Kind)), func(ctx SpecContext) {
				pr := scenarios.RunPhase(ctx, rt, p)
				phases = append(phases, pr)
				attachEvidence(pr)
				if pr.Verdict == scenarios.Failed {
					dir := diagnostics(fmt.Sprintf("%s-%d", s.ID, i+1))
					AddReportEntry("diagnostics", dir)
					Fail(fmt.Sprintf("%s\n(evidence in the report entries; diagnostics in %s)", pr.Reason, dir))
				}
			}, NodeTimeout(phaseTimeout))
		}
		AfterAll(func() {
			if skipReason != "" || len(phases) == 0 {
				return
			}
			record(scenarios.Summarise(s, phases))
		})
	})
}

// attachEvidence puts the phase's checks and evidence on the spec's report
// (JSON, so the Ginkgo JSON report carries the proof too).
func attachEvidence(pr scenarios.PhaseResult) {
	var lines []string
	for _, c := range pr.Checks {
		line := fmt.Sprintf("%-8s %-12s %s", c.Verdict, c.Kind, c.Name)
		if c.Detail != "" {
			line += ": " + c.Detail
		}
		lines = append(lines, line)
	}
	AddReportEntry("checks", strings.Join(lines, "\n"))
	if b, err := json.MarshalIndent(pr.Evidence, "", "  "); err == nil {
		AddReportEntry("evidence", string(b), ReportEntryVisibilityFailureOrVerbose)
	}
}

// record puts a scenario's result into the run's e2e.json, rewritten
// atomically after every scenario so an interrupted run keeps what it had.
// A skipped run without -meshgate.out (make test) writes nothing.
func record(sr scenarios.ScenarioResult) {
	result.Put(sr)
	result.Finished = time.Now().UTC()
	if flags.Out == "" {
		return
	}
	if err := result.WriteFile(flags.Out); err != nil {
		AddReportEntry("result file", err.Error())
	}
}

// diagnostics writes the bundle of a failed phase: the mesh, Kong and the
// scenario's namespaces, Kong's targets, each sidecar's stats and config.
func diagnostics(name string) string {
	dir := filepath.Join(flags.Out, "diagnostics", name)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err := kube.CollectDiagnostics(ctx, env.REST, kube.DiagnosticsOptions{
		Dir:           dir,
		Namespaces:    []string{"kong-air-production", "kong-air-trap", "meshgate-outside", cluster.KongNamespace, "kuma-system"},
		KumaCP:        "kuma-system/kuma-control-plane",
		KongNamespace: cluster.KongNamespace,
		KongSelector:  cluster.KongGatewayLabel + "=" + cluster.KongRelease,
		KongAdminPort: cluster.KongAdminPort,
		Log:           env.Logger(),
	})
	if err != nil {
		AddReportEntry("diagnostics incomplete", err.Error())
	}
	return dir
}
