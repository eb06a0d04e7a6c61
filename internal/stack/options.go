// Package stack is the one entry point that brings up a cluster with Kong and
// a mesh in it (cluster provider + addons + our images) and takes it down.
package stack

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/postrenderer"

	"github.com/meshgate/meshgate/internal/addons"
	"github.com/meshgate/meshgate/internal/cluster"
)

// Options configure Up. The zero value of each field has a usable default,
// except Mesh.
type Options struct {
	Mesh     string // one of cluster.Meshes
	Provider string // cluster.ProviderKind (default) or cluster.ProviderExisting

	// Name is the kind cluster's name (default "meshgate-<run id>").
	Name string
	// Reuse runs on a kind cluster of that Name kept by an earlier run.
	Reuse bool
	// Keep leaves what this run created in place after Down or Ctrl-C.
	Keep bool
	// KeepOnFailure leaves it in place only when Up fails, for inspection.
	KeepOnFailure bool

	// Kubeconfig and Context select an existing cluster (Provider "existing").
	Kubeconfig string
	Context    string
	// UseInstalledMesh runs on a mesh already present instead of refusing.
	UseInstalledMesh bool

	// Matrix holds every version; nil means addons.DefaultMatrix().
	Matrix *addons.Matrix
	// ImageMirror, if set, prefixes every upstream image ("mirror.example/x").
	ImageMirror string
	// Preload pulls the upstream images once on the host and loads them into
	// the kind nodes (needs Docker).
	Preload bool
	// SkipOwnImages leaves out building meshgate/echo and meshgate/loadgen
	// (for runs that bring their own, pushed elsewhere).
	SkipOwnImages bool
	// SourceDir is the meshgate module root our images are built from
	// (default: found by walking up from the working directory).
	SourceDir string
	// KongKeepalivePoolSize, when set, becomes Kong's upstream_keepalive_pool_size
	// (0 = a new upstream connection, and mTLS handshake, per request).
	KongKeepalivePoolSize *int
	// ProxyHostPort and ProxyTLSHostPort are the host ports (127.0.0.1) kind
	// maps to Kong's NodePorts; 0 means 30080 and 30443, -1 picks free ports.
	ProxyHostPort    int
	ProxyTLSHostPort int
	// Workers is the number of kind workers besides the load generator's (default 2).
	Workers int
	// ProxyServiceType is Kong's proxy Service type on an existing cluster:
	// addons.ProxyClusterIP (default) or addons.ProxyLoadBalancer.
	ProxyServiceType string
	// KongPlain also installs a Kong outside any mesh for bench mode kong
	// (release cluster.KongPlainRelease in cluster.KongPlainNamespace,
	// IngressClass cluster.KongPlainClass); `meshgate bench --mesh` sets it.
	KongPlain bool
	// PostRenderer, when set, edits every chart's rendered manifests after
	// meshgate's labels, like Helm's --post-renderer.
	PostRenderer postrenderer.PostRenderer

	// RunDir keeps the kubeconfig, logs and diagnostics (default a temp dir).
	RunDir string
	// Timeout bounds the whole Up (default 15 minutes).
	Timeout time.Duration
	Log     *slog.Logger
}

// DownOptions configure Down.
type DownOptions struct {
	// Keep leaves the cluster (and what was installed) in place; only the
	// port-forwards this process holds are closed.
	Keep bool
	// Timeout bounds the deletion (default 5 minutes).
	Timeout time.Duration
}

// Validate checks the options before anything is created; Up calls it first.
func (o Options) Validate() error {
	switch o.Mesh {
	case cluster.MeshKuma, cluster.MeshIstio, cluster.MeshIstioAmbient:
	default:
		return fmt.Errorf("mesh %q: choose one of %s", o.Mesh, strings.Join(cluster.Meshes, ", "))
	}
	switch o.Provider {
	case "", cluster.ProviderKind:
		if o.Kubeconfig != "" || o.Context != "" {
			return fmt.Errorf("--kubeconfig/--context select an existing cluster; they do not apply to a kind cluster meshgate creates (drop them, or use the existing provider)")
		}
	case cluster.ProviderExisting:
		if o.Reuse {
			return fmt.Errorf("--reuse applies to kind clusters; an existing cluster is always reused")
		}
	default:
		return fmt.Errorf("provider %q: choose %q or %q", o.Provider, cluster.ProviderKind, cluster.ProviderExisting)
	}
	if err := addons.CheckProxyServiceType(o.ProxyServiceType); err != nil {
		return err
	}
	if o.ProxyServiceType != "" && o.Provider != cluster.ProviderExisting {
		return fmt.Errorf("--proxy-service-type applies to an existing cluster; on kind Kong's proxy is a NodePort mapped to 127.0.0.1")
	}
	if o.Reuse && o.Name == "" {
		return fmt.Errorf("--reuse needs --name of the kind cluster to run on")
	}
	return nil
}
