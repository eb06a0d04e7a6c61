package reports

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// chart is one drawn figure, rendered to both SVG and PNG.
type chart struct {
	ref ChartRef
	svg []byte
	png []byte
}

const (
	chartW = 16 * vg.Centimeter
	chartH = 9 * vg.Centimeter
	pngDPI = 144
)

// palette: distinguishable for common colour-vision deficiencies (Okabe-Ito).
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255},   // blue
	color.RGBA{213, 94, 0, 255},    // vermillion
	color.RGBA{0, 158, 115, 255},   // bluish green
	color.RGBA{204, 121, 167, 255}, // reddish purple
	color.RGBA{230, 159, 0, 255},   // orange
	color.RGBA{86, 180, 233, 255},  // sky blue
	color.RGBA{120, 120, 120, 255}, // grey
	color.RGBA{240, 228, 66, 255},  // yellow
}

func paletteColor(i int) color.Color { return palette[i%len(palette)] }

// buildCharts draws every chart the model has data for, in a fixed order.
func buildCharts(r *Report) ([]chart, error) {
	var plots []struct {
		ref ChartRef
		p   *plot.Plot
	}
	used := map[string]int{}
	add := func(id, title string, p *plot.Plot) {
		if used[id]++; used[id] > 1 { // two run names with the same slug
			id = fmt.Sprintf("%s-%d", id, used[id])
		}
		plots = append(plots, struct {
			ref ChartRef
			p   *plot.Plot
		}{ChartRef{ID: id, Title: title, SVG: "charts/" + id + ".svg", PNG: "charts/" + id + ".png"}, p})
	}
	benches := benchRuns(r)
	for _, conns := range curveConnections(benches) {
		p, err := distributionPlot(benches, conns)
		if err != nil {
			return nil, err
		}
		add(fmt.Sprintf("latency-distribution-c%d", conns), fmt.Sprintf("Latency by percentile at %d connections (HDR style, log scale toward p99.9)", conns), p)
	}
	for _, pct := range overheadPercentiles(benches) {
		p, err := overheadPlot(benches, pct, r.Anchors)
		if err != nil {
			return nil, err
		}
		add("overhead-"+pct, fmt.Sprintf("Overhead over baseline at %s, with %s intervals", pct, confidenceLabel(benches)), p)
	}
	for _, b := range benches {
		p, err := timelinePlot(b)
		if err != nil {
			return nil, err
		}
		if p != nil {
			add("timeline-"+slug(b.Name), "Latency over time: "+b.Name, p)
		}
	}
	for _, nc := range r.Curves {
		p, err := curvePlot(nc)
		if err != nil {
			return nil, err
		}
		add("load-curve-"+slug(nc.Name), "Load curve: p99 against achieved throughput, "+nc.Name, p)
	}
	out := make([]chart, 0, len(plots))
	for _, pl := range plots {
		svg, png, err := renderPlot(pl.p)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", pl.ref.ID, err)
		}
		out = append(out, chart{ref: pl.ref, svg: svg, png: png})
	}
	return out, nil
}

func renderPlot(p *plot.Plot) (svg, png []byte, err error) {
	sc := vgsvg.New(chartW, chartH)
	p.Draw(draw.New(sc))
	var sb bytes.Buffer
	if _, err := sc.WriteTo(&sb); err != nil {
		return nil, nil, fmt.Errorf("svg: %w", err)
	}
	ic := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(chartW, chartH), vgimg.UseDPI(pngDPI), vgimg.UseBackgroundColor(color.White))}
	p.Draw(draw.New(ic))
	var pb bytes.Buffer
	if _, err := ic.WriteTo(&pb); err != nil {
		return nil, nil, fmt.Errorf("png: %w", err)
	}
	return sb.Bytes(), pb.Bytes(), nil
}

// namedBench is a bench run with the label its series carry in charts.
type namedBench struct {
	Name string
	*Bench
}

func benchRuns(r *Report) []namedBench {
	var out []namedBench
	for i := range r.Runs {
		if b := r.Runs[i].Bench; b != nil {
			out = append(out, namedBench{Name: r.Runs[i].Name, Bench: b})
		}
	}
	return out
}

