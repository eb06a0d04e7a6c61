package scenarios

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ResultSchema versions the e2e result file; bump it on incompatible changes.
const ResultSchema = "meshgate.dev/e2e/v1"

// ResultFile is the result's name inside a run folder.
const ResultFile = "e2e.json"

// Verdict is the outcome of a scenario, phase or check.
type Verdict string

const (
	Passed  Verdict = "passed"
	Failed  Verdict = "failed"
	Skipped Verdict = "skipped"
)

// RunResult is the e2e result of one run: the file reports read.
type RunResult struct {
	Schema      string           `json:"schema"`
	RunID       string           `json:"runID"`
	Started     time.Time        `json:"started"`
	Finished    time.Time        `json:"finished,omitzero"`
	Environment Environment      `json:"environment"`
	Scenarios   []ScenarioResult `json:"scenarios"`
}

// Environment describes where the run happened.
type Environment struct {
	Mesh       string            `json:"mesh"`
	Cluster    string            `json:"cluster,omitempty"`
	Provider   string            `json:"provider,omitempty"` // kind | existing | none
	Kubernetes string            `json:"kubernetes,omitempty"`
	Versions   map[string]string `json:"versions,omitempty"` // kong, kuma, istio, kind ... as installed
	Meshgate   string            `json:"meshgate,omitempty"`
	GoVersion  string            `json:"goVersion,omitempty"`
	Host       string            `json:"host,omitempty"` // GOOS/GOARCH
}

// ScenarioResult is one scenario's verdict with its phases.
type ScenarioResult struct {
	ID          string        `json:"id"`
	Description string        `json:"description"`
	Mesh        Mesh          `json:"mesh"`
	Labels      []string      `json:"labels,omitempty"`
	Verdict     Verdict       `json:"verdict"`
	Reason      string        `json:"reason,omitempty"` // why failed or skipped
	Findings    []string      `json:"findings,omitempty"`
	Phases      []PhaseResult `json:"phases,omitempty"`
	Started     time.Time     `json:"started,omitzero"`
	Finished    time.Time     `json:"finished,omitzero"`
}

// PhaseResult is one phase: what was applied, each check, the evidence.
type PhaseResult struct {
	Kind     PhaseKind     `json:"kind"`
	Name     string        `json:"name"`
	Applied  []string      `json:"applied,omitempty"` // fixture set names
	Verdict  Verdict       `json:"verdict"`
	Reason   string        `json:"reason,omitempty"`
	Checks   []CheckResult `json:"checks,omitempty"`
	Evidence Evidence      `json:"evidence"`
	Started  time.Time     `json:"started"`
	Finished time.Time     `json:"finished"`
}

// CheckResult is one expectation row's outcome.
type CheckResult struct {
	Name    string    `json:"name"`
	Kind    CheckKind `json:"kind"`
	Verdict Verdict   `json:"verdict"`
	Detail  string    `json:"detail,omitempty"` // the failure, skip reason or finding text
}

// NewRunResult starts a result for runID.
func NewRunResult(runID string, env Environment, now time.Time) *RunResult {
	return &RunResult{Schema: ResultSchema, RunID: runID, Started: now.UTC(), Environment: env}
}

// Put adds or replaces the result for sr.ID, keeping first-seen order.
func (r *RunResult) Put(sr ScenarioResult) {
	for i := range r.Scenarios {
		if r.Scenarios[i].ID == sr.ID {
			r.Scenarios[i] = sr
			return
		}
	}
	r.Scenarios = append(r.Scenarios, sr)
}

// WriteFile writes the result to dir/e2e.json atomically (temp file + rename),
// so a reader never sees half a file and a crash keeps the previous one.
func (r *RunResult) WriteFile(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding e2e result: %w", err)
	}
	return writeAtomic(filepath.Join(dir, ResultFile), append(b, '\n'))
}

// ReadResult reads and checks a result file.
func ReadResult(path string) (*RunResult, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r RunResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: not an e2e result: %w", path, err)
	}
	if r.Schema != ResultSchema {
		return nil, fmt.Errorf("%s: schema %q, this meshgate reads %q; regenerate it with this version's `meshgate e2e`", path, r.Schema, ResultSchema)
	}
	return &r, nil
}

func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
