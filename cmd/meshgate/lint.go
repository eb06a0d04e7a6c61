package main

import "github.com/spf13/cobra"

func newLintCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "lint",
		Short: "Find gateway-to-mesh boundary mistakes in manifests or a live cluster",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errNotImplemented("meshgate lint")
		},
	}
}
