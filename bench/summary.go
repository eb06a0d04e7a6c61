// Package bench measures the latency each hop adds (Kong, mesh sidecars,
// STRICT mTLS, JWT checks) the way Istio publishes it: an open-model constant
// rate from vegeta's library, fixed connections, warm-up discarded, modes
// interleaved over repetitions, exact percentiles from raw results, overhead
// against a baseline measured in the same run with a bootstrap interval, an
// A/A noise floor, and a regression gate over two summaries.
//
// A run folder holds summary.json (the Summary type below) and raw/, one file
// per attack in vegeta's own gob encoding (`vegeta report raw/<file>.bin`).
package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Schema names the summary format; ReadSummary refuses any other value.
const Schema = "meshgate.dev/bench/v1"

// Run folder layout.
const (
	SummaryFile = "summary.json"
	RawDir      = "raw"
)

// Summary is summary.json. Field names follow the Service Mesh Performance
// spec (PerformanceTestResult, EnvironmentConfig, ServiceMeshConfig) where the
// two overlap: latencies_ms{min,average,p50,p90,p99,max}, actual_qps,
// connections, mesh_build, proxy_build, kubernetes_version, node cores/mem_mb.
type Summary struct {
	Schema    string    `json:"schema"`
	ID        string    `json:"id"`
	StartTime time.Time `json:"start_time"`
	EndTime   time.Time `json:"end_time"`
	Config    Config    `json:"config"`
	Env       Env       `json:"env"`
	Mesh      MeshInfo  `json:"mesh"`
	// Runs has one entry per mode × connections × repetition, in the order
	// they were attacked.
	Runs []Run `json:"runs"`
	// Overheads: percentile(mode) − percentile(baseline) per mode and
	// connection count, from accepted runs only.
	Overheads []Overhead `json:"overheads"`
	// NoiseFloor: the same computation for a second baseline measured
	// interleaved with the first (A/A). An overhead inside it is noise.
	NoiseFloor []Overhead `json:"noise_floor"`
	// Violations names every rejected run and every overhead that could not
	// be computed, all at once.
	Violations []string `json:"violations"`
	// MTLS judges, per mode that crosses the mesh, whether its traffic into
	// the backend was mutual TLS, from the runs' hop evidence.
	MTLS []MTLSProof `json:"mtls_proof,omitempty"`
	// ProxyCosts are CPU per 1000 rps and memory per proxy and mode.
	ProxyCosts []ProxyCost `json:"proxy_costs,omitempty"`
	// Partial is set when the run was interrupted: Runs then lists only the
	// attacks that finished.
	Partial *Partial `json:"partial,omitempty"`
}

// Partial says why a run stopped early and how much of it was done.
type Partial struct {
	Reason  string `json:"reason"` // e.g. "interrupt signal received"
	Attacks int    `json:"attacks_done"`
	Planned int    `json:"attacks_planned"`
}

// String reads as one line for summaries and reports.
func (p *Partial) String() string {
	return fmt.Sprintf("partial run: interrupted (%s) after %d of %d attacks; percentiles and overheads cover only those", p.Reason, p.Attacks, p.Planned)
}

// Config is what was requested. Every field is a `meshgate bench` flag.
type Config struct {
	Target      string   `json:"target"` // "local" or "cluster"
	Modes       []string `json:"modes"`
	Baseline    string   `json:"baseline"`
	AAMode      string   `json:"aa_mode,omitempty"`
	Rate        int      `json:"qps"` // requested requests per second
	Duration    Duration `json:"duration"`
	Warmup      Duration `json:"warmup"`
	Connections []int    `json:"connections"`
	Repetitions int      `json:"repetitions"`
	BodyBytes   int      `json:"body_bytes"`
	Protocol    string   `json:"protocol"` // "HTTP/1.1"
	Timeout     Duration `json:"timeout"`
	Seed        uint64   `json:"seed"`
	Resamples   int      `json:"resamples"`
	Confidence  float64  `json:"confidence"`
	// RateTolerance: a run is rejected when its achieved rate (or request
	// count) is below (1 − RateTolerance) × requested.
	RateTolerance float64 `json:"rate_tolerance"`
	LoadGenerator string  `json:"load_generator"` // "vegeta/v12 lib"
	Percentile    string  `json:"percentile_method"`
	// Loaders: how many load generators each attack was spread over
	// (--loaders); absent means one.
	Loaders int `json:"loaders,omitempty"`
}

