package addons

import (
	"fmt"
	"path"
	"strings"

	"helm.sh/helm/v4/pkg/postrenderer"
	"sigs.k8s.io/yaml"

	"github.com/meshgate/meshgate/internal/cluster"
)

// Namespaces and release names of the meshes.
const (
	KumaNamespace  = "kuma-system"
	KumaRelease    = "kuma"
	KumaCPName     = "kuma-control-plane" // Deployment and Service
	IstioNamespace = "istio-system"
	IstioBase      = "istio-base"
	IstiodRelease  = "istiod"
	IstiodName     = "istiod" // Deployment
	// DefaultMesh is the Kuma Mesh the control plane creates and meshgate
	// configures (mTLS, allow-all permission); Kong joins it.
	DefaultMesh = "default"
)

// Options shape the values meshgate gives the charts.
type Options struct {
	Mesh string // one of cluster.Meshes
	// Kind selects what only works on kind: NodePort 30080/30443 for Kong's
	// proxy, Kuma's CNI chained to kindnet.
	Kind bool
	// ImageMirror prefixes every upstream image ("mirror.example/dockerhub").
	ImageMirror string
	// KongKeepalivePoolSize, when set, becomes KONG_UPSTREAM_KEEPALIVE_POOL_SIZE
	// (0: a new upstream connection, so an mTLS handshake, per request).
	KongKeepalivePoolSize *int
	// KumaMesh is the Kuma Mesh Kong's pods join (default DefaultMesh).
	KumaMesh string
	// ProxyServiceType is the type of Kong's proxy Service off kind (default
	// ClusterIP, reached by port-forward). The chart's own default,
	// LoadBalancer, makes Helm's wait hang on clusters without a load
	// balancer controller.
	ProxyServiceType string
	// KongPlain adds a second Kong release outside any mesh (bench mode
	// kong): see KongPlainValues.
	KongPlain bool
	// PostRenderer, when set, edits every release's rendered manifests after
	// meshgate's run labels, like Helm's --post-renderer (the simulated
	// cluster's tests point the charts' webhooks at their own server with it).
	PostRenderer postrenderer.PostRenderer
}

// Kong proxy Service types off kind.
const (
	ProxyClusterIP    = "ClusterIP"
	ProxyLoadBalancer = "LoadBalancer"
)

// CheckProxyServiceType refuses a Kong proxy Service type meshgate cannot reach.
func CheckProxyServiceType(t string) error {
	switch t {
	case "", ProxyClusterIP, ProxyLoadBalancer:
		return nil
	}
	return fmt.Errorf("--proxy-service-type %q: choose %s or %s", t, ProxyClusterIP, ProxyLoadBalancer)
}

// Mirror prefixes ref with the mirror, if any.
func Mirror(mirror, ref string) string {
	if mirror == "" {
		return ref
	}
	return strings.TrimSuffix(mirror, "/") + "/" + ref
}

// Releases returns, in install order, every Helm release of a mesh topology
// with meshgate's values merged under the matrix's chart values.
func Releases(m Matrix, o Options) ([]Release, error) {
	var rels []Release
	switch o.Mesh {
	case cluster.MeshKuma:
		v, err := KumaValues(m, o)
		if err != nil {
			return nil, err
		}
		rels = append(rels, release(m, ChartKuma, KumaRelease, KumaNamespace, v))
	case cluster.MeshIstio:
		base, istiod, err := IstioValues(m, o)
		if err != nil {
			return nil, err
		}
		rels = append(rels,
			release(m, ChartIstioBase, IstioBase, IstioNamespace, base),
			release(m, ChartIstiod, IstiodRelease, IstioNamespace, istiod))
	case cluster.MeshIstioAmbient:
		ambient, err := ambientReleases(m, o)
		if err != nil {
			return nil, err
		}
		rels = append(rels, ambient...)
	default:
		return nil, unknownMesh(o.Mesh)
	}
	kong, err := KongValues(m, o)
	if err != nil {
		return nil, err
	}
	rels = append(rels, release(m, ChartKong, cluster.KongRelease, cluster.KongNamespace, kong))
	if o.KongPlain {
		plain, err := KongPlainRelease(m, o)
		if err != nil {
			return nil, err
		}
		rels = append(rels, plain)
	}
	return rels, nil
}

