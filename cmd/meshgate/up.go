package main

import "github.com/spf13/cobra"

func newUpCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "up",
		Short: "Create a kind cluster (or use a kubeconfig) and install Kong and a mesh",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errNotImplemented("meshgate up")
		},
	}
}
