package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/pflag"

	"github.com/meshgate/meshgate/internal/addons"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/stack"
)

// clusterFlags are the flags of every command that brings up a cluster
// (up, and e2e/bench through stackOptions).
type clusterFlags struct {
	mesh, name, kubeconfig, kubeContext string
	proxyServiceType                    string
	versions, imageMirror, out          string
	reuse, keep, keepOnFailure          bool
	useInstalledMesh, preload           bool
	set                                 []string
	proxyPort, proxyTLSPort, workers    int
	keepalivePool                       int
	timeout                             time.Duration
	verbose                             bool
}

func (f *clusterFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.mesh, "mesh", "", "mesh to install: kuma, istio (sidecars) or istio-ambient (ztunnel and waypoints)")
	fs.StringVar(&f.name, "name", "", "kind cluster name (default meshgate-<random>)")
	fs.BoolVar(&f.reuse, "reuse", false, "run on the kind cluster --name kept by an earlier run")
	fs.BoolVar(&f.keep, "keep", false, "leave the cluster and what was installed in place")
	fs.BoolVar(&f.keepOnFailure, "keep-on-failure", false, "leave it in place only when something fails")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "use an existing cluster from this kubeconfig instead of kind")
	fs.StringVar(&f.kubeContext, "context", "", "context of the existing cluster (with --kubeconfig, or the default kubeconfig)")
	fs.BoolVar(&f.useInstalledMesh, "use-installed-mesh", false, "existing cluster: run on the mesh already installed instead of refusing")
	fs.StringVar(&f.proxyServiceType, "proxy-service-type", "", "existing cluster: Kong's proxy Service type, ClusterIP (default; meshgate port-forwards) or LoadBalancer")
	f.registerVersions(fs)
	fs.BoolVar(&f.preload, "preload", false, "pull upstream images once on the host (cached) and load them into kind")
	fs.StringVar(&f.out, "out", "", "run folder: kubeconfig, state, diagnostics (default a new temp folder)")
	fs.IntVar(&f.proxyPort, "proxy-port", 0, "host port on 127.0.0.1 for Kong's HTTP proxy on kind (default 30080, -1 picks a free one)")
	fs.IntVar(&f.proxyTLSPort, "proxy-tls-port", 0, "host port for Kong's TLS proxy on kind (default 30443, -1 picks a free one)")
	fs.IntVar(&f.workers, "workers", 0, "kind workers besides the load generator's (default 2)")
	fs.IntVar(&f.keepalivePool, "kong-keepalive-pool", -1, "Kong upstream_keepalive_pool_size (0: one upstream connection, so one mTLS handshake, per request; -1 keeps Kong's default)")
	fs.DurationVar(&f.timeout, "timeout", 15*time.Minute, "overall time limit of bringing the stack up")
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "debug logging (kind, Helm)")
}

// registerVersions adds the flags that choose versions (also used by plan).
func (f *clusterFlags) registerVersions(fs *pflag.FlagSet) {
	fs.StringVar(&f.versions, "versions", "", "version matrix file overlaid on the built-in one (same shape as internal/addons/versions.yaml)")
	fs.StringArrayVar(&f.set, "set", nil, "override one matrix entry, e.g. images.kong=kong:3.10 or charts.kuma.path=./kuma-2.14.3.tgz (repeatable)")
	fs.StringVar(&f.imageMirror, "image-mirror", "", "registry prefix for every upstream image, e.g. mirror.example/dockerhub")
}

func (f *clusterFlags) matrix() (*addons.Matrix, error) {
	m, err := addons.LoadMatrix(f.versions)
	if err != nil {
		return nil, err
	}
	m, err = m.Set(f.set...)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

func (f *clusterFlags) logger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// validateNumbers names every out-of-range number flag at once.
func (f *clusterFlags) validateNumbers() error {
	var errs []error
	for _, p := range []struct {
		name string
		port int
	}{{"--proxy-port", f.proxyPort}, {"--proxy-tls-port", f.proxyTLSPort}} {
		if p.port < -1 || p.port > 65535 {
			errs = append(errs, fmt.Errorf("%s is %d, want a port 1-65535, or -1 for a free one", p.name, p.port))
		}
	}
	if f.workers < 0 {
		errs = append(errs, fmt.Errorf("--workers is %d, want ≥ 0 (0 keeps the default, 2)", f.workers))
	}
	if f.timeout < 0 {
		errs = append(errs, fmt.Errorf("--timeout is %s, want > 0, e.g. 20m", f.timeout))
	}
	if f.keepalivePool < -1 {
		errs = append(errs, fmt.Errorf("--kong-keepalive-pool is %d, want ≥ 0, or -1 for Kong's default", f.keepalivePool))
	}
	return errors.Join(errs...)
}

// stackOptions turns the flags into stack.Options, checking every flag; its
// errors are usage errors.
func (f *clusterFlags) stackOptions(log *slog.Logger) (stack.Options, error) {
	if f.mesh == "" {
		return stack.Options{}, fmt.Errorf("--mesh is required: kuma, istio or istio-ambient")
	}
	if err := f.validateNumbers(); err != nil {
		return stack.Options{}, err
	}
	m, err := f.matrix()
	if err != nil {
		return stack.Options{}, err
	}
	o := stack.Options{
		Mesh: f.mesh, Provider: cluster.ProviderKind, Name: f.name, Reuse: f.reuse,
		Keep: f.keep, KeepOnFailure: f.keepOnFailure,
		Kubeconfig: f.kubeconfig, Context: f.kubeContext, UseInstalledMesh: f.useInstalledMesh,
		Matrix: m, ImageMirror: f.imageMirror, Preload: f.preload,
		ProxyHostPort: f.proxyPort, ProxyTLSHostPort: f.proxyTLSPort, Workers: f.workers,
		ProxyServiceType: f.proxyServiceType,
		RunDir:           f.out, Timeout: f.timeout, Log: log,
	}
	if f.kubeconfig != "" || f.kubeContext != "" {
		o.Provider = cluster.ProviderExisting
		if f.name != "" {
			return o, fmt.Errorf("--name names a kind cluster; with --kubeconfig/--context use the context instead")
		}
		if f.preload {
			return o, fmt.Errorf("--preload loads images into kind nodes; on an existing cluster use --image-mirror")
		}
	}
	if f.keepalivePool >= 0 {
		n := f.keepalivePool
		o.KongKeepalivePoolSize = &n
	}
	return o, o.Validate()
}

// reachable checks, before anything is created, that what the run will
// use answers: the existing cluster's API server, or Docker for kind.
func reachable(ctx context.Context, o stack.Options) error {
	if o.Provider == cluster.ProviderExisting {
		_, err := cluster.ClusterReachable(ctx, o.Kubeconfig, o.Context)
		return err
	}
	return cluster.DockerReachable(ctx)
}
