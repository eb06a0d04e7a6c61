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
	if math.Abs(v) < 0.0005 {
		return "±0.000" // not "-0.000"
	}
	return fmt.Sprintf("%+.3f", v)
}

// anchorRow is one line of the measured-beside-published table.
type anchorRow struct {
	Measured   bool
	Source     string
	URL        string
	Setup      string
	Conditions string
	P90, P99   string
}

// anchorRows puts each measured overhead (p90 and p99, per run, mode and
// connections) beside the published anchors, each with its conditions.
func anchorRows(r *Report) []anchorRow {
	var rows []anchorRow
	for _, b := range benchRuns(r) {
		type key struct {
			mode  string
			conns int
		}
		var keys []key
		for _, o := range b.Overheads {
			k := key{o.Mode, o.Connections}
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			row := anchorRow{Measured: true, Source: "measured: " + b.Name, Setup: k.mode, P90: "–", P99: "–",
				Conditions: measuredConditions(b.Bench, k.conns)}
			if o, ok := findOverhead(b.Overheads, k.mode, k.conns, "p90"); ok {
				row.P90 = fmtOverhead(o) + " ms"
			}
			if o, ok := findOverhead(b.Overheads, k.mode, k.conns, "p99"); ok {
				row.P99 = fmtOverhead(o) + " ms"
			}
			rows = append(rows, row)
		}
	}
	for _, a := range r.Anchors {
		rows = append(rows, anchorRow{Source: a.Source, URL: a.URL, Setup: a.Setup, Conditions: a.Conditions,
			P90: fmtSigned(a.P90Ms) + " ms", P99: fmtSigned(a.P99Ms) + " ms"})
	}
	return rows
}

func measuredConditions(b *Bench, conns int) string {
	l := b.Load
	parts := []string{fmt.Sprintf("%g rps", l.RPS), fmt.Sprintf("%d connections", conns)}
	if l.BodyBytes > 0 {
		parts = append(parts, fmt.Sprintf("%d B", l.BodyBytes))
	}
	if l.HTTP != "" {
		parts = append(parts, l.HTTP)
	}
	if b.Local {
		parts = append(parts, "loopback")
	}
	if l.Generator != "" {
		parts = append(parts, "vegeta")
	}
	return strings.Join(parts, ", ")
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

// overheadRow is one (mode, connections, percentile) with a cell per bench run.
type overheadRow struct {
	Mode        string
	Connections int
	Percentile  string
	Noise       bool
	Cells       []overheadCell
}

type overheadCell struct {
	Present bool
	Overhead
}

type overheadKey struct {
	mode  string
	conns int
	pct   string
}

// overheadRows puts every run's overheads side by side; the noise floor
// comes first so a reader sees the resolution before the numbers.
func overheadRows(benches []namedBench) []overheadRow {
	var keys []overheadKey
	seen := map[overheadKey]bool{}
	push := func(k overheadKey) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for _, b := range benches {
		for _, o := range b.NoiseFloor {
			push(overheadKey{noiseGroup, o.Connections, o.Percentile})
		}
	}
	for _, b := range benches {
		for _, o := range b.Overheads {
			push(overheadKey{o.Mode, o.Connections, o.Percentile})
		}
	}
	rows := make([]overheadRow, 0, len(keys))
	for _, k := range keys {
		row := overheadRow{Mode: k.mode, Connections: k.conns, Percentile: k.pct, Noise: k.mode == noiseGroup}
		for _, b := range benches {
			src, mode := b.Overheads, k.mode
			if row.Noise {
				src, mode = b.NoiseFloor, ""
			}
			o, ok := findOverhead(src, mode, k.conns, k.pct)
			row.Cells = append(row.Cells, overheadCell{Present: ok, Overhead: o})
		}
		rows = append(rows, row)
	}
	return rows
}

// overheadNote marks what a reader must know about one overhead cell.
func overheadNote(o Overhead) string {
	switch {
	case !o.Interpretable:
		return "too few samples beyond this percentile"
	case o.AboveNoise:
		return "above the A/A noise floor"
	case o.NoiseMs > 0:
		return "within the A/A noise floor"
	}
	return ""
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
	if len(l.Connections) > 0 {
		parts = append(parts, fmt.Sprintf("connections %s", joinInts(l.Connections)))
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
	if l.Generator != "" {
		parts = append(parts, l.Generator)
	}
	if l.Resamples > 0 {
		parts = append(parts, fmt.Sprintf("%d bootstrap resamples", l.Resamples))
	}
	return strings.Join(parts, ", ")
}

// scenarioSummary is one line per scenario for a table cell: each phase's
// evidence in a few words.
func scenarioSummary(sc Scenario) string {
	var parts []string
	for _, p := range sc.Phases {
		if e := evidenceSummary(p.Evidence); e != "" {
			parts = append(parts, p.Kind+": "+e)
		}
	}
	return strings.Join(parts, " · ")
}

func evidenceSummary(e Evidence) string {
	var parts []string
	for _, t := range e.Traffic {
		classes := make([]string, 0, len(t.ByClass))
		for _, c := range sortedKeys(t.ByClass) {
			classes = append(classes, fmt.Sprintf("%s×%d", c, t.ByClass[c]))
		}
		parts = append(parts, fmt.Sprintf("%d requests (%s)", t.Total, strings.Join(classes, ", ")))
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
		parts = append(parts, "Kong targets "+strings.Join(ks, ", "))
	}
	if len(e.SPIFFE) > 0 {
		parts = append(parts, "peer "+strings.Join(e.SPIFFE, ", "))
	}
	if len(e.Handshakes) > 0 {
		var sum int64
		for _, h := range e.Handshakes {
			sum += h.Delta()
		}
		parts = append(parts, fmt.Sprintf("%d counters moved (Σ %+d)", len(e.Handshakes), sum))
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

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ", ")
}

// verdict is the report's headline: its outcome, or what it holds when
// there were no scenarios.
func verdict(t Totals) string {
	if o := t.Outcome(); o != "" {
		return string(o)
	}
	return "latency only"
}

func verdictClass(t Totals) string {
	if o := t.Outcome(); o != "" {
		return string(o)
	}
	return "none"
}

func outcomeIcon(o Outcome) string {
	switch o {
	case "":
		return "📊"
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

// scenarioMatrix lines up scenario outcomes across runs, when at least two
// runs have scenarios (versions or meshes side by side).
func scenarioMatrix(r *Report) (runs []string, rows []matrixRow) {
	var withScenarios []Run
	for _, run := range r.Runs {
		if len(run.Scenarios) > 0 {
			withScenarios = append(withScenarios, run)
			runs = append(runs, run.Name)
		}
	}
	if len(withScenarios) < 2 {
		return nil, nil
	}
	index := map[string]int{}
	for ri, run := range withScenarios {
		for _, sc := range run.Scenarios {
			i, ok := index[sc.ID]
			if !ok {
				i = len(rows)
				index[sc.ID] = i
				rows = append(rows, matrixRow{ID: sc.ID, Cells: make([]Outcome, len(withScenarios))})
			}
			rows[i].Cells[ri] = sc.Outcome
		}
	}
	return runs, rows
}

type matrixRow struct {
	ID    string
	Cells []Outcome // "" where the run did not have the scenario
}

func hasScenarios(r *Report) bool {
	return slices.ContainsFunc(r.Runs, func(run Run) bool { return len(run.Scenarios) > 0 })
}