// Generator describes the load generator with the loader count.
func (c Config) Generator() string {
	if c.Loaders > 1 {
		return fmt.Sprintf("%s, each attack spread over %d loaders", c.LoadGenerator, c.Loaders)
	}
	return c.LoadGenerator
}

// Env describes where the load ran (SMP EnvironmentConfig).
type Env struct {
	KubernetesVersion string `json:"kubernetes_version,omitempty"`
	Nodes             []Node `json:"node"`
	GoVersion         string `json:"go_version"`
}

// Node is one machine: the local host, or each cluster node.
type Node struct {
	Name          string `json:"name"`
	Role          string `json:"role,omitempty"`
	OS            string `json:"os"`
	Arch          string `json:"arch"`
	KernelVersion string `json:"kernel_version,omitempty"`
	Cores         int    `json:"cores"`
	MemMB         int64  `json:"mem_mb,omitempty"`
}

// MeshInfo names what was measured (SMP ServiceMeshConfig).
type MeshInfo struct {
	MeshType   string `json:"mesh_type,omitempty"`  // kuma, istio; empty locally
	MeshBuild  string `json:"mesh_build,omitempty"` // e.g. kuma 2.14.3
	ProxyBuild string `json:"proxy_build,omitempty"`
	KongBuild  string `json:"kong_build,omitempty"`
	// MTLSEnabled is true only when every mode that crosses the mesh was
	// proven mutual TLS during the run (see Summary.MTLS).
	MTLSEnabled bool `json:"mtls_enabled"`
	// ModeDescriptions says what path each mode takes.
	ModeDescriptions map[string]string `json:"mode_descriptions,omitempty"`
}

// Run is one attack: a mode at a connection count in one repetition.
type Run struct {
	Mode        string `json:"mode"`
	Connections int    `json:"connections"`
	Repetition  int    `json:"repetition"`
	Raw         string `json:"raw"` // relative to the run folder
	// SHA256 of the raw file, so a reader can tell it belongs to this summary.
	SHA256       string    `json:"sha256,omitempty"`
	URL          string    `json:"url"`
	StartTime    time.Time `json:"start_time"`
	EndTime      time.Time `json:"end_time"`
	RequestedQPS float64   `json:"requested_qps"`
	ActualQPS    float64   `json:"actual_qps"`
	Requests     int       `json:"requests"`
	Errors       int       `json:"errors"`
	// ErrorSamples holds up to five distinct error strings.
	ErrorSamples []string  `json:"error_samples,omitempty"`
	LatenciesMs  Latencies `json:"latencies_ms"`
	Rejected     bool      `json:"rejected"`
	RejectReason []string  `json:"reject_reasons,omitempty"`
	// Hop is the mTLS evidence read at the backend around this attack, for
	// modes that cross the mesh (cluster only).
	Hop *HopEvidence `json:"hop,omitempty"`
	// Proxies is what each proxy on the mode's path used during the attack
	// (cluster only).
	Proxies []ProxyUsage `json:"proxies,omitempty"`
}

// Latencies in milliseconds; every percentile is an exact sample of the raw
// results (nearest rank), not an estimate.
type Latencies struct {
	Min     float64 `json:"min"`
	Average float64 `json:"average"`
	P50     float64 `json:"p50"`
	P90     float64 `json:"p90"`
	P99     float64 `json:"p99"`
	P999    float64 `json:"p99_9"`
	Max     float64 `json:"max"`
}

