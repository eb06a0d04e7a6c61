package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// fakeLoader emits rate × duration results with known latencies, the k-th
// at start + k/rate with latency lat(k), then fails with err when set, or,
// when block is set, waits until it is stopped as a long attack would. One
// with err runs to its failure even when stopped, so a test knows which
// parts fail by themselves.
type fakeLoader struct {
	lat   func(k int) time.Duration
	err   error
	block bool

	mu  sync.Mutex
	got []AttackSpec
}

var fakeStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func (f *fakeLoader) Attack(ctx context.Context, spec AttackSpec, emit func(*vegeta.Result) error) error {
	f.mu.Lock()
	f.got = append(f.got, spec)
	f.mu.Unlock()
	period := time.Second / time.Duration(spec.Rate)
	for k := range spec.Rate * int(time.Duration(spec.Duration)/time.Second) {
		if err := ctx.Err(); err != nil && f.err == nil {
			return err
		}
		r := vegeta.Result{Attack: spec.Name, Seq: uint64(k), Code: 200, Latency: f.lat(k), BytesIn: 1024,
			Timestamp: fakeStart.Add(time.Duration(k) * period), Method: "GET", URL: spec.URL}
		if err := emit(&r); err != nil {
			return err
		}
	}
	if f.block {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Minute):
			return errors.New("never stopped")
		}
	}
	return f.err
}

func (f *fakeLoader) specs() []AttackSpec {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

func TestSplitSpecSumsExactly(t *testing.T) {
	tests := []struct {
		rate, conns, n int
		rates, connss  []int
	}{
		{1000, 16, 1, []int{1000}, []int{16}},
		{1000, 16, 3, []int{334, 333, 333}, []int{6, 5, 5}},
		{1001, 7, 3, []int{334, 334, 333}, []int{3, 2, 2}},
		{5, 4, 4, []int{2, 1, 1, 1}, []int{1, 1, 1, 1}},
		{64, 64, 64, slices.Repeat([]int{1}, 64), slices.Repeat([]int{1}, 64)},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d rps %d conns over %d", tt.rate, tt.conns, tt.n), func(t *testing.T) {
			spec := AttackSpec{Name: "kong-c16-r0", URL: "http://x/", Rate: tt.rate, Connections: tt.conns,
				Duration: Duration(time.Minute), Warmup: Duration(5 * time.Second), Timeout: Duration(time.Second)}
			parts, err := SplitSpec(spec, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			var rates, conns []int
			for i, p := range parts {
				rates, conns = append(rates, p.Rate), append(conns, p.Connections)
				want := spec
				want.Name, want.Rate, want.Connections = fmt.Sprintf("kong-c16-r0-l%d", i), p.Rate, p.Connections
				if fmt.Sprint(p) != fmt.Sprint(want) {
					t.Errorf("part %d = %+v, want the attack's URL, duration, warm-up and timeout under its own name: %+v", i, p, want)
				}
			}
			if !slices.Equal(rates, tt.rates) || !slices.Equal(conns, tt.connss) {
				t.Errorf("rates %v connections %v, want %v and %v", rates, conns, tt.rates, tt.connss)
			}
		})
	}
	refusals := []struct {
		rate, conns, n int
		want           string
	}{
		{1000, 2, 3, "2 connections cannot be spread over 3 loaders"},
		{2, 8, 3, "rate 2 rps cannot be spread over 3 loaders"},
		{1000, 8, 0, "spread over 0 loaders"},
	}
	for _, tt := range refusals {
		_, err := SplitSpec(AttackSpec{Name: "a", Rate: tt.rate, Connections: tt.conns}, tt.n)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `attack "a"`) {
			t.Errorf("%d rps, %d connections over %d: %v, want an error with %q", tt.rate, tt.conns, tt.n, err, tt.want)
		}
	}
}

