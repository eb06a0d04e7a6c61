package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
	"helm.sh/helm/v4/pkg/cli/values"
	"helm.sh/helm/v4/pkg/getter"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/internal/addons"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/lint"
)

type lintOptions struct {
	files      []string
	values     []string
	kubeconfig string
	context    string
	namespace  string
	format     string
	output     string
	failOn     string
	rules      bool
	verbose    bool
}

func newLintCmd(a *app) *cobra.Command {
	var o lintOptions
	cmd := &cobra.Command{
		Use:   "lint [-f PATH]... | [--kubeconfig FILE] [--context NAME] [-n NAMESPACE]",
		Short: "Find gateway-to-mesh boundary mistakes in manifests or a live cluster",
		Long: `lint reads Kubernetes manifests (files, folders, Helm output on stdin), Helm
charts (a folder with Chart.yaml, rendered as helm template would, values from
--values) or a live cluster (read-only) and reports the mistakes that break
the boundary between Kong and a service mesh (Kuma or Istio): Kong routing to
Pod IPs under STRICT mTLS, ExternalName bridges to names the mesh does not
serve, gateway pods without the mesh annotations, missing permissions, tokens
that are optional or issued for someone else, and retries and timeouts that
fight each other.

Every rule has a stable ID, a severity, and the upstream fact it rests on:
run 'meshgate lint --rules'. Findings name the objects and the fix, with
file:line in file mode or Kind/namespace/name in live mode.

Exit codes: 0 no finding at or above --fail-on, 1 findings at or above it,
2 bad input (unparseable YAML names the file and line; a chart that does not
render; an unreachable cluster, naming the server, context and kubeconfig).

Rules (details and facts: meshgate lint --rules):
` + rulesSummary(),
		Example: `  meshgate lint -f deploy/                            every *.yaml, *.yml, *.json under deploy/
  meshgate lint -f charts/shop --values prod.yaml     a Helm chart, rendered with these values
  helm template shop ./chart -n shop | meshgate lint -f - -n shop -f mesh/
  meshgate lint --context kind-meshgate -n shop       live objects, read-only
  meshgate lint -f deploy/ --format sarif -o meshgate.sarif --fail-on warning
  meshgate lint --rules                               IDs, severities and facts`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLint(cmd, a, o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "filename", "f", nil, "YAML/JSON file or folder to lint (repeatable); - reads stdin")
	f.StringArrayVar(&o.values, "values", nil, "values file for the Helm charts given with -f (repeatable, later files win), as helm template --values")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig for live mode (default: $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&o.context, "context", "", "kubeconfig context for live mode")
	f.StringVarP(&o.namespace, "namespace", "n", "", "live mode: only this namespace (mesh-wide policies are still read); "+
		"file mode: the namespace of objects that name none (default \"default\", as kubectl apply)")
	f.StringVar(&o.format, "format", "text", "output format: text, json or sarif")
	f.StringVarP(&o.output, "output", "o", "", "write the report to this file (atomically) instead of stdout")
	f.StringVar(&o.failOn, "fail-on", "error", "exit 1 when a finding is at least this severe: error, warning or never")
	f.BoolVar(&o.rules, "rules", false, "print every rule (ID, severity, title, fact) and exit")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log what is read to stderr")
	return cmd
}

func rulesSummary() string {
	var b strings.Builder
	for _, r := range lint.Rules() {
		fmt.Fprintf(&b, "  %s  %-7s  %s\n", r.ID, r.Severity, r.Title)
	}
	return b.String()
}

func runLint(cmd *cobra.Command, a *app, o lintOptions) error {
	if o.rules {
		return lint.RulesTable(a.stdout)
	}
	format, err := lint.ParseFormat(o.format)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("--format: %w", err)}
	}
	failOn := lint.Severity("")
	if o.failOn != "never" {
		if failOn, err = lint.ParseSeverity(o.failOn); err != nil || failOn == lint.SeverityInfo {
			return &exitError{code: exitUsage, err: fmt.Errorf("--fail-on %q: want error, warning or never", o.failOn)}
		}
	}
	log := slog.New(slog.DiscardHandler)
	if o.verbose {
		log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	objs, err := loadLintInput(cmd, a, o, log)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	model := lint.NewModel(objs)
	for _, d := range model.Duplicates {
		fmt.Fprintf(a.stderr, "meshgate lint: %s (the later one is linted)\n", d)
	}
	report := lint.NewReport(model.Len(), lint.Run(model))
	if o.output != "" {
		if err := lint.WriteFileAtomic(o.output, func(w io.Writer) error { return report.Write(w, format) }); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		fmt.Fprintf(a.stderr, "meshgate lint: %d objects, %d errors, %d warnings, %d info; report in %s\n",
			report.Objects, report.Counts.Error, report.Counts.Warning, report.Counts.Info, o.output)
	} else if err := report.Write(a.stdout, format); err != nil {
		return err
	}
	if failOn == "" {
		return nil
	}
	n := 0
	for _, f := range report.Findings {
		if f.Severity.AtLeast(failOn) {
			n++
		}
	}
	if n > 0 {
		return &exitError{code: 1, err: fmt.Errorf("lint: %d finding(s) at or above %s", n, failOn)}
	}
	return nil
}

func loadLintInput(cmd *cobra.Command, a *app, o lintOptions, log *slog.Logger) ([]*lint.Object, error) {
	if len(o.files) > 0 {
		if o.kubeconfig != "" || o.context != "" {
			return nil, errors.New("give either -f (files) or --kubeconfig/--context (live cluster), not both")
		}
		objs, skipped, err := lint.LoadCharts(o.files, a.stdin, chartRenderer(cmd.Context(), o.values, o.namespace))
		if err != nil {
			return nil, err
		}
		if len(skipped) > 0 {
			fmt.Fprintf(a.stderr, "meshgate lint: skipped %d file(s) with no Kubernetes object: %s\n", len(skipped), strings.Join(skipped, ", "))
		}
		lint.DefaultNamespace(objs, o.namespace)
		return objs, nil
	}
	if len(o.values) > 0 {
		return nil, errors.New("--values applies to Helm charts given with -f")
	}
	cfg, err := cluster.ClusterReachable(cmd.Context(), o.kubeconfig, o.context)
	if err != nil {
		return nil, fmt.Errorf("no manifests given (-f), so lint reads a live cluster: %w", err)
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, fmt.Errorf("connect to cluster %s: %w", cfg.Host, err)
	}
	return lint.LoadCluster(cmd.Context(), c, o.namespace, log)
}

// chartRenderer renders a chart folder as helm template would: release named
// after the chart, in namespace (default "default"), with the values files
// merged in order, no cluster contacted.
func chartRenderer(ctx context.Context, valueFiles []string, namespace string) lint.RenderChart {
	return func(dir string) ([]byte, error) {
		vals, err := (&values.Options{ValueFiles: valueFiles}).MergeValues(getter.Providers{})
		if err != nil {
			return nil, fmt.Errorf("--values: %w", err)
		}
		src := addons.Chart{Path: dir}
		ch, err := addons.LoadChart(src, "")
		if err != nil {
			return nil, err
		}
		if namespace == "" {
			namespace = "default"
		}
		out, err := addons.Render(ctx, addons.Release{Name: ch.Name(), Namespace: namespace, Chart: src, Values: vals}, ch, "")
		return []byte(out), err
	}
}
