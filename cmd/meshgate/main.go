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
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C ends the process at once
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes shared by every subcommand.
const (
	exitUsage       = 2   // a flag, argument or input file is wrong; nothing was done
	exitInterrupted = 130 // Ctrl-C or SIGTERM, as a shell reports SIGINT
)

// app carries what every subcommand writes to; tests give it buffers.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	started        bool // a subcommand got past cobra's flag and argument checks
}

// exitError ends the program with a chosen exit code (lint uses 1 for findings,
// exitUsage for bad input). Any other error exits 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError is a bad flag or argument: exit 2, before any work.
func usageError(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// run is main without os.Exit, so the whole CLI is testable.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCmd(a)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	if ctx.Err() != nil {
		// Libraries say "context canceled"; the user pressed Ctrl-C.
		msg := strings.ReplaceAll(err.Error(), context.Canceled.Error(), "interrupted")
		fmt.Fprintf(stderr, "meshgate: interrupted (%v): %s\n", context.Cause(ctx), msg)
		return exitInterrupted
	}
	if !a.started {
		// Cobra refused a flag, an argument or a subcommand before running it.
		fmt.Fprintf(stderr, "meshgate: %v (see %s --help)\n", err, commandPath(root, args))
		return exitUsage
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
		Version:       moduleVersion(),
		PersistentPreRun: func(*cobra.Command, []string) {
			a.started = true
		},
	}
	root.SetVersionTemplate(versionText())
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

// commandPath is the (sub)command args name, for the usage hint.
func commandPath(root *cobra.Command, args []string) string {
	if cmd, _, err := root.Find(args); err == nil {
		return cmd.CommandPath()
	}
	return root.Name()
}
