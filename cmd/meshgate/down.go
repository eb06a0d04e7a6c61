package main

import "github.com/spf13/cobra"

func newDownCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Delete the cluster or the objects a run created",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errNotImplemented("meshgate down")
		},
	}
}
