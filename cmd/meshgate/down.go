package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/meshgate/meshgate/internal/stack"
)

func newDownCmd(a *app) *cobra.Command {
	var name, run string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Delete what a kept run created (--run DIR) or a kind cluster (--name)",
		Long: `down --run DIR reads DIR/` + stack.StateFile + ` written by meshgate up --keep and deletes
exactly what that run created: its kind cluster, or on an existing cluster the
Helm releases and namespaces it installed. down --name deletes a kind cluster.`,
		Example: "  meshgate down --run runs/kuma\n  meshgate down --name meshgate-3f9a1c",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
			switch {
			case (name == "") == (run == ""):
				return usageError("give exactly one of --name (a kind cluster) or --run (a run folder)")
			case name != "":
				if err := stack.DownKind(cmd.Context(), name, log); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "deleted kind cluster %s\n", name)
			default:
				if err := stack.DownRun(cmd.Context(), run, log); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "deleted what run %s created\n", run)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "kind cluster to delete")
	cmd.Flags().StringVar(&run, "run", "", "run folder of meshgate up --keep")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	return cmd
}
