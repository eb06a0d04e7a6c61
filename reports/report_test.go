package reports

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/reporters"

	"github.com/meshgate/meshgate/bench"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./reports -run %s -update` to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (re-run with -update if the change is intended):\n%s", path, firstDiff(string(want), string(got)))
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n  want: %q\n  got:  %q", i+1, w, g)
		}
	}
	return "(no line differs)"
}

func readOut(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var svgElement = regexp.MustCompile(`(?s)<svg\b.*?</svg>`)

// htmlStructure is the page with each inline chart reduced to a marker, so
// the golden file holds the page's structure and text, not plot geometry.
func htmlStructure(page []byte) []byte {
	return svgElement.ReplaceAll(page, []byte("<svg><!-- chart --></svg>"))
}

func TestGoldenMarkdownAndHTML(t *testing.T) {
	out, _ := generateFixture(t)
	golden(t, "golden/report.md", readOut(t, out, MarkdownFile))
	golden(t, "golden/index.structure.html", htmlStructure(readOut(t, out, HTMLFile)))
}

func TestReportJSONRoundTrips(t *testing.T) {
	out, r := generateFixture(t)
	var back Report
	if err := json.Unmarshal(readOut(t, out, JSONFile), &back); err != nil {
		t.Fatalf("report.json does not decode into Report: %v", err)
	}
	if back.Schema != Schema {
		t.Errorf("schema %q, want %q", back.Schema, Schema)
	}
	if len(back.Runs) != 3 || back.Totals != r.Totals {
		t.Errorf("decoded %d runs, totals %+v; want 3 runs, totals %+v", len(back.Runs), back.Totals, r.Totals)
	}
	want := Totals{Scenarios: 4, Passed: 2, Failed: 1, Skipped: 1}
	if r.Totals != want || r.Totals.Outcome() != Failed {
		t.Errorf("totals %+v (outcome %s), want %+v (failed)", r.Totals, r.Totals.Outcome(), want)
	}
}

// The per-mode percentiles the report recomputes from raw files must equal
// the ones the bench computed for its overheads (same pooling, same
// nearest-rank definition).
func TestPercentilesAgreeWithBenchSummary(t *testing.T) {
	dir := t.TempDir()
	s := writeBenchFolder(t, dir, defaultSynth())
	r, _, err := ReadRuns(t.Context(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	b := r.Runs[0].Bench
	checked := 0
	for _, o := range s.Overheads {
		for _, m := range b.Modes {
			if m.Connections != o.Connections {
				continue
			}
			name := percentileName(o.Percentile)
			switch m.Mode {
			case o.Mode:
				if got := percentileMs(m, name); got != o.ModeMs {
					t.Errorf("%s c%d %s: report %v ms, bench summary %v ms", m.Mode, m.Connections, name, got, o.ModeMs)
				}
				checked++
			case o.Baseline:
				if got := percentileMs(m, name); got != o.BaselineMs {
					t.Errorf("%s c%d %s: report %v ms, bench summary %v ms", m.Mode, m.Connections, name, got, o.BaselineMs)
				}
				checked++
			}
		}
	}
	if checked < 10 {
		t.Fatalf("compared only %d percentiles; the fixture should give at least 10", checked)
	}
	if len(b.Rejected) != 1 || b.Rejected[0].Mode != "proxy" {
		t.Errorf("rejected runs %+v, want the proxy repetition with 502s", b.Rejected)
	}
}

func TestChartsAreWrittenAsSVGAndPNG(t *testing.T) {
	out, r := generateFixture(t)
	wantIDs := []string{"latency-distribution-c4", "overhead-p50", "overhead-p90", "overhead-p99", "timeline-synthetic-a", "timeline-synthetic-b"}
	var ids []string
	for _, c := range r.Charts {
		ids = append(ids, c.ID)
		svg := readOut(t, out, c.SVG)
		if !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("<text")) {
			t.Errorf("%s: not an SVG with text (axes, labels)", c.SVG)
		}
		img, err := png.Decode(bytes.NewReader(readOut(t, out, c.PNG)))
		if err != nil {
			t.Errorf("%s: %v", c.PNG, err)
			continue
		}
		if b := img.Bounds(); b.Dx() < 600 || b.Dy() < 300 {
			t.Errorf("%s is %dx%d, want at least 600x300", c.PNG, b.Dx(), b.Dy())
		}
	}
	if strings.Join(ids, ",") != strings.Join(wantIDs, ",") {
		t.Errorf("charts %v, want %v", ids, wantIDs)
	}
}

// resourceRef matches what makes a browser fetch something: src= and href=
// attributes, CSS url() and @import. A namespace declaration such as the
// xmlns="http://www.w3.org/2000/svg" gonum writes on every <svg> is a name,
// never fetched, so it is deliberately not matched; neither is an absolute
// URL shown as text.
var resourceRef = regexp.MustCompile(`(?i)(?:\b(?:src|href|srcset|poster|data|action|formaction)\s*=\s*["']?\s*|url\(\s*["']?\s*|@import\s+(?:url\(\s*)?["']?\s*)((?:https?:)?//[^"'\s)>]*)`)

func externalRefs(page []byte) []string {
	var refs []string
	for _, m := range resourceRef.FindAllSubmatch(page, -1) {
		refs = append(refs, string(m[0]))
	}
	return refs
}

func TestResourceRefDetector(t *testing.T) {
	for _, tc := range []struct {
		name string
		page string
		bad  bool
	}{
		{"svg namespace", `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"></svg>`, false},
		{"url as text", `<td><code>https://istio.io/v1.20/docs/</code></td>`, false},
		{"relative link", `<a href="charts/overhead-p99.svg">SVG</a>`, false},
		{"data favicon", `<link rel="icon" href="data:,">`, false},
		{"img https", `<img src="https://example.com/x.png">`, true},
		{"script http", `<script src='http://cdn.example/x.js'></script>`, true},
		{"protocol-relative", `<link rel="stylesheet" href="//fonts.example/css">`, true},
		{"css url", `<style>body{background:url( "https://example.com/bg.png")}</style>`, true},
		{"css import", `<style>@import "https://fonts.example/font.css";</style>`, true},
		{"css import url", `<style>@import url(http://fonts.example/font.css);</style>`, true},
		{"svg image href", `<svg><image xlink:href="https://example.com/a.png"/></svg>`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refs := externalRefs([]byte(tc.page))
			if got := len(refs) > 0; got != tc.bad {
				t.Errorf("external references %q in %s; want found=%v", refs, tc.page, tc.bad)
			}
		})
	}
}

