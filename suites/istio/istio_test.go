package istio_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshgate/meshgate/scenarios"
)

// The spec tree is built from the scenario data, so --dry-run lists every
// scenario, phase and JWT row without a cluster. Each scenario's ID is also
// a label: `meshgate e2e --scenario ID` becomes -ginkgo.label-filter=ID.
var _ = Describe("Istio", Label(scenarios.LabelIstio), func() {
	for _, s := range scenarios.For(scenarios.MeshIstio, scenarios.DefaultConfig()) {
		describeScenario(s)
	}
})

// One Ordered container per scenario: a spec per phase (apply, probes,
// preconditions), then a spec per claim the phase judged. A failed phase
// fails its spec and, Ordered, skips the rest of the scenario.
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
		for i := range s.Phases {
			p, n := s.Phases[i], i+1
			var pr *scenarios.PhaseResult
			It(p.Name, Label(string(p.Kind)), func(ctx SpecContext) {
				r := scenarios.RunPhase(ctx, rt, p)
				pr = &r
				phases = append(phases, r)
				attachEvidence(r)
				if phaseBroken(r) {
					dir := diagnostics(fmt.Sprintf("%s-%d", s.ID, n))
					AddReportEntry("diagnostics", dir)
					Fail(fmt.Sprintf("%s\n(evidence in the report entries; diagnostics in %s)", r.Reason, dir))
				}
			}, NodeTimeout(timeouts.Phase))
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
					Expect(pr).NotTo(BeNil(), "the phase did not run")
					for _, c := range pr.Checks {
						if c.Name != name {
							continue
						}
						if c.Verdict == scenarios.Skipped {
							Skip(c.Detail)
						}
						if c.Verdict != scenarios.Passed {
							dir := diagnostics(fmt.Sprintf("%s-%d", s.ID, n))
							AddReportEntry("diagnostics", dir)
						}
						Expect(c.Verdict).To(Equal(scenarios.Passed), c.Detail)
						return
					}
					Fail("the phase judged no expectation named " + name)
				})
			}
		}
		AfterAll(func() {
			if skipReason != "" || len(phases) == 0 {
				return
			}
			record(scenarios.Summarise(s, phases))
		})
	})
}

// phaseBroken: the phase could not be judged (apply or probe failed) or a
// precondition failed; failed claims fail their own specs.
func phaseBroken(r scenarios.PhaseResult) bool {
	if r.Verdict != scenarios.Failed {
		return false
	}
	if len(r.Checks) == 0 {
		return true
	}
	for _, c := range r.Checks {
		if c.Kind == scenarios.Precondition && c.Verdict == scenarios.Failed {
			return true
		}
	}
	return false
}

// attachEvidence puts the phase's checks, findings and evidence on the
// spec's report (JSON, so the Ginkgo JSON report carries the proof too).
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
	for _, f := range pr.Findings() {
		AddReportEntry("finding", f)
	}
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
