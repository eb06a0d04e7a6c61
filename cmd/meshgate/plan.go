package main

import "github.com/spf13/cobra"

func newPlanCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "plan",
		Short: "Print every chart, image and manifest a run would install, without a cluster",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errNotImplemented("meshgate plan")
		},
	}
}