func TestHTMLIsSelfContained(t *testing.T) {
	out, r := generateFixture(t)
	page := readOut(t, out, HTMLFile)
	if refs := externalRefs(page); len(refs) > 0 {
		t.Errorf("index.html has external resource references: %q", refs)
	}
	for _, forbidden := range []string{"<script", "<iframe", "<object", "<embed", `rel="stylesheet"`} {
		if bytes.Contains(page, []byte(forbidden)) {
			t.Errorf("index.html contains %s: the page must be one file with no script or external style", forbidden)
		}
	}
	if !bytes.Contains(page, []byte(`Content-Security-Policy" content="default-src 'none'`)) {
		t.Error("index.html lacks the CSP that forbids fetches")
	}
	if n := bytes.Count(page, []byte("<svg")); n != len(r.Charts) {
		t.Errorf("index.html inlines %d SVG charts, want %d", n, len(r.Charts))
	}
	if bytes.Contains(page, []byte("<?xml")) {
		t.Error("index.html contains an XML prolog from an inlined SVG")
	}
}

func TestJUnitMergeKeepsCounts(t *testing.T) {
	out, r := generateFixture(t)
	var merged reporters.JUnitTestSuites
	if err := xml.Unmarshal(readOut(t, out, JUnitFile), &merged); err != nil {
		t.Fatalf("junit.xml: %v", err)
	}
	// The fixture's two files: kuma (3 tests, 1 skipped), istio (1 test, 1 failure).
	if merged.Tests != 4 || merged.Failures != 1 || merged.Errors != 0 || len(merged.TestSuites) != 2 {
		t.Errorf("merged totals tests=%d failures=%d errors=%d suites=%d; want 4, 1, 0, 2", merged.Tests, merged.Failures, merged.Errors, len(merged.TestSuites))
	}
	cases, skipped := 0, 0
	for _, s := range merged.TestSuites {
		cases += len(s.TestCases)
		skipped += s.Skipped
		if !strings.HasPrefix(s.Name, "e2e-kuma/") {
			t.Errorf("suite %q is not prefixed with its run name", s.Name)
		}
	}
	if cases != 4 || skipped != 1 {
		t.Errorf("merged test cases %d, skipped %d; want 4 and 1", cases, skipped)
	}
	if j := r.JUnit; j == nil || j.Tests != 4 || j.Failures != 1 || j.Skipped != 1 || j.Suites != 2 {
		t.Errorf("report JUnit totals %+v, want 2 suites, 4 tests, 1 failure, 1 skipped", j)
	}
}

