package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Curve files, written beside the per-rate run folders of a sweep.
const (
	CurveFile     = "curve.json"
	CurveMarkdown = "curve.md"
	CurveSchema   = "meshgate.dev/bench-curve/v1"
)

// Curve is a load sweep: per mode and connection count, p99 against achieved
// throughput at each offered rate, and the knee.
type Curve struct {
	Schema string        `json:"schema"`
	Rule   KneeRule      `json:"knee_rule"`
	Rates  []int         `json:"rates"`
	Series []CurveSeries `json:"series"`
}

// CurveSeries is one mode at one connection count across the sweep.
type CurveSeries struct {
	Mode        string       `json:"mode"`
	Connections int          `json:"connections"`
	Points      []CurvePoint `json:"points"`
	Knee        Knee         `json:"knee"`
}

// RateDir is the run folder of one offered rate inside a sweep folder.
func RateDir(dir string, rate int) string { return filepath.Join(dir, fmt.Sprintf("rate-%d", rate)) }

// BuildCurve reads the run folder of each rate. Achieved throughput is the
// mean of the repetitions' achieved rates; p99 is computed from the pooled
// raw samples of all repetitions (rejected ones too: past the knee every run
// falls short, and that is the point), never from averaged percentiles.
func BuildCurve(dir string, rates []int, rule KneeRule) (*Curve, error) {
	c := &Curve{Schema: CurveSchema, Rule: rule, Rates: rates}
	type key struct {
		mode  string
		conns int
	}
	points := map[key][]CurvePoint{}
	for _, rate := range rates {
		rd := RateDir(dir, rate)
		s, err := ReadSummary(rd)
		if err != nil {
			return nil, fmt.Errorf("rate %d: %w", rate, err)
		}
		groups := map[key][]Run{}
		for _, r := range s.Runs {
			groups[key{r.Mode, r.Connections}] = append(groups[key{r.Mode, r.Connections}], r)
		}
		for k, runs := range groups {
			p, err := curvePoint(rd, rate, runs)
			if err != nil {
				return nil, err
			}
			points[k] = append(points[k], p)
		}
	}
	for k, ps := range points {
		sort.Slice(ps, func(i, j int) bool { return ps[i].OfferedQPS < ps[j].OfferedQPS })
		knee, err := FindKnee(ps, rule)
		if err != nil {
			return nil, fmt.Errorf("mode %s at %d connections: %w", k.mode, k.conns, err)
		}
		c.Series = append(c.Series, CurveSeries{Mode: k.mode, Connections: k.conns, Points: ps, Knee: knee})
	}
	sort.Slice(c.Series, func(i, j int) bool {
		a, b := c.Series[i], c.Series[j]
		return a.Mode < b.Mode || (a.Mode == b.Mode && a.Connections < b.Connections)
	})
	return c, nil
}

func curvePoint(dir string, rate int, runs []Run) (CurvePoint, error) {
	var lat []int64
	var achieved float64
	for _, r := range runs {
		d, err := loadRun(dir, r)
		if err != nil {
			return CurvePoint{}, fmt.Errorf("rate %d, %s: %w", rate, r.Raw, err)
		}
		lat = append(lat, d.lat...)
		achieved += r.ActualQPS
	}
	slices.Sort(lat)
	return CurvePoint{OfferedQPS: float64(rate), AchievedQPS: achieved / float64(len(runs)), P99Ms: ms(Percentile(lat, 0.99))}, nil
}

// ReadCurve reads dir's curve.json; a missing file is (nil, nil).
func ReadCurve(dir string) (*Curve, error) {
	b, err := os.ReadFile(filepath.Join(dir, CurveFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c Curve
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: not a load curve: %w", filepath.Join(dir, CurveFile), err)
	}
	if c.Schema != CurveSchema {
		return nil, fmt.Errorf("%s: schema %q, want %q", filepath.Join(dir, CurveFile), c.Schema, CurveSchema)
	}
	return &c, nil
}

// WriteCurve writes curve.json and curve.md atomically into dir.
func WriteCurve(dir string, c *Curve) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the load curve: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, CurveFile), append(b, '\n')); err != nil {
		return err
	}
	var md strings.Builder
	PrintCurve(&md, c)
	return writeFileAtomic(filepath.Join(dir, CurveMarkdown), []byte(md.String()))
}

// PrintCurve writes the curve as Markdown: one table per series and its knee.
func PrintCurve(w io.Writer, c *Curve) {
	fmt.Fprintf(w, "# Load curve\n\nKnee: the first offered rate achieved more than %.0f%% short, or with p99 above %g× its value at the lowest rate.\n",
		c.Rule.Shortfall*100, c.Rule.P99Multiple)
	for _, s := range c.Series {
		fmt.Fprintf(w, "\n## %s, %d connections\n\n| offered rps | achieved rps | p99 ms |\n|---:|---:|---:|\n", s.Mode, s.Connections)
		for _, p := range s.Points {
			fmt.Fprintf(w, "| %.0f | %.1f | %.2f |\n", p.OfferedQPS, p.AchievedQPS, p.P99Ms)
		}
		if s.Knee.Found {
			fmt.Fprintf(w, "\nKnee at %.0f rps: %s.\n", s.Knee.OfferedQPS, s.Knee.Reason)
		} else {
			fmt.Fprintf(w, "\nNo knee up to %.0f rps.\n", s.Points[len(s.Points)-1].OfferedQPS)
		}
	}
}
