package scenarios

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// RunPhase runs the phase's Before probes, applies its manifests, runs its
// probes, then judges every expectation. Preconditions are judged first: if
// one fails, claims are skipped with that reason and the phase fails (nothing
// may be claimed on a setup that does not show what it should). Findings
// never fail a phase.
func RunPhase(ctx context.Context, rt *Runtime, p Phase) PhaseResult {
	res := PhaseResult{Kind: p.Kind, Name: p.Name, Started: time.Now().UTC()}
	defer func() { res.Finished = time.Now().UTC() }()
	fail := func(reason string) PhaseResult {
		res.Verdict, res.Reason, res.Finished = Failed, reason, time.Now().UTC()
		return res
	}
	for _, pr := range p.Before {
		if err := pr.Run(ctx, rt, &res.Evidence); err != nil {
			return fail(fmt.Sprintf("probe %s (before applying): %v", pr.Name, err))
		}
	}
	for _, set := range p.Apply {
		if rt.Applier == nil {
			return fail("no Applier in the runtime: cannot apply " + set.Name)
		}
		if err := rt.Applier.Apply(ctx, set); err != nil {
			return fail(fmt.Sprintf("applying %s: %v", set.Name, err))
		}
		res.Applied = append(res.Applied, set.Name)
	}
	for _, pr := range p.Probes {
		if err := pr.Run(ctx, rt, &res.Evidence); err != nil {
			return fail(fmt.Sprintf("probe %s: %v", pr.Name, err))
		}
	}
	res.Checks, res.Verdict, res.Reason = Judge(p.Expect, &res.Evidence)
	return res
}

// Judge evaluates expectations against evidence: preconditions, then claims,
// then findings.
func Judge(exp []Expectation, ev *Evidence) ([]CheckResult, Verdict, string) {
	var checks []CheckResult
	var preFailed, claimFailed []string
	for _, kind := range []CheckKind{Precondition, Claim, Finding} {
		for _, e := range exp {
			if e.Kind != kind {
				continue
			}
			cr := CheckResult{Name: e.Name, Kind: e.Kind}
			switch {
			case kind == Claim && len(preFailed) > 0:
				cr.Verdict, cr.Detail = Skipped, "precondition failed: "+strings.Join(preFailed, "; ")
			default:
				err := safeCheck(e, ev)
				switch {
				case err == nil:
					cr.Verdict = Passed
				case kind == Finding:
					cr.Verdict, cr.Detail = Passed, err.Error()
				default:
					cr.Verdict, cr.Detail = Failed, err.Error()
					msg := e.Name + ": " + err.Error()
					if kind == Precondition {
						preFailed = append(preFailed, msg)
					} else {
						claimFailed = append(claimFailed, msg)
					}
				}
			}
			checks = append(checks, cr)
		}
	}
	switch {
	case len(preFailed) > 0:
		return checks, Failed, "precondition not met, nothing claimed: " + strings.Join(preFailed, "; ")
	case len(claimFailed) > 0:
		return checks, Failed, strings.Join(claimFailed, "; ")
	}
	return checks, Passed, ""
}

// safeCheck turns a panicking check into a failure naming it.
func safeCheck(e Expectation, ev *Evidence) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("check %q panicked: %v", e.Name, r)
		}
	}()
	return e.Check(ev)
}

// Findings collects the finding texts of a phase result (a Finding's Detail).
func (pr PhaseResult) Findings() []string {
	var out []string
	for _, c := range pr.Checks {
		if c.Kind == Finding && c.Detail != "" {
			out = append(out, c.Name+": "+c.Detail)
		}
	}
	return out
}

// Summarise sets a scenario's verdict from its phases: failed if any phase
// failed, skipped if none ran.
func Summarise(s Scenario, phases []PhaseResult) ScenarioResult {
	sr := ScenarioResult{ID: s.ID, Description: s.Description, Mesh: s.Mesh, Labels: s.Labels, Phases: phases}
	if len(phases) == 0 {
		sr.Verdict, sr.Reason = Skipped, "no phase ran"
		return sr
	}
	sr.Started, sr.Finished = phases[0].Started, phases[len(phases)-1].Finished
	sr.Verdict = Passed
	for _, p := range phases {
		sr.Findings = append(sr.Findings, p.Findings()...)
		if p.Verdict == Failed && sr.Verdict != Failed {
			sr.Verdict, sr.Reason = Failed, p.Name+": "+p.Reason
		}
	}
	return sr
}

// ErrUnknownScenario is returned by Find for an ID no registry holds.
var ErrUnknownScenario = errors.New("unknown scenario")

// Find returns the scenario with id from list.
func Find(list []Scenario, id string) (Scenario, error) {
	var ids []string
	for _, s := range list {
		if s.ID == id {
			return s, nil
		}
		ids = append(ids, s.ID)
	}
	return Scenario{}, fmt.Errorf("%w %q; known: %s", ErrUnknownScenario, id, strings.Join(ids, ", "))
}