func TestMergeJUnitSumsInputs(t *testing.T) {
	a := reporters.JUnitTestSuites{Tests: 3, Failures: 1, Errors: 1, Disabled: 2, Time: 1.5, TestSuites: []reporters.JUnitTestSuite{{Name: "a", Tests: 3, Failures: 1, Errors: 1, Disabled: 2, Skipped: 1}}}
	b := reporters.JUnitTestSuites{Tests: 5, Failures: 0, Time: 2, TestSuites: []reporters.JUnitTestSuite{{Name: "b1", Tests: 2}, {Name: "b2", Tests: 3, Skipped: 2}}}
	merged, totals := mergeJUnit([]junitPart{{run: "r1", suites: a}, {run: "r2", suites: b}})
	if merged.Tests != 8 || merged.Failures != 1 || merged.Errors != 1 || merged.Disabled != 2 || merged.Time != 3.5 {
		t.Errorf("merged %+v, want tests 8, failures 1, errors 1, disabled 2, time 3.5", merged)
	}
	if totals.Suites != 3 || totals.Skipped != 3 {
		t.Errorf("totals %+v, want 3 suites, 3 skipped", totals)
	}
	if merged.TestSuites[1].Name != "r2/b1" {
		t.Errorf("suite name %q, want r2/b1", merged.TestSuites[1].Name)
	}
}

// Bad input: every broken file is named in the error, and an output folder
// that already holds a report keeps it byte for byte.
func TestBadInputNamesTheFileAndKeepsOldOutput(t *testing.T) {
	truncate := func(path string, keep float64) func(t *testing.T, dir string) string {
		return func(t *testing.T, dir string) string {
			p := filepath.Join(dir, path)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b[:int(float64(len(b))*keep)], 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}
	}
	replace := func(path, content string) func(t *testing.T, dir string) string {
		return func(t *testing.T, dir string) string {
			p := filepath.Join(dir, path)
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}
	}
	rawA := filepath.FromSlash(bench.RawName("proxy", 4, 1))
	for _, tc := range []struct {
		name   string
		folder string // which fixture folder to break
		breakf func(t *testing.T, dir string) string
		want   string // besides the file name
	}{
		{"truncated summary", "synthetic-a", truncate("summary.json", 0.5), "truncated"},
		{"foreign summary", "synthetic-a", replace("summary.json", `{"schema":"smp/v1","runs":[]}`+"\n"), "not a meshgate bench summary"},
		{"raw cut mid-record", "synthetic-a", truncate(rawA, 0.73), "truncated or corrupt"},
		{"raw not vegeta", "synthetic-a", replace(rawA, "timestamp,latency\n1,2\n"), "raw results"},
		{"raw missing records", "synthetic-a", func(t *testing.T, dir string) string {
			// Rewrite the file with fewer whole records: well-formed gob, wrong count.
			p := filepath.Join(dir, rawA)
			smp, err := readRaw(p)
			if err != nil {
				t.Fatal(err)
			}
			writeSamples(t, p, smp[:len(smp)/2])
			return p
		}, "results, but"},
		{"truncated e2e", "e2e-kuma", truncate("e2e.json", 0.6), "truncated"},
		{"foreign e2e", "e2e-kuma", replace("e2e.json", `{"schema":"meshgate.dev/e2e/v0","scenarios":[]}`), "schema"},
		{"truncated junit", "e2e-kuma", truncate(filepath.Join("junit", "kuma.xml"), 0.5), "not well-formed XML"},
		{"foreign xml", "e2e-kuma", replace(filepath.Join("junit", "istio.xml"), `<?xml version="1.0"?><project><target/></project>`), "expected <testsuites>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			in := fixtureRuns(t, root)
			out := filepath.Join(root, "report")
			if _, err := Generate(t.Context(), Options{In: in, Out: out, Now: fixedNow}); err != nil {
				t.Fatalf("first report: %v", err)
			}
			before := snapshot(t, out)
			broken := tc.breakf(t, filepath.Join(root, tc.folder))
			_, err := Generate(t.Context(), Options{In: in, Out: out, Now: fixedNow})
			if err == nil {
				t.Fatalf("Generate accepted %s", broken)
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), broken) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nshould name %s and say %q", err, broken, tc.want)
			}
			if after := snapshot(t, out); !equalSnapshots(before, after) {
				t.Errorf("the output folder changed although the input was bad")
			}
		})
	}
}