// seriesLabel names a mode, prefixed by its run when runs are compared.
func seriesLabel(benches []namedBench, run, mode string) string {
	if len(benches) > 1 {
		return run + " · " + mode
	}
	return mode
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	p.Legend.Padding = vg.Points(1.5)
	p.Add(plotter.NewGrid())
	return p
}

// percentileTicks labels a log axis of 1/(1-q) with percentile names.
type percentileTicks struct{}

func (percentileTicks) Ticks(min, max float64) []plot.Tick {
	marks := []struct {
		x     float64
		label string
	}{{1, "p0"}, {2, "p50"}, {4, "p75"}, {10, "p90"}, {20, "p95"}, {100, "p99"}, {1000, "p99.9"}, {10000, "p99.99"}}
	var ts []plot.Tick
	for _, m := range marks {
		if m.x >= min*0.999 && m.x <= max*1.001 {
			ts = append(ts, plot.Tick{Value: m.x, Label: m.label})
		}
	}
	return ts
}

// curveConnections lists the connection counts with curves, in first-seen order.
func curveConnections(benches []namedBench) []int {
	var out []int
	for _, b := range benches {
		for _, c := range b.Curves {
			if len(c.Quantiles) >= 2 && !slices.Contains(out, c.Connections) {
				out = append(out, c.Connections)
			}
		}
	}
	return out
}

func distributionPlot(benches []namedBench, conns int) (*plot.Plot, error) {
	p := newPlot(fmt.Sprintf("Latency by percentile, %d connections", conns), "percentile (log scale of 1/(1−q))", "latency (ms)")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = percentileTicks{}
	p.X.Min, p.X.Max = 1, curveMaxX
	n := 0
	for _, b := range benches {
		for _, c := range b.Curves {
			if len(c.Quantiles) < 2 || c.Connections != conns {
				continue
			}
			xys := make(plotter.XYs, len(c.Quantiles))
			for i, q := range c.Quantiles {
				xys[i] = plotter.XY{X: 1 / (1 - q), Y: c.Ms[i]}
			}
			l, err := plotter.NewLine(xys)
			if err != nil {
				return nil, fmt.Errorf("distribution %s/%s: %w", b.Name, c.Mode, err)
			}
			l.Color = paletteColor(n)
			l.Width = vg.Points(1.5)
			p.Add(l)
			p.Legend.Add(seriesLabel(benches, b.Name, c.Mode), l)
			n++
		}
	}
	p.Y.Min = 0
	headroom(p, p.Y.Max, n/2)
	return p, nil
}

// chartPercentiles are the percentiles that get an overhead chart: the
// anchors' p90 and p99, and p50. The tail beyond (p99.9, max) stays in the
// table, where too few samples are marked.
var chartPercentiles = []string{"p50", "p90", "p99"}

