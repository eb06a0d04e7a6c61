package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/stack"
	"github.com/meshgate/meshgate/reports"
	"github.com/meshgate/meshgate/scenarios"
)

// e2eDeps are the parts of an e2e run that touch Docker, clusters and the Go
// toolchain; tests replace them.
type e2eDeps struct {
	doctor   func(ctx context.Context) []cluster.Finding
	up       func(ctx context.Context, o stack.Options) (*cluster.Env, error)
	down     func(ctx context.Context, env *cluster.Env, o stack.DownOptions) error
	runSuite func(ctx context.Context, s suiteRun) error
	// reach checks an existing cluster's API server before anything starts.
	reach func(ctx context.Context, o stack.Options) error
}

func hostE2EDeps() e2eDeps {
	return e2eDeps{
		doctor: func(ctx context.Context) []cluster.Finding {
			return cluster.Doctor(ctx, cluster.HostProbes(), cluster.DoctorConfig{HostPorts: []int{cluster.KongProxyNodePort, cluster.KongProxyTLSNodePort}})
		},
		up:       stack.Up,
		down:     stack.Down,
		runSuite: goTestSuite,
		reach:    reachable,
	}
}

func newE2ECmd(a *app) *cobra.Command {
	var f clusterFlags
	var scenario string
	cmd := &cobra.Command{
		Use:   "e2e",
		Short: "Run the reproduce, fix and verify scenarios",
		Long: `e2e runs doctor, brings up a kind cluster per mesh (or uses --kubeconfig),
runs that mesh's Ginkgo suite on it, and writes into the run folder
(--out, default reports/out/<UTC time>), one subfolder per mesh:

  e2e.json      the scenarios' verdicts and evidence (schema meshgate.dev/e2e/v1)
  junit.xml     Ginkgo's JUnit report          ginkgo.json  Ginkgo's JSON report
  suite.log     the suite's output             diagnostics/ per failed phase

Then it deletes the cluster, unless --keep (or --keep-on-failure and a
failure), and builds report/ from every mesh's results (as meshgate report
does: report.md, index.html, report.json, charts, merged junit.xml).
Without Docker it stops after doctor with doctor's message.

The suites run as ` + "`go test ./suites/<mesh>`" + ` from the meshgate module, so e2e
needs the source tree and Go (which building meshgate's images needs anyway).`,
		Example: `  meshgate e2e                                  # Kuma, then Istio
  meshgate e2e --mesh kuma --scenario kuma-podip-502 --keep
  meshgate e2e --mesh kuma --kubeconfig ~/.kube/config --context dev --use-installed-mesh`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runE2E(cmd.Context(), a, f, scenario, hostE2EDeps())
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().Lookup("mesh").Usage = "run only this mesh's suite: kuma, istio or istio-ambient (default: every mesh with scenarios)"
	cmd.Flags().Lookup("out").Usage = "run folder (default reports/out/<UTC time>); each mesh writes a subfolder"
	cmd.Flags().StringVar(&scenario, "scenario", "", "run only this scenario (its ID, e.g. kuma-podip-502); implies its mesh")
	return cmd
}

func runE2E(ctx context.Context, a *app, f clusterFlags, scenario string, d e2eDeps) error {
	meshes, err := e2eMeshes(f.mesh, scenario)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	var opts stack.Options
	for _, mesh := range meshes {
		mf := f
		mf.mesh = mesh
		if opts, err = mf.stackOptions(f.logger(io.Discard)); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
	}
	if opts.Provider == cluster.ProviderExisting {
		if err := d.reach(ctx, opts); err != nil {
			return fmt.Errorf("nothing was created: %w", err)
		}
	} else {
		findings := d.doctor(ctx)
		if fails := cluster.WriteFindings(a.stderr, findings); fails > 0 {
			var why []string
			for _, fd := range findings {
				if fd.Status == cluster.Fail {
					why = append(why, fd.Check+": "+fd.Detail)
				}
			}
			return &exitError{code: 1, err: fmt.Errorf("doctor failed, nothing was created: %s", strings.Join(why, "; "))}
		}
	}
	if f.out == "" {
		f.out = filepath.Join("reports", "out", time.Now().UTC().Format("20060102-150405"))
	}
	log := f.logger(a.stderr)
	var failed []string
	for _, mesh := range meshes {
		mf := f
		mf.mesh, mf.out = mesh, filepath.Join(f.out, mesh)
		if f.name != "" && len(meshes) > 1 {
			mf.name = f.name + "-" + mesh // one kind cluster per mesh
		}
		if err := e2eMesh(ctx, a, mf, scenario, d); err != nil {
			log.Error("e2e", "mesh", mesh, "err", err)
			failed = append(failed, mesh+": "+err.Error())
		}
		summarise(a.stdout, mf.out)
	}
	if err := e2eReport(ctx, a, f.out, meshes); err != nil {
		failed = append(failed, "report: "+err.Error())
	}
	fmt.Fprintf(a.stdout, "run folder: %s\n", f.out)
	if len(failed) > 0 {
		return fmt.Errorf("e2e failed: %s", strings.Join(failed, "; "))
	}
	return nil
}

// e2eReport builds <out>/report from the meshes whose suites wrote results;
// a mesh that never came up has only diagnostics and is left out.
func e2eReport(ctx context.Context, a *app, out string, meshes []string) error {
	var in []string
	for _, mesh := range meshes {
		dir := filepath.Join(out, mesh)
		if _, err := os.Stat(filepath.Join(dir, scenarios.ResultFile)); err == nil {
			in = append(in, dir)
		}
	}
	if len(in) == 0 {
		return nil
	}
	dir := filepath.Join(out, "report")
	if _, err := reports.Generate(ctx, reports.Options{In: in, Out: dir, Meshgate: moduleVersion()}); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "report: %s\n", filepath.Join(dir, reports.MarkdownFile))
	return nil
}

