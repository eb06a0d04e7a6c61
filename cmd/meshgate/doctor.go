package main

import "github.com/spf13/cobra"

func newDoctorCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check that this machine can run kind clusters",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errNotImplemented("meshgate doctor")
		},
	}
}
