// Package scenarios holds meshgate's reproduce → fix → verify stories as
// data. A Scenario is a value: the Ginkgo suites turn it into an Ordered
// container (one spec per phase) and `meshgate e2e --scenario ID` selects it.
//
// The same probes run in the reproduce and the verify phase; only the
// expectations differ (the bug expected, then the fix expected), so a check
// that cannot tell the two apart cannot pass both.
package scenarios

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/fixtures"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/probe"
)

// Mesh names the service mesh a scenario runs on.
type Mesh string

const (
	MeshKuma  Mesh = "kuma"
	MeshIstio Mesh = "istio"
)

// PhaseKind is the role of a phase in the story.
type PhaseKind string

const (
	PhaseReproduce PhaseKind = "reproduce" // the bug shows, with its preconditions proven
	PhaseFix       PhaseKind = "fix"       // apply the fix's manifests (may also probe)
	PhaseVerify    PhaseKind = "verify"    // the fix holds, with evidence
	// PhaseExplore tries what a guide suggests and reports what it does
	// (Finding rows); it fails only when its evidence cannot be gathered.
	PhaseExplore PhaseKind = "explore"
)

// CheckKind says what a failed expectation means.
type CheckKind string

const (
	// Precondition: must hold before the phase may claim anything; when one
	// fails, the phase fails and its claims are skipped with that reason.
	Precondition CheckKind = "precondition"
	// Claim: what the phase proves; a failed claim fails the phase.
	Claim CheckKind = "claim"
	// Finding: reported, never failing (for example what the seed guide's
	// hostname does on a real mesh).
	Finding CheckKind = "finding"
)

// Suite labels (Ginkgo) shared by the suites.
const (
	LabelReproduce = "reproduce"
	LabelFix       = "fix"
	LabelMTLS      = "mtls"
	LabelNegative  = "negative"
)

// Requirement is something the environment must provide; the suites skip a
// scenario whose requirement is missing, naming it.
type Requirement string

const (
	RequiresDocker      Requirement = "docker"        // a kind cluster
	RequiresKong        Requirement = "kong"          // Kong gateway + KIC with Gateway API
	RequiresKongAdmin   Requirement = "kong-admin"    // Runtime.Kong.Admin
	RequiresSidecarStat Requirement = "sidecar-stats" // Runtime.Sidecars
	RequiresClient      Requirement = "plaintext-client"
)

// A Scenario is one named story.
type Scenario struct {
	ID          string
	Description string
	Mesh        Mesh
	Labels      []string
	Requires    []Requirement
	Phases      []Phase
}

// A Phase applies manifests, runs probes, then judges the evidence.
type Phase struct {
	Kind        PhaseKind
	Name        string // spec text: "reproduce: Kong to Pod IPs under STRICT gives 502"
	Description string
	// Before runs before Apply: to remove what the previous phase left and
	// record that it is gone, so the phase's evidence cannot come from it.
	Before []Probe
	// Apply is applied in order (server-side apply) before the probes run;
	// the Applier waits for each set to be ready.
	Apply  []fixtures.Set
	Probes []Probe
	Expect []Expectation
}

// A Probe gathers evidence into ev. Its error means the evidence could not
// be gathered (the phase fails with it), never that the system misbehaved:
// that is for the expectations to say.
type Probe struct {
	Name string
	Run  func(ctx context.Context, rt *Runtime, ev *Evidence) error
}

// An Expectation is one row the phase is judged on. Check returns nil when
// the row holds. A Finding's Check returns the finding itself as its error
// (nil: nothing to report); it is recorded and never fails the phase.
type Expectation struct {
	Name  string
	Kind  CheckKind
	Check func(ev *Evidence) error
}