// overheadPercentiles lists the charted percentiles that have overheads.
func overheadPercentiles(benches []namedBench) []string {
	var out []string
	for _, b := range benches {
		for _, o := range slices.Concat(b.Overheads, b.NoiseFloor) {
			if !contains(out, o.Percentile) && contains(chartPercentiles, o.Percentile) {
				out = append(out, o.Percentile)
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int { return slices.Index(chartPercentiles, a) - slices.Index(chartPercentiles, b) })
	return out
}

func confidenceLabel(benches []namedBench) string {
	for _, b := range benches {
		for _, o := range b.Overheads {
			if o.Confidence > 0 {
				return fmt.Sprintf("%g%% confidence", o.Confidence*100)
			}
		}
	}
	return "confidence"
}

const noiseGroup = "A/A noise floor"

// barCell is one bar of an overhead chart.
type barCell struct {
	group, series string
	o             Overhead
}

// overheadBars arranges a percentile's overheads (and A/A noise floors) as
// bars. One connection count: a group per mode, a bar per run. Several (as
// Istio charts them): a group per connection count, a bar per mode (and run).
func overheadBars(benches []namedBench, pct string) (groups, series []string, cells []barCell, byConns bool) {
	conns := map[int]bool{}
	for _, row := range overheadRows(benches) {
		if row.Percentile == pct {
			conns[row.Connections] = true
		}
	}
	add := func(list []string, v string) []string {
		if !contains(list, v) {
			list = append(list, v)
		}
		return list
	}
	for _, row := range overheadRows(benches) {
		if row.Percentile != pct {
			continue
		}
		mode := row.Mode
		if row.Noise {
			mode = "A/A noise"
		}
		for k, c := range row.Cells {
			if !c.Present {
				continue
			}
			g, sr := mode, benches[k].Name
			if len(conns) > 1 {
				g, sr = fmt.Sprintf("c%d", row.Connections), seriesLabel(benches, benches[k].Name, mode)
			}
			groups, series = add(groups, g), add(series, sr)
			cells = append(cells, barCell{group: g, series: sr, o: c.Overhead})
		}
	}
	if len(conns) > 1 {
		slices.SortStableFunc(groups, func(a, b string) int { return len(a) - len(b) }) // c2 < c16 by width, then first-seen
	}
	return groups, series, cells, len(conns) > 1
}

// overheadPlot draws the bars with their interval whiskers and the
// comparable published anchors as dashed lines.
func overheadPlot(benches []namedBench, pct string, anchors []Anchor) (*plot.Plot, error) {
	groups, series, cells, byConns := overheadBars(benches, pct)
	p := newPlot("Overhead over baseline at "+pct, "", "overhead (ms)")
	top := 0.0
	span := 0.75
	width := vg.Points(math.Min(36, 320/float64(max(1, len(groups)*len(series)))))
	for k, name := range series {
		shift := 0.0
		if len(series) > 1 {
			shift = -span/2 + span*(float64(k)+0.5)/float64(len(series))
		}
		vals := make(plotter.Values, len(groups))
		var whiskers errPoints
		for _, c := range cells {
			if c.series != name {
				continue
			}
			gi := slices.Index(groups, c.group)
			vals[gi] = c.o.Ms
			top = math.Max(top, math.Max(c.o.Ms, c.o.HighMs))
			whiskers = append(whiskers, errPoint{x: float64(gi) + shift, y: c.o.Ms, lo: c.o.Ms - c.o.LowMs, hi: c.o.HighMs - c.o.Ms})
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, fmt.Errorf("overhead %s/%s: %w", name, pct, err)
		}
		bars.XMin = shift
		bars.Color = paletteColor(k)
		bars.LineStyle.Width = 0
		p.Add(bars)
		if len(series) > 1 {
			p.Legend.Add(name, bars)
		}
		if len(whiskers) > 0 {
			eb, err := plotter.NewYErrorBars(whiskers)
			if err != nil {
				return nil, fmt.Errorf("overhead %s/%s whiskers: %w", name, pct, err)
			}
			eb.Width = vg.Points(1.2)
			eb.CapWidth = width / 2
			p.Add(eb)
		}
	}
	lines := anchorLines(anchors, pct)
	for i, a := range lines {
		l, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: a.ms}, {X: float64(len(groups)) - 0.5, Y: a.ms}})
		if err != nil {
			return nil, err
		}
		l.Color = color.RGBA{90, 90, 90, 255}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		if i > 0 {
			l.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
		}
		p.Add(l)
		p.Legend.Add(a.label, l)
		top = math.Max(top, a.ms)
	}
	p.NominalX(groups...)
	p.X.Min, p.X.Max = -0.5, float64(len(groups))-0.5
	if byConns {
		p.X.Label.Text = "client connections"
	}
	headroom(p, top, len(series)+len(lines))
	return p, nil
}

type anchorLine struct {
	label string
	ms    float64
}

