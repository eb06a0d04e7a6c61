package bench

import (
	"strings"
	"testing"
	"time"
)

func TestAnalyzeOverheadNoiseFloorAndRejections(t *testing.T) {
	y := newSynth(t, 1, []string{ModeBaseline, ModeBaselineAA, ModeProxy})
	for rep := range 3 {
		y.add(ModeBaseline, rep, 2000, 1000, 0, 0)
		y.add(ModeBaselineAA, rep, 2000, 1000, 0, 0)
		y.add(ModeProxy, rep, 2000, 1000, 300*time.Microsecond, 0)
	}
	// Rejected runs, each for a different reason; a huge shift would show if
	// they were pooled anyway.
	y.add(ModeProxy, 3, 2000, 1000, 50*time.Millisecond, 7)
	y.add(ModeProxy, 4, 2000, 800, 50*time.Millisecond, 0)
	y.add(ModeProxy, 5, 1000, 1000, 50*time.Millisecond, 0)
	s := y.analyze()

	wantReasons := map[int]string{3: "7 of 2000 requests failed (connection refused)", 4: "rate shortfall: achieved 800.4 rps", 5: "request shortfall: 1000 results, expected 2000"}
	for _, r := range s.Runs {
		want, bad := wantReasons[r.Repetition]
		if r.Mode != ModeProxy || !bad {
			if r.Rejected {
				t.Errorf("run %s r%d rejected: %v", r.Mode, r.Repetition, r.RejectReason)
			}
			continue
		}
		if !r.Rejected || !strings.Contains(strings.Join(r.RejectReason, "; "), want) {
			t.Errorf("run proxy r%d: rejected=%v reasons %q, want one containing %q", r.Repetition, r.Rejected, r.RejectReason, want)
		}
	}
	if len(s.Violations) != 3 {
		t.Errorf("violations = %q, want the 3 rejected runs named", s.Violations)
	}

	o, ok := findOverhead(s.Overheads, ModeProxy, "p50")
	if !ok {
		t.Fatalf("no proxy p50 overhead in %+v", s.Overheads)
	}
	if o.ModeRuns != 3 || o.BaselineRuns != 3 || o.ModeSamples != 6000 {
		t.Errorf("pooled %d runs / %d samples of proxy and %d of baseline, want 3 / 6000 / 3", o.ModeRuns, o.ModeSamples, o.BaselineRuns)
	}
	if !(o.CILowMs < 0.3 && 0.3 < o.CIHighMs) || !o.Significant || !o.AboveNoise {
		t.Errorf("proxy p50 overhead %+v: want an interval around 0.3 ms, significant, above noise", o)
	}
	if _, ok := findOverhead(s.Overheads, ModeBaselineAA, "p50"); ok {
		t.Error("the A/A mode must be reported as the noise floor, not as an overhead")
	}
	aa, ok := findOverhead(s.NoiseFloor, ModeBaselineAA, "p50")
	if !ok || !(aa.CILowMs < 0 && 0 < aa.CIHighMs) {
		t.Errorf("A/A p50 %+v: want an interval containing 0", aa)
	}
	if mx, _ := findOverhead(s.Overheads, ModeProxy, "max"); mx.Interpretable {
		t.Error("a max overhead is never interpretable as a stable statistic")
	}
}

func TestAnalyzeNamesMissingBaseline(t *testing.T) {
	y := newSynth(t, 2, []string{ModeBaseline, ModeProxy})
	y.s.Config.AAMode = ""
	y.add(ModeBaseline, 0, 2000, 1000, 0, 5)
	y.add(ModeProxy, 0, 2000, 1000, 0, 0)
	s := y.analyze()
	if len(s.Overheads) != 0 {
		t.Errorf("overheads computed without an accepted baseline: %+v", s.Overheads)
	}
	joined := strings.Join(s.Violations, "\n")
	for _, want := range []string{"run baseline c4 r0 rejected", "c4: no accepted baseline run"} {
		if !strings.Contains(joined, want) {
			t.Errorf("violations %q lack %q", s.Violations, want)
		}
	}
}
