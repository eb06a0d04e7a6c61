package bench

import (
	"fmt"
	"sort"
)

// CurvePoint is one offered rate of a load sweep for one mode: what was asked,
// what was achieved, and the p99 at that load (pooled over repetitions).
type CurvePoint struct {
	OfferedQPS  float64 `json:"offered_qps"`
	AchievedQPS float64 `json:"achieved_qps"`
	P99Ms       float64 `json:"p99_ms"`
}

// KneeRule says when a sweep has passed its knee: the achieved rate falls
// short of the offered one by more than Shortfall (a fraction), or p99 grows
// beyond P99Multiple times the p99 at the lowest offered rate.
type KneeRule struct {
	Shortfall   float64 `json:"shortfall"`
	P99Multiple float64 `json:"p99_multiple"`
}

// DefaultKneeRule: 2% short of the offered rate (vegeta's pacing is exact
// below saturation) or p99 three times its low-load value.
var DefaultKneeRule = KneeRule{Shortfall: 0.02, P99Multiple: 3}

// Knee is the first point past the rule, and why.
type Knee struct {
	Found      bool    `json:"found"`
	OfferedQPS float64 `json:"offered_qps,omitempty"`
	Reason     string  `json:"reason,omitempty"`
}

// FindKnee sorts the points by offered rate and returns the first one the
// rule rejects; Found is false when the whole sweep held.
func FindKnee(points []CurvePoint, r KneeRule) (Knee, error) {
	if len(points) == 0 {
		return Knee{}, fmt.Errorf("no points in the load curve")
	}
	if r.Shortfall < 0 || r.Shortfall >= 1 || r.P99Multiple <= 1 {
		return Knee{}, fmt.Errorf("knee rule %+v: want shortfall in [0, 1) and p99 multiple > 1", r)
	}
	ps := append([]CurvePoint(nil), points...)
	sort.Slice(ps, func(i, j int) bool { return ps[i].OfferedQPS < ps[j].OfferedQPS })
	floor := ps[0].P99Ms
	for _, p := range ps {
		if p.AchievedQPS < p.OfferedQPS*(1-r.Shortfall) {
			return Knee{Found: true, OfferedQPS: p.OfferedQPS, Reason: fmt.Sprintf(
				"achieved %.0f of %.0f offered rps (more than %.0f%% short)", p.AchievedQPS, p.OfferedQPS, r.Shortfall*100)}, nil
		}
		if floor > 0 && p.P99Ms > floor*r.P99Multiple {
			return Knee{Found: true, OfferedQPS: p.OfferedQPS, Reason: fmt.Sprintf(
				"p99 %.2f ms is more than %g× the %.2f ms at %.0f rps", p.P99Ms, r.P99Multiple, floor, ps[0].OfferedQPS)}, nil
		}
	}
	return Knee{}, nil
}
