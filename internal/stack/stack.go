package stack

import (
	"context"

	"github.com/meshgate/meshgate/internal/cluster"
)

// Up creates (or reuses) the cluster, installs the Gateway API CRDs, the mesh
// and Kong, loads our images, waits until everything is ready and returns the
// Env the suites use. On failure it writes diagnostics under
// <RunDir>/diagnostics/<step>/ and deletes what it created, unless
// KeepOnFailure or Keep. Cancel ctx (Ctrl-C) to stop: cleanup runs on a fresh
// context.
func Up(ctx context.Context, opts Options) (*cluster.Env, error) {
	return up(ctx, opts)
}

// Down closes this process's port-forwards and deletes what the run created
// (the kind cluster, or on an existing cluster the releases and objects
// labelled with the run ID), unless opts.Keep.
func Down(ctx context.Context, env *cluster.Env, opts DownOptions) error {
	return down(ctx, env, opts)
}
