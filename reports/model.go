// Package reports turns meshgate run folders (e2e and bench) into one
// versioned report model, and renders it as JSON, Markdown, a self-contained
// HTML page, charts (SVG and PNG) and a merged JUnit file.
package reports

import (
	"time"

	"github.com/meshgate/meshgate/bench"
)

// Schema names the version of Report. A reader that sees another value must
// not guess: fields may have changed meaning.
const Schema = "meshgate.dev/report/v1"

// Outcome is a verdict with distinct values, in the style of the Gateway API
// conformance report: a skipped check is not a pass, and a check the
// environment cannot run is "not supported", not a failure.
type Outcome string

const (
	Passed       Outcome = "passed"
	Failed       Outcome = "failed"
	Skipped      Outcome = "skipped"
	NotSupported Outcome = "not-supported"
)

// Outcomes lists every outcome in display order.
var outcomeOrder = []Outcome{Passed, Failed, Skipped, NotSupported}

// RunKind says what a run folder holds.
type RunKind string

const (
	KindE2E   RunKind = "e2e"
	KindBench RunKind = "bench"
)

// Report is the whole model: every renderer reads only this.
type Report struct {
	Schema    string    `json:"schema"`
	Generated time.Time `json:"generated"`
	Meshgate  string    `json:"meshgateVersion,omitempty"`
	Totals    Totals    `json:"totals"`
	Runs      []Run     `json:"runs"`
	// Anchors are published figures to read the measured overheads against;
	// each keeps the conditions it was measured under.
	Anchors []Anchor `json:"anchors"`
	// Unsourced are figures quoted in circulation with no public source found.
	Unsourced []Claim    `json:"unsourcedClaims"`
	Charts    []ChartRef `json:"charts,omitempty"`
	// Curves are the load sweeps (meshgate bench --rates) among the inputs.
	Curves []NamedCurve `json:"loadCurves,omitempty"`
	// JUnit counts the merged junit.xml, when any run folder had JUnit files.
	JUnit *JUnitTotals `json:"junit,omitempty"`
}

// NamedCurve is one sweep's load curve, named by its folder.
type NamedCurve struct {
	Name  string       `json:"name"`
	Curve *bench.Curve `json:"curve"`
}

// Totals counts scenario outcomes over all runs.
type Totals struct {
	Scenarios    int `json:"scenarios"`
	Passed       int `json:"passed"`
	Failed       int `json:"failed"`
	Skipped      int `json:"skipped"`
	NotSupported int `json:"notSupported"`
}

// Outcome is the report's overall verdict: failed if anything failed, passed
// if anything passed, skipped otherwise; empty when there were no scenarios
// (a bench-only report has no verdict to give).
func (t Totals) Outcome() Outcome {
	switch {
	case t.Scenarios == 0:
		return ""
	case t.Failed > 0:
		return Failed
	case t.Passed > 0:
		return Passed
	case t.Skipped > 0:
		return Skipped
	default:
		return NotSupported
	}
}

// Run is one run folder.
type Run struct {
	// Name labels the run in tables and charts (unique within a report).
	Name string  `json:"name"`
	Dir  string  `json:"dir"`
	Kind RunKind `json:"kind"`
	// Schema is the schema of the folder's main file.
	Schema      string      `json:"sourceSchema,omitempty"`
	Started     time.Time   `json:"started,omitzero"`
	Environment Environment `json:"environment"`
	Scenarios   []Scenario  `json:"scenarios,omitempty"`
	Bench       *Bench      `json:"bench,omitempty"`
	// JUnitFiles are the folder's JUnit files, relative to Dir.
	JUnitFiles []string `json:"junitFiles,omitempty"`
	// Notes are facts about the run a reader should see (e.g. rejected
	// repetitions, a missing raw file).
	Notes []string `json:"notes,omitempty"`
}

// Environment is where a run happened.
type Environment struct {
	Provider string    `json:"provider,omitempty"` // kind, kubeconfig, local
	Cluster  string    `json:"cluster,omitempty"`
	Node     string    `json:"node,omitempty"`
	Kernel   string    `json:"kernel,omitempty"`
	OS       string    `json:"os,omitempty"`
	Arch     string    `json:"arch,omitempty"`
	CPUs     int       `json:"cpus,omitempty"`
	Versions []Version `json:"versions,omitempty"`
}

// Version is one component's version (Kong, Kuma, Istio, kind, meshgate...).
type Version struct {
	Component string `json:"component"`
	Version   string `json:"version"`
}

