package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/meshgate/meshgate/reports"
)

func newReportCmd(a *app) *cobra.Command {
	var in []string
	var out string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "report --in RUN_DIR... --out DIR",
		Short: "Build JSON, Markdown, HTML and charts from run folders",
		Long: `report reads e2e and bench run folders (written by meshgate e2e --out and
meshgate bench --out) and writes, into --out:

  report.json   the report model (schema ` + reports.Schema + `)
  report.md     Markdown for a CI job summary or a pull-request comment
  index.html    one self-contained page: inline CSS, charts as inline SVG,
                no script and no network fetch
  charts/       every chart as SVG and PNG
  junit.xml     the suites' JUnit files merged, when any run folder has them

Several --in folders (versions, meshes) are compared side by side. Nothing is
written unless every folder parsed; each file is replaced atomically.

In GitHub Actions:  cat DIR/report.md >> "$GITHUB_STEP_SUMMARY"`,
		Example: `  meshgate bench --local --out A
  meshgate report --in A --out R
  meshgate report --in runs/kuma --in runs/istio --out R`,
		RunE: func(cmd *cobra.Command, args []string) error {
			in = append(in, args...)
			if len(in) == 0 || out == "" {
				return &exitError{code: exitUsage, err: fmt.Errorf("need at least one --in RUN_DIR and an --out DIR (see meshgate report --help)")}
			}
			for _, dir := range in {
				fi, err := os.Stat(dir)
				switch {
				case err != nil:
					return usageError("--in %s: not a folder (give the run folder meshgate bench or e2e wrote with --out)", dir)
				case !fi.IsDir():
					return usageError("--in %s is a file: pass the folder that holds it", dir)
				}
			}
			log := slog.New(slog.DiscardHandler)
			if verbose {
				log = slog.New(slog.NewTextHandler(a.stderr, nil))
			}
			r, err := reports.Generate(cmd.Context(), reports.Options{In: in, Out: out, Meshgate: moduleVersion(), Logger: log})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "report: %d run(s), %d scenario(s) (%d passed, %d failed, %d skipped, %d not supported), %d chart(s)\n",
				len(r.Runs), r.Totals.Scenarios, r.Totals.Passed, r.Totals.Failed, r.Totals.Skipped, r.Totals.NotSupported, len(r.Charts))
			for _, f := range []string{reports.JSONFile, reports.MarkdownFile, reports.HTMLFile} {
				fmt.Fprintf(a.stdout, "  %s\n", filepath.Join(out, f))
			}
			if r.JUnit != nil {
				fmt.Fprintf(a.stdout, "  %s (%d tests, %d failures)\n", filepath.Join(out, reports.JUnitFile), r.JUnit.Tests, r.JUnit.Failures)
			}
			fmt.Fprintf(a.stdout, "  %s/ (SVG and PNG)\n", filepath.Join(out, reports.ChartsDir))
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&in, "in", nil, "run folder from meshgate e2e or bench (repeat to compare runs)")
	cmd.Flags().StringVar(&out, "out", "", "output folder (created; files in it are replaced atomically)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log each file written to stderr")
	return cmd
}