// The run's percentiles come from the merged samples of all parts: the
// same values a plain sort of the pooled known latencies gives, which here
// differ from any average of the parts' own percentiles.
func TestSplitPercentilesAreThoseOfThePooledSamples(t *testing.T) {
	lats := []func(k int) time.Duration{
		func(k int) time.Duration { return 100*time.Microsecond + time.Duration(k%50)*time.Microsecond },
		func(k int) time.Duration { return 2*time.Millisecond + time.Duration(k%7)*100*time.Microsecond },
		func(k int) time.Duration {
			if k%40 == 0 {
				return 40*time.Millisecond + time.Duration(k)*time.Microsecond
			}
			return 300*time.Microsecond + time.Duration(k%13)*time.Microsecond
		},
	}
	var l SplitLoader
	for i, lat := range lats {
		l.Parts = append(l.Parts, LoaderPart{Name: fmt.Sprintf("fake-%d", i), Loader: &fakeLoader{lat: lat}})
	}
	o := DefaultOptions()
	o.Rate, o.Duration, o.Warmup, o.Connections, o.Repetitions, o.Resamples, o.Loaders = 1001, 2*time.Second, 0, []int{7}, 1, 100, 3
	dir := t.TempDir()
	plan := Plan{Target: "synthetic", Modes: []Mode{{Name: ModeBaseline, URL: "http://synthetic/", Loader: l}}, Baseline: ModeBaseline, Options: o}
	s, err := Execute(t.Context(), dir, plan, nil, nil)
	if err != nil {
		t.Fatal(err)
	}

	partRates := []int{334, 334, 333} // 1001 rps over three
	var pooled []int64
	var avgP99 float64
	for i, lat := range lats {
		var own []int64
		for k := range 2 * partRates[i] {
			own = append(own, int64(lat(k)))
		}
		pooled = append(pooled, own...)
		avgP99 += nearestRankMs(own, 0.99) / 3
	}
	want := Latencies{Min: nearestRankMs(pooled, 0), P50: nearestRankMs(pooled, 0.5), P90: nearestRankMs(pooled, 0.9),
		P99: nearestRankMs(pooled, 0.99), P999: nearestRankMs(pooled, 0.999), Max: nearestRankMs(pooled, 1)}
	var sum float64
	for _, v := range pooled {
		sum += float64(v)
	}
	run := s.Runs[0]
	got := run.LatenciesMs
	if math.Abs(got.Average-sum/float64(len(pooled))/1e6) > 1e-9 {
		t.Errorf("average %g ms, pooled samples give %g", got.Average, sum/float64(len(pooled))/1e6)
	}
	got.Average = 0
	if got != want || run.Requests != len(pooled) {
		t.Errorf("summary: %d requests %+v; pooled samples: %d %+v", run.Requests, got, len(pooled), want)
	}
	if avgP99 == want.P99 {
		t.Fatalf("test data: the parts' averaged p99 equals the pooled one (%g ms), so averaging would go unnoticed", avgP99)
	}

	perAttack := map[string]int{}
	err = ReadRaw(dir+"/"+run.Raw, func(r *vegeta.Result) {
		perAttack[r.Attack]++
		part := int(r.Attack[len(r.Attack)-1] - '0')
		if ts := fakeStart.Add(time.Duration(r.Seq) * (time.Second / time.Duration(partRates[part]))); !r.Timestamp.Equal(ts) {
			t.Errorf("%s result %d: timestamp %s, the loader stamped %s", r.Attack, r.Seq, r.Timestamp, ts)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	wantAttacks := map[string]int{"baseline-c7-r0-l0": 668, "baseline-c7-r0-l1": 668, "baseline-c7-r0-l2": 666}
	if fmt.Sprint(perAttack) != fmt.Sprint(wantAttacks) {
		t.Errorf("raw file holds %v results per attack name, want %v", perAttack, wantAttacks)
	}
}

// nearestRankMs is percentile q of samples by a plain sort: the smallest
// sample with at least q·n samples at or below it.
func nearestRankMs(samples []int64, q float64) float64 {
	s := slices.Sorted(slices.Values(samples))
	i := max(int(math.Ceil(q*float64(len(s))))-1, 0)
	return float64(s[i]) / 1e6
}

func TestSplitPartFailureFailsTheAttackNamingIt(t *testing.T) {
	evicted := errors.New("loadgen pod evicted")
	full := errors.New("disk full")
	lat := func(int) time.Duration { return time.Millisecond }
	spec := AttackSpec{Name: "kong-c4-r0", URL: "http://x/", Rate: 10, Connections: 4, Duration: Duration(time.Second)}
	tests := []struct {
		name    string
		parts   []Loader
		emitErr error
		cancel  bool
		is      error
		want    []string
		notWant string
	}{
		{"a part fails", []Loader{&fakeLoader{lat: lat, block: true}, &fakeLoader{lat: lat, err: evicted}}, nil, false,
			evicted, []string{`loader pod-1 (part 2 of 2, attack "kong-c4-r0-l1")`, "evicted"}, "pod-0"},
		{"two parts fail", []Loader{&fakeLoader{lat: lat, err: full}, &fakeLoader{lat: lat, err: evicted}}, nil, false,
			evicted, []string{"loader pod-0 (part 1 of 2", "disk full", "loader pod-1 (part 2 of 2", "evicted"}, ""},
		{"emit fails", []Loader{&fakeLoader{lat: lat, block: true}, &fakeLoader{lat: lat, block: true}}, full, false,
			full, []string{"disk full"}, "never stopped"},
		{"caller cancels", []Loader{&fakeLoader{lat: lat, block: true}, &fakeLoader{lat: lat, block: true}}, nil, true,
			context.Canceled, []string{"canceled"}, "never stopped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var l SplitLoader
			for i, p := range tt.parts {
				l.Parts = append(l.Parts, LoaderPart{Name: fmt.Sprintf("pod-%d", i), Loader: p})
			}
			emit := func(*vegeta.Result) error {
				if tt.cancel {
					cancel()
				}
				return tt.emitErr
			}
			err := l.Attack(ctx, spec, emit)
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err %q lacks %q", err, w)
				}
			}
			if tt.notWant != "" && strings.Contains(err.Error(), tt.notWant) {
				t.Errorf("err %q names %q, which did not fail by itself", err, tt.notWant)
			}
		})
	}
}

