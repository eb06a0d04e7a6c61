package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshgate/meshgate/internal/cluster"
)

// doctorSchema names the JSON that doctor --output json writes.
const doctorSchema = "meshgate.dev/doctor/v1"

func newDoctorCmd(a *app) *cobra.Command {
	cfg := cluster.DoctorConfig{}
	var ports []int
	var output string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check that this machine can run kind clusters",
		Long: `doctor checks what a kind run needs: a reachable Docker engine, kind's
inotify limits, cgroups, free disk, the host ports Kong's proxy is mapped to,
and a Go toolchain (meshgate builds its own images). Each failure comes with
its fix; the exit code is 1 when any check fails.

--output json writes {"schema", "ok", "checks": [{"check", "status" (ok, warn,
fail), "detail", "fix"}]} to stdout for scripts and CI.`,
		Example: "  meshgate doctor\n  meshgate doctor --output json | jq '.checks[] | select(.status == \"fail\")'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return usageError("--output %q: choose text or json", output)
			}
			for _, p := range ports {
				if p < 0 || p > 65535 {
					return usageError("--port %d: want a port 1-65535", p)
				}
			}
			cfg.HostPorts = ports
			findings := cluster.Doctor(cmd.Context(), cluster.HostProbes(), cfg)
			var failed []string
			for _, f := range findings {
				if f.Status == cluster.Fail {
					failed = append(failed, f.Check)
				}
			}
			if output == "json" {
				if err := writeDoctorJSON(a.stdout, findings, len(failed) == 0); err != nil {
					return err
				}
			} else {
				cluster.WriteFindings(a.stdout, findings)
			}
			if len(failed) > 0 {
				return &exitError{code: 1, err: fmt.Errorf("doctor: %d check(s) failed: %v; fix them before make e2e", len(failed), failed)}
			}
			if output == "text" {
				fmt.Fprintln(a.stdout, "this machine can run meshgate's kind clusters")
			}
			return nil
		},
	}
	cmd.Flags().IntSliceVar(&ports, "port", []int{cluster.KongProxyNodePort, cluster.KongProxyTLSNodePort}, "host ports on 127.0.0.1 that must be free")
	cmd.Flags().StringVar(&cfg.DiskPath, "disk", "", "path whose free space to check (default the temp dir)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

type doctorCheck struct {
	Check  string `json:"check"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

func writeDoctorJSON(w io.Writer, findings []cluster.Finding, ok bool) error {
	checks := make([]doctorCheck, len(findings))
	for i, f := range findings {
		checks[i] = doctorCheck{Check: f.Check, Status: strings.ToLower(string(f.Status)), Detail: f.Detail, Fix: f.Fix}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Schema string        `json:"schema"`
		OK     bool          `json:"ok"`
		Checks []doctorCheck `json:"checks"`
	}{doctorSchema, ok, checks})
}
