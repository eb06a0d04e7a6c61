package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/meshgate/meshgate/internal/cluster"
)

func newDoctorCmd(a *app) *cobra.Command {
	cfg := cluster.DoctorConfig{}
	var ports []int
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check that this machine can run kind clusters",
		Long: `doctor checks what a kind run needs: a reachable Docker engine, kind's
inotify limits, cgroups, free disk, the host ports Kong's proxy is mapped to,
and a Go toolchain (meshgate builds its own images). Each failure comes with
its fix; the exit code is 1 when any check fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.HostPorts = ports
			findings := cluster.Doctor(cmd.Context(), cluster.HostProbes(), cfg)
			fails := cluster.WriteFindings(a.stdout, findings)
			if fails > 0 {
				var names []string
				for _, f := range findings {
					if f.Status == cluster.Fail {
						names = append(names, f.Check)
					}
				}
				return &exitError{code: 1, err: fmt.Errorf("doctor: %d check(s) failed: %v; fix them before make e2e", fails, names)}
			}
			fmt.Fprintln(a.stdout, "this machine can run meshgate's kind clusters")
			return nil
		},
	}
	cmd.Flags().IntSliceVar(&ports, "port", []int{cluster.KongProxyNodePort, cluster.KongProxyTLSNodePort}, "host ports on 127.0.0.1 that must be free")
	cmd.Flags().StringVar(&cfg.DiskPath, "disk", "", "path whose free space to check (default the temp dir)")
	return cmd
}
