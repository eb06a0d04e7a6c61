package suite

import (
	"testing"

	"github.com/meshgate/meshgate/scenarios"
)

func TestPhaseFails(t *testing.T) {
	claimFailed := scenarios.PhaseResult{Verdict: scenarios.Failed, Checks: []scenarios.CheckResult{
		{Kind: scenarios.Precondition, Verdict: scenarios.Passed},
		{Kind: scenarios.Claim, Verdict: scenarios.Failed},
	}}
	preconditionFailed := scenarios.PhaseResult{Verdict: scenarios.Failed, Checks: []scenarios.CheckResult{
		{Kind: scenarios.Precondition, Verdict: scenarios.Failed},
	}}
	notJudged := scenarios.PhaseResult{Verdict: scenarios.Failed, Reason: "apply refused"}
	passed := scenarios.PhaseResult{Verdict: scenarios.Passed, Checks: []scenarios.CheckResult{{Kind: scenarios.Claim, Verdict: scenarios.Passed}}}
	tests := []struct {
		name       string
		claimSpecs bool
		r          scenarios.PhaseResult
		want       bool
	}{
		{"passed phase", false, passed, false},
		{"passed phase, claim specs", true, passed, false},
		{"failed claim fails the phase spec", false, claimFailed, true},
		{"failed claim is left to its own spec", true, claimFailed, false},
		{"failed precondition, claim specs", true, preconditionFailed, true},
		{"phase not judged, claim specs", true, notJudged, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &state{mesh: Mesh{ClaimSpecs: tt.claimSpecs}}
			if got := s.phaseFails(tt.r); got != tt.want {
				t.Errorf("phaseFails = %v, want %v", got, tt.want)
			}
		})
	}
}
