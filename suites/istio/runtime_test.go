package istio_test

import (
	"context"

	"k8s.io/client-go/rest"

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
