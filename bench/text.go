package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// PrintSummary writes the overheads with their intervals and the noise floor
// as a table, then every violation. Reports render richer views from the
// same Summary.
func PrintSummary(w io.Writer, s *Summary, dir string) {
	c := s.Config
	fmt.Fprintf(w, "meshgate bench (%s): %d rps, connections %v, %d repetitions × %s (warm-up %s dropped), %d B responses, %s\n",
		c.Target, c.Rate, c.Connections, c.Repetitions, c.Duration, c.Warmup, c.BodyBytes, c.Protocol)
	if c.Loaders > 1 {
		fmt.Fprintf(w, "load: %s\n", c.Generator())
	}
	if s.Mesh.ProxyBuild != "" {
		fmt.Fprintf(w, "proxy: %s\n", s.Mesh.ProxyBuild)
	}
	fmt.Fprintf(w, "run folder: %s (summary.json; raw results: vegeta report %s)\n\n", dir, strings.Join([]string{dir, RawDir, "<mode>-c<conns>-r<rep>.bin"}, "/"))
	if s.Partial != nil {
		fmt.Fprintf(w, "%s\n\n", s.Partial)
	}
	noise := map[string]Overhead{}
	for _, n := range s.NoiseFloor {
		noise[fmt.Sprint(n.Connections, n.Percentile)] = n
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "mode\tconns\tpct\tbaseline\tmode\toverhead\t%g%% CI\tA/A noise floor\truns\t\n", 100*c.Confidence)
	for _, o := range s.Overheads {
		if o.Percentile == "max" {
			continue
		}
		aa := "-"
		if n, ok := noise[fmt.Sprint(o.Connections, o.Percentile)]; ok {
			aa = fmt.Sprintf("%+.3f [%+.3f, %+.3f]", n.OverheadMs, n.CILowMs, n.CIHighMs)
		}
		flag := ""
		if !o.Interpretable {
			flag = " (few samples)"
		} else if !o.AboveNoise && o.NoiseMs > 0 {
			flag = " (within noise)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.3f ms\t%.3f ms\t%+.3f ms\t[%+.3f, %+.3f]%s\t%s\t%d/%d\t\n",
			o.Mode, o.Connections, o.Percentile, o.BaselineMs, o.ModeMs, o.OverheadMs, o.CILowMs, o.CIHighMs, flag, aa, o.ModeRuns, c.Repetitions)
	}
	tw.Flush()
	if len(s.Overheads) == 0 {
		fmt.Fprintln(w, "no overhead could be computed")
	}
	printMeshEvidence(w, s)
	if len(s.Violations) > 0 {
		fmt.Fprintf(w, "\n%d violation(s):\n", len(s.Violations))
		for _, v := range s.Violations {
			fmt.Fprintf(w, "  - %s\n", v)
		}
	}
}

// PrintVerdict writes the gate's outcome.
func PrintVerdict(w io.Writer, v Verdict, oldPath string) {
	if v.Failed() {
		fmt.Fprintf(w, "gate: FAIL against %s (%d overheads checked, %d violation(s)):\n", oldPath, v.Checked, len(v.Violations))
		for _, x := range v.Violations {
			fmt.Fprintf(w, "  - %s\n", x)
		}
	} else {
		fmt.Fprintf(w, "gate: PASS against %s (%d overheads checked, none grew significantly beyond the limit)\n", oldPath, v.Checked)
	}
	for _, n := range v.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

// printMeshEvidence writes each mode's mTLS verdict and each proxy's cost,
// when the run read them (cluster benches).
func printMeshEvidence(w io.Writer, s *Summary) {
	if len(s.MTLS) > 0 {
		fmt.Fprintln(w, "\nmTLS into the backend, proven during the run:")
		for _, p := range s.MTLS {
			fmt.Fprintf(w, "  %-20s %-10s %s\n", p.Mode, p.Status, p.Evidence)
		}
	}
	if len(s.ProxyCosts) == 0 {
		return
	}
	fmt.Fprintln(w, "\nproxy cost per 1000 achieved rps (kubelet resource metrics around each attack):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  mode\tproxy\tvCPU/1000 rps\tmemory MiB\truns\tpublished\t")
	for _, c := range s.ProxyCosts {
		cpu := fmt.Sprintf("%.3f", c.CoresPer1000RPS)
		if c.Runs == 0 {
			cpu = "- (" + c.Note + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%.1f\t%d\t%s\t\n", c.Mode, c.Component, cpu, c.MemoryMiB, c.Runs, c.Published)
	}
	tw.Flush()
}