// Scenario is one e2e scenario's verdict and the evidence behind it, phase
// by phase (reproduce → fix → verify).
type Scenario struct {
	ID       string   `json:"id"`
	Name     string   `json:"name,omitempty"`
	Mesh     string   `json:"mesh,omitempty"`
	Outcome  Outcome  `json:"outcome"`
	Message  string   `json:"message,omitempty"`
	Seconds  float64  `json:"seconds,omitempty"`
	Findings []string `json:"findings,omitempty"`
	Phases   []Phase  `json:"phases,omitempty"`
}

// Phase is one step of a scenario with its checks and evidence.
type Phase struct {
	Kind     string   `json:"kind"` // reproduce, fix, verify
	Name     string   `json:"name"`
	Outcome  Outcome  `json:"outcome"`
	Message  string   `json:"message,omitempty"`
	Applied  []string `json:"applied,omitempty"`
	Checks   []Check  `json:"checks,omitempty"`
	Evidence Evidence `json:"evidence,omitzero"`
}

// Evidence is what a verdict rests on: not only status codes.
type Evidence struct {
	Traffic    []Traffic         `json:"traffic,omitempty"`
	Targets    []Target          `json:"targets,omitempty"`
	SPIFFE     []string          `json:"spiffeIDs,omitempty"`
	Handshakes []CounterDelta    `json:"handshakes,omitempty"`
	JWT        []JWTRow          `json:"jwt,omitempty"`
	Notes      []string          `json:"notes,omitempty"`
	Other      map[string]string `json:"other,omitempty"` // evidence kinds without a column, as compact JSON
}

// Traffic tallies one probe's requests by result class ("ok", "502",
// "reset", "timeout"...).
type Traffic struct {
	Probe   string         `json:"probe"`
	URL     string         `json:"url,omitempty"`
	Total   int            `json:"total"`
	ByClass map[string]int `json:"byClass,omitempty"`
	Pods    map[string]int `json:"pods,omitempty"`
}

// Target is one upstream target Kong's admin API reported.
type Target struct {
	Target string `json:"target"`
	Kind   string `json:"kind,omitempty"` // pod-ip, cluster-ip, mesh-vip, hostname
}

// CounterDelta is an Envoy counter read before and after a phase's traffic.
type CounterDelta struct {
	Proxy  string `json:"proxy,omitempty"`
	Stat   string `json:"stat"`
	Before int64  `json:"before"`
	After  int64  `json:"after"`
}

// Delta is After minus Before.
func (c CounterDelta) Delta() int64 { return c.After - c.Before }

// JWTRow is one claim as sent and as the backend saw it.
type JWTRow struct {
	Claim    string  `json:"claim"`
	Expected string  `json:"expected,omitempty"`
	Seen     string  `json:"seen,omitempty"`
	Outcome  Outcome `json:"outcome,omitempty"`
}

// Check is one named assertion inside a phase.
type Check struct {
	Name    string  `json:"name"`
	Kind    string  `json:"kind,omitempty"` // precondition, claim, finding
	Outcome Outcome `json:"outcome"`
	Detail  string  `json:"detail,omitempty"`
}

// Bench is one bench run: load, exact percentiles per mode, overheads with
// confidence intervals, the A/A noise floor and the series the charts draw.
type Bench struct {
	Local      bool         `json:"local"`
	Load       Load         `json:"load"`
	Modes      []ModeResult `json:"modes"`
	Overheads  []Overhead   `json:"overheads,omitempty"`
	NoiseFloor []Overhead   `json:"noiseFloor,omitempty"`
	Rejected   []Rejection  `json:"rejected,omitempty"`
	Curves     []Curve      `json:"distribution,omitempty"`
	Timeline   []Series     `json:"timeline,omitempty"`
	RawFiles   []string     `json:"rawFiles,omitempty"`
	// MTLS and ProxyCosts come from cluster benches: per mode that enters
	// the mesh, whether its traffic was proven mutual TLS, and what each
	// proxy on its path cost.
	MTLS       []MTLSProof `json:"mtlsProof,omitempty"`
	ProxyCosts []ProxyCost `json:"proxyCosts,omitempty"`
}

// MTLSProof is a mode's verdict ("mtls", "not mtls", "unverified") and the
// counts it rests on.
type MTLSProof struct {
	Mode     string `json:"mode"`
	Status   string `json:"status"`
	Evidence string `json:"evidence"`
}

// ProxyCost is one proxy's CPU per 1000 achieved rps and largest working
// set in one mode, beside Istio's published figure for its kind.
type ProxyCost struct {
	Mode            string  `json:"mode"`
	Component       string  `json:"component"`
	CoresPer1000RPS float64 `json:"coresPer1000Rps"`
	MemoryMiB       float64 `json:"memoryMiB"`
	Runs            int     `json:"runs"`
	Published       string  `json:"published,omitempty"`
	Note            string  `json:"note,omitempty"`
}

