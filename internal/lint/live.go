package lint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshgate/meshgate/internal/lint/manifest"
)

// liveKind is one kind the model reads from a cluster. Versions are tried in
// order; a kind whose CRD is not installed is skipped, not an error.
type liveKind struct {
	group, kind string
	versions    []string
	clusterWide bool // cluster-scoped, or mesh-wide policy read from every namespace even with -n
	selector    client.MatchingLabels
}

// LiveKinds is what live mode lists, read-only.
func liveKinds() []liveKind {
	return []liveKind{
		{"", "Namespace", []string{"v1"}, true, nil},
		{"", "Service", []string{"v1"}, false, nil},
		{"", "Pod", []string{"v1"}, false, nil},
		// Only Kong JWT credentials, by the label KIC 3 requires; no other Secret is read.
		{"", "Secret", []string{"v1"}, false, client.MatchingLabels{"konghq.com/credential": "jwt"}},
		{"apps", "Deployment", []string{"v1"}, false, nil},
		{"apps", "DaemonSet", []string{"v1"}, false, nil},
		{"apps", "StatefulSet", []string{"v1"}, false, nil},
		{"networking.k8s.io", "Ingress", []string{"v1"}, false, nil},
		{"networking.k8s.io", "IngressClass", []string{"v1"}, true, nil},
		{"gateway.networking.k8s.io", "GatewayClass", []string{"v1"}, true, nil},
		{"gateway.networking.k8s.io", "Gateway", []string{"v1"}, false, nil},
		{"gateway.networking.k8s.io", "HTTPRoute", []string{"v1"}, false, nil},
		{"configuration.konghq.com", "KongPlugin", []string{"v1"}, false, nil},
		{"configuration.konghq.com", "KongClusterPlugin", []string{"v1"}, true, nil},
		{"configuration.konghq.com", "KongConsumer", []string{"v1"}, false, nil},
		{"configuration.konghq.com", "KongIngress", []string{"v1"}, false, nil},
		{"kuma.io", "Mesh", []string{"v1alpha1"}, true, nil},
		{"kuma.io", "MeshTrafficPermission", []string{"v1alpha1"}, true, nil},
		{"kuma.io", "MeshTLS", []string{"v1alpha1"}, true, nil},
		{"kuma.io", "MeshRetry", []string{"v1alpha1"}, true, nil},
		{"kuma.io", "TrafficPermission", []string{"v1alpha1"}, true, nil},
		{"security.istio.io", "PeerAuthentication", []string{"v1", "v1beta1"}, true, nil},
		{"security.istio.io", "RequestAuthentication", []string{"v1", "v1beta1"}, false, nil},
		{"security.istio.io", "AuthorizationPolicy", []string{"v1", "v1beta1"}, false, nil},
		{"networking.istio.io", "DestinationRule", []string{"v1", "v1beta1", "v1alpha3"}, false, nil},
		{"networking.istio.io", "VirtualService", []string{"v1", "v1beta1", "v1alpha3"}, false, nil},
	}
}

// LoadCluster lists every modelled kind through c (read-only). namespace ""
// means all namespaces; otherwise namespaced objects come from that namespace
// only, while cluster-scoped kinds and mesh-wide policies (Kuma Mesh,
// MeshTrafficPermission, MeshTLS, Istio PeerAuthentication) come from
// everywhere, because they decide what the namespace's traffic gets.
func LoadCluster(ctx context.Context, c client.Reader, namespace string, log *slog.Logger) ([]*Object, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var objs []*Object
	for _, k := range liveKinds() {
		items, err := listKind(ctx, c, k, namespace, log)
		if err != nil {
			return nil, err
		}
		objs = append(objs, items...)
	}
	return objs, nil
}

func listKind(ctx context.Context, c client.Reader, k liveKind, namespace string, log *slog.Logger) ([]*Object, error) {
	var opts []client.ListOption
	if namespace != "" && !k.clusterWide {
		opts = append(opts, client.InNamespace(namespace))
	}
	if k.selector != nil {
		opts = append(opts, k.selector)
	}
	for _, v := range k.versions {
		ul := &unstructured.UnstructuredList{}
		ul.SetGroupVersionKind(schema.GroupVersionKind{Group: k.group, Version: v, Kind: k.kind + "List"})
		err := c.List(ctx, ul, opts...)
		switch {
		case meta.IsNoMatchError(err) || apierrors.IsNotFound(err) || isDiscoveryMiss(err):
			log.Debug("kind not served, skipped", "group", k.group, "version", v, "kind", k.kind)
			continue
		case err != nil:
			return nil, fmt.Errorf("list %s.%s/%s (meshgate lint only reads; grant list on it or narrow with -n): %w", k.kind, k.group, v, err)
		}
		var out []*Object
		for i := range ul.Items {
			it := &ul.Items[i]
			content, _ := manifest.Normalize(it.UnstructuredContent()).(map[string]any)
			o, err := manifest.NewObject(content)
			if err != nil {
				return nil, fmt.Errorf("%s %s/%s from the cluster: %w", k.kind, it.GetNamespace(), it.GetName(), err)
			}
			out = append(out, o)
		}
		log.Debug("listed", "kind", k.kind, "version", v, "count", len(out))
		return out, nil
	}
	return nil, nil
}

func isDiscoveryMiss(err error) bool {
	var d *meta.NoResourceMatchError
	return errors.As(err, &d)
}
