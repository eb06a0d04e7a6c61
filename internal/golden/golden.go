// Package golden compares rendered output with files under testdata/,
// rewritten with `go test ./pkg -update`.
//
// A test binary may define the -update flag once: a package that imports
// golden must not declare its own.
package golden

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/fixtures"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/ with the current output")

// Assert compares got with testdata/<name>, or writes it there with -update.
func Assert(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := write(path, got); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file %s: %v (create it with `go test -run '%s' -update`)", path, err, t.Name())
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (if the change is intended, rerun with -update and review the diff):\n%s",
			path, diff(string(want), string(got)))
	}
}

func write(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// diff shows the first differing line with a little context; enough to see
// what changed without a diff library.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl || i >= len(w) || i >= len(g) {
			return fmt.Sprintf("line %d", i+1) + ":\n  want: " + wl + "\n  got:  " + gl
		}
	}
	return "(trailing difference)"
}

// AssertSets renders each set with fixtures.ToYAML and compares it with
// testdata/<set name, "/" as "_">.yaml, one subtest per set.
func AssertSets(t *testing.T, sets []fixtures.Set) {
	t.Helper()
	if len(sets) == 0 {
		t.Fatal("no sets to render")
	}
	for _, set := range sets {
		t.Run(set.Name, func(t *testing.T) {
			got, err := fixtures.ToYAML(set.Objects...)
			if err != nil {
				t.Fatalf("set %s: %v", set.Name, err)
			}
			Assert(t, strings.ReplaceAll(set.Name, "/", "_")+".yaml", got)
		})
	}
}
