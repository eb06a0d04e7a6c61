package reports

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"strings"
)

//go:embed templates/index.html.tmpl
var templates embed.FS

var pageTemplate = template.Must(template.New("index.html.tmpl").Funcs(template.FuncMap{
	"dash":     orDash,
	"node":     envNode,
	"versions": versionsLine,
	"summary":  scenarioSummary,
	"counts":   countsLine,
	"note":     overheadNote,
	"load":     loadLine,
	"join":     strings.Join,
	"signed":   fmtSigned,
	"overhead": fmtOverhead,
	"delta":    func(c CounterDelta) string { return fmt.Sprintf("%+d", c.Delta()) },
	"pct":      func(m ModeResult, name string) string { return fmtMs(percentileMs(m, name)) },
}).ParseFS(templates, "templates/index.html.tmpl"))

type htmlChart struct {
	Ref ChartRef
	SVG template.HTML
}

type htmlPage struct {
	R                 *Report
	Generated         string
	HasScenarios      bool
	Benches           []namedBench
	PercentileColumns []string
	Overheads         []overheadRow
	Confidence        string
	Charts            []htmlChart
	Anchors           []anchorRow
	Verdict           string
	VerdictClass      string
	MatrixRuns        []string
	MatrixRows        []matrixRow
}

// HTML writes one self-contained page: inline CSS, charts as inline SVG, a
// Content-Security-Policy that forbids any fetch, and no script.
func HTML(w io.Writer, r *Report, charts []chart) error {
	benches := benchRuns(r)
	page := htmlPage{
		R:                 r,
		Generated:         r.Generated.UTC().Format("2006-01-02 15:04 UTC"),
		HasScenarios:      hasScenarios(r),
		Benches:           benches,
		PercentileColumns: percentileColumns,
		Overheads:         overheadRows(benches),
		Confidence:        confidenceLabel(benches),
		Anchors:           anchorRows(r),
		Verdict:           verdict(r.Totals),
		VerdictClass:      verdictClass(r.Totals),
	}
	page.MatrixRuns, page.MatrixRows = scenarioMatrix(r)
	for _, c := range charts {
		page.Charts = append(page.Charts, htmlChart{Ref: c.ref, SVG: template.HTML(inlineSVG(c.svg))})
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, page); err != nil {
		return fmt.Errorf("render index.html: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// inlineSVG drops the XML prolog and generator comment so the document can
// sit inside HTML. The svg element keeps its xmlns attribute: a namespace
// name, never fetched.
func inlineSVG(svg []byte) string {
	s := string(svg)
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	return strings.TrimSpace(s)
}
