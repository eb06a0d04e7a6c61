// Package suite is the Ginkgo lifecycle the mesh suites share: bring the
// stack up (or attach to the one `meshgate e2e` hands over), skip with
// cluster.DockerReachable's reason, one Ordered container per scenario and
// one spec per phase, e2e.json after every scenario, diagnostics when a
// phase fails. A suite package declares it once:
//
//	var _ = suite.Define(suite.Mesh{Mesh: scenarios.MeshKuma, Name: "Kuma", ...})
//
// and keeps only its TestX entry and what is genuinely its mesh's.
package suite

import (
	"flag"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/scenarios"
)

// Mesh is what differs between the mesh suites.
type Mesh struct {
	// Mesh picks the scenarios (scenarios.For), the stack and the top label.
	Mesh scenarios.Mesh
	// Name titles the top container ("Kuma") and the bring-up error.
	Name string
	// PhaseTimeout bounds one phase spec: apply, convergence, traffic, reads.
	PhaseTimeout time.Duration
	// Sidecars, when set, replaces the sidecar reader scenarios.NewRuntime
	// picks (Kuma's inspect API).
	Sidecars func(env *cluster.Env) scenarios.Sidecars
	// ClaimSpecs adds a spec per claim after each phase's spec (every JWT row
	// its own spec); the phase's spec then fails only when the phase could
	// not be judged or a precondition failed.
	ClaimSpecs bool
	// Findings puts each finding on the phase spec's report too.
	Findings bool
	// Reports writes JUnit and JSON reports into the run folder when the run
	// did not ask Ginkgo for them (standalone go test); `meshgate e2e` does.
	Reports bool
	// Diagnostics is what a failed phase collects besides Kong.
	Diagnostics Diagnostics
}

// Diagnostics names the mesh's part of a failed phase's bundle.
type Diagnostics struct {
	Namespaces []string // events, workloads and logs of these namespaces
	KumaCP     string   // kube.DiagnosticsOptions.KumaCP
	NodeLogs   bool     // on kind, the nodes' logs too
}

// Timeouts shared by the suites.
const (
	upTimeout          = 25 * time.Minute
	downTimeout        = 10 * time.Minute
	diagnosticsTimeout = 3 * time.Minute
)

// Define registers the -meshgate.* flags (scenarios.SuiteFlags) and declares
// the suite's nodes: the setup, the scenario containers and the reporters.
// Call it once per test binary, from a package-level var, so the flags exist
// before go test parses them, and run the suite with the returned Suite.
func Define(m Mesh) *Suite {
	s := &state{mesh: m}
	s.flags.Register(flag.CommandLine)
	SynchronizedBeforeSuite(s.setUpFirst, s.setUpEach, NodeTimeout(upTimeout))
	ReportAfterEach(func(r SpecReport) {
		if r.Failed() {
			s.anyFailed = true
		}
	})
	// The spec tree is built from the scenario data, so --dry-run lists every
	// scenario and phase without a cluster. Each scenario's ID is also a
	// label: `meshgate e2e --scenario ID` becomes -ginkgo.label-filter=ID.
	Describe(m.Name, Label(string(m.Mesh)), func() {
		for _, sc := range scenarios.For(m.Mesh, scenarios.DefaultConfig()) {
			s.describeScenario(sc)
		}
	})
	if m.Reports {
		ReportAfterSuite("JUnit and JSON reports", s.writeReports)
	}
	return &Suite{s: s}
}

// Suite is a defined mesh suite.
type Suite struct{ s *state }

// Run runs the specs from the package's go test entry. When the stack could
// not be had (no Docker), every spec skips with the reason and so does the
// go test entry: a suite that could not run never reports a pass.
func (x *Suite) Run(t *testing.T, description string) {
	t.Helper()
	if RunSpecs(t, description) && x.s.skipReason != "" {
		t.Skip(x.s.skipReason)
	}
}

// state is one suite's, shared by its specs: written once in the setup,
// read by the specs (Ginkgo runs them one after another: the containers are
// Serial because the scenarios share the cluster's mesh and namespaces).
type state struct {
	mesh       Mesh
	flags      scenarios.SuiteFlags
	env        *cluster.Env
	rt         *scenarios.Runtime
	skipReason string
	result     *scenarios.RunResult
	anyFailed  bool
}