// Load is what the generator was asked to do.
type Load struct {
	RPS           float64 `json:"rps"`
	Connections   []int   `json:"connections,omitempty"`
	Seconds       float64 `json:"seconds,omitempty"`
	WarmupSeconds float64 `json:"warmupSeconds,omitempty"`
	Repetitions   int     `json:"repetitions,omitempty"`
	BodyBytes     int     `json:"bodyBytes,omitempty"`
	HTTP          string  `json:"http,omitempty"`
	Proxy         string  `json:"proxy,omitempty"` // what the local hop was (nginx, go)
	Generator     string  `json:"generator,omitempty"`
	Resamples     int     `json:"resamples,omitempty"`
	Confidence    float64 `json:"confidence,omitempty"`
}

// ModeResult is one mode's latency at one connection count, pooled over its
// accepted repetitions, exact from raw results.
type ModeResult struct {
	Mode        string       `json:"mode"`
	Description string       `json:"description,omitempty"`
	Connections int          `json:"connections,omitempty"`
	Runs        int          `json:"runs"`         // accepted repetitions pooled here
	Rejected    int          `json:"rejectedRuns"` // repetitions left out
	Requests    int          `json:"requests"`
	Errors      int          `json:"errors"`
	AchievedRPS float64      `json:"achievedRps,omitempty"`
	Percentiles []Percentile `json:"percentiles"`
}

// Percentile is one exact latency percentile in milliseconds; Name is "p50",
// "p99.9" or "max".
type Percentile struct {
	Name string  `json:"name"`
	Ms   float64 `json:"ms"`
}

// Overhead is a mode's percentile minus the same percentile of the baseline,
// with its confidence interval.
type Overhead struct {
	Mode        string  `json:"mode"`
	Baseline    string  `json:"baseline"`
	Connections int     `json:"connections,omitempty"`
	Percentile  string  `json:"percentile"`
	ModeMs      float64 `json:"modeMs"`
	BaselineMs  float64 `json:"baselineMs"`
	Ms          float64 `json:"ms"`
	LowMs       float64 `json:"lowMs"`
	HighMs      float64 `json:"highMs"`
	Confidence  float64 `json:"confidence,omitempty"`
	// NoiseMs is the A/A bound at the same percentile and connections;
	// AboveNoise says the overhead exceeds it.
	NoiseMs    float64 `json:"noiseMs,omitempty"`
	AboveNoise bool    `json:"aboveNoise"`
	// Significant: the interval excludes zero. Interpretable: enough samples
	// lie beyond the percentile for its interval to mean something.
	Significant   bool `json:"significant"`
	Interpretable bool `json:"interpretable"`
}

// Rejection is a repetition left out of the statistics, and why.
type Rejection struct {
	Mode        string `json:"mode"`
	Connections int    `json:"connections,omitempty"`
	Repetition  int    `json:"repetition"`
	Reason      string `json:"reason"`
}

// Curve is a latency-by-percentile curve (HDR style): Quantiles[i] in [0,1)
// and Ms[i] the latency there.
type Curve struct {
	Mode        string    `json:"mode"`
	Connections int       `json:"connections,omitempty"`
	Quantiles   []float64 `json:"quantiles"`
	Ms          []float64 `json:"ms"`
}

// Series is latency over time for one mode: per-second percentiles of the
// requests sent in that second, Seconds counted from the run's first request.
type Series struct {
	Mode    string    `json:"mode"`
	Seconds []float64 `json:"seconds"`
	P50Ms   []float64 `json:"p50Ms"`
	P99Ms   []float64 `json:"p99Ms"`
}

// Anchor is a published overhead figure and the conditions it holds under.
type Anchor struct {
	Source     string  `json:"source"`
	URL        string  `json:"url,omitempty"`
	Setup      string  `json:"setup"`
	Conditions string  `json:"conditions"`
	P90Ms      float64 `json:"p90Ms"`
	P99Ms      float64 `json:"p99Ms"`
}

// Claim is a figure that circulates without a public source.
type Claim struct {
	Claim  string `json:"claim"`
	Where  string `json:"where"`
	Status string `json:"status"`
}

// ChartRef names a chart's files in the output folder.
type ChartRef struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	SVG   string `json:"svg"`
	PNG   string `json:"png"`
}

// JUnitTotals counts the merged JUnit file.
type JUnitTotals struct {
	File     string `json:"file"`
	Suites   int    `json:"suites"`
	Tests    int    `json:"tests"`
	Failures int    `json:"failures"`
	Errors   int    `json:"errors"`
	Skipped  int    `json:"skipped"`
	Disabled int    `json:"disabled"`
}
