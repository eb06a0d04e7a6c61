package bench

import (
	"bufio"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// synth builds a run folder from made-up latencies, so the statistics and
// the gate can be checked against known truths without a network.
type synth struct {
	t   *testing.T
	dir string
	s   *Summary
	rng *rand.Rand
}

func newSynth(t *testing.T, seed uint64, modes []string) *synth {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, RawDir), 0o755); err != nil {
		t.Fatal(err)
	}
	p := Plan{Target: "synthetic", Baseline: ModeBaseline, AAMode: ModeBaselineAA, Options: DefaultOptions()}
	p.Options.Rate = 1000
	p.Options.Duration = 2 * time.Second
	p.Options.Connections = []int{4}
	p.Options.Resamples = 1000
	for _, m := range modes {
		p.Modes = append(p.Modes, Mode{Name: m, URL: "http://synthetic/" + m})
	}
	return &synth{t: t, dir: dir, s: newSummary(p), rng: rand.New(rand.NewPCG(seed, 9))}
}

// add writes one run of n results: log-normal latencies around 200 µs plus
// shift, the first errs of them failed, spread over n/rate seconds.
func (y *synth) add(mode string, rep, n int, rate float64, shift time.Duration, errs int) {
	y.t.Helper()
	run := Run{Mode: mode, Connections: 4, Repetition: rep, Raw: RawName(mode, 4, rep), RequestedQPS: float64(y.s.Config.Rate)}
	f, err := os.Create(filepath.Join(y.dir, run.Raw))
	if err != nil {
		y.t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	enc := vegeta.NewEncoder(w)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lat := sample(y.rng, n, float64(shift))
	y.rng.Shuffle(len(lat), func(i, j int) { lat[i], lat[j] = lat[j], lat[i] })
	for i, l := range lat {
		r := vegeta.Result{Attack: mode, Seq: uint64(i), Code: 200, Latency: time.Duration(l), BytesIn: 1024,
			Timestamp: start.Add(time.Duration(float64(i) / rate * 1e9)), Method: "GET", URL: "http://synthetic/" + mode}
		if i < errs {
			r.Code, r.Error = 0, "connection refused"
		}
		if err := enc.Encode(&r); err != nil {
			y.t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		y.t.Fatal(err)
	}
	f.Close()
	y.s.Runs = append(y.s.Runs, run)
}

func (y *synth) analyze() *Summary {
	y.t.Helper()
	if err := Analyze(y.dir, y.s); err != nil {
		y.t.Fatal(err)
	}
	return y.s
}

func findOverhead(list []Overhead, mode, pct string) (Overhead, bool) {
	for _, o := range list {
		if o.Mode == mode && o.Percentile == pct {
			return o, true
		}
	}
	return Overhead{}, false
}
