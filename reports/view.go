package reports

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Helpers shared by the Markdown and HTML renderers, so both say the same.

var percentileColumns = []string{"p50", "p90", "p99", "p99.9", "max"}

func fmtMs(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.3f", v)
}

func fmtSigned(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%+.3f", v)
}

// fmtOverhead is "+0.112 [+0.098, +0.127]".
func fmtOverhead(o Overhead) string {
	return fmt.Sprintf("%s [%s, %s]", fmtSigned(o.Ms), fmtSigned(o.LowMs), fmtSigned(o.HighMs))
}

func percentileMs(m ModeResult, name string) float64 {
	for _, p := range m.Percentiles {
		if p.Name == name {
			return p.Ms
		}
	}
	return math.NaN()
}

// overheadRow is one (mode, percentile) with a cell per bench run.
type overheadRow struct {
	Mode       string
	Percentile string
	Noise      bool
	Cells      []overheadCell
}

type overheadCell struct {
	Present bool
	Overhead
	// AboveNoise: the interval lies wholly above the A/A upper bound at this
	// percentile (or above zero when no A/A was run).
	AboveNoise bool
}

// overheadRows puts every run's overheads side by side; the noise floor
// comes first so a reader sees the resolution before the numbers.
func overheadRows(benches []namedBench) []overheadRow {
	type key struct{ mode, pct string }
	var keys []key
	seen := map[key]bool{}
	push := func(k key) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for _, b := range benches {
		for _, o := range b.NoiseFloor {
			push(key{noiseGroup, o.Percentile})
		}
	}
	for _, b := range benches {
		for _, o := range b.Overheads {
			push(key{o.Mode, o.Percentile})
		}
	}
	rows := make([]overheadRow, 0, len(keys))
	for _, k := range keys {
		row := overheadRow{Mode: k.mode, Percentile: k.pct, Noise: k.mode == noiseGroup}
		for _, b := range benches {
			src, mode := b.Overheads, k.mode
			if row.Noise {
				src, mode = b.NoiseFloor, ""
			}
			o, ok := findOverhead(src, mode, k.pct)
			cell := overheadCell{Present: ok, Overhead: o}
			if ok && !row.Noise {
				floor := 0.0
				if nf, ok := findOverhead(b.NoiseFloor, "", k.pct); ok {
					floor = math.Max(0, nf.HighMs)
				}
				cell.AboveNoise = o.LowMs > floor
			}
			row.Cells = append(row.Cells, cell)
		}
		rows = append(rows, row)
	}
	return rows
}

// loadLine describes a bench's load in one line.
func loadLine(b *Bench) string {
	l := b.Load
	var parts []string
	if b.Local {
		parts = append(parts, "local (loopback)")
	}
	if l.RPS > 0 {
		parts = append(parts, fmt.Sprintf("%g rps", l.RPS))
	}
	if l.Connections > 0 {
		parts = append(parts, fmt.Sprintf("%d connections", l.Connections))
	}
	if l.Seconds > 0 {
		parts = append(parts, fmt.Sprintf("%gs per repetition", l.Seconds))
	}
	if l.Repetitions > 0 {
		parts = append(parts, fmt.Sprintf("%d repetitions (modes interleaved)", l.Repetitions))
	}
	if l.WarmupSeconds > 0 {
		parts = append(parts, fmt.Sprintf("%gs warm-up discarded", l.WarmupSeconds))
	}
	if l.BodyBytes > 0 {
		parts = append(parts, fmt.Sprintf("%d B body", l.BodyBytes))
	}
	if l.HTTP != "" {
		parts = append(parts, l.HTTP)
	}
	if l.Proxy != "" {
		parts = append(parts, "proxy hop: "+l.Proxy)
	}
	return strings.Join(parts, ", ")
}

// evidenceSummary is one line per scenario for a table cell.
func evidenceSummary(e Evidence) string {
	var parts []string
	if r := e.Requests; r != nil {
		classes := make([]string, 0, len(r.ByClass))
		for _, c := range sortedKeys(r.ByClass) {
			classes = append(classes, fmt.Sprintf("%s×%d", c, r.ByClass[c]))
		}
		parts = append(parts, fmt.Sprintf("%d requests (%s)", r.Total, strings.Join(classes, ", ")))
	}
	if len(e.Targets) > 0 {
		kinds := map[string]int{}
		for _, t := range e.Targets {
			kinds[orDash(t.Kind)]++
		}
		var ks []string
		for _, k := range sortedKeys(kinds) {
			ks = append(ks, fmt.Sprintf("%d %s", kinds[k], k))
		}
		parts = append(parts, "Kong targets: "+strings.Join(ks, ", "))
	}
	if len(e.SPIFFE) > 0 {
		parts = append(parts, "peer "+strings.Join(e.SPIFFE, ", "))
	}
	for _, h := range e.Handshakes {
		parts = append(parts, fmt.Sprintf("%s %+d", shortStat(h.Stat), h.Delta()))
	}
	if len(e.JWT) > 0 {
		ok := 0
		for _, j := range e.JWT {
			if j.Outcome == Passed {
				ok++
			}
		}
		parts = append(parts, fmt.Sprintf("JWT claims %d/%d as sent", ok, len(e.JWT)))
	}
	return strings.Join(parts, "; ")
}

// shortStat keeps the last two dotted parts of an Envoy stat name.
func shortStat(s string) string {
	parts := strings.Split(s, ".")
	if len(parts) <= 2 {
		return s
	}
	return strings.Join(parts[len(parts)-2:], ".")
}

func outcomeIcon(o Outcome) string {
	switch o {
	case Passed:
		return "✅"
	case Failed:
		return "❌"
	case Skipped:
		return "⏭️"
	default:
		return "➖"
	}
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func versionsLine(vs []Version) string {
	parts := make([]string, 0, len(vs))
	for _, v := range vs {
		parts = append(parts, v.Component+" "+v.Version)
	}
	return strings.Join(parts, ", ")
}

func envNode(e Environment) string {
	var parts []string
	for _, s := range []string{e.Node, strings.TrimSpace(e.OS + "/" + e.Arch)} {
		if s != "" && s != "/" {
			parts = append(parts, s)
		}
	}
	if e.CPUs > 0 {
		parts = append(parts, fmt.Sprintf("%d CPUs", e.CPUs))
	}
	return strings.Join(parts, ", ")
}

// totalsLine is "✅ 5 passed · ❌ 1 failed · ⏭️ 2 skipped · ➖ 0 not supported".
func totalsLine(t Totals) string {
	counts := map[Outcome]int{Passed: t.Passed, Failed: t.Failed, Skipped: t.Skipped, NotSupported: t.NotSupported}
	parts := make([]string, 0, len(outcomeOrder))
	for _, o := range outcomeOrder {
		parts = append(parts, fmt.Sprintf("%s %d %s", outcomeIcon(o), counts[o], strings.ReplaceAll(string(o), "-", " ")))
	}
	return strings.Join(parts, " · ")
}

func hasScenarios(r *Report) bool {
	return slices.ContainsFunc(r.Runs, func(run Run) bool { return len(run.Scenarios) > 0 })
}
