package reports

import (
	"fmt"
	"io"
	"strings"
)

// Markdown writes the report as GitHub-flavoured Markdown that fits a CI job
// summary ($GITHUB_STEP_SUMMARY) or a pull-request comment: tables, no
// images (a job summary cannot show the run's files), details folded.
func Markdown(w io.Writer, r *Report) error {
	md := markdown(r, false)
	if len(md) > summaryLimit {
		md = markdown(r, true)
	}
	_, err := io.WriteString(w, md)
	return err
}

// summaryLimit keeps report.md under GitHub's 1 MiB job-summary limit: past
// it, the per-scenario evidence is left to index.html and report.json.
const summaryLimit = 1000 * 1000

func markdown(r *Report, fold bool) string {
	m := &mdWriter{fold: fold}
	m.line("# meshgate report")
	m.line("")
	counts := ""
	if r.Totals.Scenarios > 0 {
		counts = " · " + totalsLine(r.Totals)
	}
	m.line("**%s %s**%s · %d run(s) · generated %s%s", outcomeIcon(r.Totals.Outcome()), verdict(r.Totals),
		counts, len(r.Runs), r.Generated.UTC().Format("2006-01-02 15:04 UTC"), ifSet(" · meshgate ", r.Meshgate))
	m.line("")
	m.runs(r)
	m.scenarios(r)
	m.bench(r)
	m.curves(r)
	m.anchors(r)
	if r.JUnit != nil {
		j := r.JUnit
		m.line("## JUnit")
		m.line("")
		m.line("`%s`: %d suites, %d tests, %d failures, %d errors, %d skipped, %d disabled.", j.File, j.Suites, j.Tests, j.Failures, j.Errors, j.Skipped, j.Disabled)
		m.line("")
	}
	if len(r.Charts) > 0 {
		m.line("Charts (SVG and PNG) are in the report folder: %s; `index.html` shows them all in one page.", chartList(r.Charts))
	}
	return m.String()
}

// meshEvidence writes, for cluster benches, each mode's mTLS verdict with
// its evidence and each proxy's cost beside Istio's published figure.
func (m *mdWriter) meshEvidence(benches []namedBench) {
	var proofs, costs int
	for _, b := range benches {
		proofs += len(b.MTLS)
		costs += len(b.ProxyCosts)
	}
	if proofs > 0 {
		m.line("### mTLS into the backend, proven during the run")
		m.line("")
		m.line("A mode is mTLS only when the backend's side counted mutual TLS during its attacks and nothing else.")
		m.line("")
		m.header("run", "mode", "verdict", "evidence")
		for _, b := range benches {
			for _, p := range b.MTLS {
				m.row(b.Name, p.Mode, p.Status, p.Evidence)
			}
		}
		m.line("")
	}
	if costs > 0 {
		m.line("### Proxy cost per 1000 achieved rps")
		m.line("")
		m.line("CPU from the kubelet's resource metrics sampled around each attack, averaged over accepted runs; memory is the largest working set seen.")
		m.line("")
		m.header("run", "mode", "proxy", "vCPU per 1000 rps", "memory MiB", "runs", "published")
		for _, b := range benches {
			for _, c := range b.ProxyCosts {
				cpu := fmt.Sprintf("%.3f", c.CoresPer1000RPS)
				if c.Runs == 0 {
					cpu = "– (" + c.Note + ")"
				}
				m.row(b.Name, c.Mode, c.Component, cpu, fmt.Sprintf("%.1f", c.MemoryMiB), fmt.Sprint(c.Runs), orDash(c.Published))
			}
		}
		m.line("")
	}
}

// curves writes each load sweep: achieved rps and p99 per offered rate, and
// the knee, per mode and connection count.
func (m *mdWriter) curves(r *Report) {
	for _, nc := range r.Curves {
		c := nc.Curve
		m.line("## Load curve: %s", nc.Name)
		m.line("")
		m.line("Knee: the first offered rate achieved more than %.0f%% short, or with p99 above %g× its value at the lowest rate.", c.Rule.Shortfall*100, c.Rule.P99Multiple)
		m.line("")
		m.line("| mode | connections | offered rps | achieved rps | p99 ms |")
		m.line("|---|---|---:|---:|---:|")
		for _, s := range c.Series {
			for _, p := range s.Points {
				m.line("| %s | %d | %.0f | %.1f | %.2f |", s.Mode, s.Connections, p.OfferedQPS, p.AchievedQPS, p.P99Ms)
			}
		}
		m.line("")
		for _, s := range c.Series {
			if s.Knee.Found {
				m.line("- %s at %d connections: knee at %.0f rps (%s).", s.Mode, s.Connections, s.Knee.OfferedQPS, s.Knee.Reason)
			} else {
				m.line("- %s at %d connections: no knee in the sweep.", s.Mode, s.Connections)
			}
		}
		m.line("")
	}
}

type mdWriter struct {
	strings.Builder
	fold bool // leave out per-scenario details (size limit)
}

