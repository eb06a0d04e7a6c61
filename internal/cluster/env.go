// Package cluster provides the clusters meshgate runs on (a kind cluster it
// creates through kind's Go library, or an existing kubeconfig) and the Step
// type every lifecycle action shares.
package cluster

import (
	"context"
	"log/slog"

	"k8s.io/client-go/rest"
)

// Env is what every step sees: the cluster and where this run keeps its files.
type Env struct {
	RunID          string // unique per run; labels every object the run creates
	RunDir         string // reports, kubeconfig and diagnostics of this run
	Name           string // cluster name (kind) or context (existing)
	KubeconfigPath string
	REST           *rest.Config
	Log            *slog.Logger // never nil; discards unless the caller asked for progress
}

// A Step is one lifecycle action (create the cluster, install Kong, export
// logs). The CLI and the suites chain the same steps.
type Step struct {
	Name string
	Run  func(ctx context.Context, env *Env) error
}
