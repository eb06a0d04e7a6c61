package reports

import (
	"bytes"
	"strings"
	"testing"
)

func TestMarkdownSideBySideAndSizeLimit(t *testing.T) {
	run := func(name string, outcomes ...Outcome) Run {
		r := Run{Name: name, Kind: KindE2E}
		for i, o := range outcomes {
			r.Scenarios = append(r.Scenarios, Scenario{ID: []string{"podip-502", "bridge", "service-upstream"}[i], Outcome: o,
				Phases: []Phase{{Kind: "verify", Name: "v", Outcome: o, Evidence: Evidence{Notes: []string{"note"}}}}})
		}
		return r
	}
	r := &Report{Schema: Schema, Runs: []Run{run("kuma-2.13", Passed, Failed), run("kuma-2.14", Passed, Passed, Skipped)}}
	r.Totals = totals(r.Runs)

	for _, tc := range []struct {
		name      string
		noteBytes int
		want      []string
		wantNot   []string
	}{
		{"small", 10, []string{
			"### Side by side",
			"| scenario | kuma-2.13 | kuma-2.14 |",
			"| `bridge` | ❌ failed | ✅ passed |",
			"| `service-upstream` | – | ⏭️ skipped |",
			"<details>",
		}, []string{"left out"}},
		{"over the job-summary limit", summaryLimit, []string{"### Side by side", "Per-scenario evidence is left out"}, []string{"<details>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.Runs[0].Scenarios[0].Phases[0].Evidence.Notes = []string{strings.Repeat("x", tc.noteBytes)}
			var buf bytes.Buffer
			if err := Markdown(&buf, r); err != nil {
				t.Fatal(err)
			}
			md := buf.String()
			if len(md) > summaryLimit {
				t.Errorf("report.md is %d bytes, over the %d limit", len(md), summaryLimit)
			}
			for _, w := range tc.want {
				if !strings.Contains(md, w) {
					t.Errorf("report.md lacks %q:\n%s", w, md)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(md, w) {
					t.Errorf("report.md has %q", w)
				}
			}
		})
	}
}

func TestMarkdownCellsStayInTheirTable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a|b", `a\|b`},
		{"line1\nline2", "line1<br>line2"},
		{"crlf\r\n", "crlf<br>"},
	} {
		if got := mdCell(tc.in); got != tc.want {
			t.Errorf("mdCell(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