// Timeouts are every wait a scenario does, each a named field with a default.
type Timeouts struct {
	Apply        time.Duration // a fixture set becomes ready (pods, route accepted)
	Converge     time.Duration // Kong picks up a route/Service change
	Request      time.Duration // one probe request
	Poll         time.Duration // between two looks at an eventually consistent state
	Requests     int           // N for traffic probes
	StatsSettled time.Duration // pause before the second stats read, for Envoy's flush
}

// DefaultTimeouts suit a kind cluster on a laptop.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		Apply:        3 * time.Minute,
		Converge:     90 * time.Second,
		Request:      5 * time.Second,
		Poll:         2 * time.Second,
		Requests:     40,
		StatsSettled: 500 * time.Millisecond,
	}
}

// An Applier creates a fixture set on the cluster and waits until it is ready.
type Applier interface {
	Apply(ctx context.Context, set fixtures.Set) error
}

// Sidecars reads a pod's sidecar Envoy admin API.
type Sidecars interface {
	Admin(ctx context.Context, namespace, pod string) (probe.AdminGetter, error)
}

// InClusterHTTP sends one plaintext request from the negative-control client
// pod (outside the mesh) and classifies it.
type InClusterHTTP interface {
	Get(ctx context.Context, url string, timeout time.Duration) probe.RequestResult
}

// Kong is how the host reaches Kong.
type Kong struct {
	ProxyURL string            // e.g. http://127.0.0.1:30080
	Admin    probe.AdminGetter // Kong's admin API
}

// Runtime is everything a scenario may touch. The suite and the CLI build it
// from the cluster Env; fields a scenario Requires must be set.
type Runtime struct {
	Env       *cluster.Env
	Client    client.Client
	Applier   Applier
	Kong      Kong
	Sidecars  Sidecars
	Plaintext InClusterHTTP // negative-control client; nil when not deployed
	HTTP      *http.Client  // host → Kong proxy
	Echo      probe.EchoDecoder
	Timeouts  Timeouts
	Log       *slog.Logger
}

// Missing lists the requirements of s this runtime cannot serve.
func (rt *Runtime) Missing(s Scenario) []Requirement {
	var miss []Requirement
	for _, r := range s.Requires {
		ok := true
		switch r {
		case RequiresKongAdmin:
			ok = rt.Kong.Admin != nil
		case RequiresSidecarStat:
			ok = rt.Sidecars != nil
		case RequiresClient:
			ok = rt.Plaintext != nil
		case RequiresKong:
			ok = rt.Kong.ProxyURL != ""
		}
		if !ok {
			miss = append(miss, r)
		}
	}
	return miss
}

// Validate reports a malformed scenario: empty ID, no phases, a phase
// without expectations (it could never fail), duplicate names.
func (s Scenario) Validate() error {
	if s.ID == "" || s.Mesh == "" {
		return fmt.Errorf("scenario %q: ID and Mesh are required", s.ID)
	}
	if len(s.Phases) == 0 {
		return fmt.Errorf("scenario %s: no phases", s.ID)
	}
	seen := map[string]bool{}
	for i, p := range s.Phases {
		if p.Name == "" {
			return fmt.Errorf("scenario %s phase %d: empty name", s.ID, i+1)
		}
		if seen[p.Name] {
			return fmt.Errorf("scenario %s: phase name %q used twice", s.ID, p.Name)
		}
		seen[p.Name] = true
		if p.Kind != PhaseFix && len(p.Expect) == 0 {
			return fmt.Errorf("scenario %s phase %q: a %s phase needs expectations, or it can never fail", s.ID, p.Name, p.Kind)
		}
		for _, e := range p.Expect {
			if e.Check == nil || e.Name == "" {
				return fmt.Errorf("scenario %s phase %q: expectation %q has no check or no name", s.ID, p.Name, e.Name)
			}
		}
		for _, pr := range append(slices.Clone(p.Before), p.Probes...) {
			if pr.Run == nil {
				return fmt.Errorf("scenario %s phase %q: probe %q has no Run", s.ID, p.Name, pr.Name)
			}
		}
	}
	return nil
}
