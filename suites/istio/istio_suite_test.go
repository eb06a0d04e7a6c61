// Package istio is the Ginkgo suite of the Istio scenarios: Kong
// (sidecar-injected) in front of Istio in STRICT mode on a kind cluster.
//
//	go test ./suites/istio -v -args -ginkgo.v                 # needs Docker
//	go run github.com/onsi/ginkgo/v2/ginkgo --dry-run -v ./suites/istio
//
// Without Docker every spec is skipped with cluster.DockerReachable's reason.
package istio

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/stack"
	"github.com/meshgate/meshgate/scenarios"
)

var (
	outDir = flag.String("meshgate.out", envOr("MESHGATE_OUT", filepath.Join(os.TempDir(), "meshgate-istio")),
		"folder for the JUnit/JSON reports, scenario results and diagnostics")
	keep = flag.Bool("meshgate.keep", os.Getenv("MESHGATE_KEEP") != "",
		"keep the kind cluster after the suite (also MESHGATE_KEEP=1)")
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// Suite timeouts, in one place.
var timeouts = struct {
	Up, Down, Phase, Diagnostics time.Duration
}{Up: 20 * time.Minute, Down: 5 * time.Minute, Phase: 15 * time.Minute, Diagnostics: 3 * time.Minute}

// The scenario list is built when the tree is built, so --dry-run lists
// every scenario, phase and JWT row without a cluster.
var list = scenarios.For(scenarios.MeshIstio, scenarios.DefaultConfig())

// state is what SynchronizedBeforeSuite hands every process.
type state struct {
	Skip string       `json:"skip,omitempty"` // why nothing can run here
	Env  *cluster.Env `json:"-"`
	// Serialised parts of the Env (the REST config is rebuilt from the kubeconfig).
	RunID, RunDir, Name, Kubeconfig, KubeContext, KongProxyURL, KongAdminURL string
}

var (
	suiteState state
	runtime    *scenarios.Runtime
)

func TestIstio(t *testing.T) {
	RegisterFailHandler(Fail)
	suiteCfg, repCfg := GinkgoConfiguration()
	RunSpecs(t, "Istio suite", Label(scenarios.LabelIstio), suiteCfg, repCfg)
}

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	var s state
	if err := cluster.DockerReachable(ctx); err != nil {
		s.Skip = err.Error()
	} else {
		env, err := stack.Up(ctx, stack.Options{Mesh: cluster.MeshIstio, RunDir: filepath.Join(*outDir, "run")})
		Expect(err).NotTo(HaveOccurred(), "stack.Up for Istio")
		s.Env = env
		s.RunID, s.RunDir, s.Name, s.Kubeconfig, s.KubeContext = env.RunID, env.RunDir, env.Name, env.KubeconfigPath, env.KubeContext
		s.KongProxyURL, s.KongAdminURL = env.KongProxyURL, env.KongAdminURL
		suiteState.Env = env
	}
	b, err := json.Marshal(s)
	Expect(err).NotTo(HaveOccurred())
	return b
}, func(ctx SpecContext, b []byte) {
	var s state
	Expect(json.Unmarshal(b, &s)).To(Succeed())
	s.Env = suiteState.Env
	suiteState = s
	if s.Skip != "" {
		return
	}
	rt, err := newRuntime(ctx, s)
	Expect(err).NotTo(HaveOccurred(), "building the scenario runtime")
	runtime = rt
}, NodeTimeout(timeouts.Up))

var _ = SynchronizedAfterSuite(func() {}, func(ctx SpecContext) {
	if suiteState.Env == nil {
		return
	}
	Expect(stack.Down(ctx, suiteState.Env, stack.DownOptions{Keep: *keep})).To(Succeed())
}, NodeTimeout(timeouts.Down))

// ReportAfterSuite writes JUnit and JSON reports (atomically) beside the
// scenario results.
var _ = ReportAfterSuite("JUnit and JSON reports", func(r Report) {
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		fmt.Fprintf(GinkgoWriter, "report folder %s: %v\n", *outDir, err)
		return
	}
	for name, gen := range map[string]func(types.Report, string) error{
		"istio.junit.xml": func(r types.Report, p string) error { return reporters.GenerateJUnitReport(r, p) },
		"istio.json":      reporters.GenerateJSONReport,
	} {
		final := filepath.Join(*outDir, name)
		if err := writeAtomically(final, func(tmp string) error { return gen(r, tmp) }); err != nil {
			fmt.Fprintf(GinkgoWriter, "writing %s: %v\n", final, err)
		}
	}
})

// skipUnlessReady skips a scenario the environment cannot serve, saying why.
func skipUnlessReady(s scenarios.Scenario) {
	if suiteState.Skip != "" {
		Skip(suiteState.Skip)
	}
	if runtime == nil {
		Skip("no scenario runtime: the suite setup did not complete")
	}
	if miss := runtime.Missing(s); len(miss) > 0 {
		Skip(fmt.Sprintf("scenario %s needs %v, which this environment lacks", s.ID, miss))
	}
}

// writeResult saves a scenario's result as JSON (temp file + rename).
func writeResult(res scenarios.ScenarioResult) error {
	dir := filepath.Join(*outDir, "scenarios")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomically(filepath.Join(dir, res.ID+".json"), func(tmp string) error {
		return os.WriteFile(tmp, b, 0o644)
	})
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

// diagnostics writes the bundle of a failed spec and attaches its folder.
func diagnostics(ctx context.Context, scenario string) {
	if suiteState.Env == nil || runtime == nil {
		return
	}
	dir := collectDiagnostics(ctx, suiteState.Env, scenario)
	AddReportEntry("diagnostics", dir)
}