func TestNotARunFolder(t *testing.T) {
	empty := t.TempDir()
	out := filepath.Join(t.TempDir(), "r")
	_, err := Generate(t.Context(), Options{In: []string{empty}, Out: out})
	if err == nil || !strings.Contains(err.Error(), empty) || !strings.Contains(err.Error(), "not a meshgate run folder") {
		t.Errorf("error %v, want one naming %s as not a run folder", err, empty)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output folder was created on bad input")
	}
	_, err = Generate(t.Context(), Options{In: []string{empty}, Out: empty})
	if err == nil || !strings.Contains(err.Error(), "also an --in") {
		t.Errorf("error %v, want a refusal to write into an input folder", err)
	}
}

func TestParentOfRunFoldersExpands(t *testing.T) {
	root := t.TempDir()
	writeE2EFolder(t, filepath.Join(root, "a", "kuma"))
	writeE2EFolder(t, filepath.Join(root, "a", "istio"))
	if err := os.MkdirAll(filepath.Join(root, "a", "notes"), 0o755); err != nil {
		t.Fatal(err)
	}
	r, _, err := ReadRuns(t.Context(), []string{filepath.Join(root, "a")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, run := range r.Runs {
		names = append(names, run.Name)
	}
	if strings.Join(names, ",") != "a/istio,a/kuma" {
		t.Errorf("runs %v, want a/istio and a/kuma", names)
	}
}

func TestJUnitOnlyFolderGivesScenarios(t *testing.T) {
	dir := t.TempDir()
	writeE2EFolder(t, dir)
	if err := os.Remove(filepath.Join(dir, "e2e.json")); err != nil {
		t.Fatal(err)
	}
	r, parts, err := ReadRuns(t.Context(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || r.Totals != (Totals{Scenarios: 4, Passed: 2, Failed: 1, Skipped: 1}) {
		t.Errorf("JUnit-only folder: %d parts, totals %+v; want 2 parts and 2 passed, 1 failed, 1 skipped", len(parts), r.Totals)
	}
}

func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func equalSnapshots(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Names and evidence reach the page as text: a run folder named like markup
// must not become markup, in the tables or inside the inlined SVG charts.
func TestRunNamesAreEscaped(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, `x<script>alert(1)<`)
	writeBenchFolder(t, dir, defaultSynth())
	out := filepath.Join(root, "r")
	if _, err := Generate(t.Context(), Options{In: []string{dir}, Out: out, Now: fixedNow}); err != nil {
		t.Fatal(err)
	}
	page := readOut(t, out, HTMLFile)
	if bytes.Contains(page, []byte("<script")) {
		t.Errorf("a run name became markup in index.html")
	}
	if !bytes.Contains(page, []byte("x&lt;script&gt;alert(1)&lt;")) {
		t.Errorf("the escaped run name is missing from index.html")
	}
}
