package istio_test

import (
	"context"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	"k8s.io/client-go/rest"

	outside "github.com/meshgate/meshgate/fixtures/client"
	istiofx "github.com/meshgate/meshgate/fixtures/istio"
	"github.com/meshgate/meshgate/internal/addons"
	"github.com/meshgate/meshgate/internal/cluster"
	"github.com/meshgate/meshgate/internal/kube"
	"github.com/meshgate/meshgate/internal/probe"
)

// IstioAdminPort is the istio-proxy's Envoy admin port, bound to the pod's
// loopback; a port-forward reaches it (UPSTREAM.md "Istio").
const IstioAdminPort = 15000

// istioSidecars reaches an istio-proxy through port-forwards: Prometheus
// text from its own metrics port (15090 /stats/prometheus), everything else
// from the Envoy admin on the pod's loopback (15000).
type istioSidecars struct{ rest *rest.Config }

func (s istioSidecars) Admin(_ context.Context, namespace, pod string) (probe.AdminGetter, error) {
	return istioProxy{
		admin:   &probe.PodPort{REST: s.rest, Namespace: namespace, Pod: pod, Port: IstioAdminPort},
		metrics: &probe.PodPort{REST: s.rest, Namespace: namespace, Pod: pod, Port: probe.IstioSidecarMetricsPort},
	}, nil
}

type istioProxy struct{ admin, metrics probe.AdminGetter }

func (p istioProxy) Get(ctx context.Context, path string) ([]byte, error) {
	if path == probe.IstioSidecarMetricsPath {
		return p.metrics.Get(ctx, path)
	}
	return p.admin.Get(ctx, path)
}

// diagnostics writes the bundle of a failed phase: api-system, the outside
// client, Kong (status, upstream targets), istiod, each sidecar's config
// dump and stats, and the node logs on kind.
func diagnostics(name string) string {
	dir := filepath.Join(flags.Out, "diagnostics", name)
	ctx, cancel := context.WithTimeout(context.Background(), timeouts.Diagnostics)
	defer cancel()
	o := kube.DiagnosticsOptions{
		Dir:           dir,
		Namespaces:    []string{istiofx.DefaultNamespace, outside.Namespace, cluster.KongNamespace, addons.IstioNamespace},
		KongNamespace: cluster.KongNamespace,
		KongSelector:  cluster.KongGatewayLabel + "=" + cluster.KongRelease,
		KongAdminPort: cluster.KongAdminPort,
		Log:           env.Logger(),
	}
	if env.Provider == cluster.ProviderKind && env.Name != "" {
		k := cluster.NewKind(env.Log)
		name := env.Name
		o.NodeLogs = func(dir string) error { return k.CollectLogs(name, dir) }
	}
	if err := kube.CollectDiagnostics(ctx, env.REST, o); err != nil {
		AddReportEntry("diagnostics incomplete", err.Error())
	}
	return dir
}
