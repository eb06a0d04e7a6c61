package bench

import (
	"strings"
	"testing"
	"time"
)

// gateRun builds an analysed summary whose proxy mode adds extra latency.
func gateRun(t *testing.T, seed uint64, extra time.Duration) *Summary {
	y := newSynth(t, seed, []string{ModeBaseline, ModeBaselineAA, ModeProxy})
	for rep := range 3 {
		y.add(ModeBaseline, rep, 3000, 1000, 0, 0)
		y.add(ModeBaselineAA, rep, 3000, 1000, 0, 0)
		y.add(ModeProxy, rep, 3000, 1000, 200*time.Microsecond+extra, 0)
	}
	return y.analyze()
}

func TestGate(t *testing.T) {
	old := gateRun(t, 10, 0)
	tests := []struct {
		name     string
		cur      *Summary
		fail     bool
		mentions []string
	}{
		{"A/A: a summary against itself", old, false, nil},
		{"A/A: an independent run of the same system", gateRun(t, 11, 0), false, nil},
		{"growth below the threshold", gateRun(t, 12, 20*time.Microsecond), false, nil},
		{"injected regression of 1 ms", gateRun(t, 13, time.Millisecond), true,
			[]string{"proxy c4 p50: overhead grew by +1.0", "proxy c4 p90", "proxy c4 p99", "z = ", "beyond the limit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Compare(old, tt.cur, DefaultGate())
			if err != nil {
				t.Fatal(err)
			}
			if v.Failed() != tt.fail {
				t.Fatalf("Failed() = %v, want %v; violations %q", v.Failed(), tt.fail, v.Violations)
			}
			if v.Checked != 3 {
				t.Errorf("checked %d overheads, want 3 (proxy at p50, p90, p99)", v.Checked)
			}
			joined := strings.Join(v.Violations, "\n")
			for _, m := range tt.mentions {
				if !strings.Contains(joined, m) {
					t.Errorf("violations %q lack %q", v.Violations, m)
				}
			}
		})
	}
}

func TestGateMissingAndIncomparable(t *testing.T) {
	old := gateRun(t, 20, 0)
	cur := gateRun(t, 21, 0)
	cur.Overheads = cur.Overheads[:0]
	if v, err := Compare(old, cur, DefaultGate()); err != nil || !v.Failed() || !strings.Contains(v.Violations[0], "missing from the new summary") {
		t.Errorf("a vanished overhead must fail the gate: %+v, %v", v, err)
	}
	other := gateRun(t, 22, 0)
	other.Config.Rate = 2000
	if _, err := Compare(old, other, DefaultGate()); err == nil || !strings.Contains(err.Error(), "qps 1000 vs 2000") {
		t.Errorf("Compare across rates = %v, want a not-comparable error", err)
	}
}
