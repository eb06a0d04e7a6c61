package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/reports"
)

func runReportCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// The acceptance path: meshgate bench --local --out A, then
// meshgate report --in A --out R writes the four outputs.
func TestBenchThenReport(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the bench engine on loopback; skipped with -short")
	}
	root := t.TempDir()
	a, r := filepath.Join(root, "A"), filepath.Join(root, "R")
	code, out, errOut := runReportCLI(t, "bench", "--local", "--out", a, "--rate", "200", "--duration", "500ms", "--warmup", "100ms",
		"--connections", "2", "--reps", "2", "--resamples", "200", "--proxy", "go", "--rate-tolerance", "0.5")
	if code != 0 {
		t.Fatalf("bench --local: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, out, errOut = runReportCLI(t, "report", "--in", a, "--out", r)
	if code != 0 {
		t.Fatalf("report: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, f := range []string{reports.JSONFile, reports.MarkdownFile, reports.HTMLFile} {
		if fi, err := os.Stat(filepath.Join(r, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s missing or empty (%v)", f, err)
		}
		if !strings.Contains(out, filepath.Join(r, f)) {
			t.Errorf("stdout does not name %s:\n%s", f, out)
		}
	}
	svgs, _ := filepath.Glob(filepath.Join(r, reports.ChartsDir, "*.svg"))
	pngs, _ := filepath.Glob(filepath.Join(r, reports.ChartsDir, "*.png"))
	if len(svgs) == 0 || len(svgs) != len(pngs) {
		t.Errorf("charts: %d SVG, %d PNG; want the same non-zero number", len(svgs), len(pngs))
	}
}

func TestReportRefusals(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no input", []string{"report", "--out", filepath.Join(empty, "r")}, 2, "--in"},
		{"no output", []string{"report", "--in", empty}, 2, "--out"},
		{"not a run folder", []string{"report", "--in", empty, "--out", filepath.Join(empty, "r")}, 1, "not a meshgate run folder"},
		{"missing folder", []string{"report", "--in", filepath.Join(empty, "nope"), "--out", filepath.Join(empty, "r")}, 2, "--in " + filepath.Join(empty, "nope") + ": not a folder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runReportCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, tc.code, tc.want)
			}
		})
	}
}