// e2eMeshes decides which suites run: the scenario's mesh, --mesh, or all.
func e2eMeshes(mesh, scenario string) ([]string, error) {
	if scenario != "" {
		s, err := scenarios.Find(scenarios.All(scenarios.DefaultConfig()), scenario)
		if err != nil {
			return nil, fmt.Errorf("--scenario: %w", err)
		}
		if mesh != "" && mesh != string(s.Mesh) {
			return nil, fmt.Errorf("--scenario %s runs on %s, not --mesh %s", scenario, s.Mesh, mesh)
		}
		return []string{string(s.Mesh)}, nil
	}
	var all []string
	for _, m := range scenarios.Meshes() {
		all = append(all, string(m))
	}
	if mesh == "" {
		return all, nil
	}
	for _, m := range all {
		if m == mesh {
			return []string{mesh}, nil
		}
	}
	return nil, fmt.Errorf("--mesh %q: choose one of %v", mesh, all)
}

// e2eMesh brings the stack up, runs the suite against it and takes the
// stack down (unless kept), whatever the suite's outcome.
func e2eMesh(ctx context.Context, a *app, f clusterFlags, scenario string, d e2eDeps) (err error) {
	opts, err := f.stackOptions(f.logger(a.stderr))
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	env, err := d.up(ctx, opts)
	if err != nil {
		return fmt.Errorf("bringing up %s: %w (diagnostics under %s)", f.mesh, err, filepath.Join(f.out, "diagnostics"))
	}
	suiteErr := d.runSuite(ctx, suiteRun{Mesh: f.mesh, Scenario: scenario, Out: f.out, Env: env, Stdout: a.stdout, Stderr: a.stderr})
	keep := f.keep || (f.keepOnFailure && suiteErr != nil)
	// A fresh context: Ctrl-C cancelled ctx, and the cluster must still go.
	downCtx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	downErr := d.down(downCtx, env, stack.DownOptions{Keep: keep})
	if keep {
		fmt.Fprintf(a.stdout, "%s cluster kept; delete it with: meshgate down --run %s\n", f.mesh, env.RunDir)
	}
	return errors.Join(suiteErr, downErr)
}

// suiteRun is one suite execution against a ready stack.
type suiteRun struct {
	Mesh, Scenario, Out string
	Env                 *cluster.Env
	Stdout, Stderr      io.Writer
}

// goTestArgs is the `go test` command line of a suite run: the suite
// attaches to env (it neither creates nor deletes the cluster) and Ginkgo
// writes its JUnit and JSON reports into the run folder.
func goTestArgs(s suiteRun) []string {
	args := []string{"test", "./suites/" + suiteDir(s.Mesh), "-count=1", "-timeout=120m", "-v", "-args",
		"-ginkgo.v",
		"-ginkgo.junit-report=" + filepath.Join(s.Out, "junit.xml"),
		"-ginkgo.json-report=" + filepath.Join(s.Out, "ginkgo.json"),
		"-meshgate.out=" + s.Out,
		"-meshgate.kubeconfig=" + s.Env.KubeconfigPath,
		"-meshgate.context=" + s.Env.KubeContext,
		"-meshgate.kong-proxy=" + s.Env.KongProxyURL,
		"-meshgate.kong-admin=" + s.Env.KongAdminURL,
		"-meshgate.run-id=" + s.Env.RunID,
	}
	if s.Scenario != "" {
		args = append(args, "-ginkgo.label-filter="+s.Scenario)
	}
	return args
}

// suiteDir is the suites/ folder of a mesh flavour.
func suiteDir(mesh string) string {
	if mesh == cluster.MeshIstioAmbient {
		return "ambient"
	}
	return mesh
}

// goTestSuite runs the suite with `go test` from the module root. Ginkgo
// suites are test binaries: going through go test keeps Ginkgo's reporters,
// its interrupt handling and the suite's own flags exactly as a developer
// runs them, and needs nothing beyond Go.
func goTestSuite(ctx context.Context, s suiteRun) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.Out, 0o755); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(s.Out, "suite.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, "go", goTestArgs(s)...)
	cmd.Dir = root
	cmd.Stdout = io.MultiWriter(s.Stdout, logf)
	cmd.Stderr = io.MultiWriter(s.Stderr, logf)
	// Ctrl-C reaches go test through the process group; give Ginkgo time to
	// write its reports and run cleanups before the kill.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 2 * time.Minute
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("suite %s: %w (output in %s)", s.Mesh, err, logf.Name())
	}
	return nil
}

// moduleRoot finds the meshgate module from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/meshgate/meshgate\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("meshgate e2e runs the suites from the meshgate source tree; no go.mod of github.com/meshgate/meshgate above %s (cd into your meshgate checkout)", dir)
		}
	}
}

// summarise prints one line per scenario from the suite's e2e.json.
func summarise(w io.Writer, out string) {
	r, err := scenarios.ReadResult(filepath.Join(out, scenarios.ResultFile))
	if err != nil {
		fmt.Fprintf(w, "%s: no result file (%v)\n", out, err)
		return
	}
	for _, s := range r.Scenarios {
		line := fmt.Sprintf("%-8s %s", s.Verdict, s.ID)
		if s.Reason != "" {
			line += ": " + s.Reason
		}
		fmt.Fprintln(w, line)
		for _, f := range s.Findings {
			fmt.Fprintf(w, "         finding: %s\n", f)
		}
	}
}