func (m *mdWriter) line(format string, args ...any) {
	if len(args) == 0 {
		m.WriteString(format)
	} else {
		fmt.Fprintf(m, format, args...)
	}
	m.WriteByte('\n')
}

func (m *mdWriter) put(s string) {
	m.WriteString(s)
	m.WriteByte('\n')
}

func (m *mdWriter) row(cells ...string) {
	for i, c := range cells {
		cells[i] = mdCell(c)
	}
	m.put("| " + strings.Join(cells, " | ") + " |")
}

func (m *mdWriter) header(cells ...string) {
	m.row(cells...)
	seps := make([]string, len(cells))
	for i := range seps {
		seps[i] = "---"
	}
	m.put("|" + strings.Join(seps, "|") + "|")
}

// mdCell keeps a value inside its table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\r", "")
	return strings.ReplaceAll(s, "\n", "<br>")
}

func (m *mdWriter) runs(r *Report) {
	m.line("## Environment")
	m.line("")
	m.header("run", "kind", "provider", "cluster", "node", "kernel", "versions")
	for _, run := range r.Runs {
		e := run.Environment
		m.row(run.Name, string(run.Kind), orDash(e.Provider), orDash(e.Cluster), orDash(envNode(e)), orDash(e.Kernel), orDash(versionsLine(e.Versions)))
	}
	m.line("")
	for _, run := range r.Runs {
		for _, n := range run.Notes {
			m.line("- **%s**: %s", run.Name, n)
		}
	}
	m.line("")
}

func (m *mdWriter) scenarios(r *Report) {
	if !hasScenarios(r) {
		return
	}
	m.line("## Scenarios")
	m.line("")
	m.header("run", "scenario", "mesh", "outcome", "evidence")
	for _, run := range r.Runs {
		for _, s := range run.Scenarios {
			ev := scenarioSummary(s)
			if s.Message != "" {
				ev = strings.TrimPrefix(ev+" · "+s.Message, " · ")
			}
			m.row(run.Name, "`"+s.ID+"`", orDash(s.Mesh), outcomeIcon(s.Outcome)+" "+string(s.Outcome), orDash(ev))
		}
	}
	m.line("")
	if runs, rows := scenarioMatrix(r); len(rows) > 0 {
		m.line("### Side by side")
		m.line("")
		m.header(append([]string{"scenario"}, runs...)...)
		for _, row := range rows {
			cells := []string{"`" + row.ID + "`"}
			for _, o := range row.Cells {
				if o == "" {
					cells = append(cells, "–")
				} else {
					cells = append(cells, outcomeIcon(o)+" "+string(o))
				}
			}
			m.row(cells...)
		}
		m.line("")
	}
	if m.fold {
		m.line("_Per-scenario evidence is left out to keep this summary under GitHub's size limit: see `index.html` or `report.json`._")
		m.line("")
		return
	}
	for _, run := range r.Runs {
		for _, s := range run.Scenarios {
			m.scenarioDetails(run.Name, s)
		}
	}
}

// scenarioDetails folds a scenario's phases, checks and evidence into a
// <details> block.
func (m *mdWriter) scenarioDetails(run string, s Scenario) {
	if len(s.Phases) == 0 && len(s.Findings) == 0 {
		return
	}
	m.line("<details><summary>%s %s / %s</summary>", outcomeIcon(s.Outcome), mdCell(run), mdCell(s.ID))
	m.line("")
	if s.Name != "" {
		m.line("%s", s.Name)
		m.line("")
	}
	for _, f := range s.Findings {
		m.line("- Finding: %s", f)
	}
	if len(s.Findings) > 0 {
		m.line("")
	}
	for _, p := range s.Phases {
		m.line("**%s %s: %s** %s", outcomeIcon(p.Outcome), p.Kind, p.Name, p.Message)
		m.line("")
		if len(p.Applied) > 0 {
			m.line("Applied: %s", strings.Join(p.Applied, ", "))
			m.line("")
		}
		if len(p.Checks) > 0 {
			m.header("check", "kind", "outcome", "detail")
			for _, c := range p.Checks {
				m.row(c.Name, orDash(c.Kind), outcomeIcon(c.Outcome)+" "+string(c.Outcome), orDash(c.Detail))
			}
			m.line("")
		}
		m.evidence(p.Evidence)
	}
	m.line("</details>")
	m.line("")
}

