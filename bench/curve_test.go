package bench

import (
	"strings"
	"testing"
)

func TestFindKnee(t *testing.T) {
	tests := []struct {
		name       string
		points     []CurvePoint
		wantFound  bool
		wantAt     float64
		wantReason string
	}{
		{"holds to the end", []CurvePoint{{500, 500, 2}, {1000, 999, 2.5}, {2000, 1990, 4}}, false, 0, ""},
		{"throughput saturates", []CurvePoint{{500, 500, 2}, {1000, 1000, 2.2}, {2000, 1600, 5}, {4000, 1650, 30}}, true, 2000, "achieved 1600 of 2000"},
		{"latency climbs first", []CurvePoint{{500, 500, 2}, {1000, 1000, 3}, {2000, 2000, 7}, {4000, 3000, 40}}, true, 2000, "more than 3× the 2.00 ms at 500 rps"},
		{"unsorted input", []CurvePoint{{4000, 3000, 40}, {500, 500, 2}, {2000, 2000, 7}}, true, 2000, "p99 7.00 ms"},
		{"saturated from the first rate", []CurvePoint{{5000, 2000, 50}, {10000, 2000, 90}}, true, 5000, "achieved 2000 of 5000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := FindKnee(tt.points, DefaultKneeRule)
			if err != nil {
				t.Fatal(err)
			}
			if k.Found != tt.wantFound || k.OfferedQPS != tt.wantAt || !strings.Contains(k.Reason, tt.wantReason) {
				t.Errorf("knee = %+v, want found=%v at %v with %q", k, tt.wantFound, tt.wantAt, tt.wantReason)
			}
		})
	}
}

func TestFindKneeRefusesBadInput(t *testing.T) {
	if _, err := FindKnee(nil, DefaultKneeRule); err == nil {
		t.Error("empty curve accepted")
	}
	if _, err := FindKnee([]CurvePoint{{1, 1, 1}}, KneeRule{Shortfall: 0.02, P99Multiple: 1}); err == nil {
		t.Error("a p99 multiple of 1 would call every wobble a knee; accepted")
	}
}