func unknownMesh(mesh string) error {
	return fmt.Errorf("mesh %q: choose one of %s", mesh, strings.Join(cluster.Meshes, ", "))
}

func release(m Matrix, key, name, ns string, ours map[string]any) Release {
	c := m.Charts[key]
	return Release{Key: key, Name: name, Namespace: ns, Chart: c, Values: mergeMaps(ours, c.Values)}
}

// KongValues are the kong/ingress chart's values: Kong's images, the proxy as
// NodePort on kind, Kong's pods in the Kuma mesh (the chart already annotates
// them kuma.io/gateway: enabled) or nothing mesh-specific for Istio (its
// namespace label injects the sidecar).
func KongValues(m Matrix, o Options) (map[string]any, error) {
	if err := CheckProxyServiceType(o.ProxyServiceType); err != nil {
		return nil, err
	}
	kongRepo, kongTag, err := splitImage(Mirror(o.ImageMirror, m.Images[ImageKong]))
	if err != nil {
		return nil, fmt.Errorf("images.%s: %w", ImageKong, err)
	}
	kicRepo, kicTag, err := splitImage(Mirror(o.ImageMirror, m.Images[ImageKongController]))
	if err != nil {
		return nil, fmt.Errorf("images.%s: %w", ImageKongController, err)
	}
	controller := map[string]any{
		"ingressController": map[string]any{
			"image":        map[string]any{"repository": kicRepo, "tag": kicTag},
			"ingressClass": cluster.KongGatewayClass,
		},
	}
	gateway := map[string]any{
		"image": map[string]any{"repository": kongRepo, "tag": kongTag},
		"deployment": map[string]any{
			"serviceAccount": map[string]any{"create": true, "name": cluster.KongServiceAccount},
		},
	}
	// Kong Manager is not used; its NodePort Service would otherwise take a
	// random node port, possibly one meshgate maps.
	gateway["manager"] = map[string]any{"enabled": false}
	switch {
	case o.Kind:
		gateway["proxy"] = map[string]any{
			"type": "NodePort",
			"http": map[string]any{"nodePort": cluster.KongProxyNodePort},
			"tls":  map[string]any{"nodePort": cluster.KongProxyTLSNodePort},
		}
	case o.ProxyServiceType == "":
		gateway["proxy"] = map[string]any{"type": ProxyClusterIP}
	default:
		gateway["proxy"] = map[string]any{"type": o.ProxyServiceType}
	}
	if o.KongKeepalivePoolSize != nil {
		gateway["env"] = map[string]any{"upstream_keepalive_pool_size": *o.KongKeepalivePoolSize}
	}
	if o.Mesh == cluster.MeshKuma {
		mesh := o.KumaMesh
		if mesh == "" {
			mesh = DefaultMesh
		}
		// The label is how Kuma 2.x picks the mesh; Kuma's own KIC e2e sets
		// the (older) annotation: both, with the same value.
		for _, part := range []map[string]any{controller, gateway} {
			part["podLabels"] = map[string]any{"kuma.io/mesh": mesh}
			part["podAnnotations"] = map[string]any{"kuma.io/mesh": mesh}
		}
	}
	return map[string]any{"controller": controller, "gateway": gateway}, nil
}

