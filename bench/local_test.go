package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/meshgate/meshgate/fixtures/apps/echo/echoserver"
)

// smallOptions keep the loopback runs short; the method is the same.
func smallOptions() Options {
	o := DefaultOptions()
	o.Rate = 400
	o.Duration = time.Second
	o.Warmup = 200 * time.Millisecond
	o.Connections = []int{4}
	o.Repetitions = 2
	o.Resamples = 1000
	// A shared CI machine may stall a loopback run briefly; the method is the same.
	o.RateTolerance = 0.2
	return o
}

func localRun(t *testing.T, proxy string, delay time.Duration) (string, *Summary) {
	t.Helper()
	ctx := t.Context()
	o := smallOptions()
	env, err := StartLocal(ctx, LocalOptions{Backend: echoserver.New(echoserver.Options{}), Proxy: proxy, BodyBytes: 1024, InjectDelay: delay})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	dir := t.TempDir()
	s, err := Execute(ctx, dir, Plan{Target: "local", Modes: env.Modes, Baseline: ModeBaseline, AAMode: ModeBaselineAA, Options: o}, LocalLoader{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return dir, s
}

func nginxOrSkip(t *testing.T) {
	if _, _, err := chooseProxy(LocalOptions{Proxy: ProxyNginx}); err != nil {
		t.Skip(err)
	}
}

func TestLocalPipeline(t *testing.T) {
	for _, proxy := range []string{ProxyNginx, ProxyGo} {
		t.Run(proxy, func(t *testing.T) {
			if proxy == ProxyNginx {
				nginxOrSkip(t)
			}
			dir, _ := localRun(t, proxy, 0)
			s, err := ReadSummary(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Runs) != 6 || len(s.Overheads) != 5 || len(s.NoiseFloor) != 5 {
				t.Fatalf("want 6 runs, 5 proxy overheads and 5 A/A entries; summary %+v", s)
			}
			if !strings.Contains(s.Mesh.ModeDescriptions[ModeProxy], map[string]string{ProxyNginx: "nginx/", ProxyGo: "httputil.ReverseProxy"}[proxy]) {
				t.Errorf("proxy mode description %q does not say which proxy ran", s.Mesh.ModeDescriptions[ModeProxy])
			}
			for _, r := range s.Runs {
				if r.Rejected {
					t.Errorf("run %s r%d rejected on loopback at 400 rps: %v", r.Mode, r.Repetition, r.RejectReason)
				}
				checkRawMatchesSummary(t, dir, r)
			}
		})
	}
}

// checkRawMatchesSummary recomputes a run's percentiles from its raw file
// with vegeta's own decoder and a plain sort, and reads it with vegeta's
// reporter, as `vegeta report` would.
func checkRawMatchesSummary(t *testing.T, dir string, r Run) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, r.Raw))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := vegeta.NewDecoder(f)
	var lat []int64
	var m vegeta.Metrics
	for {
		var res vegeta.Result
		if err := dec.Decode(&res); err != nil {
			break
		}
		if res.BytesIn != 1024 || res.Code != 200 {
			t.Fatalf("%s: result %+v is not a 1 KB 200", r.Raw, res)
		}
		lat = append(lat, int64(res.Latency))
		m.Add(&res)
	}
	m.Close()
	slices.Sort(lat)
	nearest := func(q float64) float64 {
		i := int(float64(len(lat))*q+0.999999999) - 1
		return float64(lat[max(i, 0)]) / 1e6
	}
	want := Latencies{Min: float64(lat[0]) / 1e6, P50: nearest(0.5), P90: nearest(0.9), P99: nearest(0.99), P999: nearest(0.999), Max: float64(lat[len(lat)-1]) / 1e6}
	got := r.LatenciesMs
	got.Average = 0
	if got != want || r.Requests != len(lat) {
		t.Errorf("%s: summary says %d requests %+v, raw file gives %d %+v", r.Raw, r.Requests, got, len(lat), want)
	}
	var out bytes.Buffer
	if err := vegeta.NewTextReporter(&m).Report(&out); err != nil {
		t.Fatal(err)
	}
	if m.Requests != uint64(r.Requests) || !strings.Contains(out.String(), "Success") || !strings.Contains(out.String(), "100.00%") {
		t.Errorf("vegeta report on %s:\n%s", r.Raw, out.String())
	}
}

func TestLocalGateCatchesInjectedDelay(t *testing.T) {
	proxy := ProxyGo
	if _, _, err := chooseProxy(LocalOptions{Proxy: ProxyNginx}); err == nil {
		proxy = ProxyNginx
	}
	oldDir, old := localRun(t, proxy, 0)
	// 10 ms stands clear of what a loaded shared machine does to a loopback hop.
	_, slow := localRun(t, proxy, 10*time.Millisecond)
	v, err := Compare(old, slow, DefaultGate())
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := grewBy(strings.Join(v.Violations, "\n"), "proxy c4 p50"); !v.Failed() || !ok || g < 8 {
		t.Errorf("gate on a 10 ms slower proxy hop: %+v", v)
	}
	again, err := ReadSummary(oldDir)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := Compare(old, again, DefaultGate()); err != nil || v.Failed() {
		t.Errorf("A/A gate (a run against its own summary) = %+v, %v", v, err)
	}
}

func TestExecuteStopsOnCancel(t *testing.T) {
	env, err := StartLocal(t.Context(), LocalOptions{Backend: echoserver.New(echoserver.Options{}), Proxy: ProxyGo, BodyBytes: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	o := smallOptions()
	o.Duration = time.Hour
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(300*time.Millisecond, cancel)
	dir := t.TempDir()
	_, err = Execute(ctx, dir, Plan{Target: "local", Modes: env.Modes, Baseline: ModeBaseline, Options: o}, LocalLoader{}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Execute after cancel = %v, want context.Canceled", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, RawDir, "*"))
	if len(left) != 0 {
		t.Errorf("an interrupted attack left raw files %v; only completed attacks may be kept", left)
	}
}

// grewBy reads the growth the gate reported for name ("proxy c4 p50").
func grewBy(text, name string) (float64, bool) {
	prefix := name + ": overhead grew by "
	i := strings.Index(text, prefix)
	if i < 0 {
		return 0, false
	}
	var g float64
	_, err := fmt.Sscanf(text[i+len(prefix):], "%f", &g)
	return g, err == nil
}