func (m *mdWriter) evidence(e Evidence) {
	if len(e.Traffic) > 0 {
		m.header("probe", "URL", "requests", "by class", "answered by")
		for _, t := range e.Traffic {
			m.row(t.Probe, orDash(t.URL), fmt.Sprint(t.Total), countsLine(t.ByClass), orDash(countsLine(t.Pods)))
		}
		m.line("")
	}
	if len(e.Targets) > 0 {
		m.header("Kong target", "kind")
		for _, t := range e.Targets {
			m.row("`"+t.Target+"`", orDash(t.Kind))
		}
		m.line("")
	}
	if len(e.SPIFFE) > 0 {
		m.line("Peer identities the backend saw (XFCC): %s", "`"+strings.Join(e.SPIFFE, "`, `")+"`")
		m.line("")
	}
	if len(e.Handshakes) > 0 {
		m.header("proxy", "counter", "before", "after", "delta")
		for _, h := range e.Handshakes {
			m.row(orDash(h.Proxy), "`"+h.Stat+"`", fmt.Sprint(h.Before), fmt.Sprint(h.After), fmt.Sprintf("%+d", h.Delta()))
		}
		m.line("")
	}
	if len(e.JWT) > 0 {
		m.header("JWT claim", "sent", "backend saw", "outcome")
		for _, j := range e.JWT {
			m.row(j.Claim, orDash(j.Expected), orDash(j.Seen), outcomeIcon(j.Outcome)+" "+string(j.Outcome))
		}
		m.line("")
	}
	for _, n := range e.Notes {
		m.line("- %s", n)
	}
	for _, k := range sortedKeys(e.Other) {
		m.line("- %s: `%s`", k, e.Other[k])
	}
	if len(e.Notes)+len(e.Other) > 0 {
		m.line("")
	}
}

func (m *mdWriter) bench(r *Report) {
	benches := benchRuns(r)
	if len(benches) == 0 {
		return
	}
	m.line("## Latency")
	m.line("")
	for _, b := range benches {
		m.line("- **%s**: %s", b.Name, orDash(loadLine(b.Bench)))
		for _, rj := range b.Rejected {
			m.line("  - rejected %s c%d repetition %d: %s", rj.Mode, rj.Connections, rj.Repetition, rj.Reason)
		}
	}
	m.line("")
	m.line("### Exact percentiles per mode (ms)")
	m.line("")
	m.header(append([]string{"run", "mode", "connections", "runs", "requests", "errors", "achieved rps"}, percentileColumns...)...)
	for _, b := range benches {
		for _, mr := range b.Modes {
			runs := fmt.Sprint(mr.Runs)
			if mr.Rejected > 0 {
				runs += fmt.Sprintf(" (+%d rejected)", mr.Rejected)
			}
			cells := []string{b.Name, mr.Mode, fmt.Sprint(mr.Connections), runs, fmt.Sprint(mr.Requests), fmt.Sprint(mr.Errors), fmt.Sprintf("%.1f", mr.AchievedRPS)}
			for _, p := range percentileColumns {
				cells = append(cells, fmtMs(percentileMs(mr, p)))
			}
			m.row(cells...)
		}
	}
	m.line("")
	m.meshEvidence(benches)
	rows := overheadRows(benches)
	if len(rows) == 0 {
		return
	}
	m.line("### Overhead over baseline (ms, %s interval)", confidenceLabel(benches))
	m.line("")
	m.line("Overhead = the mode's percentile − the baseline's at the same connections, measured in the same run, " +
		"as Istio publishes it. The A/A row is the baseline against itself: the noise floor. " +
		"**Bold**: above the noise floor; _italic_: too few samples beyond the percentile to read its interval.")
	m.line("")
	head := []string{"mode", "connections", "percentile"}
	for _, b := range benches {
		head = append(head, b.Name)
	}
	m.header(head...)
	for _, row := range rows {
		cells := []string{row.Mode, fmt.Sprint(row.Connections), row.Percentile}
		for _, c := range row.Cells {
			switch {
			case !c.Present:
				cells = append(cells, "–")
			case !c.Interpretable:
				cells = append(cells, "_"+fmtOverhead(c.Overhead)+"_")
			case c.AboveNoise && !row.Noise:
				cells = append(cells, "**"+fmtOverhead(c.Overhead)+"**")
			default:
				cells = append(cells, fmtOverhead(c.Overhead))
			}
		}
		m.row(cells...)
	}
	m.line("")
}

func (m *mdWriter) anchors(r *Report) {
	m.line("## Measured overhead beside published anchors")
	m.line("")
	m.line("Published figures are not measured here. Compare only under matching conditions: rate, payload, protocol, connections and proxy workers all move these numbers. No published Kuma or Kong Mesh overhead figures were found.")
	m.line("")
	m.header("source", "setup", "conditions", "p90 overhead", "p99 overhead")
	for _, a := range anchorRows(r) {
		src := a.Source
		if a.Measured {
			src = "**" + src + "**"
		} else if a.URL != "" {
			src = "[" + a.Source + "](" + a.URL + ")"
		}
		m.row(src, a.Setup, a.Conditions, a.P90, a.P99)
	}
	m.line("")
	if len(r.Unsourced) > 0 {
		m.line("### Unsourced claims")
		m.line("")
		m.header("claim", "where", "status")
		for _, c := range r.Unsourced {
			m.row(c.Claim, c.Where, "⚠️ "+c.Status)
		}
		m.line("")
	}
}

// countsLine is "ok×20, 502×3" in key order.
func countsLine(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func chartList(cs []ChartRef) string {
	names := make([]string, 0, len(cs))
	for _, c := range cs {
		names = append(names, "`"+c.SVG+"`")
	}
	return strings.Join(names, ", ")
}

func ifSet(prefix, v string) string {
	if v == "" {
		return ""
	}
	return prefix + v
}
