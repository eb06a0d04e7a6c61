// Package hack holds scripts and the checks on them; this test lints the
// GitHub Actions workflows meshgate ships, with the same actionlint that
// `make lint` runs.
package hack

import (
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
)

func lint(t *testing.T, paths ...string) []*actionlint.Error {
	t.Helper()
	linter, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := linter.LintFiles(paths, nil)
	if err != nil {
		t.Fatalf("actionlint could not read %v: %v", paths, err)
	}
	return errs
}

func TestShippedWorkflowsLintClean(t *testing.T) {
	paths, err := filepath.Glob("../.github/workflows/*.yml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no workflows found under .github/workflows (err=%v)", err)
	}
	for _, e := range lint(t, paths...) {
		t.Errorf("%s:%d:%d: %s [%s]", e.Filepath, e.Line, e.Column, e.Message, e.Kind)
	}
}

func TestBrokenWorkflowIsCaught(t *testing.T) {
	errs := lint(t, "testdata/broken-workflow.yml")
	var found []string
	for _, e := range errs {
		found = append(found, e.Kind+": "+e.Message)
	}
	all := strings.Join(found, "\n")
	for _, want := range []string{
		`"meshes"`,        // matrix key that does not exist
		`"pull_requests"`, // misspelt event
		"expression",      // the unfinished comparison
	} {
		if !strings.Contains(all, want) {
			t.Errorf("actionlint did not report %s; it reported:\n%s", want, all)
		}
	}
}