// Overhead is percentile(Mode) − percentile(Baseline) at one connection count,
// pooled over the accepted repetitions, with a bootstrap interval.
type Overhead struct {
	Mode          string  `json:"mode"`
	Baseline      string  `json:"baseline"`
	Connections   int     `json:"connections"`
	Percentile    string  `json:"percentile"` // p50, p90, p99, p99_9, max
	ModeMs        float64 `json:"mode_ms"`
	BaselineMs    float64 `json:"baseline_ms"`
	OverheadMs    float64 `json:"overhead_ms"`
	CILowMs       float64 `json:"ci_low_ms"`
	CIHighMs      float64 `json:"ci_high_ms"`
	Confidence    float64 `json:"confidence"`
	Resamples     int     `json:"resamples"`
	ModeRuns      int     `json:"mode_runs"`
	BaselineRuns  int     `json:"baseline_runs"`
	ModeSamples   int     `json:"mode_samples"`
	BaseSamples   int     `json:"baseline_samples"`
	NoiseMs       float64 `json:"noise_ms"` // |A/A interval| bound at this percentile, when measured
	AboveNoise    bool    `json:"above_noise"`
	Significant   bool    `json:"significant"` // interval excludes zero
	Interpretable bool    `json:"interpretable"`
}

// Duration is a time.Duration that reads and writes as "5s" in JSON.
type Duration time.Duration

// MarshalJSON writes the Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"5s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ReadSummary reads and validates dir/summary.json (dir may also name the
// file itself). Truncated, foreign or inconsistent files get an error naming
// the file and what is wrong.
func ReadSummary(dir string) (*Summary, error) {
	path := dir
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		path = filepath.Join(dir, SummaryFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read bench summary: %w", err)
	}
	var s Summary
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s is truncated (%d bytes): %w; re-run meshgate bench or restore the file", path, len(b), err)
		}
		return nil, fmt.Errorf("%s is not a meshgate bench summary (%s): %w", path, Schema, err)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// Validate checks the schema and the internal consistency a reader relies on.
func (s *Summary) Validate() error {
	if s.Schema != Schema {
		return fmt.Errorf("schema is %q, want %q: not a meshgate bench summary, or from an incompatible version", s.Schema, Schema)
	}
	var errs []error
	if s.Config.Rate <= 0 {
		errs = append(errs, fmt.Errorf("config.qps is %d, want > 0", s.Config.Rate))
	}
	if s.Config.Baseline == "" {
		errs = append(errs, errors.New("config.baseline is empty"))
	}
	for i, r := range s.Runs {
		if r.Mode == "" || r.Connections <= 0 || r.Raw == "" {
			errs = append(errs, fmt.Errorf("runs[%d] lacks mode, connections or raw file", i))
		}
		if !r.Rejected && r.Requests == 0 {
			errs = append(errs, fmt.Errorf("runs[%d] (%s c%d r%d) is accepted with 0 requests", i, r.Mode, r.Connections, r.Repetition))
		}
	}
	for i, o := range append(append([]Overhead{}, s.Overheads...), s.NoiseFloor...) {
		if o.CILowMs > o.CIHighMs {
			errs = append(errs, fmt.Errorf("overhead %d (%s c%d %s): interval [%g, %g] is reversed", i, o.Mode, o.Connections, o.Percentile, o.CILowMs, o.CIHighMs))
		}
	}
	return errors.Join(errs...)
}

// WriteSummary writes dir/summary.json atomically (temp file + rename).
func WriteSummary(dir string, s *Summary) error {
	s.Schema = Schema
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode bench summary: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, SummaryFile), append(b, '\n'))
}

func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// RawName is the raw file of one attack, relative to the run folder.
func RawName(mode string, conns, rep int) string {
	return filepath.ToSlash(filepath.Join(RawDir, fmt.Sprintf("%s-c%d-r%d.bin", mode, conns, rep)))
}
