// Package kuma_test is the Kuma suite: Kong in front of Kuma on a kind
// cluster (or the cluster `meshgate e2e` hands it), telling the story of the
// seed guide "Ingress mTLS Bridge" with evidence. The specs are built from
// scenarios.Kuma: one Ordered container per scenario, one spec per phase.
//
//	go test ./suites/kuma -v -args -ginkgo.v                       # brings up its own cluster
//	go run github.com/onsi/ginkgo/v2/ginkgo --dry-run -v ./suites/kuma
//	meshgate e2e --mesh kuma --scenario kuma-podip-502              # the usual way
package kuma_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"runtime"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/stack"
	"github.com/meshgate/meshgate/scenarios"
)

var flags scenarios.SuiteFlags

func init() { flags.Register(flag.CommandLine) }

func TestKuma(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Kuma suite")
}

// Shared by every spec of this process. Written once in the suite's setup,
// read by the specs (Ginkgo runs them one after another: the containers are
// Serial because the scenarios share the cluster's mesh and namespace).
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
	st := bringUp(ctx)
	b, err := json.Marshal(st)
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
		for _, s := range scenarios.For(scenarios.MeshKuma, scenarios.DefaultConfig()) {
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
		e, err := f.AttachEnv(cluster.MeshKuma)
		Expect(err).NotTo(HaveOccurred())
		env = e
	}
	result.Environment = environment()
	r, err := scenarios.NewRuntime(env, scenarios.DefaultConfig())
	Expect(err).NotTo(HaveOccurred())
	rt = r
	result.Environment.Versions = scenarios.Versions(ctx, rt)
}, NodeTimeout(25*time.Minute))

// bringUp attaches to the stack `meshgate e2e` prepared, or brings one up.
// Without Docker (and no cluster handed over) the suite skips with
// DockerReachable's reason.
func bringUp(ctx context.Context) suiteState {
	if flags.Attached() {
		e, err := flags.AttachEnv(cluster.MeshKuma)
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
		Mesh: cluster.MeshKuma, Name: flags.Name, Reuse: flags.Reuse, Keep: flags.Keep,
		KeepOnFailure: flags.KeepOnFailure, RunDir: flags.Out, Log: flags.Logger(),
	}
	if flags.KeepalivePool >= 0 {
		n := flags.KeepalivePool
		opts.KongKeepalivePoolSize = &n
	}
	e, err := stack.Up(ctx, opts)
	if err != nil {
		return suiteState{Error: fmt.Sprintf("bringing up kind + Kuma + Kong: %v", err)}
	}
	env = e
	DeferCleanup(func(ctx SpecContext) {
		keep := flags.Keep || (flags.KeepOnFailure && anyFailed)
		if keep {
			fmt.Fprintf(GinkgoWriter, "keeping the cluster; delete it with: meshgate down --run %s\n", env.RunDir)
		}
		Expect(stack.Down(ctx, env, stack.DownOptions{Keep: keep})).To(Succeed())
	}, NodeTimeout(10*time.Minute))
	return stateOf(e)
}

func stateOf(e *cluster.Env) suiteState {
	return suiteState{RunID: e.RunID, RunDir: e.RunDir, Kubeconfig: e.KubeconfigPath, Context: e.KubeContext, Proxy: e.KongProxyURL, Admin: e.KongAdminURL}
}

func environment() scenarios.Environment {
	e := scenarios.Environment{Mesh: cluster.MeshKuma, Provider: "none", GoVersion: runtime.Version(), Host: runtime.GOOS + "/" + runtime.GOARCH}
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
