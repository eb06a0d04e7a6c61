// Package istio_test is the Istio suite: Kong (sidecar-injected) in front of
// Istio in STRICT mode on a kind cluster (or the cluster `meshgate e2e` hands
// it), following the seed "gateway-mesh integration" guide (namespace
// api-system, backend order-service). The specs are built from
// scenarios.IstioScenarios: one Ordered container per scenario, one spec per
// phase, then one spec per claim of that phase (every JWT row its own spec).
//
//	go test ./suites/istio -v -args -ginkgo.v                      # brings up its own cluster
//	go run github.com/onsi/ginkgo/v2/ginkgo --dry-run -v ./suites/istio
//	meshgate e2e --mesh istio --scenario istio-jwt-claims           # the usual way
//
// Without Docker (and no cluster handed over) every spec is skipped with
// cluster.DockerReachable's reason.
package istio_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/reporters"
	. "github.com/onsi/gomega"

	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/stack"
	"github.com/meshgate/meshgate/scenarios"
)

var flags scenarios.SuiteFlags

func init() { flags.Register(flag.CommandLine) }

func TestIstio(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Istio suite")
}

// Suite timeouts, in one place.
var timeouts = struct {
	Up, Down, Phase, Diagnostics time.Duration
}{Up: 25 * time.Minute, Down: 10 * time.Minute, Phase: 15 * time.Minute, Diagnostics: 3 * time.Minute}

// Shared by every spec of this process: written once in the suite's setup,
// read by the specs (the containers are Serial: the scenarios share the
// cluster's mesh and the api-system namespace).
var (
	env        *cluster.Env
	rt         *scenarios.Runtime
	skipReason string
	result     *scenarios.RunResult
	anyFailed  bool
)

// suiteState is what process 1 hands to the others (ginkgo -p).
type suiteState struct {
	Skip                string `json:"skip,omitempty"`
	Error               string `json:"error,omitempty"` // bringing up the stack failed
	RunID, RunDir       string
	Kubeconfig, Context string
	Proxy, Admin        string
}

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	b, err := json.Marshal(bringUp(ctx))
	Expect(err).NotTo(HaveOccurred())
	return b
}, func(ctx SpecContext, data []byte) {
	var st suiteState
	Expect(json.Unmarshal(data, &st)).To(Succeed())
	skipReason = st.Skip
	if flags.Out == "" {
		flags.Out = st.RunDir
	}
	runID := st.RunID
	if runID == "" {
		runID = "not-started"
	}
	result = scenarios.NewRunResult(runID, environment(), time.Now())
	if st.Error != "" {
		// Every scenario fails with the reason, in e2e.json too.
		for _, s := range scenarios.For(scenarios.MeshIstio, scenarios.DefaultConfig()) {
			result.Put(scenarios.ScenarioResult{ID: s.ID, Description: s.Description, Mesh: s.Mesh, Labels: s.Labels, Verdict: scenarios.Failed, Reason: st.Error})
		}
		if flags.Out != "" {
			Expect(result.WriteFile(flags.Out)).To(Succeed())
		}
		Fail(st.Error)
	}
	if skipReason != "" {
		return
	}
	if env == nil { // another process: attach to what process 1 brought up
		f := flags
		f.Kubeconfig, f.Context, f.KongProxy, f.KongAdmin, f.RunID = st.Kubeconfig, st.Context, st.Proxy, st.Admin, st.RunID
		e, err := f.AttachEnv(cluster.MeshIstio)
		Expect(err).NotTo(HaveOccurred())
		env = e
	}
	result.Environment = environment()
	r, err := scenarios.NewRuntime(env, scenarios.DefaultConfig())
	Expect(err).NotTo(HaveOccurred())
	r.Sidecars = istioSidecars{rest: env.REST}
	rt = r
	result.Environment.Versions = scenarios.Versions(ctx, rt)
}, NodeTimeout(timeouts.Up))

// bringUp attaches to the stack `meshgate e2e` prepared, or brings one up
// with stack.Up. Without Docker the suite skips with DockerReachable's reason.
func bringUp(ctx context.Context) suiteState {
	if flags.Attached() {
		e, err := flags.AttachEnv(cluster.MeshIstio)
		if err != nil {
			return suiteState{Error: err.Error()}
		}
		env = e
		return stateOf(e)
	}
	if err := cluster.DockerReachable(ctx); err != nil {
		return suiteState{Skip: err.Error()}
	}
	opts := stack.Options{
		Mesh: cluster.MeshIstio, Name: flags.Name, Reuse: flags.Reuse, Keep: flags.Keep,
		KeepOnFailure: flags.KeepOnFailure, RunDir: flags.Out, Log: flags.Logger(),
	}
	if flags.KeepalivePool >= 0 {
		n := flags.KeepalivePool
		opts.KongKeepalivePoolSize = &n
	}
	e, err := stack.Up(ctx, opts)
	if err != nil {
		return suiteState{Error: fmt.Sprintf("bringing up kind + Istio + Kong: %v", err)}
	}
	env = e
	DeferCleanup(func(ctx SpecContext) {
		keep := flags.Keep || (flags.KeepOnFailure && anyFailed)
		if keep {
			fmt.Fprintf(GinkgoWriter, "keeping the cluster; delete it with: meshgate down --run %s\n", env.RunDir)
		}
		Expect(stack.Down(ctx, env, stack.DownOptions{Keep: keep})).To(Succeed())
	}, NodeTimeout(timeouts.Down))
	return stateOf(e)
}

func stateOf(e *cluster.Env) suiteState {
	return suiteState{RunID: e.RunID, RunDir: e.RunDir, Kubeconfig: e.KubeconfigPath, Context: e.KubeContext, Proxy: e.KongProxyURL, Admin: e.KongAdminURL}
}

func environment() scenarios.Environment {
	e := scenarios.Environment{Mesh: cluster.MeshIstio, Provider: "none", GoVersion: runtime.Version(), Host: runtime.GOOS + "/" + runtime.GOARCH}
	if env != nil {
		e.Provider, e.Cluster = env.Provider, env.Name
	}
	return e
}

var _ = ReportAfterEach(func(r SpecReport) {
	if r.Failed() {
		anyFailed = true
	}
})

// Standalone runs get JUnit and JSON reports in the run folder too;
// `meshgate e2e` passes -ginkgo.junit-report/-ginkgo.json-report itself.
var _ = ReportAfterSuite("JUnit and JSON reports", func(r Report) {
	_, rc := GinkgoConfiguration()
	if rc.JUnitReport != "" || rc.JSONReport != "" || flags.Out == "" {
		return
	}
	if err := os.MkdirAll(flags.Out, 0o755); err != nil {
		fmt.Fprintf(GinkgoWriter, "report folder %s: %v\n", flags.Out, err)
		return
	}
	for name, gen := range map[string]func(Report, string) error{
		"junit.xml":   reporters.GenerateJUnitReport,
		"ginkgo.json": reporters.GenerateJSONReport,
	} {
		final := filepath.Join(flags.Out, name)
		if err := writeAtomically(final, func(tmp string) error { return gen(r, tmp) }); err != nil {
			fmt.Fprintf(GinkgoWriter, "writing %s: %v\n", final, err)
		}
	}
})

// writeAtomically has write fill a unique temp file beside final, then
// renames it into place, so a reader never sees half a report.
func writeAtomically(final string, write func(tmp string) error) error {
	f, err := os.CreateTemp(filepath.Dir(final), filepath.Base(final)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	f.Close()
	if err := write(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