// KumaValues are the kuma chart's values: images from the matrix (one
// registry, as the chart has one), and on kind the CNI chained to kindnet the
// way Kuma's own kind setup does, tolerating the load generator's taint.
func KumaValues(m Matrix, o Options) (map[string]any, error) {
	type comp struct{ key, path string }
	comps := []comp{{ImageKumaCP, "controlPlane"}, {ImageKumaDP, "dataPlane"}, {ImageKumaInit, "dataPlane.initImage"}, {ImageKumaCNI, "cni"}}
	registry := ""
	v := map[string]any{}
	for _, c := range comps {
		repo, tag, err := splitImage(Mirror(o.ImageMirror, m.Images[c.key]))
		if err != nil {
			return nil, fmt.Errorf("images.%s: %w", c.key, err)
		}
		dir, name := path.Split(repo)
		dir = strings.TrimSuffix(dir, "/")
		if registry == "" {
			registry = dir
		} else if dir != registry {
			return nil, fmt.Errorf("images.%s is in %q but images.%s in %q: the kuma chart takes one registry for all its images", c.key, dir, ImageKumaCP, registry)
		}
		image := map[string]any{"repository": name, "tag": tag}
		switch c.path {
		case "dataPlane.initImage":
			setPath(v, []string{"dataPlane", "initImage"}, image)
		default:
			setPath(v, []string{c.path, "image"}, image)
		}
	}
	_, cpTag, _ := splitImage(m.Images[ImageKumaCP])
	v["global"] = map[string]any{"image": map[string]any{"registry": registry, "tag": cpTag}}
	// The chart's hooks pull kubectl and kumactl images at install: one
	// labels kuma-system (meshgate creates and labels it itself, see
	// KumaNamespaceLabels), one applies CRDs (Helm installs the chart's crds/
	// on first install anyway). Without them an install pulls only the four
	// images above, which keeps --preload and mirrors complete. What is left
	// is the pre-delete hook (kubectl), run on uninstall from existing
	// clusters. A Kuma version change on a kept cluster therefore needs a
	// fresh cluster for new CRDs.
	v["patchSystemNamespace"] = false
	v["installCrdsOnUpgrade"] = map[string]any{"enabled": false}
	if o.ImageMirror != "" {
		v["kubectl"] = map[string]any{"image": map[string]any{"registry": strings.TrimSuffix(o.ImageMirror, "/")}}
	}
	if o.Kind {
		cni := v["cni"].(map[string]any)
		cni["enabled"] = true
		cni["chained"] = true
		cni["netDir"] = "/etc/cni/net.d"
		cni["binDir"] = "/opt/cni/bin"
		cni["confName"] = "10-kindnet.conflist"
		cni["tolerations"] = []any{map[string]any{"key": cluster.LoadgenTaintKey, "operator": "Exists", "effect": "NoSchedule"}}
	}
	return v, nil
}

// IstioValues are the base and istiod charts' values: hub and tag from the
// matrix, and ssl.handshake added to the sidecars' stats (Istio keeps a subset
// by default) so the suites can count mTLS handshakes.
func IstioValues(m Matrix, o Options) (base, istiod map[string]any, err error) {
	pilotRepo, pilotTag, err := splitImage(Mirror(o.ImageMirror, m.Images[ImageIstioPilot]))
	if err != nil {
		return nil, nil, fmt.Errorf("images.%s: %w", ImageIstioPilot, err)
	}
	proxyRepo, proxyTag, err := splitImage(Mirror(o.ImageMirror, m.Images[ImageIstioProxy]))
	if err != nil {
		return nil, nil, fmt.Errorf("images.%s: %w", ImageIstioProxy, err)
	}
	hub, pilotName := path.Split(pilotRepo)
	proxyHub, proxyName := path.Split(proxyRepo)
	if hub != proxyHub || pilotTag != proxyTag || pilotName != "pilot" || proxyName != "proxyv2" {
		return nil, nil, fmt.Errorf("images.%s=%s and images.%s=%s: the istiod chart takes one hub and tag for <hub>/pilot:<tag> and <hub>/proxyv2:<tag>", ImageIstioPilot, m.Images[ImageIstioPilot], ImageIstioProxy, m.Images[ImageIstioProxy])
	}
	hub = strings.TrimSuffix(hub, "/")
	base = map[string]any{"global": map[string]any{"istioNamespace": IstioNamespace}}
	istiod = map[string]any{
		"global": map[string]any{"hub": hub, "tag": pilotTag, "istioNamespace": IstioNamespace},
		"meshConfig": map[string]any{
			"defaultConfig": map[string]any{
				"proxyStatsMatcher": map[string]any{"inclusionSuffixes": []any{"ssl.handshake"}},
			},
		},
	}
	return base, istiod, nil
}

func setPath(m map[string]any, keys []string, v any) {
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = v
}

func mustYAML(v any) []byte {
	b, err := yaml.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("values are not serialisable: %v", err))
	}
	return b
}