func TestSplitOfOneIsTheAttackUnchanged(t *testing.T) {
	f := &fakeLoader{lat: func(int) time.Duration { return time.Millisecond }}
	spec := AttackSpec{Name: "mesh-c2-r1", URL: "http://x/", Rate: 3, Connections: 2, Duration: Duration(time.Second)}
	n := 0
	err := SplitLoader{Parts: []LoaderPart{{Name: "only", Loader: f}}}.Attack(t.Context(), spec, func(*vegeta.Result) error { n++; return nil })
	if err != nil || n != 3 || len(f.specs()) != 1 || fmt.Sprint(f.specs()[0]) != fmt.Sprint(spec) {
		t.Errorf("err %v, %d results, specs %+v; want the attack passed through as is", err, n, f.specs())
	}
	if err := (SplitLoader{}).Attack(t.Context(), spec, nil); err == nil || !strings.Contains(err.Error(), "no loader") {
		t.Errorf("no parts: %v", err)
	}
}

// The summary says how many loaders ran an attack, so Execute refuses a
// loader whose width disagrees with the options.
func TestExecuteWantsAsManyLoadersAsTheOptionsSay(t *testing.T) {
	o := DefaultOptions()
	o.Loaders, o.Duration = 2, time.Second
	p := Plan{Target: "local", Modes: []Mode{{Name: ModeBaseline, URL: "http://127.0.0.1:1/"}}, Baseline: ModeBaseline, Options: o}
	one := &fakeLoader{lat: func(int) time.Duration { return time.Millisecond }, err: errors.New("attacked")}
	_, err := Execute(t.Context(), t.TempDir(), p, one, nil)
	if err == nil || !strings.Contains(err.Error(), "mode baseline attacks from 1 loader(s), but the options say --loaders 2") {
		t.Errorf("Execute with one loader and --loaders 2 = %v", err)
	}
}
