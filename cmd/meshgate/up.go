package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshgate/meshgate/internal/stack"
)

func newUpCmd(a *app) *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create a kind cluster (or use a kubeconfig) and install Kong and a mesh",
		Long: `up creates a kind cluster (one control-plane node, workers, one worker
reserved for the load generator), installs the Gateway API CRDs, the mesh
(Kuma or Istio) and Kong with the Helm SDK, builds and loads meshgate's own
images, and waits until injection, the default Mesh and Kong's admin API
really work.

Without --keep, up holds Kong's port-forwards open until Ctrl-C, then deletes
what it created. With --keep it returns and leaves everything in place:
delete it later with meshgate down --run <out>.

With --kubeconfig/--context it runs on an existing cluster, refuses to install
a mesh over an installed one (unless --use-installed-mesh), and removes only
what it created.`,
		Example: `  meshgate up --mesh kuma --keep --out runs/kuma
  meshgate up --mesh istio --preload
  meshgate up --mesh kuma --kubeconfig ~/.kube/config --context staging --use-installed-mesh
  meshgate up --mesh kuma --set charts.kuma.path=./kuma-2.14.3.tgz --image-mirror mirror.example/hub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log := f.logger(a.stderr)
			opts, err := f.stackOptions(log)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if err := reachable(cmd.Context(), opts); err != nil {
				return fmt.Errorf("nothing was created: %w", err)
			}
			env, err := stack.Up(cmd.Context(), opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "cluster:     %s (%s)\nkubeconfig:  %s (context %s)\nrun folder:  %s\nKong proxy:  %s\nKong admin:  %s (port-forward, while this process runs)\n",
				env.Name, env.Provider, env.KubeconfigPath, env.KubeContext, env.RunDir, env.KongProxyURL, env.KongAdminURL)
			if opts.Keep {
				fmt.Fprintf(a.stdout, "kept; delete with: meshgate down --run %s\n", env.RunDir)
				return stack.Down(context.Background(), env, stack.DownOptions{Keep: true})
			}
			fmt.Fprintln(a.stdout, "ready; press Ctrl-C to delete what this run created")
			<-cmd.Context().Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			return stack.Down(ctx, env, stack.DownOptions{})
		},
	}
	f.register(cmd.Flags())
	return cmd
}
