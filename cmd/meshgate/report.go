package main

import "github.com/spf13/cobra"

func newReportCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "report",
		Short: "Build JSON, Markdown, HTML and charts from run folders",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errNotImplemented("meshgate report")
		},
	}
}
