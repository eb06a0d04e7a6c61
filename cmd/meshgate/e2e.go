package main

import "github.com/spf13/cobra"

func newE2ECmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "e2e",
		Short: "Run the reproduce, fix and verify scenarios",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errNotImplemented("meshgate e2e")
		},
	}
}
