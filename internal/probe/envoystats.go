package probe

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Stats holds the counters and gauges of one Envoy admin /stats text dump.
// Histograms (values like "P0(nan,0) P25(...)" or "No recorded values") and
// text readouts (quoted values) are kept apart: they are not numbers to diff.
type Stats struct {
	Values     map[string]uint64 `json:"values"`
	Histograms map[string]string `json:"histograms,omitempty"`
	Text       map[string]string `json:"text,omitempty"`
}

// ParseStats reads Envoy's /stats text format: one "name: value" per line.
// A line that fits none of the shapes is an error naming its line number,
// so a proxy answering HTML or JSON is not mistaken for zero counters.
func ParseStats(data []byte) (Stats, error) {
	st := Stats{Values: map[string]uint64{}, Histograms: map[string]string{}, Text: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, val, ok := strings.Cut(line, ": ")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return Stats{}, fmt.Errorf("envoy stats line %d %q: want \"name: value\" (is this the admin /stats endpoint?)", n, clip(line))
		}
		switch {
		case strings.HasPrefix(val, `"`):
			st.Text[name] = strings.Trim(val, `"`)
		case isHistogram(val):
			st.Histograms[name] = val
		default:
			v, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return Stats{}, fmt.Errorf("envoy stats line %d: %s has value %q, want a non-negative integer", n, name, clip(val))
			}
			st.Values[name] = v
		}
	}
	if err := sc.Err(); err != nil {
		return Stats{}, fmt.Errorf("reading envoy stats: %w", err)
	}
	return st, nil
}

// isHistogram recognises Envoy's histogram renderings: the quantile summary
// "P0(a,b) P25(...)", the cumulative buckets "B0.5(a,b) B1(...)", and unused
// histograms.
func isHistogram(v string) bool {
	if v == "No recorded values" {
		return true
	}
	if len(v) < 3 || (v[0] != 'P' && v[0] != 'B') || !strings.Contains(v, "(") {
		return false
	}
	return v[1] >= '0' && v[1] <= '9'
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// A StatFilter selects stats by name. Envoy's names differ between versions
// (Kuma's inbound listener was self_inbound_dp_main, then
// inbound:<ip>:<port>), so scenarios select by pattern: every Contains part
// must appear, and the name must end with Suffix.
type StatFilter struct {
	Contains []string `json:"contains,omitempty"`
	Suffix   string   `json:"suffix,omitempty"`
}

// Match reports whether name passes the filter.
func (f StatFilter) Match(name string) bool {
	for _, c := range f.Contains {
		if !strings.Contains(name, c) {
			return false
		}
	}
	return strings.HasSuffix(name, f.Suffix)
}

// StatDelta is how one stat moved between two dumps.
type StatDelta struct {
	Name   string `json:"name"`
	Before uint64 `json:"before"`
	After  uint64 `json:"after"`
	Delta  int64  `json:"delta"`
}

// Deltas returns, sorted by name, the change of every stat in after that
// matches f. A stat absent before counts from zero (Envoy creates stats
// lazily); a counter that went down (the proxy restarted) is reported as a
// negative delta, not clamped, so the caller can refuse the window.
func Deltas(before, after Stats, f StatFilter) []StatDelta {
	var out []StatDelta
	for name, a := range after.Values {
		if !f.Match(name) {
			continue
		}
		b := before.Values[name]
		out = append(out, StatDelta{Name: name, Before: b, After: a, Delta: int64(a) - int64(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SumDelta adds the deltas up.
func SumDelta(ds []StatDelta) int64 {
	var s int64
	for _, d := range ds {
		s += d.Delta
	}
	return s
}
