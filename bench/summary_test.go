package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSummaryRoundTrip(t *testing.T) {
	y := newSynth(t, 3, []string{ModeBaseline, ModeProxy})
	y.add(ModeBaseline, 0, 2000, 1000, 0, 0)
	y.add(ModeProxy, 0, 2000, 1000, 100*time.Microsecond, 0)
	s := y.analyze()
	if err := WriteSummary(y.dir, s); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSummary(y.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Overheads) == 0 || len(got.Violations) != 0 {
		t.Fatalf("fixture should have overheads and no violations: %+v", got)
	}
	if got.Schema != Schema || len(got.Runs) != 2 || got.Runs[1].LatenciesMs != s.Runs[1].LatenciesMs || got.Config.Duration != s.Config.Duration {
		t.Errorf("round trip changed the summary: %+v", got)
	}
	if _, err := ReadSummary(filepath.Join(y.dir, SummaryFile)); err != nil {
		t.Errorf("ReadSummary on the file itself: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(y.dir, SummaryFile)); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("summary.json mode: %v, %v; want 0644", fi.Mode(), err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(y.dir, ".*.tmp"))
	if len(leftovers) > 0 {
		t.Errorf("atomic write left temp files: %v", leftovers)
	}
}

func TestReadSummaryRejectsBadFiles(t *testing.T) {
	y := newSynth(t, 4, []string{ModeBaseline, ModeProxy})
	y.add(ModeBaseline, 0, 2000, 1000, 0, 0)
	y.add(ModeProxy, 0, 2000, 1000, 0, 0)
	if err := WriteSummary(y.dir, y.analyze()); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(filepath.Join(y.dir, SummaryFile))
	tests := []struct {
		name, content, want string
	}{
		{"truncated", string(good[:len(good)/2]), "is truncated"},
		{"empty", "", "is truncated"},
		{"foreign JSON", `{"latencies": [1, 2, 3]}`, "not a meshgate bench summary"},
		{"other schema", strings.Replace(string(good), Schema, "meshgate.dev/bench/v0", 1), `schema is "meshgate.dev/bench/v0"`},
		{"not JSON", "vegeta gob bytes", "not a meshgate bench summary"},
		{"unknown field", strings.Replace(string(good), `"ci_low_ms": `, `"ci_low_ms": 1e9, "x": `, 1), "not a meshgate bench summary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "summary.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadSummary(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("ReadSummary = %v, want an error naming %s and saying %q", err, path, tt.want)
			}
		})
	}
}

func TestValidateNamesEveryProblem(t *testing.T) {
	s := Summary{Schema: Schema, Runs: []Run{{Mode: "kong"}}, Overheads: []Overhead{{Mode: "kong", CILowMs: 2, CIHighMs: 1}}}
	err := s.Validate()
	for _, want := range []string{"config.qps is 0", "config.baseline is empty", "runs[0] lacks", "accepted with 0 requests", "is reversed"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to say %q", err, want)
		}
	}
}
