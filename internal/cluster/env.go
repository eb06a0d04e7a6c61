// Package cluster provides the clusters meshgate runs on (a kind cluster it
// creates through kind's Go library, or an existing kubeconfig) and the Step
// type every lifecycle action shares.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"k8s.io/client-go/rest"
)

// Providers and meshes meshgate knows.
const (
	ProviderKind     = "kind"
	ProviderExisting = "existing"

	MeshKuma  = "kuma"
	MeshIstio = "istio"
	// MeshIstioAmbient is Istio in ambient mode: ztunnel and the CNI agent
	// instead of sidecars, waypoints for L7.
	MeshIstioAmbient = "istio-ambient"
)

// Meshes lists every mesh flavour meshgate installs.
var Meshes = []string{MeshKuma, MeshIstio, MeshIstioAmbient}

// IsIstio is true for both Istio flavours (they share istio-system).
func IsIstio(mesh string) bool { return mesh == MeshIstio || mesh == MeshIstioAmbient }

// Env is what every step sees: the cluster and where this run keeps its files.
type Env struct {
	RunID          string // unique per run; labels every object the run creates
	RunDir         string // reports, kubeconfig and diagnostics of this run
	Name           string // cluster name (kind) or context (existing)
	KubeconfigPath string
	REST           *rest.Config
	Log            *slog.Logger // never nil; discards unless the caller asked for progress

	Provider    string // ProviderKind or ProviderExisting
	Mesh        string // MeshKuma, MeshIstio or MeshIstioAmbient
	KubeContext string // context inside KubeconfigPath ("kind-<name>" for kind)
	// Created is true when this run created the cluster, so Down may delete it.
	Created bool
	// LoadgenNode is the node reserved for the load generator (kind: a worker
	// labelled LoadgenNodeLabel and tainted LoadgenTaintKey); empty when the
	// cluster has none.
	LoadgenNode string

	// KongProxyURL reaches Kong's HTTP proxy from the host, for example
	// http://127.0.0.1:30080 (kind extraPortMappings of NodePort 30080, or a
	// port-forward on an existing cluster). KongProxyTLSURL is the TLS listener.
	KongProxyURL    string
	KongProxyTLSURL string
	// KongAdminURL reaches Kong's admin API (https, the chart's self-signed
	// certificate; see KongAdminHTTPClient) through a port-forward that lives
	// until Teardown.
	KongAdminURL string

	mu       sync.Mutex
	cleanups []cleanup
	created  []Created
}

// Created is one thing a run created on a cluster it does not own (existing
// provider), recorded so `meshgate down --run DIR` can remove exactly that.
type Created struct {
	Kind      string `json:"kind"` // "HelmRelease", "Namespace" or "CustomResourceDefinition"
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// Record notes something this run created.
func (e *Env) Record(c Created) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.created = append(e.created, c)
}

// CreatedObjects lists what Record noted, in creation order.
func (e *Env) CreatedObjects() []Created {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Created(nil), e.created...)
}

type cleanup struct {
	name  string
	fn    func(ctx context.Context) error
	local bool // only this process's resources (port-forwards)
}

// Defer registers fn to run at Teardown, last registered first.
func (e *Env) Defer(name string, fn func(ctx context.Context) error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cleanups = append(e.cleanups, cleanup{name: name, fn: fn})
}

// DeferLocal registers a cleanup of this process only (a port-forward): Close
// runs it too, while what the run created in the cluster stays.
func (e *Env) DeferLocal(name string, fn func(ctx context.Context) error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cleanups = append(e.cleanups, cleanup{name: name, fn: fn, local: true})
}

// Teardown runs every registered cleanup (last in, first out), even after
// earlier ones failed, and joins their errors. Pass a fresh context: the
// run's own may already be cancelled (Ctrl-C).
func (e *Env) Teardown(ctx context.Context) error { return e.run(ctx, false) }

// Close runs only the local cleanups and keeps the rest registered: the
// cluster and what was installed stay (--keep).
func (e *Env) Close(ctx context.Context) error { return e.run(ctx, true) }

func (e *Env) run(ctx context.Context, localOnly bool) error {
	e.mu.Lock()
	var cs, kept []cleanup
	for _, c := range e.cleanups {
		if localOnly && !c.local {
			kept = append(kept, c)
		} else {
			cs = append(cs, c)
		}
	}
	e.cleanups = kept
	e.mu.Unlock()
	var errs []error
	for i := len(cs) - 1; i >= 0; i-- {
		e.Logger().Info("cleanup", "what", cs[i].name)
		if err := cs[i].fn(ctx); err != nil {
			errs = append(errs, fmt.Errorf("cleanup %q: %w", cs[i].name, err))
		}
	}
	return errors.Join(errs...)
}

// Logger returns e.Log or a logger that discards.
func (e *Env) Logger() *slog.Logger {
	if e.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Log
}

// A Step is one lifecycle action (create the cluster, install Kong, export
// logs). The CLI and the suites chain the same steps.
type Step struct {
	Name string
	Run  func(ctx context.Context, env *Env) error
}

// StepError names the step that failed; diagnostics go to a folder of that name.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return fmt.Sprintf("step %s: %v", e.Step, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

// RunSteps runs steps in order and stops at the first failure, returned as a
// *StepError.
func RunSteps(ctx context.Context, env *Env, steps ...Step) error {
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return &StepError{Step: s.Name, Err: err}
		}
		env.Logger().Info("step", "name", s.Name)
		if err := s.Run(ctx, env); err != nil {
			return &StepError{Step: s.Name, Err: err}
		}
	}
	return nil
}
