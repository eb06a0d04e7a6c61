// Command meshgate tests and benchmarks an API gateway (Kong) in front of a
// service mesh (Kuma or Istio) on a real cluster. Run `meshgate --help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// app carries what every subcommand writes to; tests give it buffers.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// exitError ends the program with a chosen exit code (lint uses 1 for findings,
// 2 for bad input). Any other error exits 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// run is main without os.Exit, so the whole CLI is testable.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(&app{stdin: stdin, stdout: stdout, stderr: stderr})
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var exit *exitError
	if errors.As(err, &exit) {
		if exit.err != nil {
			fmt.Fprintln(stderr, "meshgate:", exit.err)
		}
		return exit.code
	}
	fmt.Fprintln(stderr, "meshgate:", err)
	return 1
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "meshgate",
		Short: "End-to-end tests and latency benchmarks for Kong in front of Kuma or Istio",
		Long: `meshgate proves, on a real cluster, that the boundary between an API gateway
(Kong) and a service mesh (Kuma or Istio) is secure and measures what it costs.

It reproduces the Pod-IP plaintext 502 (Kong load-balances to Pod IPs, the
gateway's sidecar passes that traffic through as plaintext, a STRICT-mTLS
backend resets it), applies each fix (ExternalName bridge to the mesh hostname,
Kong's service-upstream), verifies STRICT handshakes and the JWT claim flow
with evidence, and measures the latency each hop adds.

Typical session:
  meshgate doctor                  check Docker and the host for kind
  meshgate plan --mesh kuma        print what would be installed and applied
  meshgate e2e --mesh kuma         create a kind cluster, run the scenarios, delete it
  meshgate bench --local --out A   latency pipeline on loopback, no cluster
  meshgate report --in A --out R   JSON, Markdown, HTML and charts from run folders`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.AddCommand(
		newUpCmd(a),
		newDownCmd(a),
		newE2ECmd(a),
		newBenchCmd(a),
		newReportCmd(a),
		newPlanCmd(a),
		newDoctorCmd(a),
		newLintCmd(a),
	)
	return root
}
