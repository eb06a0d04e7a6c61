// Package kubetest starts a real kube-apiserver and etcd (controller-runtime
// envtest) for tests, with the CRDs a test names installed. The binaries come
// from KUBEBUILDER_ASSETS, built by `make envtest-assets`; without them the
// test is skipped with the reason and the fix.
//
// One control plane per test:
//
//	env := kubetest.Start(t, kubetest.GatewayAPI())
//
// One per package (starting takes seconds), stopped after the last test:
//
//	var shared = kubetest.NewShared(kubetest.GatewayAPI(), kubetest.Kuma())
//	func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }
//	func TestX(t *testing.T) { env := shared.Env(t); ns := env.Namespace(t, "x") ... }
//
// A fixtures package checks its variants like this (see fixtures/kong):
//
//	func TestVariantsRender(t *testing.T) { golden.AssertSets(t, kuma.Variants(opts)) }
//	func TestVariantsOnAPIServer(t *testing.T) {
//		env := kubetest.Start(t, kubetest.GatewayAPI(), kubetest.Kuma())
//		kubetest.ApplySets(t, env, kuma.Variants(opts))
//	}
//
// A simulated cluster (the same API server with kube-controller-manager,
// kube-scheduler and kwok's fake nodes, so workloads roll out) for tests of
// `up` and `down`; it skips without MESHGATE_SIM_ASSETS (`make sim-assets`):
//
//	sim := kubetest.StartSim(t, kubetest.SimOptions{})
//	hooks := sim.StartWebhook(t, map[string]string{"kuma-injector.kuma.io": "kuma-sidecar"})
//	// install charts with hooks.PostRenderer(), use sim.Kubeconfig
package kubetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/meshgate/meshgate/fixtures"
)

// AssetsEnv names the folder holding kube-apiserver and etcd.
const AssetsEnv = "KUBEBUILDER_ASSETS"

// Env is a running control plane.
type Env struct {
	Config *rest.Config
	Client client.Client // knows fixtures.Scheme types; unstructured for the rest
	Scheme *runtime.Scheme
	CRDs   []string // the CRD sources installed, by name
}

// Start starts a control plane with crds installed and stops it when t ends.
// It skips t when KUBEBUILDER_ASSETS or a CRD source is unavailable.
func Start(t testing.TB, crds ...CRDSource) *Env {
	t.Helper()
	env, stop, skip, err := start(crds)
	if skip != "" {
		t.Skip(skip)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	return env
}

// Namespace creates a namespace named prefix-<random> for one test and
// returns its name. envtest has no namespace controller, so namespaces are
// never removed: unique names keep tests on a shared control plane apart.
func (e *Env) Namespace(t testing.TB, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Client.Create(ctx, ns); err != nil {
		t.Fatalf("creating namespace %s-*: %v", prefix, err)
	}
	return ns.Name
}

func start(crds []CRDSource) (env *Env, stop func() error, skip string, err error) {
	assets := os.Getenv(AssetsEnv)
	if assets == "" {
		return nil, nil, AssetsEnv + " is unset: no kube-apiserver/etcd to test against; " +
			"run `make envtest-assets` and then `KUBEBUILDER_ASSETS=$(hack/envtest-assets.sh) go test ...` (or `make test`)", nil
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			return nil, nil, "", fmt.Errorf("%s=%s has no %s (%v): rebuild it with `make envtest-assets`", AssetsEnv, assets, bin, err)
		}
	}
	var paths, names []string
	for _, src := range crds {
		p, reason, err := src.Resolve()
		if reason != "" {
			return nil, nil, fmt.Sprintf("CRDs %s unavailable: %s", src.Name, reason), nil
		}
		if err != nil {
			return nil, nil, "", fmt.Errorf("CRDs %s: %w", src.Name, err)
		}
		paths = append(paths, p...)
		names = append(names, src.Name)
	}
	// envtest logs through controller-runtime; keep tests quiet and avoid its
	// "SetLogger was never called" warning.
	ctrllog.SetLogger(logr.Discard())
	scheme := fixtures.Scheme()
	te := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		Scheme:                scheme,
		CRDInstallOptions: envtest.CRDInstallOptions{
			Paths:              paths,
			ErrorIfPathMissing: true,
			Scheme:             scheme,
		},
	}
	cfg, err := te.Start()
	if err != nil {
		_ = te.Stop()
		return nil, nil, "", fmt.Errorf("starting envtest from %s=%s with CRDs [%s]: %w", AssetsEnv, assets, strings.Join(names, ", "), err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = te.Stop()
		return nil, nil, "", fmt.Errorf("client for envtest: %w", err)
	}
	return &Env{Config: cfg, Client: c, Scheme: scheme, CRDs: names}, te.Stop, "", nil
}

// Shared is one control plane for all tests of a package, started by the
// first test that asks for it and stopped by Run after the last.
type Shared struct {
	crds []CRDSource
	once sync.Once
	env  *Env
	stop func() error
	skip string
	err  error
}

// NewShared describes a package's control plane; nothing starts yet.
func NewShared(crds ...CRDSource) *Shared { return &Shared{crds: crds} }

// Env returns the running control plane, starting it on first use; it skips
// or fails t the same way Start does, for every test that asks.
func (s *Shared) Env(t testing.TB) *Env {
	t.Helper()
	s.once.Do(func() { s.env, s.stop, s.skip, s.err = start(s.crds) })
	if s.skip != "" {
		t.Skip(s.skip)
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.env
}

// Run runs the tests and then stops the control plane; call it from TestMain.
func (s *Shared) Run(m *testing.M) int {
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "kubetest: stopping envtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Stop stops the control plane if it was started.
func (s *Shared) Stop() error {
	if s.stop == nil {
		return nil
	}
	stop := s.stop
	s.stop = nil
	return stop()
}

var errNoDir = errors.New("module folder not found")