// anchorLines are the published anchors drawn on an overhead chart: only
// those at the same percentile, and only the sub-millisecond ones so the
// 2.6 ms figure of an old release does not flatten every bar.
func anchorLines(anchors []Anchor, pct string) []anchorLine {
	var out []anchorLine
	for _, a := range anchors {
		ms := map[string]float64{"p90": a.P90Ms, "p99": a.P99Ms}[pct]
		if ms > 0 && ms < 1 {
			out = append(out, anchorLine{label: fmt.Sprintf("%s (%s): +%.3g ms", strings.SplitN(a.Source, " docs", 2)[0], a.Setup, ms), ms: ms})
		}
	}
	return out
}

func findOverhead(os []Overhead, mode string, conns int, pct string) (Overhead, bool) {
	for _, o := range os {
		if o.Percentile == pct && o.Connections == conns && (mode == "" || o.Mode == mode) {
			return o, true
		}
	}
	return Overhead{}, false
}

type errPoint struct{ x, y, lo, hi float64 }
type errPoints []errPoint

func (e errPoints) Len() int                    { return len(e) }
func (e errPoints) XY(i int) (float64, float64) { return e[i].x, e[i].y }
func (e errPoints) YError(i int) (float64, float64) {
	return math.Max(0, e[i].lo), math.Max(0, e[i].hi)
}

// headroom raises the y axis so a top legend of n entries sits above the
// data instead of over it.
func headroom(p *plot.Plot, top float64, n int) {
	if top <= 0 || n == 0 {
		return
	}
	p.Y.Max = math.Max(p.Y.Max, top*(1.12+0.08*float64(n)))
}

// timelinePlot draws per-second p99 (filled) and p50 (hollow) per mode.
// Points, not lines: interleaved modes leave gaps a line would hide.
func timelinePlot(b namedBench) (*plot.Plot, error) {
	if len(b.Timeline) == 0 {
		return nil, nil
	}
	p := newPlot("Latency over time: "+b.Name, "seconds since the first request", "latency (ms)")
	top := 0.0
	for i, s := range b.Timeline {
		for _, v := range s.P99Ms {
			top = math.Max(top, v)
		}
		for _, which := range []struct {
			name string
			ys   []float64
			fill bool
		}{{"p99", s.P99Ms, true}, {"p50", s.P50Ms, false}} {
			xys := make(plotter.XYs, len(s.Seconds))
			for j := range s.Seconds {
				xys[j] = plotter.XY{X: s.Seconds[j], Y: which.ys[j]}
			}
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, fmt.Errorf("timeline %s/%s: %w", b.Name, s.Mode, err)
			}
			sc.Color = paletteColor(i)
			sc.Radius = vg.Points(2)
			if which.fill {
				sc.Shape = draw.CircleGlyph{}
			} else {
				sc.Shape = draw.RingGlyph{}
			}
			p.Add(sc)
			p.Legend.Add(s.Mode+" "+which.name, sc)
		}
	}
	p.Y.Min = 0
	p.Y.Max = top
	headroom(p, top, 2*len(b.Timeline))
	return p, nil
}

// curvePlot draws p99 against achieved throughput, a line per mode and
// connection count, one point per offered rate.
func curvePlot(nc NamedCurve) (*plot.Plot, error) {
	p := newPlot("Load curve: "+nc.Name, "achieved requests per second", "p99 latency (ms)")
	top := 0.0
	for i, s := range nc.Curve.Series {
		xys := make(plotter.XYs, len(s.Points))
		for j, pt := range s.Points {
			xys[j] = plotter.XY{X: pt.AchievedQPS, Y: pt.P99Ms}
			top = math.Max(top, pt.P99Ms)
		}
		l, sc, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, fmt.Errorf("load curve %s/%s: %w", nc.Name, s.Mode, err)
		}
		l.Color, sc.Color = paletteColor(i), paletteColor(i)
		sc.Shape = draw.CircleGlyph{}
		p.Add(l, sc)
		p.Legend.Add(fmt.Sprintf("%s c%d", s.Mode, s.Connections), l, sc)
	}
	p.Y.Min = 0
	headroom(p, top, len(nc.Curve.Series))
	return p, nil
}

func contains(xs []string, s string) bool { return slices.Contains(xs, s) }

// slug makes a run name safe as a file name.
func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-.")
}
