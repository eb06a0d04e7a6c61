package main

import "github.com/spf13/cobra"

func newBenchCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "bench",
		Short: "Measure the latency each hop adds, with vegeta",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errNotImplemented("meshgate bench")
		},
	}
}
