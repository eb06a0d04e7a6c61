package istio

import (
	"encoding/json"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshgate/meshgate/scenarios"
)

// One Ordered container per scenario; in it, one spec per phase (apply,
// probe, preconditions) followed by one spec per claim of that phase, so
// every JWT row is its own spec. Ordered: a failed phase skips the rest.
var _ = Describe("Istio", Ordered, func() {
	for _, s := range list {
		describeScenario(s)
	}
})

func describeScenario(s scenarios.Scenario) {
	Describe(s.ID, Ordered, Label(s.Labels...), func() {
		var phases []scenarios.PhaseResult
		BeforeAll(func() { skipUnlessReady(s) })
		AfterEach(func(ctx SpecContext) {
			if CurrentSpecReport().Failed() {
				diagnostics(ctx, s.ID)
			}
		}, NodeTimeout(timeouts.Diagnostics))
		AfterAll(func() {
			if len(phases) == 0 {
				return
			}
			res := scenarios.Summarise(s, phases)
			if err := writeResult(res); err != nil {
				fmt.Fprintf(GinkgoWriter, "scenario result %s: %v\n", s.ID, err)
			}
		})
		for i := range s.Phases {
			p := s.Phases[i]
			var res *scenarios.PhaseResult
			It(p.Name, Label(string(p.Kind)), func(ctx SpecContext) {
				r := scenarios.RunPhase(ctx, runtime, p)
				res = &r
				phases = append(phases, r)
				attach(r)
				if len(r.Checks) == 0 && r.Verdict == scenarios.Failed {
					Fail(fmt.Sprintf("%s: %s", p.Name, r.Reason))
				}
				for _, c := range r.Checks {
					if c.Kind == scenarios.Precondition && c.Verdict == scenarios.Failed {
						Fail(fmt.Sprintf("precondition %q not met, nothing claimed: %s", c.Name, c.Detail))
					}
				}
			}, NodeTimeout(timeouts.Phase))
			for _, e := range p.Expect {
				if e.Kind != scenarios.Claim {
					continue
				}
				name := e.Name
				labels := []string{}
				if strings.HasPrefix(name, "row: ") {
					labels = append(labels, scenarios.LabelJWT)
				}
				It(p.Name+" / "+name, Label(labels...), func() {
					Expect(res).NotTo(BeNil(), "the phase did not run")
					for _, c := range res.Checks {
						if c.Name != name {
							continue
						}
						if c.Verdict == scenarios.Skipped {
							Skip(c.Detail)
						}
						Expect(c.Verdict).To(Equal(scenarios.Passed), c.Detail)
						return
					}
					Fail("the phase judged no expectation named " + name)
				})
			}
		}
	})
}

// attach puts the phase's evidence, checks and findings in the report.
func attach(r scenarios.PhaseResult) {
	if b, err := json.MarshalIndent(r.Evidence, "", "  "); err == nil {
		AddReportEntry("evidence: "+r.Name, string(b), ReportEntryVisibilityFailureOrVerbose)
	}
	for _, f := range r.Findings() {
		AddReportEntry("finding", f)
	}
}
