package suite

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/reporters"
	. "github.com/onsi/gomega"

	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/stack"
	"github.com/meshgate/meshgate/scenarios"
)

// suiteState is what process 1 hands to the others (ginkgo -p).
type suiteState struct {
	Skip                string `json:"skip,omitempty"`
	Error               string `json:"error,omitempty"` // bringing up the stack failed
	RunID, RunDir       string
	Kubeconfig, Context string
	Proxy, Admin        string
}

func (s *state) setUpFirst(ctx SpecContext) []byte {
	b, err := json.Marshal(s.bringUp(ctx))
	Expect(err).NotTo(HaveOccurred())
	return b
}

func (s *state) setUpEach(ctx SpecContext, data []byte) {
	var st suiteState
	Expect(json.Unmarshal(data, &st)).To(Succeed())
	s.skipReason = st.Skip
	if s.flags.Out == "" {
		s.flags.Out = st.RunDir
	}
	runID := st.RunID
	if runID == "" {
		runID = "not-started"
	}
	s.result = scenarios.NewRunResult(runID, s.environment(), time.Now())
	if st.Error != "" {
		// Every scenario fails with the reason, in e2e.json too.
		for _, sc := range scenarios.For(s.mesh.Mesh, scenarios.DefaultConfig()) {
			s.result.Put(scenarios.ScenarioResult{ID: sc.ID, Description: sc.Description, Mesh: sc.Mesh, Labels: sc.Labels, Verdict: scenarios.Failed, Reason: st.Error})
		}
		if s.flags.Out != "" {
			Expect(s.result.WriteFile(s.flags.Out)).To(Succeed())
		}
		Fail(st.Error)
	}
	if s.skipReason != "" {
		return
	}
	if s.env == nil { // another process: attach to what process 1 brought up
		f := s.flags
		f.Kubeconfig, f.Context, f.KongProxy, f.KongAdmin, f.RunID = st.Kubeconfig, st.Context, st.Proxy, st.Admin, st.RunID
		e, err := f.AttachEnv(string(s.mesh.Mesh))
		Expect(err).NotTo(HaveOccurred())
		s.env = e
	}
	s.result.Environment = s.environment()
	r, err := scenarios.NewRuntime(s.env, scenarios.DefaultConfig())
	Expect(err).NotTo(HaveOccurred())
	if s.mesh.Sidecars != nil {
		r.Sidecars = s.mesh.Sidecars(s.env)
	}
	s.rt = r
	s.result.Environment.Versions = scenarios.Versions(ctx, s.rt)
}

// bringUp attaches to the stack `meshgate e2e` prepared, or brings one up
// with stack.Up. Without Docker (and no cluster handed over) the suite skips
// with DockerReachable's reason.
func (s *state) bringUp(ctx context.Context) suiteState {
	mesh := string(s.mesh.Mesh)
	if s.flags.Attached() {
		e, err := s.flags.AttachEnv(mesh)
		if err != nil {
			return suiteState{Error: err.Error()}
		}
		s.env = e
		return stateOf(e)
	}
	if err := cluster.DockerReachable(ctx); err != nil {
		return suiteState{Skip: err.Error()}
	}
	f := s.flags
	opts := stack.Options{
		Mesh: mesh, Name: f.Name, Reuse: f.Reuse, Keep: f.Keep,
		KeepOnFailure: f.KeepOnFailure, RunDir: f.Out, Log: f.Logger(),
	}
	if f.KeepalivePool >= 0 {
		n := f.KeepalivePool
		opts.KongKeepalivePoolSize = &n
	}
	e, err := stack.Up(ctx, opts)
	if err != nil {
		return suiteState{Error: fmt.Sprintf("bringing up kind + %s + Kong: %v", s.mesh.Name, err)}
	}
	s.env = e
	DeferCleanup(func(ctx SpecContext) {
		keep := s.flags.Keep || (s.flags.KeepOnFailure && s.anyFailed)
		if keep {
			fmt.Fprintf(GinkgoWriter, "keeping the cluster; delete it with: meshgate down --run %s\n", s.env.RunDir)
		}
		Expect(stack.Down(ctx, s.env, stack.DownOptions{Keep: keep})).To(Succeed())
	}, NodeTimeout(downTimeout))
	return stateOf(e)
}

func stateOf(e *cluster.Env) suiteState {
	return suiteState{RunID: e.RunID, RunDir: e.RunDir, Kubeconfig: e.KubeconfigPath, Context: e.KubeContext, Proxy: e.KongProxyURL, Admin: e.KongAdminURL}
}

func (s *state) environment() scenarios.Environment {
	e := scenarios.Environment{Mesh: string(s.mesh.Mesh), Provider: "none", GoVersion: runtime.Version(), Host: runtime.GOOS + "/" + runtime.GOARCH}
	if s.env != nil {
		e.Provider, e.Cluster = s.env.Provider, s.env.Name
	}
	return e
}

// writeReports gives standalone runs JUnit and JSON reports in the run
// folder too; `meshgate e2e` passes -ginkgo.junit-report/-ginkgo.json-report
// itself.
func (s *state) writeReports(r Report) {
	_, rc := GinkgoConfiguration()
	out := s.flags.Out
	if rc.JUnitReport != "" || rc.JSONReport != "" || out == "" {
		return
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		fmt.Fprintf(GinkgoWriter, "report folder %s: %v\n", out, err)
		return
	}
	for name, gen := range map[string]func(Report, string) error{
		"junit.xml":   reporters.GenerateJUnitReport,
		"ginkgo.json": reporters.GenerateJSONReport,
	} {
		final := filepath.Join(out, name)
		if err := writeAtomically(final, func(tmp string) error { return gen(r, tmp) }); err != nil {
			fmt.Fprintf(GinkgoWriter, "writing %s: %v\n", final, err)
		}
	}
}

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
