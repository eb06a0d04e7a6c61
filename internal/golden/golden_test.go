package golden

import (
	"fmt"
	"strings"
	"testing"
)

type recorder struct {
	testing.TB
	msgs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(f string, a ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(f, a...))
}
func (r *recorder) Fatalf(f string, a ...any) { r.Errorf(f, a...) }

func TestAssert(t *testing.T) {
	if *update {
		t.Skip("-update rewrites instead of comparing")
	}
	for _, tc := range []struct {
		name, file, got string
		want            []string // substrings of the failure; none when it passes
	}{
		{"equal", "abc.txt", "a\nb\nc\n", nil},
		{"changed line", "abc.txt", "a\nB\nc\n", []string{"testdata/abc.txt", "line 2", "want: b", "got:  B", "-update"}},
		{"longer", "abc.txt", "a\nb\nc\nd\n", []string{"line 4"}},
		{"missing file", "nope.txt", "x", []string{"testdata/nope.txt", "-update"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			Assert(r, tc.file, []byte(tc.got))
			if len(tc.want) == 0 {
				if len(r.msgs) > 0 {
					t.Errorf("failed: %v", r.msgs)
				}
				return
			}
			if len(r.msgs) != 1 {
				t.Fatalf("failures %v, want one", r.msgs)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.msgs[0], w) {
					t.Errorf("failure %q lacks %q", r.msgs[0], w)
				}
			}
		})
	}
}
