package suite

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/kube"
	"github.com/meshgate/meshgate/scenarios"
)

// describeScenario declares one Ordered container: a spec per phase (apply,
// probes, checks), with ClaimSpecs then a spec per claim the phase judged.
// A failed phase spec fails with its diagnostics and, Ordered, skips the
// rest of the scenario.
func (s *state) describeScenario(sc scenarios.Scenario) {
	Describe(sc.ID, Ordered, Serial, Label(append([]string{sc.ID}, sc.Labels...)...), func() {
		var phases []scenarios.PhaseResult
		BeforeAll(func() {
			if err := sc.Validate(); err != nil {
				Fail(err.Error())
			}
			if s.skipReason != "" {
				s.record(skipped(sc, s.skipReason))
				Skip(s.skipReason)
			}
			if miss := s.rt.Missing(sc); len(miss) > 0 {
				reason := fmt.Sprintf("the environment lacks %v", miss)
				s.record(skipped(sc, reason))
				Skip(reason)
			}
		})
		for i, p := range sc.Phases {
			diagName := fmt.Sprintf("%s-%d", sc.ID, i+1)
			var pr *scenarios.PhaseResult
			It(p.Name, Label(string(p.Kind)), func(ctx SpecContext) {
				r := scenarios.RunPhase(ctx, s.rt, p)
				pr = &r
				phases = append(phases, r)
				s.attachEvidence(r)
				if s.phaseFails(r) {
					dir := s.diagnostics(diagName)
					AddReportEntry("diagnostics", dir)
					Fail(fmt.Sprintf("%s\n(evidence in the report entries; diagnostics in %s)", r.Reason, dir))
				}
			}, NodeTimeout(s.mesh.PhaseTimeout))
			if s.mesh.ClaimSpecs {
				s.describeClaims(p, diagName, func() *scenarios.PhaseResult { return pr })
			}
		}
		AfterAll(func() {
			if s.skipReason != "" || len(phases) == 0 {
				return
			}
			s.record(scenarios.Summarise(sc, phases))
		})
	})
}

// describeClaims declares a spec per claim of phase p, judged from the
// phase's result (nil until the phase's spec ran).
func (s *state) describeClaims(p scenarios.Phase, diagName string, phaseResult func() *scenarios.PhaseResult) {
	for _, e := range p.Expect {
		if e.Kind != scenarios.Claim {
			continue
		}
		name := e.Name
		var labels []string
		if strings.HasPrefix(name, "row: ") {
			labels = append(labels, scenarios.LabelJWT)
		}
		It(p.Name+" / "+name, Label(labels...), func() {
			pr := phaseResult()
			Expect(pr).NotTo(BeNil(), "the phase did not run")
			for _, c := range pr.Checks {
				if c.Name != name {
					continue
				}
				if c.Verdict == scenarios.Skipped {
					Skip(c.Detail)
				}
				if c.Verdict != scenarios.Passed {
					AddReportEntry("diagnostics", s.diagnostics(diagName))
				}
				Expect(c.Verdict).To(Equal(scenarios.Passed), c.Detail)
				return
			}
			Fail("the phase judged no expectation named " + name)
		})
	}
}

func skipped(sc scenarios.Scenario, reason string) scenarios.ScenarioResult {
	return scenarios.ScenarioResult{ID: sc.ID, Description: sc.Description, Mesh: sc.Mesh, Labels: sc.Labels, Verdict: scenarios.Skipped, Reason: reason}
}

// phaseFails says whether the phase's own spec fails. Without ClaimSpecs,
// whenever the phase failed; with them, only when the phase could not be
// judged (apply or probe failed) or a precondition failed: failed claims
// fail their own specs.
func (s *state) phaseFails(r scenarios.PhaseResult) bool {
	if r.Verdict != scenarios.Failed {
		return false
	}
	if !s.mesh.ClaimSpecs || len(r.Checks) == 0 {
		return true
	}
	for _, c := range r.Checks {
		if c.Kind == scenarios.Precondition && c.Verdict == scenarios.Failed {
			return true
		}
	}
	return false
}

// attachEvidence puts the phase's checks (and findings) and evidence on the
// spec's report (JSON, so the Ginkgo JSON report carries the proof too).
func (s *state) attachEvidence(pr scenarios.PhaseResult) {
	var lines []string
	for _, c := range pr.Checks {
		line := fmt.Sprintf("%-8s %-12s %s", c.Verdict, c.Kind, c.Name)
		if c.Detail != "" {
			line += ": " + c.Detail
		}
		lines = append(lines, line)
	}
	AddReportEntry("checks", strings.Join(lines, "\n"))
	if s.mesh.Findings {
		for _, f := range pr.Findings() {
			AddReportEntry("finding", f)
		}
	}
	if b, err := json.MarshalIndent(pr.Evidence, "", "  "); err == nil {
		AddReportEntry("evidence", string(b), ReportEntryVisibilityFailureOrVerbose)
	}
}

// record puts a scenario's result into the run's e2e.json, rewritten
// atomically after every scenario so an interrupted run keeps what it had.
// A skipped run without -meshgate.out (make test) writes nothing.
func (s *state) record(sr scenarios.ScenarioResult) {
	s.result.Put(sr)
	s.result.Finished = time.Now().UTC()
	if s.flags.Out == "" {
		return
	}
	if err := s.result.WriteFile(s.flags.Out); err != nil {
		AddReportEntry("result file", err.Error())
	}
}

// diagnostics writes the bundle of a failed phase: the mesh's namespaces,
// Kong (status, upstream targets), each sidecar's config and stats, and the
// node logs when the mesh asks for them on kind.
func (s *state) diagnostics(name string) string {
	dir := filepath.Join(s.flags.Out, "diagnostics", name)
	ctx, cancel := context.WithTimeout(context.Background(), diagnosticsTimeout)
	defer cancel()
	env, d := s.env, s.mesh.Diagnostics
	o := kube.DiagnosticsOptions{
		Dir:           dir,
		Namespaces:    d.Namespaces,
		KumaCP:        d.KumaCP,
		KongNamespace: cluster.KongNamespace,
		KongSelector:  cluster.KongGatewayLabel + "=" + cluster.KongRelease,
		KongAdminPort: cluster.KongAdminPort,
		Log:           env.Logger(),
	}
	if d.NodeLogs && env.Provider == cluster.ProviderKind && env.Name != "" {
		k := cluster.NewKind(env.Log)
		clusterName := env.Name
		o.NodeLogs = func(dir string) error { return k.CollectLogs(clusterName, dir) }
	}
	if err := kube.CollectDiagnostics(ctx, env.REST, o); err != nil {
		AddReportEntry("diagnostics incomplete", err.Error())
	}
	return dir
}
