package bench

import (
	"os"
	"slices"
	"testing"
	"time"
)

// sweepFolder writes a synthetic run folder per rate: two repetitions of
// each mode whose latencies differ (the second 5 ms slower), so a p99 of
// pooled samples and an average of per-run p99s disagree.
func sweepFolder(t *testing.T, rates []int) string {
	t.Helper()
	base := t.TempDir()
	for _, rate := range rates {
		y := newSynth(t, uint64(rate), []string{ModeBaseline, ModeBaselineAA})
		for _, m := range []string{ModeBaseline, ModeBaselineAA} {
			y.add(m, 1, 2000, float64(rate), 0, 0)
			y.add(m, 2, 200, float64(rate), 5*time.Millisecond, 0)
		}
		s := y.analyze()
		if err := WriteSummary(y.dir, s); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(y.dir, RateDir(base, rate)); err != nil {
			t.Fatal(err)
		}
	}
	return base
}

func TestBuildCurvePoolsRawSamples(t *testing.T) {
	rates := []int{500, 1000}
	dir := sweepFolder(t, rates)
	c, err := BuildCurve(dir, rates, DefaultKneeRule)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Series) != 2 {
		t.Fatalf("series %+v, want baseline and baseline-aa", c.Series)
	}
	for _, s := range c.Series {
		if len(s.Points) != 2 || s.Points[0].OfferedQPS != 500 || s.Points[1].OfferedQPS != 1000 {
			t.Fatalf("%s points %+v, want 500 then 1000 rps", s.Mode, s.Points)
		}
		for i, p := range s.Points {
			sum, err := ReadSummary(RateDir(dir, rates[i]))
			if err != nil {
				t.Fatal(err)
			}
			var pooled []int64
			var perRun float64
			n := 0
			for _, r := range sum.Runs {
				if r.Mode != s.Mode {
					continue
				}
				d, err := loadRun(RateDir(dir, rates[i]), r)
				if err != nil {
					t.Fatal(err)
				}
				pooled = append(pooled, d.lat...)
				perRun += r.LatenciesMs.P99
				n++
			}
			slices.Sort(pooled)
			if want := ms(Percentile(pooled, 0.99)); p.P99Ms != want {
				t.Errorf("%s at %v rps: p99 %v ms, want %v ms from the pooled raw samples", s.Mode, p.OfferedQPS, p.P99Ms, want)
			}
			if avg := perRun / float64(n); p.P99Ms == avg {
				t.Errorf("%s at %v rps: p99 equals the average of per-run p99s (%v); the data were built so they differ", s.Mode, p.OfferedQPS, avg)
			}
		}
	}
}

func TestWriteCurveFiles(t *testing.T) {
	rates := []int{500, 1000}
	dir := sweepFolder(t, rates)
	c, err := BuildCurve(dir, rates, DefaultKneeRule)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteCurve(dir, c); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{CurveFile, CurveMarkdown} {
		if st, err := os.Stat(dir + "/" + f); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := BuildCurve(dir, []int{500, 750}, DefaultKneeRule); err == nil {
		t.Error("a rate without a run folder was accepted")
	}
}

func TestReadCurve(t *testing.T) {
	dir := t.TempDir()
	if c, err := ReadCurve(dir); c != nil || err != nil {
		t.Errorf("no curve.json: %v, %v; want nothing and no error", c, err)
	}
	for _, bad := range []string{"{", `{"schema": "meshgate.dev/bench/v1"}`} {
		if err := os.WriteFile(dir+"/"+CurveFile, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadCurve(dir); err == nil {
			t.Errorf("%q read as a load curve", bad)
		}
	}
}
