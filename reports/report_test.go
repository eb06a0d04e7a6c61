package reports

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestGenerateSmoke(t *testing.T) {
	out, r := generateFixture(t)
	for _, f := range []string{JSONFile, MarkdownFile, HTMLFile, JUnitFile} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing output %s: %v", f, err)
		}
	}
	t.Logf("charts: %d, runs: %d, totals: %+v", len(r.Charts), len(r.Runs), r.Totals)
	_ = bytes.MinRead
	_ = regexp.MustCompile
	_ = strings.Contains
	_ = update
}
